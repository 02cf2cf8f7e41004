//! `propensity clv`: a repeat-purchase model (BG/NBD, MBG/NBD or Pareto/NBD) and Gamma-Gamma on
//! any transaction log.

use std::path::PathBuf;

use anyhow::{Context, Result};
use propensity::btyd::RepeatModel;
use propensity::clv::{
    fit, fit_summary, ClvConfig, CustomerSummary, LogColumns, Period, SavedClv, SummaryColumns, TransactionLog,
};

#[derive(clap::Args)]
pub struct ClvArgs {
    /// The transaction log: a CSV (gzipped when it ends in .gz) with a header row, one row per purchase.
    #[arg(long, visible_alias = "data", required_unless_present = "summary", conflicts_with = "summary")]
    transactions: Option<PathBuf>,
    /// Instead of a log, a customer summary: one row per customer with frequency, recency and T
    /// in periods (lifetimes' summary_data_from_transaction_data output). No holdout, no tracking.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// The customer id column.
    #[arg(long)]
    customer: String,
    /// The log's purchase date column.
    #[arg(long, required_unless_present = "summary")]
    date: Option<String>,
    /// The date format in strftime notation (e.g. %d/%m/%Y, %m/%d/%y %H:%M); default: YYYY-MM-DD,
    /// YYYY/MM/DD or YYYYMMDD, optionally with a time.
    #[arg(long)]
    date_format: Option<String>,
    /// The log's amount column (a number ≥ 0); without it no spend model and no CLV.
    #[arg(long)]
    amount: Option<String>,
    /// Last day (inclusive) the models see, YYYY-MM-DD.
    #[arg(long, required_unless_present = "summary")]
    calibration_end: Option<String>,
    /// Last day (inclusive) of the holdout whose purchases are compared with the expectation.
    #[arg(long)]
    holdout_end: Option<String>,
    /// A log's purchases in one period count once (lifetimes' freq: D, W, M, Y); a summary's
    /// recency and T are in this unit; BG/BB's opportunities. Reports give times in weeks.
    #[arg(long, default_value = "day")]
    period: Period,
    /// The summary's repeat-purchase column.
    #[arg(long, default_value = "frequency")]
    frequency: String,
    /// The summary's recency column.
    #[arg(long, default_value = "recency")]
    recency: String,
    /// The summary's age column (lifetimes' T).
    #[arg(long, default_value = "T")]
    age: String,
    /// The summary's mean repeat amount column (lifetimes' monetary_value); without it no CLV.
    #[arg(long)]
    monetary: Option<String>,
    /// The summary's column counting the customers each row stands for (a grouped table, as
    /// BG/BB data often come); not with --monetary.
    #[arg(long)]
    count: Option<String>,
    /// CLV horizon in months.
    #[arg(long, default_value_t = 12)]
    months: usize,
    /// Discount rate per month.
    #[arg(long, default_value_t = 0.01)]
    discount_rate: f64,
    /// The repeat-purchase model behind the predictions: bgnbd, mbgnbd, pareto-nbd, or bgbb
    /// (discrete: each --period is one opportunity; a summary's times must be whole periods).
    #[arg(long, default_value = "bgnbd", conflicts_with = "load")]
    model: RepeatModel,
    /// Score with a saved model (a clv_model.json this command wrote) instead of fitting one:
    /// the customers must count in its period (--period).
    #[arg(long)]
    load: Option<PathBuf>,
    /// Also fit every continuous-time repeat-purchase model on the same customers and print (and
    /// save in clv.json) the comparison: log-likelihood, AIC, BIC and, with a holdout, its errors.
    #[arg(long, conflicts_with = "load")]
    compare: bool,
    /// Folder for customers.csv (one row per customer), clv.json (settings and fits),
    /// clv_model.json (the fitted models, for --load; not written when scoring one), with a log
    /// summary.csv (the calibration summary in weeks, for --summary --period week), p_alive.svg
    /// (the model's P(alive) matrix), period_transactions.svg (customers by calibration repeat
    /// purchases, actual vs the model's), with a log tracking.svg and tracking_incremental.svg
    /// (repeat purchases over time, actual vs expected, cumulative and per step) and, with a
    /// holdout, holdout.svg (actual vs expected by calibration frequency; every model with
    /// --compare).
    #[arg(long, default_value = "out/clv")]
    out: PathBuf,
}

