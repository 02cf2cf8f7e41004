#!/usr/bin/env bash
# Installs what the notebooks need: Jupyter (pip), the evcxr Rust kernel (cargo) and its kernelspec.
# Safe to rerun: evcxr_jupyter is only built when missing (the build takes about 10 minutes).
#
# The kernelspec starts evcxr through scripts/evcxr-kernel.sh (copied beside kernel.json), which
# gives each running kernel a kept build folder from a pool, so a restart does not recompile the
# crate. It then builds two of those folders (about 4 minutes each on 2 cores), so the first notebook
# opened starts warm too; `--no-warm` skips that (CI=true does: CI keeps its own build folder).
set -euo pipefail
EVCXR_VERSION=0.22.0
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m pip install --quiet --disable-pip-version-check jupyter nbconvert nbclient ipykernel numpy
if ! command -v evcxr_jupyter >/dev/null 2>&1; then
    cargo install --locked evcxr_jupyter --version "$EVCXR_VERSION"
fi
evcxr_jupyter --install
spec="$(jupyter kernelspec list --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["kernelspecs"]["rust"]["resource_dir"])')"
cp "$here/evcxr-kernel.sh" "$spec/evcxr-kernel.sh"
python3 - "$spec" <<'PY'
import json, os, shutil, sys
spec = sys.argv[1]
path = os.path.join(spec, "kernel.json")
k = json.load(open(path))
# the kernel binary by its full path: Jupyter may start kernels without cargo's bin on PATH
evcxr = shutil.which("evcxr_jupyter") or os.path.expanduser("~/.cargo/bin/evcxr_jupyter")
k["argv"] = ["bash", os.path.join(spec, "evcxr-kernel.sh"), "{connection_file}"]
k["env"] = {"EVCXR_JUPYTER": evcxr}
json.dump(k, open(path, "w"), indent=2)
PY
jupyter kernelspec list
# CI sets its own EVCXR_TMPDIR per run, so it skips the warm-up
if [[ "${1:-}" != "--no-warm" && "${CI:-}" != "true" ]]; then
    python3 "$here/kernel-start.py" warm --kernels 2
fi
