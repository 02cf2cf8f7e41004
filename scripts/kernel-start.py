#!/usr/bin/env python3
"""Warms the Rust kernel's build-folder pool, or times kernel start-up.

A "start" is what a reader waits for before a notebook's first cell that uses the crate has run:
launch the `rust` kernel in notebooks/ (as Jupyter does), run the notebooks' `:dep` line and one
call into the crate. scripts/evcxr-kernel.sh gives each running kernel its own kept build folder
from the pool (PROPENSITY_KERNEL_POOL, default ~/.cache/propensity/evcxr).

    python3 scripts/kernel-start.py warm [--kernels 2]   # build the pool once (after install)
    python3 scripts/kernel-start.py bench                # first start, restart, two at once,
                                                         # on a fresh pool in a temporary folder
"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

from jupyter_client.manager import KernelManager

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = os.path.join(HERE, "..", "notebooks")
CELLS = [
    ':dep propensity = { path = "../crates/propensity" }',
    "propensity::audiobooks::network().parameters()",
]


def start_and_run(env):
    """Seconds from launching a kernel to the reply of the first call into the crate."""
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="rust")
    km.start_kernel(cwd=NOTEBOOKS, env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=600)
        for code in CELLS:
            reply = kc.execute_interactive(code, timeout=1800, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                sys.exit(f"kernel error on {code!r}: {reply['content']}")
        return time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # a shutdown message: the slot is left warm


def env_with(pool):
    env = dict(os.environ)
    env.pop("EVCXR_TMPDIR", None)  # the pool decides
    env["PROPENSITY_KERNEL_POOL"] = pool
    return env


def at_once(n, env):
    """Seconds of `n` kernels started together; exits with each failure's message if any fails."""
    times, errors = [None] * n, [None] * n

    def one(i):
        try:
            times[i] = start_and_run(env)
        except BaseException as e:  # SystemExit too: a thread's exit would only end that thread
            errors[i] = f"kernel {i + 1} of {n}: {type(e).__name__}: {e}"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [e for e in errors if e is not None]
    if failed:
        sys.exit("\n".join(failed) + "\n(the kernel's own error is printed above)")
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["warm", "bench"])
    ap.add_argument("--kernels", type=int, default=2, help="slots to warm (kernels open at once)")
    ap.add_argument("--pool", default=os.environ.get("PROPENSITY_KERNEL_POOL",
                                                     os.path.expanduser("~/.cache/propensity/evcxr")))
    args = ap.parse_args()
    if args.what == "warm":
        times = at_once(args.kernels, env_with(args.pool))
        print(f"warmed {args.kernels} build folders in {args.pool}: " + ", ".join(f"{t:.0f} s" for t in times))
        return
    pool = tempfile.mkdtemp(prefix="propensity-kernel-bench.")
    try:
        env = env_with(pool)
        first = start_and_run(env)
        print(f"first start (empty pool, compiles the crate and its dependencies): {first:.1f} s", flush=True)
        restart = start_and_run(env)
        print(f"restart (the same, now warm, build folder): {restart:.1f} s", flush=True)
        a, b = at_once(2, env)
        print(f"two kernels at once (one warm folder, the second compiles its own): {a:.1f} s and {b:.1f} s",
              flush=True)
        a, b = at_once(2, env)
        print(f"two kernels at once again (both folders warm): {a:.1f} s and {b:.1f} s", flush=True)
    finally:
        shutil.rmtree(pool, ignore_errors=True)


if __name__ == "__main__":
    main()
