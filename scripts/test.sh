#!/usr/bin/env bash
# Lint, type checks and the whole test suite against SQLite and a throwaway PostgreSQL.
#   ./scripts/test.sh [pytest arguments, e.g. -k voicemail -x]
# Every step runs even if an earlier one failed; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-env.sh --with-postgresql || exit

failed=()
step() {  # step NAME COMMAND...: run it, remember a failure, carry on
    local name="$1" rc=0
    shift
    printf '\n==> %s\n' "$name"
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        failed+=("$name (exit $rc)")
    fi
}

# Directories git has no files in yet do not exist in a fresh clone.
lint_paths=()
for dir in src tests bench; do
    [ -d "$dir" ] && lint_paths+=("$dir")
done
step "ruff check" .venv/bin/ruff check "${lint_paths[@]}"
step "ruff format --check" .venv/bin/ruff format --check "${lint_paths[@]}"

step "mypy" .venv/bin/mypy src  # strict (pyproject.toml)
# The dependency rule: the contracts in pyproject.toml ([tool.importlinter]).
step "import-linter" .venv/bin/lint-imports

# Exit status 5 (no tests collected) is non-zero, so it counts as a failure too.
# Two pytest workers (pytest-xdist): much of the suite waits on ring timeouts, phones and
# browsers, so two workers halve the time even on two cores. KLAPKA_TEST_WORKERS=0: one process.
workers=(-n "${KLAPKA_TEST_WORKERS:-2}")
step "pytest (SQLite)" env KLAPKA_TEST_DB=sqlite .venv/bin/pytest -q "${workers[@]}" "$@"
step "pytest (PostgreSQL)" env KLAPKA_TEST_DB=postgresql .venv/bin/pytest -q "${workers[@]}" "$@"

echo
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED:"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
echo "All checks passed."
