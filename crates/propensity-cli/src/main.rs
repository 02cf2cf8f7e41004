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
    }
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
