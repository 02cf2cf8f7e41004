"""Fails when an executed notebook holds an error or anything written to stderr, or what a reader
should not see: a markdown cell with an unescaped `$` pair (Jupyter reads it as LaTeX and the
text between turns into italic maths), a raw Rust value as a whole output (`()`, `None`,
`Some(…)`), a Debug `Some(…)` or a machine's absolute path in printed text, or an output over 150 KB.

evcxr reports a cell's compile error, a `?` error and a panic as outputs without failing
`jupyter nbconvert --execute`, so CI reads the executed notebooks itself.
Usage: python3 .ci/check_notebooks.py executed/*.ipynb
"""
import json
import re
import sys

MAX_OUTPUT = 150 * 1024


def dollars(markdown):
    """Unescaped `$` outside code spans and code blocks."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    return len(re.findall(r"(?<!\\)\$", text))


bad = 0
for path in sys.argv[1:]:
    nb = json.load(open(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    unrun = [i for i, c in enumerate(code, 1) if c.get("execution_count") is None]
    if unrun:
        print(f"{path}: code cells not executed: {unrun}")
        bad += 1
    for i, cell in enumerate(nb["cells"], 1):
        if cell["cell_type"] == "markdown" and dollars("".join(cell["source"])) >= 2:
            print(f"{path}: cell {i}: markdown with unescaped $ (write \\$)")
            bad += 1
    for i, cell in enumerate(code, 1):
        for out in cell.get("outputs", []):
            size = sum(len("".join(v).encode()) for v in out.get("data", {}).values()) + len(
                "".join(out.get("text", "")).encode()
            )
            if size > MAX_OUTPUT:
                print(f"{path}: code cell {i}: output of {size // 1024} KB (at most {MAX_OUTPUT // 1024} KB)")
                bad += 1
            plain = "".join(out.get("data", {}).get("text/plain", "")).strip()
            if out.get("output_type") == "execute_result" and (plain in ("()", "None") or plain.startswith("Some(")):
                print(f"{path}: code cell {i}: a raw value as output: {plain[:80]}")
                bad += 1
            if out.get("output_type") == "execute_result" and re.match(r"[A-Z]\w* \{ ", plain):
                print(f"{path}: code cell {i}: a Debug struct as output (its evcxr_display was not used): {plain[:80]}")
                bad += 1
            absolute = re.search(r".{0,40}(?<![\w.])/(tmp|root|home|work)/.{0,40}", "".join(out.get("text", "")) + plain)
            if absolute:
                print(f"{path}: code cell {i}: an absolute path in an output (print paths::relative): {absolute.group(0)}")
                bad += 1
            debug = re.search(r".{0,40}\bSome\(.{0,40}", "".join(out.get("text", "")))
            if debug:
                print(f"{path}: code cell {i}: a Debug Option in printed text: {debug.group(0)}")
                bad += 1
            kind = out.get("output_type")
            if kind == "error" or (kind == "stream" and out.get("name") == "stderr"):
                text = "".join(out.get("text", "")) or f"{out.get('ename')}: {out.get('evalue')}"
                print(f"{path}: code cell {i}: {kind}: {text.strip()[:2000]}")
                bad += 1
    print(f"{path}: {len(code)} code cells checked")
if bad:
    print(f"{bad} problem(s) in executed notebooks")
    sys.exit(1)
