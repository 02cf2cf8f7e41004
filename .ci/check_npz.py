"""numpy reads the .npz files the Rust CLI wrote: arrays, dtypes, shapes and class balance.
Usage: python3 .ci/check_npz.py OUT_DIR
"""
import os
import sys

import numpy as np

out = sys.argv[1]
expected = {"train": 3579, "validation": 447, "test": 448}  # floor(0.8 * 4474), floor(0.1 * 4474), rest
for name, rows in expected.items():
    path = os.path.join(out, f"Audiobooks_data_{name}.npz")
    with np.load(path) as npz:
        assert sorted(npz.files) == ["inputs", "targets"], npz.files
        x, y = npz["inputs"], npz["targets"]
        assert x.shape == (rows, 10) and x.dtype == np.float32, (x.shape, x.dtype)
        assert y.shape == (rows,) and y.dtype == np.int64, (y.shape, y.dtype)
        assert set(np.unique(y)) <= {0, 1}
        assert np.isfinite(x).all()
        print(f"numpy read {path}: inputs {x.shape} {x.dtype}, targets {y.shape} {y.dtype}, ones {y.mean():.3f}")
print("numpy interop: ok")
