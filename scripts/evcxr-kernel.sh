#!/usr/bin/env bash
# Starts the evcxr Jupyter kernel with a kept build folder, so a kernel does not recompile the
# propensity crate and its dependencies each time it starts (evcxr's `:cache` skips path crates).
# install-kernel.sh points the `rust` kernelspec here: argv = [this script, {connection_file}].
#
# The folders form a pool under $PROPENSITY_KERNEL_POOL (default ~/.cache/propensity/evcxr):
# slot-0, slot-1, ... Each running kernel holds one slot's lock (flock) for its lifetime, so a
# restart reuses a warm slot and a second notebook open at the same time takes the next one. A
# slot whose last kernel did not exit cleanly (killed mid-build, which can leave a library evcxr
# cannot load) is emptied before use. An EVCXR_TMPDIR already set (CI) is used as it is.
#
# Each cell is a library that links the toolchain's libstd dynamically and finds it by a RUNPATH
# that rustc makes relative to target/…/deps, while evcxr loads its copy one folder up. When the
# build folder and the toolchain share a folder (a pool in ~/.cache, rustup in ~/.rustup), that
# path misses by one level and every cell fails with "dlopen failed"; the library path below
# names the toolchain's folder whatever the build folder.
set -uo pipefail
evcxr="${EVCXR_JUPYTER:-evcxr_jupyter}"
rustc="$(command -v rustc || echo "${CARGO_HOME:-$HOME/.cargo}/bin/rustc")"
if libdir="$("$rustc" --print target-libdir 2>/dev/null)"; then
    export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [[ -n "${EVCXR_TMPDIR:-}" ]]; then
    exec "$evcxr" --control_file "$1"
fi
pool="${PROPENSITY_KERNEL_POOL:-$HOME/.cache/propensity/evcxr}"
slots="${PROPENSITY_KERNEL_SLOTS:-4}"
mkdir -p "$pool"
for ((i = 0; i < slots; i++)); do
    slot="$pool/slot-$i"
    mkdir -p "$slot/build"
    exec 9>"$slot/lock"
    if flock -n 9; then
        if [[ -e "$slot/in-use" ]]; then
            echo "propensity kernel: $slot was left by a kernel that did not exit cleanly; emptying it" >&2
            rm -rf "$slot/build" && mkdir -p "$slot/build"
        fi
        touch "$slot/in-use"
        export EVCXR_TMPDIR="$slot/build"
        "$evcxr" --control_file "$1" &
        kernel=$!
        # Jupyter stops a kernel with a shutdown message; a signal to this script goes on to it
        stopped=0
        trap 'stopped=1; kill -TERM "$kernel" 2>/dev/null' TERM INT HUP
        wait "$kernel"
        status=$?
        if [[ $stopped -eq 1 ]]; then
            wait "$kernel"
            status=$?
        fi
        # a clean stop leaves the slot warm for the next kernel; anything else empties it next time
        if [[ $status -eq 0 ]]; then rm -f "$slot/in-use"; fi
        exit "$status"
    fi
    exec 9>&-
done
# every slot busy: a fresh folder for this kernel only (it compiles from scratch)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/propensity-evcxr.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
EVCXR_TMPDIR="$tmp" "$evcxr" --control_file "$1"
