#!/usr/bin/env bash
# Installs what the notebooks need: Jupyter (pip), the evcxr Rust kernel (cargo) and its kernelspec.
# Safe to rerun: evcxr_jupyter is only built when missing (the build takes about 10 minutes).
set -euo pipefail
EVCXR_VERSION=0.22.0
python3 -m pip install --quiet --disable-pip-version-check jupyter nbconvert nbclient ipykernel numpy
if ! command -v evcxr_jupyter >/dev/null 2>&1; then
    cargo install --locked evcxr_jupyter --version "$EVCXR_VERSION"
fi
evcxr_jupyter --install
jupyter kernelspec list
