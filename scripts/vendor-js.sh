#!/usr/bin/env bash
# Rebuild the JavaScript that klapka ships (src/klapka/web/static/): JsSIP, the SIP library
# of the portal's browser phone, from the npm registry, bundled into one file with esbuild.
# Run it to move to another version; the result is committed (klapka needs no npm to run).
#
# Usage: scripts/vendor-js.sh
set -euo pipefail
JSSIP_VERSION=3.13.8
ESBUILD_VERSION=0.25.12
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/src/klapka/web/static"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact "jssip@$JSSIP_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null
echo "import JsSIP from 'jssip'; window.JsSIP = JsSIP;" > entry.js
{
    echo "/*! JsSIP $JSSIP_VERSION (MIT, https://jssip.net) with debug, events, sdp-transform;"
    echo "    bundled from the npm registry by scripts/vendor-js.sh. Licenses: jssip-LICENSES.txt */"
    npx esbuild entry.js --bundle --minify --format=iife --target=es2020 --log-level=warning
} > "$OUT/jssip.min.js"
{
    for pkg in jssip debug ms events sdp-transform; do
        echo "== $pkg $(node -p "require('./node_modules/$pkg/package.json').version") =="
        cat node_modules/$pkg/LICENSE* 2>/dev/null || node -p "require('./node_modules/$pkg/package.json').license"
        echo
    done
} > "$OUT/jssip-LICENSES.txt"
echo "wrote $OUT/jssip.min.js ($(wc -c < "$OUT/jssip.min.js") bytes)"