pub fn clv(args: ClvArgs) -> Result<()> {
    let config = ClvConfig {
        calibration_end: args.calibration_end.clone().unwrap_or_default(),
        holdout_end: args.holdout_end.clone(),
        period: args.period,
        months: args.months,
        discount_rate: args.discount_rate,
        model: args.model,
    };
    config.check()?;
    let saved = args.load.as_ref().map(SavedClv::read).transpose()?;
    let (log, result, input) = match (&args.transactions, &args.summary) {
        (Some(path), _) => {
            anyhow::ensure!(
                args.monetary.is_none() && args.count.is_none(),
                "--monetary and --count name summary columns; a log's amount is --amount"
            );
            let columns = LogColumns {
                customer: args.customer.clone(),
                date: args.date.clone().unwrap_or_default(),
                amount: args.amount.clone(),
                date_format: args.date_format.clone(),
            };
            let (cal, hold) = config.split()?;
            let log = TransactionLog::read_csv(path, &columns)?;
            let result = match &saved {
                Some(s) => s.score(log.summarise(args.period, cal, hold)?, &config)?,
                None => fit(&log, &config)?,
            };
            (Some(log), result, serde_json::json!({ "transactions": columns }))
        }
        (None, Some(path)) => {
            anyhow::ensure!(
                args.calibration_end.is_none()
                    && args.holdout_end.is_none()
                    && args.amount.is_none()
                    && args.date.is_none()
                    && args.date_format.is_none(),
                "--date, --date-format, --calibration-end, --holdout-end and --amount apply to a transaction log; a \
                 summary is already split (its amount column is --monetary)"
            );
            let columns = SummaryColumns {
                customer: args.customer.clone(),
                frequency: args.frequency.clone(),
                recency: args.recency.clone(),
                t: args.age.clone(),
                monetary: args.monetary.clone(),
                count: args.count.clone(),
            };
            let customers = CustomerSummary::read_csv(path, &columns, args.period)?;
            let result = match &saved {
                Some(s) => s.score(customers, &config)?,
                None => fit_summary(customers, &config)?,
            };
            (None, result, serde_json::json!({ "summary": columns }))
        }
        (None, None) => unreachable!("clap requires --transactions or --summary"),
    };
    println!("{result}");
    let comparison = args.compare.then(|| result.compare());
    if let Some(c) = &comparison {
        println!("{}", c.table());
    }
    // everything is computed before the first file is written
    let p_alive = result.p_alive_matrix()?;
    let tracking = log.as_ref().map(|log| result.tracking(log)).transpose()?;
    let charts = match &tracking {
        Some(t) => vec![("tracking.svg", t.chart()?), ("tracking_incremental.svg", t.incremental_chart()?)],
        None => Vec::new(),
    };
    let periods = result.period_transactions()?.chart()?;
    let holdout = match &comparison {
        Some(c) => c.holdout_chart()?,
        None => result.holdout_chart()?,
    };
    let data_file = args.transactions.as_ref().or(args.summary.as_ref()).context("no input")?;
    let to_save = match &saved {
        Some(_) => None,
        None => Some(result.saved(data_file)?),
    };
    let json = serde_json::json!({
        "config": result.config,
        "input": input,
        "scored_with": args.load.as_ref().zip(saved.as_ref()).map(|(p, s)| serde_json::json!({
            "file": p.display().to_string(),
            "card": s.card,
        })),
        "repeat_model": result.model,
        "comparison": comparison.as_ref().map(|c| c.fits.iter().map(|(m, f)| match f {
            Ok(f) => serde_json::json!(f),
            Err(e) => serde_json::json!({ "model": m.key(), "error": e }),
        }).collect::<Vec<_>>()),
        "gamma_gamma": result.gamma_gamma.as_ref().map(|(g, n)| serde_json::json!({ "fit": g, "customers": n })),
    });
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    result.write_csv(args.out.join("customers.csv"))?;
    if log.is_some() {
        result.customers.write_csv(args.out.join("summary.csv"))?;
    }
    crate::cdnow::write_json(&args.out.join("clv.json"), &json)?;
    p_alive.save(args.out.join("p_alive.svg"))?;
    periods.save(args.out.join("period_transactions.svg"))?;
    let mut written = vec!["customers.csv", "clv.json", "p_alive.svg", "period_transactions.svg"];
    if let Some(model) = &to_save {
        model.save(args.out.join("clv_model.json"))?;
        written.push("clv_model.json");
    }
    if log.is_some() {
        written.push("summary.csv");
    }
    for (name, chart) in &charts {
        chart.save(args.out.join(name))?;
        written.push(name);
    }
    if let Some(chart) = holdout {
        chart.save(args.out.join("holdout.svg"))?;
        written.push("holdout.svg");
    }
    println!("wrote {} to {}", written.join(", "), args.out.display());
    Ok(())
}
