#!/usr/bin/env bash
# Idempotent setup for the finlink e2e harness:
#   1. Debian's chromium at /usr/bin/chromium (Playwright never downloads browsers here)
#   2. npm ci in e2e/ when node_modules is missing or package-lock.json changed
#      (tracked by e2e/.deps-stamp holding the lock file's sha256)
# Usage: bash e2e/setup.sh        (from anywhere)
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STAMP="$E2E_DIR/.deps-stamp"
LOCK="$E2E_DIR/package-lock.json"

say() { echo "e2e/setup: $*"; }

# --- Node -------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "ERROR: node and npm are required (Node >= 20.19)" >&2
  exit 1
fi
NODE_VERSION="$(node -p 'process.versions.node')"
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  say "ERROR: Node $NODE_VERSION is too old; need >= 20.19 (oidc-provider 9 / jose 6 are ESM-only)" >&2
  exit 1
fi
say "node $NODE_VERSION, npm $(npm -v 2>/dev/null)"

# --- Chromium ---------------------------------------------------------------
if [ -x /usr/bin/chromium ]; then
  say "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo '/usr/bin/chromium')"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  say "installing Debian chromium (apt-get install -y --no-install-recommends chromium)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends chromium
  say "chromium installed: $(/usr/bin/chromium --version 2>/dev/null)"
fi

# --- npm dependencies -------------------------------------------------------
WANT="$(sha256sum "$LOCK" | cut -d' ' -f1)"
HAVE="$(cat "$STAMP" 2>/dev/null || true)"
if [ ! -d "$E2E_DIR/node_modules" ]; then
  REASON="node_modules missing"
elif [ "$WANT" != "$HAVE" ]; then
  REASON="package-lock.json changed (stamp ${HAVE:-none} != $WANT)"
else
  REASON=""
fi
if [ -n "$REASON" ]; then
  say "npm ci --no-audit --no-fund in $E2E_DIR ($REASON)"
  rm -f "$STAMP"
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund)
  echo "$WANT" > "$STAMP"
  say "dependencies installed; stamp $WANT"
else
  say "npm dependencies up to date (stamp $WANT)"
fi

say "ready: node --test e2e/tests/"
