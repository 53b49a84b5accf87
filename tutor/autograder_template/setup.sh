#!/usr/bin/env bash
# d2l-tutor's Gradescope autograder: setup.sh, written by `d2l-tutor autograder build` (d2l-tutor @@VERSION@@).
#
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu), with the bundle unpacked in
# /autograder/source. It installs Python, bubblewrap (the sandbox of strict mode), torch and the d2l-tutor wheel
# that travels in this bundle into a virtual environment at @@VENV@@, where run_autograder looks for it.
#
# TORCH_INDEX_URL is where pip takes torch from: PyTorch's CPU-only wheels by default (about 200 MB instead of
# several GB); empty, PyPI's default build (with CUDA on Linux). Change it here, or build the bundle again with
# `--device auto` for the CUDA build.
set -euo pipefail

TORCH_INDEX_URL="@@TORCH_INDEX_URL@@"
TORCH_REQUIREMENT="@@TORCH_REQUIREMENT@@"
WHEEL="@@WHEEL@@"
VENV="@@VENV@@"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap ca-certificates

python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --no-cache-dir --upgrade pip
if [ -n "$TORCH_INDEX_URL" ]; then
    "$VENV/bin/python" -m pip install --no-cache-dir "$TORCH_REQUIREMENT" --index-url "$TORCH_INDEX_URL"
else
    "$VENV/bin/python" -m pip install --no-cache-dir "$TORCH_REQUIREMENT"
fi
# torch is there already: pip keeps it and installs d2l-tutor's other requirements from PyPI.
"$VENV/bin/python" -m pip install --no-cache-dir "$HERE/$WHEEL"

# Fail the build now, not on the first student: torch imports and this d2l-tutor knows every exercise graded.
"$VENV/bin/python" -m tutor.autograder check --source "$HERE"
