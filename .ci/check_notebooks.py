"""Fails when an executed notebook holds an error or anything written to stderr.

evcxr reports a cell's compile error, a `?` error and a panic as outputs without failing
`jupyter nbconvert --execute`, so CI reads the executed notebooks itself.
Usage: python3 .ci/check_notebooks.py executed/*.ipynb
"""
import json
import sys

bad = 0
for path in sys.argv[1:]:
    nb = json.load(open(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    unrun = [i for i, c in enumerate(code, 1) if c.get("execution_count") is None]
    if unrun:
        print(f"{path}: code cells not executed: {unrun}")
        bad += 1
    for i, cell in enumerate(code, 1):
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error" or (kind == "stream" and out.get("name") == "stderr"):
                text = "".join(out.get("text", "")) or f"{out.get('ename')}: {out.get('evalue')}"
                print(f"{path}: code cell {i}: {kind}: {text.strip()[:2000]}")
                bad += 1
    print(f"{path}: {len(code)} code cells checked")
if bad:
    print(f"{bad} problem(s) in executed notebooks")
    sys.exit(1)
