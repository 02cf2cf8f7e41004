"""Peer timings for `cargo bench --bench clv`: the same fits as the Rust side, with the anchor
scripts' own functions (../shared/anchors/clv: scipy maximum likelihood, scikit-learn models).
Usage: python clv_peer.py ANCHORS_CLV_DIR   (prints one JSON object)"""
import json
import sys
import time
import warnings

sys.path.insert(0, sys.argv[1])
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import roc_auc_score, silhouette_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeRegressor  # noqa: E402

import t1_clv_cdnow as t1  # noqa: E402
from common import cdnow_customer_table, load_cdnow_days, reg_metrics  # noqa: E402


def timed(f):
    t = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t


def median_of_3(f):
    return sorted(timed(f)[1] for _ in range(3))[1]


out = {}
_, days = load_cdnow_days()
c = cdnow_customer_table(days)
x, tx, T, m = (c[k].to_numpy(float) for k in ("frequency", "recency", "T", "monetary"))
(par, ll), out["bgnbd_fit_s"] = timed(lambda: t1.bgnbd_fit(x, tx, T))
out["bgnbd_loglik"] = float(ll)
g = (x > 0) & (m > 0)
(gpar, gll), out["gg_fit_s"] = timed(lambda: t1.gg_fit(x[g], m[g]))
try:  # lifetimes' own fitters on the same summary, when it is installed
    import lifetimes
    for key, fitter in [("lifetimes_bgnbd_s", lifetimes.BetaGeoFitter), ("lifetimes_mbgnbd_s", lifetimes.ModifiedBetaGeoFitter),
                        ("lifetimes_pareto_s", lifetimes.ParetoNBDFitter)]:
        out[key] = median_of_3(lambda: fitter().fit(x, tx, T))
    out["lifetimes_gg_s"] = median_of_3(lambda: lifetimes.GammaGammaFitter().fit(x[g], m[g]))
except ImportError:
    pass
models = t1.make_models()
for key, target in [("mlp_clf_log1p_std", "buy_holdout"), ("hgb_clf", "buy_holdout"), ("mlp_log1p_std", "spend_holdout")]:
    kind, factory = models[key]
    (pred, info), s = timed(lambda: t1.oof_predict(c, factory, target, kind))
    out[f"{key}_s"] = s
    if kind == "clf":
        out[f"{key}_auc"] = float(roc_auc_score(c.buy_holdout, pred))
    else:
        out[f"{key}_rmse"] = reg_metrics(c.spend_holdout, pred)["RMSE"]
c["mean_ipt_days"] = c["mean_ipt_w"] * 7.0
X = c[["frequency", "recency", "T", "mean_cds_per_day", "mean_ipt_days"]].to_numpy(float)
Z = StandardScaler().fit_transform(X)
km, out["kmeans_k4_s"] = timed(lambda: KMeans(n_clusters=4, n_init=10, random_state=0).fit(Z))
tree, out["tree_k4_s"] = timed(lambda: DecisionTreeRegressor(max_leaf_nodes=4, min_samples_leaf=0.02,
                                                             random_state=0).fit(X, np.log1p(c.spend_holdout)))
sil, out["silhouette_s"] = timed(lambda: silhouette_score(Z, km.labels_))
print(json.dumps(out))
