//! `propensity score`, `evaluate`, `explain`, `runs` and `generate`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use propensity::calibration::{calibrate, calibration_table, reliability_plot};
use propensity::importance::{accuracy_importance, importance_plot, importance_table};
use propensity::loaded::LoadedModel;
use propensity::network::Head;
use propensity::runs::{read_records, records_plot, records_table, Interval};
use propensity::saved::Labelled;
use propensity::score::ScoreOptions;

use crate::DatasetArg;

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Any model.json this tool wrote (`train`, `audiobooks`, `shopping`, `retail train`, `cdnow churn`/`ltv`, `clickstream`).
    #[arg(long)]
    model: PathBuf,
    /// Customers to score: the training CSV's columns, target column optional; `.gz` is
    /// decompressed, and `.parquet` is read by a build with `--features arrow`.
    #[arg(long, visible_alias = "data")]
    input: PathBuf,
    /// Where to write the scores (replaced atomically at the end): CSV, or Parquet for a
    /// `.parquet` name in a build with `--features arrow`.
    #[arg(long)]
    output: PathBuf,
    /// Skip rows that cannot be read (reported with their line numbers) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Rows per batch.
    #[arg(long, default_value_t = 65_536)]
    batch_rows: usize,
}

pub fn score(args: ScoreArgs) -> Result<()> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let mut progress = |rows: u64, bytes: u64| {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{rows} rows, {} read, {:.0} rows/s", HumanBytes(bytes), rows as f64 / secs));
        bar.tick();
    };
    let options = ScoreOptions { batch_rows: args.batch_rows, skip_bad: args.skip_bad };
    let summary = score_any(&args, options, &mut progress)?;
    bar.finish_and_clear();
    let at = if is_parquet(&args.input) { "row" } else { "line" };
    for (line, message) in &summary.bad_lines {
        eprintln!("{}, {at} {line}: {message}", args.input.display());
    }
    if summary.rows_skipped > summary.bad_lines.len() as u64 {
        eprintln!("… and {} more bad rows", summary.rows_skipped - summary.bad_lines.len() as u64);
    }
    let mb = summary.bytes_read as f64 / 1e6;
    println!(
        "scored {} rows ({:.1} MB) in {:.2} s: {:.0} rows/s, {:.1} MB/s; skipped {} bad rows; wrote {}",
        summary.rows_scored,
        mb,
        summary.seconds,
        summary.rows_scored as f64 / summary.seconds.max(1e-9),
        mb / summary.seconds.max(1e-9),
        summary.rows_skipped,
        args.output.display()
    );
    Ok(())
}

