//! `propensity cdnow …` (churn, lifetime value, KPI segments, autotuning on the CDNOW
//! transactions), `propensity clickstream …` (in-session conversion and user churn) and
//! `propensity eda` (an automatic exploratory report of any CSV).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use propensity::cdnow::btyd::Btyd;
use propensity::cdnow::models::{
    churn_out_of_fold, spend_out_of_fold, train_churn_model, train_spend_model, ChurnConfig, SpendConfig, SpendTarget,
};
use propensity::cdnow::segments::{compare, SegmentConfig};
use propensity::cdnow::tune::{load_config, tune, Strategy, TuneConfig};
use propensity::cdnow::{self, Customers};
use propensity::clickstream::{self, ClickConfig};
use propensity::eda::Eda;
use propensity::ranking::{binary_table, regression_table, BinaryScores, RegressionScores};

#[derive(Subcommand)]
pub enum Command {
    /// Build the per-customer table (17 calibration features, holdout targets) and write
    /// customers.csv — the input `propensity score` takes with the churn model.
    Features(OutArgs),
    /// Churn (no purchase in the 39-week holdout): the MLP out of fold (5 folds, id mod 5) next to
    /// BG/NBD, then the final model on all customers; writes model.json, history.json, churn.json
    /// and customers.csv.
    Churn(ChurnArgs),
    /// Lifetime value (holdout spend): BG/NBD + Gamma-Gamma by maximum likelihood and the spend MLP
    /// out of fold, side by side, then the spend model on all customers; writes ltv.json,
    /// predictions.csv, spend-model.json and customers.csv.
    Ltv(OutArgs),
    /// KPI-supervised segments (a regression tree on behaviour fitted to log(1 + holdout spend))
    /// next to k-means; writes segments.json, segments.csv and segments.svg.
    Segments(SegmentArgs),
    /// Autotune the churn network (successive halving or random search, cross-validated AUC);
    /// writes churn-config.json (for `cdnow churn --config`) and tune.json.
    Tune(TuneArgs),
}

#[derive(clap::Args)]
pub struct OutArgs {
    /// Output folder.
    #[arg(long, default_value = "out/cdnow")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct ChurnArgs {
    /// A churn configuration (JSON, e.g. the tuner's churn-config.json) [default: built in].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "out/cdnow")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct SegmentArgs {
    /// Number of segments.
    #[arg(long, default_value_t = 4)]
    k: usize,
    /// Smallest allowed segment as a share of customers.
    #[arg(long, default_value_t = 0.02)]
    min_share: f64,
    /// Output folder.
    #[arg(long, default_value = "out/cdnow")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct TuneArgs {
    /// Random search with this many trials instead of successive halving.
    #[arg(long)]
    random: Option<usize>,
    /// Successive halving: configurations in the first rung.
    #[arg(long, default_value_t = 18)]
    candidates: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "out/cdnow")]
    out: PathBuf,
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Features(a) => features(&a.out),
        Command::Churn(a) => churn(a),
        Command::Ltv(a) => ltv(&a.out),
        Command::Segments(a) => segments(a),
        Command::Tune(a) => tune_churn(a),
    }
}

/// Runs `f` under a spinner labelled `what`, then prints how long it took.
fn step<T>(what: &str, f: impl FnOnce() -> propensity::Result<T>) -> Result<T> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    let start = Instant::now();
    let out = f();
    bar.finish_and_clear();
    let out = out.with_context(|| what.to_string())?;
    println!("{what}: {:.2} s", start.elapsed().as_secs_f64());
    Ok(out)
}

fn load() -> Result<(Customers, PathBuf)> {
    let file = propensity::paths::data_file(cdnow::FILE)?;
    let c = step(&format!("read and aggregate {}", file.display()), cdnow::load_default)?;
    Ok((c, file))
}

fn create(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    propensity::io::write_bytes_atomic(path, text.as_bytes())?;
    Ok(())
}

fn features(out: &Path) -> Result<()> {
    let (c, _) = load()?;
    create(out)?;
    c.write_csv(out.join("customers.csv"))?;
    let buyers = c.rows.iter().filter(|r| r.bought_in_holdout()).count();
    println!(
        "{} customers, {:.2} % bought in the {}-week holdout; wrote {}",
        c.len(),
        100.0 * buyers as f64 / c.len() as f64,
        c.protocol.holdout_weeks(),
        out.join("customers.csv").display()
    );
    Ok(())
}

