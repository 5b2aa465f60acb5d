#!/usr/bin/env bash
# The wheel is the product. Build it, check what it holds, install it in a fresh virtual
# environment, and run the README's "Quick start with pip" commands from an empty folder
# outside the checkout, as a new user would; then check that a bad setting costs nothing
# where no live test runs.
#
#   scripts/check-wheel.sh            with the local Docker run of the quick start
#   scripts/check-wheel.sh --no-docker  without it (the fake run and the checks only)
#
# Installing the wheel's dependencies needs the package index (PyPI). PYTHON picks the
# interpreter (default python3). Everything is made in a temporary folder, removed at the end.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
docker=yes
[ "${1:-}" = "--no-docker" ] && docker=no
work="$(mktemp -d "${TMPDIR:-/tmp}/check-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say() { echo "check-wheel: $*"; }
fail() { echo "check-wheel: FAILED: $*" >&2; exit 1; }

say "building the wheel"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$work/dist" "$repo"
wheel="$(ls "$work"/dist/pytest_appservice_fs-*.whl)"
listing="$("$python" -m zipfile -l "$wheel")"
# The probe is deployed whole: every module of the checkout's probe folder must be there.
probe_modules="$(cd "$repo" && find pytest_appservice_fs/probe -name '*.py' -not -path '*/__pycache__/*' | sort)"
for member in pytest_appservice_fs/suite/test_h1_home_persists.py \
    pytest_appservice_fs/suite/test_h4_concurrent_appends.py \
    pytest_appservice_fs/probe/requirements.txt $probe_modules \
    pytest_appservice_fs/contract.py pytest_appservice_fs/plugin.py pytest_appservice_fs/py.typed; do
    grep -q "^$member " <<<"$listing" || fail "the wheel lacks $member"
done
say "$(basename "$wheel") holds the suite ($(grep -c 'pytest_appservice_fs/suite/test_' <<<"$listing") test modules) and the probe ($(wc -l <<<"$probe_modules") modules)"

# The quick start, as the README gives it: the fenced block after <!-- quick-start-pip -->.
# It makes its own virtual environment (venv/); its `pip install pytest-appservice-fs` installs
# the wheel just built.
mkdir "$work/user"
python_path="$(command -v "$python")"
awk '/<!-- quick-start-pip -->/{found=1; next} found && /^```sh/{inside=1; next} inside && /^```/{exit} inside' \
    "$repo/README.md" >"$work/quick-start.sh"
[ -s "$work/quick-start.sh" ] || fail "README.md has no quick-start-pip block"
grep -q '^pip install pytest-appservice-fs' "$work/quick-start.sh" || fail "the quick start does not pip install the package"
sed -i "s#^pip install pytest-appservice-fs#pip install --quiet --disable-pip-version-check $wheel#" "$work/quick-start.sh"
if [ "$docker" = no ]; then
    # The local backend's line needs a running Docker Engine.
    sed -i '/(needs Docker)/d' "$work/quick-start.sh"
fi
say "running the README's quick start in $work/user"
(
    cd "$work/user"
    export PATH="$(dirname "$python_path"):$PATH" PYTHONPATH=
    # Line by line in this shell, as a user types them (the venv's activation carries over).
    while IFS= read -r line <&3; do
        case "$line" in "" | "#"*) continue ;; esac
        printf '$ %s\n' "$line"
        eval "$line"
    done 3<"$work/quick-start.sh"
)

cd "$work/user"
bin="$work/user/venv/bin"
[ -x "$bin/appservice-fs" ] || fail "the quick start did not install appservice-fs in venv/"
where="$("$bin/python" -c 'import pytest_appservice_fs as p; print(p.__file__)')"
case "$where" in "$repo"/*) fail "the package came from the checkout ($where), not the wheel" ;; esac
say "the package is imported from $where"

say "a bad setting fails only a session that collects a live test"
export APPSERVICE_FS_LATENCY_SIZE=0
"$bin/pytest" --version >/dev/null 2>&1 || fail "pytest --version exited $?"
"$bin/pytest" --help >/dev/null 2>&1 || fail "pytest --help exited $?"
mkdir plain && printf 'def test_plain():\n    assert True\n' >plain/test_plain.py
"$bin/pytest" -q -p no:cacheprovider plain >/dev/null 2>&1 || fail "a plain test file did not pass"
set +e
"$bin/pytest" -q -p no:cacheprovider -m live --pyargs pytest_appservice_fs.suite >out.txt 2>err.txt
status=$?
set -e
[ "$status" = 4 ] || fail "pytest -m live --pyargs pytest_appservice_fs.suite exited $status, not 4"
grep -q "^ERROR: --latency-size (from environment APPSERVICE_FS_LATENCY_SIZE) got '0'" err.txt ||
    fail "no one-sentence error: $(cat err.txt)"
! grep -q Traceback out.txt err.txt || fail "a traceback was printed"
say "exit 4 with: $(grep '^ERROR' err.txt)"
unset APPSERVICE_FS_LATENCY_SIZE
say "the wheel works"