fn is_parquet(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// With the `arrow` feature every file goes through propensity-arrow's `score_batch` (CSV or
/// Parquet in and out); without it, CSV through the streaming CSV scorer.
#[cfg(feature = "arrow")]
fn score_any(
    args: &ScoreArgs,
    options: ScoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<propensity::score::ScoreSummary> {
    let model = LoadedModel::read(&args.model)?;
    Ok(propensity_arrow::score_file(&model, &args.input, &args.output, options, progress)?)
}

#[cfg(not(feature = "arrow"))]
fn score_any(
    args: &ScoreArgs,
    options: ScoreOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<propensity::score::ScoreSummary> {
    if let Some(p) = [&args.input, &args.output].into_iter().find(|p| is_parquet(p)) {
        bail!(
            "{}: this build of propensity reads and writes CSV only; for Parquet build it with \
             `cargo build --release -p propensity-cli --features arrow`",
            p.display()
        );
    }
    Ok(propensity::score::score_csv(&args.model, &args.input, &args.output, options, progress)?)
}

/// `generate transactions`: a seeded log of `customers` drawn from the CDNOW fits.
#[cfg(feature = "arrow")]
fn transactions(customers: u64, seed: u64, output: &std::path::Path, started: std::time::Instant) -> Result<()> {
    use propensity_arrow::generate::{write_transactions, LogSpec};
    let rows = write_transactions(output, &LogSpec { customers, seed, ..LogSpec::default() })?;
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {rows} purchases of {customers} customers ({}) to {} in {:.1} s",
        HumanBytes(bytes),
        output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(not(feature = "arrow"))]
fn transactions(_: u64, _: u64, _: &std::path::Path, _: std::time::Instant) -> Result<()> {
    bail!("`generate transactions` comes with the Parquet build: `cargo build --release -p propensity-cli --features arrow`")
}

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Any model.json this tool wrote.
    #[arg(long)]
    model: PathBuf,
    /// Labelled rows: a CSV with the model's columns and target (the saved preprocessing is
    /// applied), or for a classifier a model-ready .npz such as the test split a training
    /// command wrote.
    #[arg(long)]
    data: PathBuf,
    /// Permutations per feature.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Seed of the permutations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder for importance.svg (and a classifier's reliability.svg).
    #[arg(long, default_value = "out/explain")]
    out: PathBuf,
}

pub fn explain(args: ExplainArgs) -> Result<()> {
    let loaded = LoadedModel::read(&args.model)?;
    let npz = args.data.extension().is_some_and(|e| e == "npz");
    let (importance, proba_targets) = if npz {
        if loaded.model.network().head != Head::Softmax {
            bail!(
                "a model-ready .npz holds classes; {} is a {}",
                args.model.display(),
                loaded.saved.preprocessing.kind()
            );
        }
        let data = propensity::Dataset::load_npz(&args.data)?;
        let groups = loaded.saved.preprocessing.feature_groups();
        let imp = accuracy_importance(&loaded.model, &data, &groups, args.repeats, args.seed)?;
        (imp, Some((loaded.model.predict_proba(data.inputs())?, data.targets().to_vec())))
    } else {
        let imp = loaded.importance(&args.data, args.repeats, args.seed)?;
        let classes = match loaded.labelled(&args.data)? {
            Labelled::Classes(d) => Some((loaded.model.predict_proba(d.inputs())?, d.targets().to_vec())),
            _ => None,
        };
        (imp, classes)
    };
    let effect = if npz { "drop in accuracy" } else { loaded.importance_effect() };
    let caption = format!("Permutation importance on {} ({} repeats)", args.data.display(), args.repeats);
    println!("{}", importance_table(&caption, effect, &importance));
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    importance_plot("Permutation feature importance", effect, &importance)?.save(args.out.join("importance.svg"))?;
    if let Some((proba, targets)) = proba_targets {
        let cal = calibrate(&proba, &targets, &loaded.saved.classes, 10)?;
        println!("{}", calibration_table(&cal));
        reliability_plot(&cal)?.save(args.out.join("reliability.svg"))?;
        println!("wrote importance.svg and reliability.svg to {}", args.out.display());
    } else {
        println!("wrote importance.svg to {}", args.out.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// Any model.json this tool wrote.
    #[arg(long)]
    model: PathBuf,
    /// Labelled rows: a CSV with the model's columns and target.
    #[arg(long)]
    data: PathBuf,
    /// Also write the scores as JSON to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn evaluate(args: EvaluateArgs) -> Result<()> {
    let loaded = LoadedModel::read(&args.model)?;
    let evaluation = loaded.evaluate(&args.data)?;
    println!("{evaluation}");
    if let Some(path) = &args.output {
        let json = serde_json::to_string_pretty(&evaluation.scores)?;
        propensity::io::write_bytes_atomic(path, json.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct RunsArgs {
    /// The run log [default: runs/runs.jsonl beside data/].
    #[arg(long)]
    file: Option<PathBuf>,
    /// Write a plot of test accuracy per run here.
    #[arg(long)]
    plot: Option<PathBuf>,
}

pub fn runs(args: RunsArgs) -> Result<()> {
    let file = match &args.file {
        Some(f) => f.clone(),
        None => propensity::paths::runs_file()?,
    };
    let records = read_records(&file)?;
    println!("{}", records_table(&records));
    let mut keys: Vec<(String, String)> = records.iter().map(|r| (r.dataset.clone(), r.label.clone())).collect();
    keys.dedup();
    keys.sort();
    keys.dedup();
    for (dataset, label) in keys {
        let acc: Vec<f64> =
            records.iter().filter(|r| r.dataset == dataset && r.label == label).map(|r| r.test_accuracy).collect();
        match Interval::of(&acc) {
            Some(ci) => println!("{dataset} / {label}: test accuracy {ci}"),
            None => println!("{dataset} / {label}: test accuracy {:.4} (one run)", acc[0]),
        }
    }
    if let Some(path) = &args.plot {
        records_plot(&records)?.save(path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[arg(value_enum)]
    dataset: DatasetArg,
    /// Rows to write (audiobooks, shopping).
    #[arg(long, required_if_eq_any = [("dataset", "audiobooks"), ("dataset", "shopping")])]
    rows: Option<u64>,
    /// Customers to draw (transactions).
    #[arg(long, required_if_eq("dataset", "transactions"))]
    customers: Option<u64>,
    /// Size relative to the default ≈ 20k customers (orders-sessions).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output CSV, or folder for orders-sessions [default there: out/retail/data]; written atomically.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let (rows, output) = match (args.dataset, args.rows, &args.output) {
        (DatasetArg::OrdersSessions, _, out) => {
            let out = out.clone();
            return crate::retail::generate_tables(&crate::retail::GenerateArgs {
                scale: args.scale,
                seed: args.seed,
                out,
            });
        }
        (DatasetArg::Transactions, _, Some(output)) => {
            return transactions(args.customers.context("--customers is required")?, args.seed, output, started);
        }
        (_, Some(rows), Some(output)) => (rows, output),
        _ => anyhow::bail!("--rows and --output are required for this dataset"),
    };
    match args.dataset {
        DatasetArg::Audiobooks => {
            let table = propensity::audiobooks::read_csv(propensity::paths::data_file(propensity::audiobooks::FILE)?)?;
            propensity::audiobooks::write_synthetic_file(&table, rows, args.seed, output)?;
        }
        DatasetArg::Shopping => {
            let table = propensity::shopping::read_csv(propensity::paths::data_file(propensity::shopping::FILE)?)?;
            propensity::shopping::write_synthetic_file(&table, rows, args.seed, output)?;
        }
        DatasetArg::OrdersSessions | DatasetArg::Transactions => unreachable!("handled above"),
    }
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {rows} rows ({}) to {} in {:.1} s",
        HumanBytes(bytes),
        output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
