#!/usr/bin/env bash
# The offline tests under -n 2 beside a CPU hog (one busy process per core), as on a shared
# CI machine: a test that passes only on an idle machine fails here. The hogs are stopped
# when this script ends, whatever happened.
set -euo pipefail
PY=${PY:-.venv/bin/python}
hogs=()
stop_hogs() { kill "${hogs[@]}" 2>/dev/null || true; }
trap stop_hogs EXIT
for _ in $(seq "$(nproc)"); do
    "$PY" -c 'while True: pass' &
    hogs+=($!)
done
echo "test-under-load: ${#hogs[@]} busy processes beside pytest -n 2"
"$PY" -m pytest -n 2 -p no:cacheprovider "$@"