fn churn(args: ChurnArgs) -> Result<()> {
    let cfg = match &args.config {
        Some(p) => load_config(p)?,
        None => ChurnConfig::default(),
    };
    let (c, file) = load()?;
    create(&args.out)?;
    let bought: Vec<bool> = c.rows.iter().map(|r| r.bought_in_holdout()).collect();
    let btyd = step("fit BG/NBD + Gamma-Gamma (maximum likelihood)", || Btyd::fit(&c))?;
    let oof = step("train the churn MLP on 5 folds (id mod 5)", || churn_out_of_fold(&c, &cfg))?;
    let ours = oof.scores()?;
    let rows = vec![
        (format!("MLP {} (out of fold)", cfg.architecture.name()), ours),
        (
            "BG/NBD expected holdout purchases".to_string(),
            BinaryScores::of(&btyd.expected_transactions, &bought, &c.ids())?,
        ),
    ];
    println!("{}", binary_table("Who buys again in the 39-week holdout (AUC of churn = AUC of buying)", &rows));
    println!("peers (same folds): scikit-learn MLP 0.769, gradient boosting 0.766, BG/NBD 0.763");
    let metrics = serde_json::json!({ "out_of_fold": ours, "epochs_per_fold": oof.epochs });
    let (saved, history) =
        step("train the final model on all customers", || train_churn_model(&c, &cfg, &file, metrics))?;
    saved.save(args.out.join("model.json"))?;
    history.save_json(args.out.join("history.json"))?;
    c.write_csv(args.out.join("customers.csv"))?;
    write_json(&args.out.join("churn.json"), &serde_json::json!({ "config": cfg, "scores": rows }))?;
    println!(
        "final model: {} epochs{}; wrote model.json, history.json, churn.json and customers.csv to {}",
        history.epochs_run(),
        history.best_epoch.map_or(String::new(), |b| format!(" (best epoch {b})")),
        args.out.display()
    );
    Ok(())
}

fn ltv(out: &Path) -> Result<()> {
    let (c, file) = load()?;
    create(out)?;
    let btyd = step("fit BG/NBD + Gamma-Gamma (maximum likelihood)", || Btyd::fit(&c))?;
    println!("{}", btyd.parameter_table());
    let mlp = step("train the spend MLP on 5 folds (id mod 5)", || spend_out_of_fold(&c, &SpendConfig::default()))?;
    let log_cfg = SpendConfig { target: SpendTarget::Log1p, ..SpendConfig::default() };
    let log_mlp = step("train the log-spend MLP on 5 folds", || spend_out_of_fold(&c, &log_cfg))?;
    let actual = c.column(|r| r.spend_holdout);
    let (zero, ids) = (vec![0.0; c.len()], c.ids());
    let rows = vec![
        ("BG/NBD × Gamma-Gamma".to_string(), RegressionScores::of(&actual, &btyd.expected_spend, &ids)?),
        ("spend MLP 17-32-16-1 (out of fold)".to_string(), mlp.regression()?),
        ("spend MLP on log(1 + spend) (out of fold)".to_string(), log_mlp.regression()?),
        ("zero for everyone".to_string(), RegressionScores::of(&actual, &zero, &ids)?),
    ];
    println!("{}", regression_table("Holdout spend per customer (39 weeks)", &rows));
    println!("peers: lifetimes BG/NBD × Gamma-Gamma RMSE 92.9, MAE 32.7, Spearman 0.421, top-decile 0.516; gradient boosting RMSE 102.6, Spearman 0.442–0.445");
    let path = out.join("predictions.csv");
    propensity::io::write_atomic(&path, |w| {
        use std::io::Write;
        writeln!(
            w,
            "customer_id,spend_holdout,bgnbd_expected_transactions,p_alive,gg_expected_value,bgnbd_gg_spend,mlp_spend"
        )?;
        for (i, r) in c.rows.iter().enumerate() {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{}",
                r.id,
                r.spend_holdout,
                btyd.expected_transactions[i],
                btyd.p_alive[i],
                btyd.expected_value[i],
                btyd.expected_spend[i],
                mlp.predictions[i],
                log_mlp.predictions[i]
            )?;
        }
        Ok(())
    })?;
    write_json(
        &out.join("ltv.json"),
        &serde_json::json!({ "bgnbd": btyd.bgnbd, "gamma_gamma": btyd.gamma_gamma, "scores": rows }),
    )?;
    let metrics = serde_json::json!({ "out_of_fold": rows[1].1 });
    let (saved, history) = step("train the spend model on all customers", || {
        train_spend_model(&c, &SpendConfig::default(), &file, metrics)
    })?;
    saved.save(out.join("spend-model.json"))?;
    c.write_csv(out.join("customers.csv"))?;
    println!(
        "spend model: {} epochs; wrote ltv.json, predictions.csv, spend-model.json and customers.csv to {}",
        history.epochs_run(),
        out.display()
    );
    Ok(())
}

