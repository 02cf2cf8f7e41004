//! `propensity`: the notebooks' jobs from the command line.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use propensity::audiobooks::{self, PreprocessConfig, ScalerFit};
use propensity::model::AudiobooksMlp;
use propensity::runs::RunTable;
use propensity::train::{EarlyStoppingConfig, KerasLogger, Shuffle, TrainConfig, Trainer};

#[derive(Parser)]
#[command(name = "propensity", version, about = "Customer propensity models: train, evaluate and test on tabular data")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audiobooks repurchase: preprocess the CSV, train the 10→50→50→2 MLP with early stopping,
    /// and test it. Writes the three .npz splits, history.json and curves.svg to --out.
    Audiobooks(AudiobooksArgs),
    /// Shopping-channel preference (Store / Online / Hybrid): encode, split stratified 80/20,
    /// train the 28→64→32→3 network with balanced class weights for 150 epochs, and write the
    /// full evaluation (report.txt, report.json) and its plots to --out.
    Shopping(ShoppingArgs),
}

#[derive(clap::Args)]
struct ShoppingArgs {
    /// Consumer Shopping Trends CSV; default: data/Consumer_Shopping_Trends_2026.csv.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder for the report and the plots.
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
}

#[derive(Clone, Copy, ValueEnum)]
enum ShuffleArg {
    /// New batch order every epoch (Keras without a global seed; PyTorch).
    EveryEpoch,
    /// One batch order reused every epoch (Keras after set_random_seed).
    Once,
}

#[derive(clap::Args)]
struct AudiobooksArgs {
    /// Audiobooks CSV (with or without its header row); default: data/Audiobooks_data.csv.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder for the .npz files, history.json and curves.svg.
    #[arg(long, default_value = "out/audiobooks")]
    out: PathBuf,
    /// Training seed (weights and batch order); with --runs, the first of N consecutive seeds.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed of the shuffle before the 80/10/10 split.
    #[arg(long, default_value_t = 42)]
    split_seed: u64,
    /// Train N times with seeds seed..seed+N-1 and summarise test accuracy.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Batch order.
    #[arg(long, value_enum, default_value = "every-epoch")]
    shuffle: ShuffleArg,
    /// Fit the standardizer on the training rows only (the original fits it on all rows).
    #[arg(long)]
    leak_free: bool,
    /// Keep the weights of the best validation epoch instead of the last.
    #[arg(long)]
    restore_best: bool,
    /// Train all --max-epochs without early stopping.
    #[arg(long)]
    no_early_stopping: bool,
    /// Early-stopping patience in epochs.
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 100)]
    max_epochs: usize,
    /// Rows per batch.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Print the per-epoch log for every run (default: only when --runs is 1).
    #[arg(long)]
    verbose: bool,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Audiobooks(args) => audiobooks_job(args),
        Command::Shopping(args) => shopping_job(args),
    }
}

fn shopping_job(args: ShoppingArgs) -> Result<()> {
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
        spread.push(shopping::FoldScores {
            accuracy: report.report.accuracy,
            macro_f1: report.report.macro_avg.f1,
            macro_auc: report.macro_auc,
        });
        first.get_or_insert((fitted, report));
    }
    let (fitted, report) = first.expect("at least one seed");
    println!("\n{report}");
    if args.seeds > 1 {
        println!("{}", shopping::scores_table(&format!("{} seeds on the seed-{} split", args.seeds, args.split_seed), &spread));
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
    let names: Vec<String> = prepared.classes.clone();
    let cm = &report.confusion;
    let counts: Vec<Vec<f64>> = cm.counts.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect();
    let max = counts.iter().flatten().copied().fold(0.0, f64::max);
    let outputs = [
        ("loss.svg", plot::training_curves(&fitted.history)?),
        ("confusion.svg", plot::heatmap("Confusion matrix (rows: true class)", &names, &names, &counts, (0.0, max), |v| format!("{v:.0}"))?),
        (
            "confusion_normalized.svg",
            plot::heatmap("Confusion matrix, row-normalized", &names, &names, &cm.normalized(), (0.0, 1.0), |v| format!("{v:.2}"))?,
        ),
        ("roc.svg", plot::roc_curves(&report.roc)?),
    ];
    for (name, svg) in &outputs {
        svg.save(args.out.join(name))?;
    }
    propensity::io::write_bytes_atomic(&args.out.join("report.txt"), text.as_bytes())?;
    propensity::io::write_bytes_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    fitted.history.save_json(args.out.join("history.json"))?;
    println!("wrote report.txt, report.json, history.json and {} plots to {}", outputs.len(), args.out.display());
    Ok(())
}

fn audiobooks_job(args: AudiobooksArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let data = match args.data {
        Some(p) => p,
        None => propensity::paths::data_file(audiobooks::FILE)?,
    };
    let raw = audiobooks::read_csv(&data)?;
    let pre = PreprocessConfig {
        seed: args.split_seed,
        scaler_fit: if args.leak_free { ScalerFit::TrainOnly } else { ScalerFit::AllRows },
        ..PreprocessConfig::default()
    };
    let prepared = audiobooks::preprocess(&raw, &pre)?;
    let s = &prepared.splits;
    println!(
        "{}: {} rows, {} after balancing -> train {} / validation {} / test {}",
        data.display(),
        prepared.raw_rows,
        prepared.balanced_rows,
        s.train.len(),
        s.validation.len(),
        s.test.len()
    );
    let written = s.save_npz(&args.out).with_context(|| format!("writing the splits to {}", args.out.display()))?;
    for p in &written {
        println!("wrote {}", p.display());
    }

    let base = TrainConfig {
        batch_size: args.batch_size,
        max_epochs: args.max_epochs,
        early_stopping: (!args.no_early_stopping).then_some(EarlyStoppingConfig {
            patience: args.patience,
            restore_best: args.restore_best,
            ..EarlyStoppingConfig::default()
        }),
        shuffle: match args.shuffle {
            ShuffleArg::EveryEpoch => Shuffle::EveryEpoch,
            ShuffleArg::Once => Shuffle::Once,
        },
        ..TrainConfig::default()
    };
    let mut runs = RunTable::new(args.seed);
    for k in 0..args.runs {
        let seed = args.seed + k as u64;
        let mut trainer = Trainer::new(TrainConfig { seed, ..base.clone() })?;
        if args.runs == 1 || args.verbose {
            trainer = trainer.callback(KerasLogger::stdout());
        }
        let fitted = trainer.fit::<AudiobooksMlp>(&s.train, Some(&s.validation))?;
        let test = fitted.model.evaluate(&s.test)?;
        let suffix = if args.runs == 1 { String::new() } else { format!("-seed-{seed}") };
        let history_path = args.out.join(format!("history{suffix}.json"));
        fitted.history.save_json(&history_path)?;
        let curves_path = args.out.join(format!("curves{suffix}.svg"));
        propensity::plot::training_curves(&fitted.history)?.save(&curves_path)?;
        if args.runs == 1 {
            println!("{test}");
            println!("wrote {} and {}", history_path.display(), curves_path.display());
        } else {
            println!(
                "run {}/{} seed {seed}: {} epochs, {:.1} ms, {test}",
                k + 1,
                args.runs,
                fitted.history.epochs_run(),
                fitted.history.seconds * 1e3
            );
        }
        runs.push_history(&fitted.history, test);
    }
    if args.runs > 1 {
        println!("\n{runs}");
        let path = args.out.join("runs.json");
        propensity::io::write_bytes_atomic(&path, serde_json::to_string_pretty(&runs)?.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
