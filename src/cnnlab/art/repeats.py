"""How many paired repeats a Part 1 suite runs, and how many Optuna trials the 1.6 search draws:
torch-free constants, so the CLI parser can show them.

Repeat r trains with seed r on validation fold r % data.folds (the test split is fixed). Five repeats
put every non-test image in a validation fold once with the default 5 folds, and keep the full report
within its time budget on 2 CPU cores (docs/benchmarks.md).
"""

DEFAULT_REPEATS = 5

# The 1.6 search's trials. On the embedded data the best of 30 trials was found by trial 16 (2026-11-30
# run); 20 trials keep the full report within its 15-minute budget on 2 CPU cores.
DEFAULT_TRIALS = 20
