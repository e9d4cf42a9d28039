#!/usr/bin/env bash
# Build the station web UI into web/dist when web/package.json exists.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f package.json ]; then
  echo "build-web: no web/package.json yet; nothing to build"
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
