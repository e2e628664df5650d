#!/usr/bin/env bash
# Install what is missing and run klapka: the first command of the README.
#   ./scripts/install-and-run.sh [klapka serve options, e.g. --host 0.0.0.0 --port 8080]
# The first run creates a demo company and prints an admin API token (shown once).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-env.sh

export KLAPKA_DATA_DIR="${KLAPKA_DATA_DIR:-$PWD/data}"
mkdir -p "$KLAPKA_DATA_DIR"
if [ -n "${KLAPKA_DATABASE_URL:-}" ]; then
    # We cannot tell cheaply whether an external database is initialised: leave it to the user.
    echo "==> KLAPKA_DATABASE_URL is set; if that database is new, run once:" \
        ".venv/bin/klapka init --demo"
elif [ ! -e "$KLAPKA_DATA_DIR/klapka.db" ]; then
    echo "==> creating the demo company in $KLAPKA_DATA_DIR"
    .venv/bin/klapka init --demo
fi

echo "==> starting klapka (Ctrl-C to stop)"
exec .venv/bin/klapka serve "$@"
