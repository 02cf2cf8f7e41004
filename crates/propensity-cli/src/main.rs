//! `propensity`: the notebooks' jobs from the command line — train and test the models, score
//! customer files with a saved model, explain and calibrate it, and keep a log of runs.

mod audiobooks;
mod cdnow;
mod clv;
mod lifecycle;
mod retail;
mod shopping;
mod train;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "propensity", version, about = "Customer propensity models: train, evaluate, score and explain")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audiobooks repurchase: preprocess the CSV, train the 10→50→50→2 MLP with early stopping,
    /// and test it. Writes the three .npz splits, history.json, curves.svg and model.json to --out.
    Audiobooks(audiobooks::Args),
    /// Shopping-channel preference (Store / Online / Hybrid): encode, split stratified 80/20,
    /// train the 28→64→32→3 network with balanced class weights for 150 epochs, and write the
    /// full evaluation (report.txt, report.json), its plots and model.json to --out.
    Shopping(shopping::Args),
    /// Retail next product category (multi-input, multi-label) and autoencoder segments, on
    /// seeded generated orders and sessions.
    #[command(subcommand)]
    Retail(retail::Command),
    /// CDNOW transactions: churn, lifetime value (BG/NBD + Gamma-Gamma beside an MLP), KPI-supervised
    /// segments and autotuning.
    #[command(subcommand)]
    Cdnow(cdnow::Command),
    /// E-commerce clickstream: in-session conversion and user churn.
    #[command(subcommand)]
    Clickstream(cdnow::ClickCommand),
    /// Automatic exploratory report of any CSV: types, missing values, duplicates, distributions,
    /// outliers, correlations, target associations, class balance; one self-contained HTML file.
    Eda(cdnow::EdaArgs),
    /// Write an editable task file for predicting a column of any CSV: the inferred column types,
    /// the feature steps, split, network and training settings, every default stated.
    Init(train::InitArgs),
    /// Train on any CSV (`--target COLUMN`, or `--config` a task file from `init`): the report
    /// with baselines, plots and permutation importance, the model for `score` and `explain`.
    Train(train::TrainArgs),
    /// Score a CSV of customers (or a Parquet file, built with `--features arrow`) with a saved
    /// model: per-class probabilities and the predicted class (or a regressor's amount),
    /// streamed in batches, written atomically.
    Score(lifecycle::ScoreArgs),
    /// Scores of a saved model on a labelled CSV: AUC, accuracy, confusion matrix (classifiers),
    /// RMSE, MAE, R² (regressors), per-label scores (multi-label).
    Evaluate(lifecycle::EvaluateArgs),
    /// Permutation feature importance (and a classifier's calibration) of a saved model on a
    /// labelled CSV.
    Explain(lifecycle::ExplainArgs),
    /// Customer lifetime value on any transaction log: BG/NBD (and Gamma-Gamma with amounts)
    /// fitted up to a calibration date, P(alive), expected purchases and discounted CLV per
    /// customer, and the holdout compared with the expectation.
    Clv(clv::ClvArgs),
    /// Show the run log as a table (and a plot of test accuracy per run).
    Runs(lifecycle::RunsArgs),
    /// Write seeded synthetic data: a large CSV with a dataset's schema (for scoring
    /// benchmarks), or the retail orders and sessions tables (`orders-sessions`).
    Generate(lifecycle::GenerateArgs),
}

/// Where training runs are logged, shared by the training subcommands.
#[derive(clap::Args, Clone)]
pub struct RecordArgs {
    /// Append a record of each training run to this JSON-lines file [default: runs/runs.jsonl
    /// beside data/].
    #[arg(long)]
    record: Option<PathBuf>,
    /// Do not log the runs.
    #[arg(long)]
    no_record: bool,
    /// Label of the runs in the log.
    #[arg(long, default_value = "default")]
    label: String,
}

impl RecordArgs {
    fn file(&self) -> Result<Option<PathBuf>> {
        if self.no_record {
            return Ok(None);
        }
        Ok(Some(match &self.record {
            Some(p) => p.clone(),
            None => propensity::paths::runs_file()?,
        }))
    }
}

/// A dataset the generator knows.
#[derive(Clone, Copy, ValueEnum)]
pub enum DatasetArg {
    /// Audiobooks_data.csv
    Audiobooks,
    /// Consumer_Shopping_Trends_2026.csv
    Shopping,
    /// The retail orders and online-sessions tables with their ground truth (a folder)
    OrdersSessions,
    /// A transaction log (customer_id, date, amount) drawn from the CDNOW BG/NBD and Gamma-Gamma
    /// fits, Parquet or CSV; needs a build with `--features arrow`
    Transactions,
}

fn main() -> Result<()> {
    // Output piped into a reader that stops early (`propensity runs | head`) ends the run
    // quietly with status 0, as a Unix filter does, instead of a "Broken pipe" panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info)
    }));
    let result = run();
    if let Err(e) = &result {
        let broken_pipe = e
            .chain()
            .filter_map(|c| c.downcast_ref::<std::io::Error>())
            .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
        if broken_pipe {
            std::process::exit(0);
        }
    }
    result
}

fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Audiobooks(args) => audiobooks::run(args),
        Command::Shopping(args) => shopping::run(args),
        Command::Retail(command) => retail::run(command),
        Command::Cdnow(command) => cdnow::run(command),
        Command::Clickstream(command) => cdnow::run_click(command),
        Command::Eda(args) => cdnow::eda(args),
        Command::Init(args) => train::init(args),
        Command::Train(args) => train::train(args),
        Command::Score(args) => lifecycle::score(args),
        Command::Explain(args) => lifecycle::explain(args),
        Command::Evaluate(args) => lifecycle::evaluate(args),
        Command::Runs(args) => lifecycle::runs(args),
        Command::Clv(args) => clv::clv(args),
        Command::Generate(args) => lifecycle::generate(args),
    }
}
