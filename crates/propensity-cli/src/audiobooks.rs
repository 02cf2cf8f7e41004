//! `propensity audiobooks`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use propensity::audiobooks::{self, PreprocessConfig, ScalerFit};
use propensity::runs::{append_record, Interval, PairedComparison, RunRecord, RunTable};
use propensity::saved::{sha256_file, ModelCard};
use propensity::train::{EarlyStoppingConfig, KerasLogger, Shuffle, TrainConfig, Trainer};

use crate::RecordArgs;

#[derive(Clone, Copy, ValueEnum)]
enum ShuffleArg {
    /// New batch order every epoch (Keras without a global seed; PyTorch).
    EveryEpoch,
    /// One batch order reused every epoch (Keras after set_random_seed).
    Once,
}

#[derive(clap::Args)]
pub struct Args {
    /// Audiobooks CSV (with or without its header row); default: data/Audiobooks_data.csv.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder for the .npz files, history.json, curves.svg and model.json.
    #[arg(long, default_value = "out/audiobooks")]
    out: PathBuf,
    /// Training seed (weights and batch order); with --runs, the first of N consecutive seeds.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed of the shuffle before the 80/10/10 split.
    #[arg(long, default_value_t = 42)]
    split_seed: u64,
    /// Train N times with seeds seed..seed+N-1 and summarise test accuracy (mean, std, 95 % CI).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Also train the config in this JSON file (a TrainConfig; its seed is replaced) on the same
    /// seeds, and report the paired difference in test accuracy with its 95 % interval.
    #[arg(long)]
    compare: Option<PathBuf>,
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
    #[command(flatten)]
    record: RecordArgs,
}

pub fn run(args: Args) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let variant_b: Option<TrainConfig> = match &args.compare {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let cfg: TrainConfig =
                serde_json::from_str(&text).with_context(|| format!("{}: not a TrainConfig", path.display()))?;
            cfg.check().with_context(|| path.display().to_string())?;
            Some(cfg)
        }
        None => None,
    };
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
    let data_hash = sha256_file(&data)?;

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
    let mut b_scores = Vec::new();
    for k in 0..args.runs {
        let seed = args.seed + k as u64;
        let mut trainer = Trainer::new(TrainConfig { seed, ..base.clone() })?;
        if args.runs == 1 || args.verbose {
            trainer = trainer.callback(KerasLogger::stdout());
        }
        let fitted = trainer.fit(&propensity::audiobooks::network(), &s.train, Some(&s.validation))?;
        let test = fitted.model.evaluate(&s.test)?;
        let suffix = if args.runs == 1 { String::new() } else { format!("-seed-{seed}") };
        let history_path = args.out.join(format!("history{suffix}.json"));
        fitted.history.save_json(&history_path)?;
        let curves_path = args.out.join(format!("curves{suffix}.svg"));
        propensity::plot::training_curves(&fitted.history)?.save(&curves_path)?;
        let model_path = args.out.join(format!("model{suffix}.json"));
        let card = ModelCard::new(
            &data,
            &fitted.history.config,
            serde_json::json!({ "test_loss": test.loss, "test_accuracy": test.accuracy }),
        )?;
        audiobooks::saved_model(&fitted.model, &prepared, card).save(&model_path)?;
        if args.runs == 1 {
            println!("{test}");
            println!("wrote {}, {} and {}", history_path.display(), curves_path.display(), model_path.display());
        } else {
            println!(
                "run {}/{} seed {seed}: {} epochs, {:.1} ms, {test}",
                k + 1,
                args.runs,
                fitted.history.epochs_run(),
                fitted.history.seconds * 1e3
            );
        }
        if let Some(file) = args.record.file()? {
            let record = RunRecord::new(
                "audiobooks",
                &data_hash,
                &args.record.label,
                &fitted.history,
                test,
                serde_json::Value::Null,
            );
            append_record(&file, &record)?;
        }
        runs.push_history(&fitted.history, test);
        if let Some(b) = &variant_b {
            let fb = Trainer::new(TrainConfig { seed, ..b.clone() })?.fit(
                &propensity::audiobooks::network(),
                &s.train,
                Some(&s.validation),
            )?;
            let tb = fb.model.evaluate(&s.test)?;
            if let Some(file) = args.record.file()? {
                let label = format!("{} (compare)", args.record.label);
                append_record(
                    &file,
                    &RunRecord::new("audiobooks", &data_hash, &label, &fb.history, tb, serde_json::Value::Null),
                )?;
            }
            b_scores.push(tb.accuracy);
        }
    }
    if args.runs > 1 {
        println!("\n{runs}");
        let acc: Vec<f64> = runs.rows().iter().map(|r| r.test_accuracy).collect();
        if let Some(ci) = Interval::of(&acc) {
            println!("test accuracy: {ci}");
        }
        let path = args.out.join("runs.json");
        propensity::io::write_bytes_atomic(&path, serde_json::to_string_pretty(&runs)?.as_bytes())?;
        println!("wrote {}", path.display());
    }
    if variant_b.is_some() {
        let seeds: Vec<u64> = runs.rows().iter().map(|r| r.seed).collect();
        let acc: Vec<f64> = runs.rows().iter().map(|r| r.test_accuracy).collect();
        match PairedComparison::new(seeds, acc, b_scores) {
            Some(c) => println!("\n{}", c.table("this config", "--compare config")),
            None => println!("\n(a paired comparison needs --runs 2 or more)"),
        }
    }
    Ok(())
}
