#!/usr/bin/env bash
# Everything CI checks, in one command: lint and format (ruff), the import contract (import-linter),
# then the test suite. Extra arguments go to pytest (e.g. `bash scripts/check.sh -m "not slow"`).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "check: ruff"
ruff check src tests bench
ruff format --check src tests bench
echo "check: import contract"
lint-imports
echo "check: tests"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "check: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
