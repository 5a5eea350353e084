"""How many paired repeats a Part 1 suite runs: a torch-free constant, so the CLI parser can show it.

Repeat r trains with seed r on validation fold r % data.folds (the test split is fixed). Five repeats
put every non-test image in a validation fold once with the default 5 folds, and keep the full report
within its time budget on 2 CPU cores (README).
"""

DEFAULT_REPEATS = 5
