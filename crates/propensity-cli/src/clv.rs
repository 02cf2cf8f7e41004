//! `propensity clv`: a repeat-purchase model (BG/NBD, MBG/NBD or Pareto/NBD) and Gamma-Gamma on
//! any transaction log.

use std::path::PathBuf;

use anyhow::{Context, Result};
use propensity::btyd::RepeatModel;
use propensity::clv::{fit, ClvConfig, LogColumns, TransactionLog};

#[derive(clap::Args)]
pub struct ClvArgs {
    /// The transaction log: a CSV (gzipped when it ends in .gz) with a header row, one row per purchase.
    #[arg(long, visible_alias = "data")]
    transactions: PathBuf,
    /// The customer id column.
    #[arg(long)]
    customer: String,
    /// The purchase date column (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, optionally with a time).
    #[arg(long)]
    date: String,
    /// The amount column (a number ≥ 0); without it only BG/NBD is fitted (no spend, no CLV).
    #[arg(long)]
    amount: Option<String>,
    /// Last day (inclusive) the models see, YYYY-MM-DD.
    #[arg(long)]
    calibration_end: String,
    /// Last day (inclusive) of the holdout whose purchases are compared with the expectation.
    #[arg(long)]
    holdout_end: Option<String>,
    /// CLV horizon in months.
    #[arg(long, default_value_t = 12)]
    months: usize,
    /// Discount rate per month.
    #[arg(long, default_value_t = 0.01)]
    discount_rate: f64,
    /// The repeat-purchase model behind the predictions: bgnbd, mbgnbd or pareto-nbd.
    #[arg(long, default_value = "bgnbd")]
    model: RepeatModel,
    /// Also fit every repeat-purchase model on the same customers and print (and save in
    /// clv.json) the comparison: log-likelihood, AIC, BIC and, with a holdout, its errors.
    #[arg(long)]
    compare: bool,
    /// Folder for customers.csv (one row per customer), clv.json (settings and fits), p_alive.svg
    /// (the model's P(alive) matrix), tracking.svg (cumulative repeat purchases, actual vs
    /// expected, week by week) and, with a holdout, holdout.svg (actual vs expected by calibration
    /// frequency; every model with --compare).
    #[arg(long, default_value = "out/clv")]
    out: PathBuf,
}

pub fn clv(args: ClvArgs) -> Result<()> {
    let config = ClvConfig {
        calibration_end: args.calibration_end,
        holdout_end: args.holdout_end,
        months: args.months,
        discount_rate: args.discount_rate,
        model: args.model,
    };
    config.check()?;
    let columns = LogColumns { customer: args.customer, date: args.date, amount: args.amount };
    let log = TransactionLog::read_csv(&args.transactions, &columns)?;
    let result = fit(&log, &config)?;
    println!("{result}");
    let comparison = args.compare.then(|| result.compare());
    if let Some(c) = &comparison {
        println!("{}", c.table());
    }
    // everything is computed before the first file is written
    let p_alive = result.p_alive_matrix()?;
    let tracking = result.tracking(&log)?.chart()?;
    let holdout = match &comparison {
        Some(c) => c.holdout_chart()?,
        None => result.holdout_chart()?,
    };
    let json = serde_json::json!({
        "config": config,
        "columns": columns,
        "repeat_model": result.model,
        "comparison": comparison.as_ref().map(|c| c.fits.iter().map(|(m, f)| match f {
            Ok(f) => serde_json::json!(f),
            Err(e) => serde_json::json!({ "model": m.key(), "error": e }),
        }).collect::<Vec<_>>()),
        "gamma_gamma": result.gamma_gamma.as_ref().map(|(g, n)| serde_json::json!({ "fit": g, "customers": n })),
    });
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    result.write_csv(args.out.join("customers.csv"))?;
    crate::cdnow::write_json(&args.out.join("clv.json"), &json)?;
    p_alive.save(args.out.join("p_alive.svg"))?;
    tracking.save(args.out.join("tracking.svg"))?;
    let mut written = vec!["customers.csv", "clv.json", "p_alive.svg", "tracking.svg"];
    if let Some(chart) = holdout {
        chart.save(args.out.join("holdout.svg"))?;
        written.push("holdout.svg");
    }
    println!("wrote {} to {}", written.join(", "), args.out.display());
    Ok(())
}
