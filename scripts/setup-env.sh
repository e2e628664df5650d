#!/usr/bin/env bash
# Prepare a development/runtime environment for klapka on Debian 12 / Ubuntu:
# system packages (apt), the virtualenv in .venv and klapka installed into it (editable).
#
# Usage: scripts/setup-env.sh [--with-postgresql]
#   --with-postgresql   also install the PostgreSQL server (the test suite starts a throwaway
#                       cluster with its initdb/pg_ctl; no service is started or used).
#
# Idempotent and fast on re-runs: apt is skipped when everything needed is present, and pip is
# skipped while pyproject.toml is unchanged since the last successful install.
#
# Environment:
#   PYTHON=python3.12     interpreter for a new .venv (default: first python3 >= 3.11 on PATH)
#   KLAPKA_SKIP_APT=1     never call apt (you install system packages yourself)
#   KLAPKA_FORCE_PIP=1    run pip install even if pyproject.toml is unchanged
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
cd "$ROOT"

WITH_POSTGRESQL=0
for arg in "$@"; do
    case "$arg" in
        --with-postgresql) WITH_POSTGRESQL=1 ;;
        *) echo "setup-env.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

REQUIRED_PACKAGES=(python3 python3-venv python3-pip)
[ "$WITH_POSTGRESQL" = 1 ] && REQUIRED_PACKAGES+=(postgresql)
# For the SIP core; klapka works without them for now, so a failed install is only a warning.
OPTIONAL_PACKAGES=(kamailio kamailio-python3-modules kamailio-sqlite-modules
    kamailio-postgres-modules kamailio-json-modules kamailio-utils-modules kamailio-tls-modules
    kamailio-websocket-modules kamailio-presence-modules  # presence: BLF, presence, MWI subscriptions
    sip-tester iproute2 baresip-core  # test phones: sipp, baresip; iproute2: network namespaces
    linphone-cli  # test phone: linphonec, for the app login's Linphone remote provisioning
    espeak-ng sox libsox-fmt-mp3  # voicemail: prompts, greeting uploads (WAV, MP3)
    rtpengine-daemon  # the media relay: anchored calls (NAT, codec lists)
    chromium)  # chromium: the web UI's browser tests (Playwright drives it)
# Remembers that the optional packages could not be installed, so re-runs don't retry apt.
OPTIONAL_UNAVAILABLE_STAMP="$VENV/.klapka-kamailio-unavailable"
PIP_STAMP="$VENV/.klapka-installed"

say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# --- what is missing? ---------------------------------------------------------------------

python_ok() {  # $1 = interpreter; true if it is >= 3.11 and can create a venv with pip
    command -v "$1" >/dev/null 2>&1 &&
        "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null &&
        "$1" -m ensurepip --version >/dev/null 2>&1
}

