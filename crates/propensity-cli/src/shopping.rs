//! `propensity shopping`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use propensity::runs::{append_record, Interval, RunRecord};
use propensity::saved::ModelCard;

use crate::RecordArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Consumer Shopping Trends CSV; default: data/Consumer_Shopping_Trends_2026.csv.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder for the report, the plots and model.json.
    #[arg(long, default_value = "out/shopping")]
    out: PathBuf,
    /// Training seed (weights and batch order).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Seed of the stratified 80/20 split.
    #[arg(long, default_value_t = 42)]
    split_seed: u64,
    /// Also train N-1 more seeds (seed+1, …) on the same split and report the spread.
    #[arg(long, default_value_t = 1)]
    seeds: usize,
    /// Also run stratified k-fold cross-validation with this many folds (0: skip).
    #[arg(long, default_value_t = 0)]
    folds: usize,
    /// Epochs (the tutorial: 150).
    #[arg(long, default_value_t = 150)]
    epochs: usize,
    /// Oversample the training rows with SMOTE instead of weighting the classes.
    #[arg(long)]
    smote: bool,
    #[command(flatten)]
    record: RecordArgs,
}

pub fn run(args: Args) -> Result<()> {
    use propensity::plot;
    use propensity::shopping::{self, Balancing, SplitConfig};
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let data = match args.data {
        Some(p) => p,
        None => propensity::paths::data_file(shopping::FILE)?,
    };
    let table = shopping::read_csv(&data)?;
    let enc = shopping::encode(&table)?;
    let prepared = shopping::split(&enc, &SplitConfig { seed: args.split_seed, ..SplitConfig::default() })?;
    println!(
        "{}: {} rows ({} duplicates dropped), {} features, classes {}; train {} / test {} (test per class {:?})",
        data.display(),
        table.rows(),
        enc.duplicates_dropped,
        enc.feature_names.len(),
        enc.labels,
        prepared.train.len(),
        prepared.test.len(),
        prepared.test.class_counts(3)
    );
    let data_hash = propensity::saved::sha256_file(&data)?;
    let balancing = if args.smote { Balancing::Smote } else { Balancing::Config };
    let config = |seed| propensity::train::TrainConfig { max_epochs: args.epochs, ..shopping::train_config(seed) };
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    let mut spread = Vec::new();
    let mut first = None;
    for k in 0..args.seeds {
        let seed = args.seed + k as u64;
        let (fitted, report) = shopping::fit_and_evaluate(&prepared, &config(seed), balancing)?;
        let h = &fitted.history;
        println!(
            "seed {seed}: {} epochs in {:.2} s, final loss {:.4}; accuracy {:.2}%, macro F1 {:.3}, macro AUC {:.4}",
            h.epochs_run(),
            h.seconds,
            h.epochs.last().map_or(f64::NAN, |e| e.loss),
            report.report.accuracy * 100.0,
            report.report.macro_avg.f1,
            report.macro_auc
        );
        spread.push(shopping::FoldScores::of(&report));
        if let Some(file) = args.record.file()? {
            let test = fitted.model.evaluate(&prepared.test)?;
            let metrics = serde_json::json!({ "macro_f1": report.report.macro_avg.f1, "macro_auc": report.macro_auc });
            let record = RunRecord::new("shopping", &data_hash, &args.record.label, &fitted.history, test, metrics);
            append_record(&file, &record)?;
        }
        first.get_or_insert((fitted, report));
    }
    let (fitted, report) = first.expect("at least one seed");
    println!("\n{report}");
    if args.seeds > 1 {
        println!(
            "{}",
            shopping::scores_table(&format!("{} seeds on the seed-{} split", args.seeds, args.split_seed), &spread)
        );
        if let Some(ci) = Interval::of(&spread.iter().map(|s| s.accuracy).collect::<Vec<_>>()) {
            println!("test accuracy: {ci}");
        }
    }
    let mut text = format!("{report}");
    let mut json = serde_json::json!({ "seed": args.seed, "report": report, "seeds": spread });
    if args.folds > 0 {
        let cv = shopping::cross_validate(&enc, args.folds, args.split_seed, &config(args.seed), balancing)?;
        let t = shopping::scores_table(&format!("Stratified {}-fold cross-validation", args.folds), &cv);
        println!("{t}");
        text += &format!("\n{t}");
        json["cross_validation"] = serde_json::to_value(&cv)?;
    }
    let outputs = [
        ("loss.svg", plot::training_curves(&fitted.history)?),
        ("confusion.svg", report.confusion_heatmap(false)?),
        ("confusion_normalized.svg", report.confusion_heatmap(true)?),
        ("roc.svg", report.roc_plot()?),
    ];
    for (name, svg) in &outputs {
        svg.save(args.out.join(name))?;
    }
    let metrics = serde_json::json!({
        "accuracy": report.report.accuracy, "macro_f1": report.report.macro_avg.f1, "macro_auc": report.macro_auc
    });
    let card = ModelCard::new(&data, &fitted.history.config, metrics)?;
    shopping::saved_model(&fitted.model, &enc, &prepared, card).save(args.out.join("model.json"))?;
    prepared.test.save_npz(args.out.join("test.npz"))?;
    propensity::io::write_bytes_atomic(&args.out.join("report.txt"), text.as_bytes())?;
    propensity::io::write_bytes_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    fitted.history.save_json(args.out.join("history.json"))?;
    println!(
        "wrote report.txt, report.json, history.json, model.json, test.npz and {} plots to {}",
        outputs.len(),
        args.out.display()
    );
    Ok(())
}
