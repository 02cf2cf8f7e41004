//! CDNOW benchmark: the maximum-likelihood fits, the out-of-fold networks and the segment fits,
//! each timed here and — with a peer Python given — by `clv_peer.py` with the anchor scripts' own
//! scipy / scikit-learn code (`../shared/anchors/clv`) in the same command; prints the ratios.
//!
//! `cargo bench -p propensity-cli --bench clv`
//! `PEER_PYTHON=/path/to/venv/bin/python cargo bench -p propensity-cli --bench clv`
//! (`ANCHORS` overrides the anchors folder, default `<repo>/../shared/anchors`.)

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use propensity::btyd::{generate, BgNbd, GammaGamma, ModifiedBgNbd, ParetoNbd, Summary};
use propensity::cdnow::models::{churn_out_of_fold, spend_out_of_fold, ChurnConfig, SpendConfig};
use propensity::cdnow::segments::{behaviour, silhouette, SegmentConfig};
use propensity::preprocess::StandardScaler;
use propensity::tree::{RegressionTree, TreeParams};

fn timed<T>(f: impl FnOnce() -> propensity::Result<T>) -> propensity::Result<(T, f64)> {
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed().as_secs_f64()))
}

/// The median wall time of `runs` calls (the value of the last): single fits take milliseconds
/// here, where one call is at the mercy of the scheduler.
fn median_of<T>(runs: usize, f: impl Fn() -> propensity::Result<T>) -> propensity::Result<(T, f64)> {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let (v, s) = timed(&f)?;
        times.push(s);
        last = Some(v);
    }
    times.sort_by(f64::total_cmp);
    Ok((last.expect("runs > 0"), times[runs / 2]))
}

/// Peak resident memory of this process so far (Linux), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Ten million customers drawn from the CDNOW BG/NBD estimates on a daily grid, then fitted: the
/// scale the issue asks for, with the memory it took. Runs first, so the peak is its own.
fn ten_million() -> propensity::Result<()> {
    let truth = BgNbd { r: 0.251624, alpha: 4.788945, a: 0.723433, b: 2.161087 };
    let before = peak_rss_mb();
    let (data, generated) = timed(|| generate::bgnbd(&truth, 10_000_000, 7, 84, 357, 1))?;
    let (fit, fitted) = timed(|| BgNbd::fit(&data))?;
    let p = fit.params;
    println!(
        "10,000,000 generated customers (daily grid, {} distinct summaries): drawn in {generated:.2} s, BG/NBD fitted \
         in {fitted:.3} s ({} iterations); r = {:.4} ± {:.4}, α = {:.3} ± {:.3}, a = {:.4} ± {:.4}, b = {:.3} ± {:.3} \
         (truth 0.2516, 4.789, 0.7234, 2.161); peak memory {:.0} MB (before {before:.0} MB)",
        data.groups(),
        fit.iterations,
        p.r,
        fit.std_errors.r,
        p.alpha,
        fit.std_errors.alpha,
        p.a,
        fit.std_errors.a,
        p.b,
        fit.std_errors.b,
        peak_rss_mb()
    );
    Ok(())
}

