#!/usr/bin/env bash
# Creates the Python virtual environment the oracle tests run in (never the system Python) and
# installs the pinned peers of tests/oracle/requirements.txt into it. Idempotent: a stamp holding
# the requirements' hash skips the install when nothing changed. When the packages cannot be
# installed (no network, no wheel for this machine), it writes the reason to VENV/UNAVAILABLE and
# exits 0: the oracle tests then report themselves skipped with that reason, never silently.
# Usage: scripts/python_env.sh [VENV]   (default build/venv)
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/venv}
req=tests/oracle/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/python ]]; then exit 0; fi
mkdir -p "$(dirname "$venv")"
rm -f "$venv/UNAVAILABLE"
python=${PYTHON:-python3}
if ! "$python" -m venv --help >/dev/null 2>&1; then
  bash scripts/setup.sh python3-venv >/dev/null 2>&1 || true
  python=python3
fi
log=$(mktemp)
if "$python" -m venv "$venv" >"$log" 2>&1 &&
   "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >>"$log" 2>&1 &&
   "$venv/bin/python" -c "import mxnet, numpy, pytest" >>"$log" 2>&1; then
  echo "$want" >"$stamp"
  echo "python_env: $venv ready ($("$venv/bin/python" -c 'import mxnet, numpy; print("mxnet", mxnet.__version__, "numpy", numpy.__version__)'))"
else
  mkdir -p "$venv"
  { echo "the pinned packages of $req could not be installed:"; tail -n 5 "$log"; } >"$venv/UNAVAILABLE"
  echo "python_env: $(head -n 1 "$venv/UNAVAILABLE") (see $venv/UNAVAILABLE); the oracle tests will be skipped" >&2
fi
rm -f "$log"