find_python() {
    local cand
    for cand in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if python_ok "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

initdb_present() {
    command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

kamailio_present() {
    { command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ]; } &&
        command -v sipp >/dev/null 2>&1 &&
        command -v baresip >/dev/null 2>&1 &&
        command -v linphonec >/dev/null 2>&1 &&
        compgen -G '/usr/lib/*/kamailio/modules/tls.so' >/dev/null &&
        compgen -G '/usr/lib/*/kamailio/modules/websocket.so' >/dev/null &&
        compgen -G '/usr/lib/*/kamailio/modules/presence.so' >/dev/null &&
        command -v chromium >/dev/null 2>&1
}

need_required=0
venv_ok || find_python >/dev/null || need_required=1
[ "$WITH_POSTGRESQL" = 1 ] && ! initdb_present && need_required=1
need_optional=0
kamailio_present || [ -e "$OPTIONAL_UNAVAILABLE_STAMP" ] || need_optional=1

# --- system packages ------------------------------------------------------------------------

SUDO=()
POLICY_RC_CREATED=0
remove_policy_rc() {
    if [ "$POLICY_RC_CREATED" = 1 ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
}
trap remove_policy_rc EXIT
trap 'exit 130' INT TERM

apt_get() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -y -o DPkg::Lock::Timeout=300 "$@"
}

optional_failed=0
if [ "${KLAPKA_SKIP_APT:-0}" = 1 ]; then
    [ "$need_required" = 1 ] && warn "KLAPKA_SKIP_APT=1 but some of these are missing:" \
        "${REQUIRED_PACKAGES[*]}"
elif [ "$need_required" = 0 ] && [ "$need_optional" = 1 ] &&
    { ! command -v apt-get >/dev/null 2>&1 ||
        { [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; }; }; then
    warn "cannot install ${OPTIONAL_PACKAGES[*]} (needs apt-get and root or sudo);" \
        "klapka runs without them, but not the SIP core."
elif [ "$need_required" = 1 ] || [ "$need_optional" = 1 ]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script supports" \
        "Debian/Ubuntu. Install ${REQUIRED_PACKAGES[*]} yourself and set KLAPKA_SKIP_APT=1."
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "not root and sudo is missing: install" \
            "${REQUIRED_PACKAGES[*]} as root, then run this again."
        SUDO=(sudo)
    fi
    # Debian starts services on install (postgresql, kamailio); klapka runs its own processes,
    # so a policy-rc.d that exits 101 stops that. Only ours is removed afterwards.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from klapka scripts/setup-env.sh\nexit 101\n' |
            "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        POLICY_RC_CREATED=1
        "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    fi
    say "apt-get update"
    apt_get update
    say "apt-get install ${REQUIRED_PACKAGES[*]}"
    apt_get install --no-install-recommends "${REQUIRED_PACKAGES[@]}"
    if [ "$need_optional" = 1 ]; then
        say "apt-get install ${OPTIONAL_PACKAGES[*]} (optional, for the SIP core)"
        if ! apt_get install --no-install-recommends "${OPTIONAL_PACKAGES[@]}"; then
            # One missing package fails the whole transaction: install what is there.
            missing=()
            for pkg in "${OPTIONAL_PACKAGES[@]}"; do
                apt_get install --no-install-recommends "$pkg" || missing+=("$pkg")
            done
            if [ "${#missing[@]}" -gt 0 ]; then
                warn "could not install ${missing[*]}; klapka runs without them, but not the" \
                    "SIP core. Delete $OPTIONAL_UNAVAILABLE_STAMP to retry on the next run."
                optional_failed=1
            fi
        fi
    fi
    remove_policy_rc
fi

# Ubuntu 22.04 ships python3 3.10: fall back to its python3.11 packages.
if ! venv_ok && ! find_python >/dev/null && [ "${KLAPKA_SKIP_APT:-0}" != 1 ]; then
    say "python3 is older than 3.11: apt-get install python3.11 python3.11-venv"
    apt_get install --no-install-recommends python3.11 python3.11-venv ||
        die "klapka needs Python >= 3.11 with venv support"
fi

# --- virtualenv and Python packages -----------------------------------------------------------

if ! venv_ok; then
    PY="$(find_python)" || die "no Python >= 3.11 with venv support found (set PYTHON=...)"
    if [ -e "$VENV" ]; then
        warn "$VENV is broken or too old; recreating it"
        rm -rf "$VENV"
    fi
    say "creating $VENV with $PY ($("$PY" -V 2>&1))"
    "$PY" -m venv "$VENV"
fi
[ "$optional_failed" = 1 ] && touch "$OPTIONAL_UNAVAILABLE_STAMP"

pyproject_hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "${KLAPKA_FORCE_PIP:-0}" != 1 ] && [ -x "$VENV/bin/klapka" ] &&
    [ "$(cat "$PIP_STAMP" 2>/dev/null)" = "$pyproject_hash" ] &&
    "$VENV/bin/python" -I -c 'import klapka' 2>/dev/null; then
    say "Python packages up to date (.venv)"
else
    say "installing klapka and its dependencies into .venv"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -e '.[test]'
    echo "$pyproject_hash" >"$PIP_STAMP"
fi