fn main() -> propensity::Result<()> {
    ten_million()?;
    let c = propensity::cdnow::load_default()?;
    let (x, tx, t, m) =
        (c.column(|r| r.frequency), c.column(|r| r.recency), c.column(|r| r.t), c.column(|r| r.monetary));
    let mut ours: Vec<(&str, &str, f64, String)> = Vec::new();
    // the BTYD fits: the median of 11 (grouping the customers included); the peer's lifetimes fits
    // are the median of 3
    let (fit, s) = median_of(11, || BgNbd::fit(&Summary::new(&x, &tx, &t)?))?;
    ours.push((
        "bgnbd_fit_s",
        "BG/NBD maximum likelihood (23,570 customers)",
        s,
        format!("LL {:.3}, {} Newton iterations, {} evaluations", fit.log_likelihood, fit.iterations, fit.evaluations),
    ));
    ours.push(("lifetimes_bgnbd_s", "BG/NBD vs lifetimes BetaGeoFitter", s, String::new()));
    let (fit, s) = median_of(11, || ModifiedBgNbd::fit(&Summary::new(&x, &tx, &t)?))?;
    ours.push((
        "lifetimes_mbgnbd_s",
        "MBG/NBD vs lifetimes ModifiedBetaGeoFitter",
        s,
        format!("LL {:.3}", fit.log_likelihood),
    ));
    let (fit, s) = median_of(11, || ParetoNbd::fit(&Summary::new(&x, &tx, &t)?))?;
    ours.push((
        "lifetimes_pareto_s",
        "Pareto/NBD vs lifetimes ParetoNBDFitter",
        s,
        format!("LL {:.3}", fit.log_likelihood),
    ));
    let rep: Vec<usize> = (0..x.len()).filter(|&i| x[i] > 0.0 && m[i] > 0.0).collect();
    let (gx, gm): (Vec<f64>, Vec<f64>) = rep.iter().map(|&i| (x[i], m[i])).unzip();
    let (fit, s) = median_of(11, || GammaGamma::fit(&gx, &gm))?;
    ours.push((
        "gg_fit_s",
        "Gamma-Gamma maximum likelihood (9,450 repeaters)",
        s,
        format!("LL {:.3}", fit.log_likelihood),
    ));
    ours.push(("lifetimes_gg_s", "Gamma-Gamma vs lifetimes GammaGammaFitter", s, String::new()));
    let (oof, s) = timed(|| churn_out_of_fold(&c, &ChurnConfig::default()))?;
    ours.push(("mlp_clf_log1p_std_s", "churn MLP 32-16, 5 folds", s, format!("AUC {:.3}", oof.scores()?.auc)));
    let (oof, s) = timed(|| spend_out_of_fold(&c, &SpendConfig::default()))?;
    ours.push(("mlp_log1p_std_s", "spend MLP 32-16, 5 folds", s, format!("RMSE {:.1}", oof.regression()?.rmse)));
    let xb = behaviour(&c);
    let z = StandardScaler::fit(&xb)?.transform(&xb)?;
    let cfg = SegmentConfig::default();
    let ((labels, _), s) = timed(|| propensity::retail::segment::kmeans(&z, cfg.k, cfg.kmeans_runs, cfg.seed))?;
    ours.push(("kmeans_k4_s", "k-means k = 4, 10 restarts", s, String::new()));
    let log_kpi: Vec<f64> = c.column(|r| r.spend_holdout.ln_1p());
    let min_leaf = (0.02 * c.len() as f64).ceil() as usize;
    let (_, s) = timed(|| RegressionTree::fit(&xb, &log_kpi, &TreeParams { max_leaves: 4, min_leaf }))?;
    ours.push(("tree_k4_s", "KPI tree, 4 leaves", s, String::new()));
    let (sil, s) = timed(|| silhouette(&z, &labels))?;
    ours.push(("silhouette_s", "exact silhouette, 23,570 rows", s, format!("{sil:.3}")));

    let peer: Option<serde_json::Value> = std::env::var_os("PEER_PYTHON").and_then(|python| {
        let anchors = std::env::var_os("ANCHORS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/anchors"));
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/clv_peer.py");
        let out = Command::new(python).arg(script).arg(anchors.join("clv")).output().ok()?;
        if !out.status.success() {
            eprintln!("peer failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    });
    println!("| fit | propensity | peer (scipy / scikit-learn), same run | ratio | note |");
    println!("|---|---|---|---|---|");
    for (key, what, s, note) in &ours {
        let p = peer.as_ref().and_then(|v| v.get(*key)).and_then(|v| v.as_f64());
        match p {
            Some(p) => println!("| {what} | {s:.3} s | {p:.3} s | {:.1}× | {note} |", p / s),
            None => println!("| {what} | {s:.3} s | — | — | {note} |"),
        }
    }
    match &peer {
        Some(v) => println!("peer extras: {v}"),
        None => println!("peer: set PEER_PYTHON to a Python with numpy, pandas, scipy and scikit-learn"),
    }
    Ok(())
}
