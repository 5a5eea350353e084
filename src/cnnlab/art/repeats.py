"""How many paired repeats a Part 1 suite runs, and how many Optuna trials the 1.6 search draws:
torch-free constants, so the CLI parser can show them.

Repeat r trains with seed r on validation fold r % data.folds (the test split is fixed). Five repeats
put every non-test image in a validation fold once with the default 5 folds, and keep the full report
within its time budget on 2 CPU cores (docs/benchmarks.md).
"""

DEFAULT_REPEATS = 5

# The 1.6 search's trials. On the embedded data the best of 30 trials was found by trial 16 (2026-11-30
# run). Since 2026-12-06 the first trials are the known starting points of 1.3-1.5 (art.suites.seeds), and the
# top 3 are retrained on every repeat beside the starter (art.suites.choice: about 13 runs more than
# retraining the best alone); 16 trials instead of 20, and pruning from 3 complete trials instead of 5, pay
# for part of that (estimated, not yet measured on the full report).
DEFAULT_TRIALS = 16