fn segments(args: SegmentArgs) -> Result<()> {
    let (c, _) = load()?;
    create(&args.out)?;
    let cfg = SegmentConfig { k: args.k, min_share: args.min_share, ..SegmentConfig::default() };
    let cmp = step("segment with k-means and the KPI tree (and refit on 5 folds)", || compare(&c, &cfg))?;
    println!("{}", cmp.table());
    for s in [&cmp.kmeans, &cmp.kpi_tree] {
        println!("{}", s.table());
        for p in &s.segments {
            println!("  segment {}: {}", p.segment, p.description);
        }
    }
    cmp.kpi_plot()?.save(args.out.join("segments.svg"))?;
    let path = args.out.join("segments.csv");
    propensity::io::write_atomic(&path, |w| {
        use std::io::Write;
        writeln!(w, "customer_id,kmeans_segment,kpi_tree_segment")?;
        for (i, r) in c.rows.iter().enumerate() {
            writeln!(w, "{},{},{}", r.id, cmp.kmeans.labels[i], cmp.kpi_tree.labels[i])?;
        }
        Ok(())
    })?;
    write_json(&args.out.join("segments.json"), &serde_json::to_value(&cmp)?)?;
    println!("wrote segments.json, segments.csv and segments.svg to {}", args.out.display());
    Ok(())
}

fn tune_churn(args: TuneArgs) -> Result<()> {
    let (c, _) = load()?;
    create(&args.out)?;
    let strategy = match args.random {
        Some(trials) => Strategy::Random { trials },
        None => Strategy::SuccessiveHalving { candidates: args.candidates, eta: 3, rungs: 3 },
    };
    let cfg = TuneConfig { strategy, seed: args.seed, ..TuneConfig::default() };
    let report = step("search (3-fold CV on folds 0–3)", || tune(&c, &cfg))?;
    println!("{}", report.table());
    println!("{}", report.check_table());
    report.save_best(args.out.join("churn-config.json"))?;
    write_json(&args.out.join("tune.json"), &serde_json::to_value(&report)?)?;
    println!("wrote churn-config.json and tune.json to {}", args.out.display());
    Ok(())
}

#[derive(Subcommand)]
pub enum ClickCommand {
    /// In-session conversion at the 5th event (time split at 2024-05-15); writes conversion.json,
    /// the logistic model (conversion-model.json) and its test rows (conversion-test.csv, for
    /// `propensity score`).
    Conversion(OutClick),
    /// User churn: no session in the 30 days after the cutoff (train 2024-05-01, test
    /// 2024-05-31); writes churn.json, churn-model.json and churn-test.csv.
    Churn(OutClick),
}

#[derive(clap::Args)]
pub struct OutClick {
    /// Output folder.
    #[arg(long, default_value = "out/clickstream")]
    out: PathBuf,
}

pub fn run_click(command: ClickCommand) -> Result<()> {
    let file = propensity::paths::data_file(clickstream::FILE)?;
    let events = step(&format!("read {}", file.display()), || clickstream::read(&file))?;
    let cfg = ClickConfig::default();
    let (task, out) = match command {
        ClickCommand::Conversion(a) => (clickstream::Task::Conversion, a.out),
        ClickCommand::Churn(a) => (clickstream::Task::Churn, a.out),
    };
    let report = step("train and test", || match task {
        clickstream::Task::Conversion => clickstream::conversion(&events, &cfg),
        clickstream::Task::Churn => clickstream::churn(&events, &cfg),
    })?;
    println!("{}", report.table());
    create(&out)?;
    let name = match task {
        clickstream::Task::Conversion => "conversion",
        clickstream::Task::Churn => "churn",
    };
    write_json(&out.join(format!("{name}.json")), &serde_json::to_value(&report)?)?;
    let (saved, test) =
        step("train the logistic model to save", || clickstream::train_model(&events, task, &cfg, &file))?;
    saved.save(out.join(format!("{name}-model.json")))?;
    test.write_csv(out.join(format!("{name}-test.csv")), task)?;
    println!("wrote {name}.json, {name}-model.json and {name}-test.csv to {}", out.display());
    Ok(())
}

#[derive(clap::Args)]
pub struct EdaArgs {
    /// Any CSV with a header row.
    input: PathBuf,
    /// The column to explain (associations, class balance).
    #[arg(long)]
    target: Option<String>,
    /// Columns to profile but leave out of correlations and associations (other targets, ids);
    /// repeatable.
    #[arg(long)]
    ignore: Vec<String>,
    /// Where to write the self-contained HTML report.
    #[arg(long, default_value = "out/eda.html")]
    out: PathBuf,
}

pub fn eda(args: EdaArgs) -> Result<()> {
    let report = step(&format!("profile {}", args.input.display()), || {
        let ignore: Vec<&str> = args.ignore.iter().map(String::as_str).collect();
        Eda::of_csv(&args.input, args.target.as_deref(), &ignore)
    })?;
    println!("{}", report.column_table());
    for a in report.associations.iter().take(5) {
        println!("  {:<40} {} = {:.3}", a.column, a.measure, a.value);
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        create(dir)?;
    }
    report.save_html(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
