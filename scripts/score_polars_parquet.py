# Peer for `propensity score` on Parquet: polars read_parquet -> standardize -> MLP forward (torch,
# 2 threads) -> write_parquet; the Parquet twin of ../shared/anchors/score_polars.py.
import sys, time, json, numpy as np, polars as pl, torch
torch.set_num_threads(2)
m = json.load(open(sys.argv[1])); inp, out = sys.argv[2], sys.argv[3]
mean = np.array(m["preprocessing"]["scaler"]["mean"]); scale = np.array(m["preprocessing"]["scaler"]["scale"])
net = torch.nn.Sequential(torch.nn.Linear(10,50), torch.nn.ReLU(), torch.nn.Linear(50,50), torch.nn.ReLU(), torch.nn.Linear(50,2), torch.nn.Softmax(dim=1)).eval()
t = time.time()
df = pl.read_parquet(inp)
X = df[:, 1:11].to_numpy().astype(np.float64)
X = ((np.where(np.isnan(X), 8.91, X) - mean) / scale).astype(np.float32)
with torch.no_grad(): p = net(torch.from_numpy(X)).numpy()
pl.DataFrame({"ID": df[:, 0], "p_0": p[:, 0], "p_1": p[:, 1], "predicted": p.argmax(1)}).write_parquet(out)
dt = time.time() - t
print(f"peer polars+torch parquet: {len(df)} rows in {dt:.2f} s: {len(df)/dt:,.0f} rows/s")
