#!/usr/bin/env bash
# Installs what models/training/train.py needs: Debian 12's PyTorch (1.13, CPU), onnx, numpy, scipy, nibabel,
# run with /usr/bin/python3 (not a python3 earlier on PATH). Idempotent: does nothing when they import already.
set -euo pipefail
if /usr/bin/python3 -c 'import torch, onnx, numpy, scipy, nibabel' 2>/dev/null; then
  echo "training dependencies present: $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)')"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3-torch python3-onnx python3-numpy python3-scipy python3-nibabel
/usr/bin/python3 -c 'import torch; print("installed torch", torch.__version__)'
