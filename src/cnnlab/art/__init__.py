"""Part 1 of the practical: painters told apart from 50x50 images by a configurable SimpleCNN, and the
experiments on it (suites, sweep, robustness). Never imports cnnlab.faces."""

import cnnlab.art.kinds  # noqa: F401,E402 - registers the Part 1 run kinds (the files a cached run must hold)
