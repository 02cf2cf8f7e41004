//! `propensity clv` on a transaction log: the bundled CDNOW file as a CSV reproduces lifetimes
//! 0.11.3 (`tests/fixtures/make_clv_fixture.py` → `lifetimes_clv.json`) and the CDNOW
//! pipeline's own BG/NBD fit bit for bit; bad logs are refused with file, line and column and
//! nothing is written.

use std::path::{Path, PathBuf};

use propensity::clv::{fit, ClvConfig, LogColumns, TransactionLog};

fn cdnow_csv(dir: &Path) -> PathBuf {
    let raw = propensity::cdnow::read(propensity::paths::data_file(propensity::cdnow::FILE).unwrap()).unwrap();
    let path = dir.join("cdnow.csv");
    propensity::cdnow::write_transactions_csv(&raw, &path).unwrap();
    path
}

/// Runs `propensity clv` on `log` (columns `customer_id`, `date`) into `out` with `extra` flags.
fn clv_cli(log: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_propensity"))
        .args(["clv", "--data", log.to_str().unwrap(), "--customer", "customer_id", "--date", "date"])
        .args(["--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

fn columns() -> LogColumns {
    LogColumns { customer: "customer_id".into(), date: "date".into(), amount: Some("dollar_value".into()) }
}

fn config() -> ClvConfig {
    ClvConfig { calibration_end: "1997-09-30".into(), holdout_end: Some("1998-06-30".into()), ..ClvConfig::default() }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn cdnow_as_a_transaction_log_reproduces_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let log = TransactionLog::read_csv(cdnow_csv(dir.path()), &columns()).unwrap();
    assert_eq!((log.lines, log.ids.len()), (69_659, 23_570));
    let clv = fit(&log, &config()).unwrap();
    // the same customers and the same fit as the CDNOW pipeline, to the bit
    let btyd = propensity::cdnow::btyd::Btyd::fit(&propensity::cdnow::load_default().unwrap()).unwrap();
    let propensity::btyd::Fitted::Bgnbd(bgnbd) = clv.model else { panic!("BG/NBD is the default") };
    assert_eq!(bgnbd.params, btyd.bgnbd.params);
    assert_eq!(clv.gamma_gamma.as_ref().unwrap().0.params, btyd.gamma_gamma.params);
    assert_eq!(clv.expected_holdout.as_ref().unwrap(), &btyd.expected_transactions);
    // lifetimes: parameters agree to 5e-5 (two optimisers), the CLVs to 1e-5
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("../../tests/fixtures/lifetimes_clv.json").unwrap()).unwrap();
    let b = bgnbd.params;
    for (got, key) in [(b.r, "r"), (b.alpha, "alpha"), (b.a, "a"), (b.b, "b")] {
        assert!(rel(got, fixture["bgnbd"][key].as_f64().unwrap()) < 5e-5, "{key} {got}");
    }
    let values = clv.clv.as_ref().unwrap();
    let total: f64 = values.iter().sum();
    assert!(rel(total, fixture["clv_total"].as_f64().unwrap()) < 1e-5, "{total}");
    for (id, want) in fixture["customers"].as_object().unwrap() {
        let i = clv.ids.iter().position(|c| c == id).unwrap();
        let got = [
            ("clv", values[i]),
            ("p_alive", clv.p_alive[i]),
            ("expected_purchases_12_months", clv.expected_purchases[i]),
            ("expected_value", clv.expected_value.as_ref().unwrap()[i]),
        ];
        for (key, v) in got {
            assert!(rel(v, want[key].as_f64().unwrap()) < 1e-5, "{id} {key}: {v} vs {}", want[key]);
        }
    }
    // tracking: 24,337 calibration + 19,684 holdout repeat purchase days, 78 weeks to 1998-06-30
    let tracking = clv.tracking(&log).unwrap();
    assert_eq!((tracking.weeks.len(), *tracking.actual.last().unwrap()), (78, 44_021.0));
    let cal = tracking.weeks.iter().position(|&w| w >= tracking.calibration_week).unwrap();
    // the fitted model tracks the calibration period (24,451.9 expected vs 24,337 made, deterministic) and
    // under-forecasts the holdout as its conditional expectations do
    assert_eq!(tracking.actual[cal], 24_337.0);
    let shown = |v: f64| format!("{v:.1}");
    assert_eq!(
        (shown(tracking.expected[cal]), shown(*tracking.expected.last().unwrap())),
        ("24451.9".into(), "41301.1".into())
    );
    assert!(tracking.chart().unwrap().as_str().contains("calibration end"));
    // deterministic: this build's exact total (lifetimes: 768044.8554747623)
    assert_eq!(total, 768_044.688_412_072_3);
}

#[test]
fn the_cli_writes_one_row_per_customer_and_refuses_bad_logs_naming_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let csv = cdnow_csv(dir.path());
    let out = dir.path().join("out");
    let run = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "clv",
            "--transactions",
            file.to_str().unwrap(),
            "--customer",
            "customer_id",
            "--date",
            "date",
            "--amount",
            "dollar_value",
            "--calibration-end",
            "1997-09-30",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_propensity")).args(args).output().unwrap()
    };
    let o = run(&csv, &["--holdout-end", "1998-06-30"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("customers.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "customer,frequency,recency,T,monetary_value,p_alive,expected_purchases,p_any,expected_value,clv,\
             expected_holdout_purchases,holdout_purchases,holdout_amount"
        )
    );
    assert_eq!(text.lines().count(), 23_571);
    assert!(lines.next().unwrap().starts_with("00001,0.000000,0.000000,38.857143,0.000000,1.000000,"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("clv.json")).unwrap()).unwrap();
    assert_eq!(json["gamma_gamma"]["customers"], 9_450);
    std::fs::remove_dir_all(&out).unwrap();

    // bad logs: the file, line and column are named, and nothing is written
    let original = std::fs::read_to_string(&csv).unwrap();
    let bad = dir.path().join("bad.csv");
    let with_line_3 = |line: &str| {
        let mut l: Vec<&str> = original.lines().take(10).collect();
        l[2] = line;
        std::fs::write(&bad, l.join("\n")).unwrap();
    };
    for (line, expected) in [
        ("00002,1997-02-30,1,12.00", "bad.csv, line 3, column `date`"),
        ("00002,1997-01-12,1,-5", "bad.csv, line 3, column `dollar_value`: expected an amount ≥ 0, found \"-5\""),
        ("00002,1997-01-12,1,abc", "bad.csv, line 3, column `dollar_value`: expected an amount ≥ 0, found \"abc\""),
        (",1997-01-12,1,12.00", "bad.csv, line 3, column `customer_id`: empty customer id"),
    ] {
        with_line_3(line);
        let o = run(&bad, &[]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && stderr.contains(expected), "{line}: {stderr}");
        assert!(!out.exists(), "{line}: nothing written");
    }
    let o = run(&csv, &["--holdout-end", "1997-09-01"]);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("`holdout_end` 1997-09-01 is not after the calibration end 1997-09-30"));
    let o = clv_cli(&csv, &out, &["--calibration-end", "1996-12-31"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("1996-12-31 is before the log's first purchase (1997-01-01)"), "{stderr}");
    let o = clv_cli(&csv, &out, &["--calibration-end", "1998-06-30", "--holdout-end", "1998-12-31"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("1998-06-30 leaves no purchases for the holdout: the log ends 1998-06-30"), "{stderr}");
    // no one buys on two days, so BG/NBD is not identified
    std::fs::write(&bad, "customer_id,date,cds,dollars\n1,1997-01-01,1,10\n2,1997-01-02,1,10\n1,1997-01-01,2,5\n")
        .unwrap();
    let o = clv_cli(&bad, &out, &["--calibration-end", "1997-01-02"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no repeat-purchase model can be fitted without repeat buyers"));
    assert!(!out.exists());
}

#[test]
fn any_repeat_model_can_drive_the_predictions_and_the_cli_compares_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = cdnow_csv(dir.path());
    let out = dir.path().join("out");
    let o = clv_cli(
        &csv,
        &out,
        &["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30", "--model", "pareto-nbd", "--compare"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // the comparison's holdout lines (deterministic; expected purchase days / actual in 39 weeks)
    for model in ["BG/NBD", "MBG/NBD", "Pareto/NBD"] {
        assert!(stdout.lines().any(|l| l.starts_with(model)), "{stdout}");
    }
    for expected in ["16873.7 / 19684", "15933.6 / 19684", "17153.2 / 19684"] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("clv.json")).unwrap()).unwrap();
    assert_eq!(json["repeat_model"]["model"], "pareto-nbd");
    // lifetimes 0.11.3 ParetoNBDFitter on the same customers (tests/fixtures/lifetimes_btyd.json)
    assert!((json["repeat_model"]["fit"]["params"]["r"].as_f64().unwrap() - 0.597414).abs() < 1e-4);
    let models: Vec<&str> =
        json["comparison"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["bgnbd", "mbgnbd", "pareto-nbd"]);
    let chart = std::fs::read_to_string(out.join("holdout.svg")).unwrap();
    assert!(chart.contains("actual vs BG/NBD, MBG/NBD, Pareto/NBD"));
    assert!(std::fs::read_to_string(out.join("p_alive.svg")).unwrap().contains("Pareto/NBD: P(alive) in %"));
    // Pareto/NBD: a one-time buyer is not certainly alive (BG/NBD says 1)
    let text = std::fs::read_to_string(out.join("customers.csv")).unwrap();
    let first: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first[0], "00001");
    assert!(first[4].parse::<f64>().unwrap() < 0.5, "{first:?}");

    let o = clv_cli(&csv, &out, &["--calibration-end", "1997-09-30", "--model", "pareto"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("expected one of bgnbd, mbgnbd, pareto-nbd"), "{stderr}");
}
