//! `propensity init` and `propensity train`: any CSV, no dataset-specific code.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use propensity::runs::{append_record, Interval, RunRecord};
use propensity::task::{Task, TaskKind};

use crate::RecordArgs;

/// The kind of task, as a flag.
#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Two classes.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A number.
    Regression,
}

impl From<KindArg> for TaskKind {
    fn from(k: KindArg) -> TaskKind {
        match k {
            KindArg::Binary => TaskKind::Binary,
            KindArg::Multiclass => TaskKind::Multiclass,
            KindArg::Regression => TaskKind::Regression,
        }
    }
}

#[derive(clap::Args)]
pub struct InitArgs {
    /// The CSV (gzipped when it ends in .gz) with a header row.
    #[arg(long)]
    data: PathBuf,
    /// The column to predict.
    #[arg(long)]
    target: String,
    /// Where to write the editable task file: JSON, or TOML when the name ends in `.toml`.
    #[arg(long, default_value = "task.json")]
    output: PathBuf,
}

/// Infers the task and writes it, printing what was chosen for each column.
pub fn init(args: InitArgs) -> Result<()> {
    let task = Task::infer(&args.data, &args.target)?;
    task.save(&args.output)?;
    println!(
        "{}: predict `{}` ({}{}); id column: {}",
        args.data.display(),
        task.target.column,
        task.target.kind.name(),
        task.target.positive.as_ref().map_or(String::new(), |p| format!(", positive class {p:?}")),
        task.id.as_deref().unwrap_or("none (scores use line numbers)")
    );
    println!("{}", task.summary());
    println!(
        "wrote {}; edit it, then: propensity train --data {} --config {}",
        args.output.display(),
        args.data.display(),
        args.output.display()
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The CSV to train on.
    #[arg(long)]
    data: PathBuf,
    /// The column to predict (the task is inferred as `propensity init` does).
    #[arg(long)]
    target: Option<String>,
    /// A task file written by `propensity init` (and perhaps edited).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the inferred kind of task.
    #[arg(long, value_enum)]
    task: Option<KindArg>,
    /// Seed of the split, the weights and the batch order [default: the task file's, 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Train N seeds (seed, seed+1, …) and report the spread of the headline score; the first
    /// seed's model and report are written. With `folds` ≥ 2 in the task's split, every seed
    /// fits every fold (repeated k-fold) and cross_validation.json holds the folds' scores.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Output folder: model.json, report.html, report.json, task.json.
    #[arg(long, default_value = "out/train")]
    out: PathBuf,
    #[command(flatten)]
    record: RecordArgs,
}

pub fn train(args: TrainArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut task = propensity::task::resolve(args.config.as_deref(), &args.data, args.target.as_deref())?;
    if let Some(k) = args.task {
        task.target.kind = k.into();
        if task.target.kind == TaskKind::Regression {
            task.split.by = propensity::task::SplitBy::Random;
            task.target.positive = None;
        }
    }
    if let Some(s) = args.seed {
        task.training.seed = s;
    }
    task.check()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let measure = task.target.kind.measure();
    let record_file = args.record.file()?;
    let table = propensity::table::TextTable::read_csv(&args.data)?;
    let first_seed = task.training.seed;
    let folds = task.split.folds;
    let mut headline = vec![];
    let mut cross_validations = vec![];
    for k in 0..args.runs {
        let seed = first_seed + k as u64;
        let run_task =
            Task { training: propensity::train::TrainConfig { seed, ..task.training.clone() }, ..task.clone() };
        let mut fold_reports = vec![];
        for fold in 0..folds {
            let run = run_task.fit_fold(&table, fold)?;
            let r = &run.report;
            let first = k == 0 && fold == 0;
            let out = |f: &str| args.out.join(f);
            // the files first: a reader that stops early (`| head`) ends the printing, not the run
            if first {
                run.saved.save(out("model.json"))?;
                r.save_html(out("report.html"))?;
                propensity::io::write_bytes_atomic(&out("report.json"), serde_json::to_string_pretty(r)?.as_bytes())?;
                run_task.save(out("task.json"))?;
            }
            if let (Some(file), Some(test)) = (&record_file, r.evaluation) {
                // the model card already holds the data's hash and every model's test scores
                let card = &run.saved.card;
                let record = RunRecord::new(
                    "train",
                    &card.data_sha256,
                    &args.record.label,
                    &r.history,
                    test,
                    card.metrics.clone(),
                );
                append_record(file, &record)?;
            }
            let which = if folds > 1 { format!(" fold {}/{folds}", fold + 1) } else { String::new() };
            println!(
                "seed {seed}{which}: {} epochs in {:.2} s; test {measure} {:.4}",
                r.history.epochs_run(),
                r.history.seconds,
                r.headline()
            );
            if first {
                println!("\n{r}\n");
                println!(
                    "wrote model.json, report.html, report.json and task.json to {}{}; score new rows with\n  \
                     propensity score --model {} --data NEW.csv --output scores.csv",
                    args.out.display(),
                    if folds > 1 { " (the first fold's model)" } else { "" },
                    out("model.json").display()
                );
            }
            if folds == 1 {
                headline.push(r.headline());
            } else {
                fold_reports.push(run.report);
            }
        }
        if folds > 1 {
            let cv = propensity::crossval::CrossValidation::new(&fold_reports);
            println!("\nseed {seed}:\n{cv}");
            headline.push(cv.interval(0).expect("2 or more folds").mean);
            cross_validations.push(cv);
        }
    }
    if folds > 1 {
        let path = args.out.join("cross_validation.json");
        propensity::io::write_bytes_atomic(&path, serde_json::to_string_pretty(&cross_validations)?.as_bytes())?;
        println!("wrote {}", path.display());
    }
    if let Some(i) = Interval::of(&headline).filter(|_| args.runs > 1) {
        let what = if folds > 1 { format!("mean {folds}-fold ") } else { String::new() };
        println!("{} seeds from {first_seed}: {what}test {measure} {i}", args.runs);
    }
    Ok(())
}
