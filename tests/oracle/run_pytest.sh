#!/usr/bin/env bash
# Runs one oracle test file with the venv's pytest. Exit 77 (ctest: skipped) with the reason when the
# venv could not be set up; a venv that exists but fails to import its packages is a failure.
# Usage: run_pytest.sh VENV TEST_FILE [pytest args...]
set -uo pipefail
venv=$1; shift
if [[ -f $venv/UNAVAILABLE ]]; then
  echo "SKIPPED: $(cat "$venv/UNAVAILABLE")"
  exit 77
fi
if [[ ! -x $venv/bin/python ]]; then
  echo "SKIPPED: no virtual environment at $venv (scripts/python_env.sh creates it; scripts/test.sh runs that)"
  exit 77
fi
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
