//! Training benchmark. Audiobooks: full 100-epoch fits (no early stopping, batch 100, the
//! 3,579-row train split) on one thread (the default) and on two, and early-stopping fits.
//! Shopping: the tutorial's 150 epochs × 148 batches of 64, on one thread and on two. With a
//! peer Python given, the PyTorch plain loops of `../shared/anchors/torch_audiobooks.py` (on the
//! same `.npz` files) and `torch_shopping.py`, and Keras' `fit` of `keras_audiobooks.py`, run in
//! the same command and the ratios are printed.
//! The peers run on one thread, their fastest for these small layers (PyTorch's loop took
//! 1.27–1.34 s on one thread and 1.48–1.71 s on two on the Xeon, 2026-12-03; 1.18–1.29 s and
//! 4.18–5.06 s on the EPYC, 2026-12-04).
//!
//! `cargo bench -p propensity-cli --bench train`
//! `PEER_PYTHON=/path/to/venv/bin/python cargo bench -p propensity-cli --bench train`
//! (`ANCHORS` overrides the anchors folder, default `<repo>/../shared/anchors`.)

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use propensity::audiobooks::{self, PreprocessConfig};
use propensity::train::{TrainConfig, Trainer};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> propensity::Result<()> {
    let raw = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE)?)?;
    let prepared = audiobooks::preprocess(&raw, &PreprocessConfig::default())?;
    let s = &prepared.splits;
    let reps = 7;

    // one thread (the default) and two (each step cut in two): the same numbers, bit for bit; the
    // ratios are the default's
    let full = TrainConfig { early_stopping: None, ..TrainConfig::default() };
    let mut full_s = 0.0;
    for threads in [1, 2] {
        let mut times = Vec::new();
        for rep in 0..reps {
            let t = Instant::now();
            let f = Trainer::new(TrainConfig { seed: rep + 1, threads, ..full.clone() })?.fit(
                &propensity::audiobooks::network(),
                &s.train,
                Some(&s.validation),
            )?;
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(f.history.epochs_run(), 100);
        }
        let median_s = median(times.clone());
        println!(
            "rust dfdx, {threads} thread(s), 100 epochs x 36 batches (3,600 steps) + validation each epoch: median \
             {median_s:.3} s over {reps} fits (min {:.3} s), {:.1} us/step",
            times.iter().cloned().fold(f64::INFINITY, f64::min),
            median_s / 3600.0 * 1e6
        );
        if threads == full.threads {
            full_s = median_s;
        }
    }
    let mut t_es = Vec::new();
    let mut epochs = Vec::new();
    for seed in 1..=10 {
        let t = Instant::now();
        let f = Trainer::new(TrainConfig { seed, ..TrainConfig::default() })?.fit(
            &propensity::audiobooks::network(),
            &s.train,
            Some(&s.validation),
        )?;
        t_es.push(t.elapsed().as_secs_f64());
        epochs.push(f.history.epochs_run() as f64);
    }
    println!(
        "rust dfdx, early stopping (patience 2), seeds 1..=10: median {:.1} ms per fit, mean {:.1} epochs",
        median(t_es) * 1e3,
        epochs.iter().sum::<f64>() / epochs.len() as f64
    );

    let enc = propensity::shopping::encode(&propensity::shopping::read_csv(propensity::paths::data_file(
        propensity::shopping::FILE,
    )?)?)?;
    let shop = propensity::shopping::split(&enc, &propensity::shopping::SplitConfig::default())?;
    let default_threads = propensity::shopping::train_config(42).threads;
    let mut shop_s = 0.0;
    for threads in [1, 2] {
        let mut times = Vec::new();
        for seed in 42..45 {
            let cfg = TrainConfig { threads, ..propensity::shopping::train_config(seed) };
            let f = Trainer::new(cfg)?.fit(&propensity::shopping::network(), &shop.train, None)?;
            times.push(f.history.seconds);
        }
        let median_s = median(times);
        println!(
            "rust dfdx, {threads} thread(s), shopping 150 epochs x 148 batches of 64 (22,200 steps): median \
             {median_s:.3} s over 3 fits"
        );
        if threads == default_threads {
            shop_s = median_s;
        }
    }

    let Some(python) = std::env::var_os("PEER_PYTHON") else {
        println!("peer: set PEER_PYTHON to a Python with torch to time the PyTorch loop in the same run");
        return Ok(());
    };
    let anchors = std::env::var_os("ANCHORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/anchors"));
    let npz_dir = tempfile::tempdir().expect("temp dir");
    let npz = npz_dir.path();
    s.save_npz(npz)?;
    let mut peer = Vec::new();
    for _ in 0..3 {
        let out = Command::new(&python)
            .arg(anchors.join("torch_audiobooks.py"))
            .args(["--seed", "1", "--threads", "1", "--no-es", "--npz"])
            .arg(npz)
            .output()
            .expect("runs the peer");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(json) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
            println!("peer failed: {}", String::from_utf8_lossy(&out.stderr));
            return Ok(());
        };
        let v: serde_json::Value = serde_json::from_str(json).expect("peer JSON");
        peer.push(v["fit_s"].as_f64().expect("fit_s"));
    }
    let peer_s = median(peer);
    println!("peer PyTorch plain loop, 1 thread (its fastest here: 2 threads were slower), 100 epochs: median {peer_s:.3} s over 3 runs");
    println!("ratio: rust is {:.1}x faster than the PyTorch loop (same machine, same command)", peer_s / full_s);

    // Keras 3 `model.fit` (TensorFlow backend), the seed notebook's own stack: one run, it is slow
    let out = Command::new(&python)
        .arg(anchors.join("keras_audiobooks.py"))
        .args(["--seed", "1", "--threads", "1", "--no-es", "--npz"])
        .arg(npz)
        .output()
        .expect("runs the Keras peer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(json) => {
            let v: serde_json::Value = serde_json::from_str(json).expect("peer JSON");
            let keras = v["fit_s"].as_f64().expect("fit_s");
            println!("peer Keras fit, 1 thread, 100 epochs: {keras:.2} s");
            println!("ratio: rust is {:.1}x faster than Keras (same machine, same command)", keras / full_s);
        }
        None => {
            println!("Keras peer failed (needs tensorflow in PEER_PYTHON): {}", String::from_utf8_lossy(&out.stderr))
        }
    }

    let out = Command::new(&python)
        .arg(anchors.join("torch_shopping.py"))
        .args(["--seed", "42", "--threads", "1", "--loader", "manual", "--quiet"])
        .output()
        .expect("runs the shopping peer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) {
        Some(json) => {
            let v: serde_json::Value = serde_json::from_str(json).expect("peer JSON");
            let peer = v["train_s"].as_f64().expect("train_s");
            println!("peer PyTorch shopping, 1 thread, manual loader, 150 epochs: {peer:.2} s");
            println!("ratio: rust is {:.1}x faster on the shopping training", peer / shop_s);
        }
        None => println!("shopping peer failed: {}", String::from_utf8_lossy(&out.stderr)),
    }
    Ok(())
}
