//! `propensity init` / `train` on any CSV: the seed pipelines' data through the generic task path,
//! parity with scikit-learn's logistic regression, a regression with known noise, and a messy
//! customer table end to end (init → train → score → explain) with the refusals a user meets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use propensity::table::TextTable;
use propensity::task::{Scores, SplitBy, Task, TaskKind, TaskRun};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn propensity(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_propensity")).args(args).output().expect("runs the binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn test_scores(run: &TaskRun) -> &Scores {
    &run.report.models[0].1
}

#[test]
fn shopping_task_file_reproduces_the_seed_pipeline() {
    // tasks/shopping.json states the seed pipeline (PyTorch: 64-32 network, balanced class
    // weights, 150 epochs, stratified 80/20, seed 42), which reached 97.20 % test accuracy.
    let task = Task::read(repo("tasks/shopping.json")).unwrap();
    let run = task.fit(repo("data/Consumer_Shopping_Trends_2026.csv")).unwrap();
    let Scores::Multiclass { accuracy, macro_auc, .. } = *test_scores(&run) else { panic!("multiclass") };
    // deterministic: this build, seed 42 (2358 test rows: 2290 right)
    assert_eq!(accuracy, 0.9711620016963528, "{}", run.report);
    assert!((accuracy - 0.972).abs() < 0.005, "within half a point of the seed pipeline's 97.20 %");
    assert!(macro_auc > 0.99, "{macro_auc}");
    assert_eq!(run.report.split, [9431, 0, 2358]);
    // the baselines are beaten
    let majority = run.report.models.iter().find(|(n, _)| n == "majority class").unwrap();
    assert_eq!(majority.1.headline(), 2049.0 / 2358.0, "the share of `Store` in the test rows");
}

#[test]
fn shopping_task_cross_validates_in_five_stratified_folds() {
    // `split.folds = 5`: every row is tested once. The shopping pipeline's own stratified 5-fold
    // CV (README, `propensity shopping --folds 5`) gave 96.99 % ± 0.39; here 96.93 % ± 0.30.
    let mut task = Task::read(repo("tasks/shopping.json")).unwrap();
    task.split.folds = 5;
    let table = TextTable::read_csv(repo("data/Consumer_Shopping_Trends_2026.csv")).unwrap();
    let cv = task.cross_validate(&table).unwrap();
    let tested: Vec<usize> = cv.folds.iter().map(|f| f.split[2]).collect();
    assert_eq!(tested, [2358, 2358, 2358, 2358, 2357], "11,789 rows, each in one test fold");
    assert!(cv.folds.iter().all(|f| f.split[0] + f.split[2] == 11789 && f.split[1] == 0));
    // deterministic: seed 42, right answers per fold (this build)
    let right: Vec<f64> = cv.folds.iter().map(|f| (f.models[0].1.headline() * f.split[2] as f64).round()).collect();
    assert_eq!(right, [2280.0, 2289.0, 2284.0, 2296.0, 2278.0]);
    let network = cv.interval(0).unwrap();
    assert!((network.mean - 0.9693).abs() < 5e-5 && (network.std - 0.0030).abs() < 5e-5, "{network}");
    assert!(cv.interval(1).unwrap().mean < network.mean - 0.05, "the logistic model is well behind");
    // the first fold is `fit_table`'s model
    let first = task.fit_table(&table).unwrap();
    assert_eq!(first.report.models, cv.folds[0].models);
    let shown = cv.table().to_string();
    assert!(shown.contains("mean ± sd") && shown.contains("0.9693 ± 0.0030"), "{shown}");
    // a time split has one test set; no folds at all is refused
    task.split.by = SplitBy::Time;
    task.split.column = Some("age".into());
    assert!(task.check().unwrap_err().to_string().contains("split.folds"));
    task.split.by = SplitBy::Stratified;
    task.split.folds = 0;
    assert!(task.check().unwrap_err().to_string().contains("split.folds"));
}

#[test]
fn audiobooks_raw_csv_through_the_inferred_task() {
    // the raw, unbalanced CSV with nothing but the target named: the Keras seed pipeline's
    // 81.7 % is on a balanced test set; here the test set keeps the 84/16 imbalance, so the
    // measure is ROC AUC (0.9158) with accuracy above the majority rate (0.841).
    let data = repo("data/Audiobooks_data.csv");
    let mut task = Task::infer(&data, "Targets").unwrap();
    assert_eq!(task.id.as_deref(), Some("ID"));
    assert_eq!(task.hidden, [50, 50], "14084 rows: the seed pipeline's network");
    assert_eq!(task, Task::read(repo("tasks/audiobooks.json")).unwrap(), "tasks/audiobooks.json is what init writes");
    task.training.seed = 1;
    let run = task.fit(&data).unwrap();
    let Scores::Binary { auc, accuracy, .. } = *test_scores(&run) else { panic!("binary") };
    assert_eq!(auc, 0.9157535744449807, "{}", run.report);
    assert!(accuracy > 0.9, "{accuracy}");
    let logistic = &run.report.models[1];
    assert_eq!(logistic.0, "logistic (same trainer)");
    assert!(logistic.1.headline() < auc, "the network beats the logistic baseline");
}

/// The task the fixture script's scikit-learn run used: split by the `order` column.
fn logistic_task(data: &Path) -> Task {
    let mut task = Task::infer(data, "bought").unwrap();
    task.split.by = SplitBy::Time;
    task.split.column = Some("order".into());
    task.split.test = 0.2;
    task.training.seed = 1;
    task
}

#[test]
fn small_tables_get_a_logistic_model_that_matches_scikit_learn() {
    // tests/fixtures/logistic.json: scikit-learn 1.9.1 LogisticRegression (C=1) on the same
    // split, written by tests/fixtures/make_logistic_fixture.py.
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/fixtures/logistic.json")).unwrap()).unwrap();
    for (table, ours) in [("a", 0.8084683148621767), ("b", 0.7988123993558777)] {
        let data = repo(&format!("tests/fixtures/logistic_{table}.csv"));
        let task = logistic_task(&data);
        assert!(task.hidden.is_empty(), "below {} rows the default is logistic", propensity::task::SMALL_TABLE);
        let run = task.fit(&data).unwrap();
        let sklearn = reference["tables"][table]["auc"].as_f64().unwrap();
        let auc = run.report.headline();
        assert_eq!(auc, ours, "table {table}: deterministic for seed 1");
        assert!((auc - sklearn).abs() < 0.01, "table {table}: {auc} vs scikit-learn {sklearn}");
        assert_eq!(run.report.split[2], reference["tables"][table]["test_rows"].as_u64().unwrap() as usize);
    }
}

#[test]
fn regression_reaches_the_noise_it_was_generated_with() {
    // y = 3·x1 − 2·x2 + 1.5·[region = south] + N(0, 0.5²): no model can beat RMSE 0.5
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("spend.csv");
    let mut rng = StdRng::seed_from_u64(7);
    let mut csv = String::from("x1,x2,region,spend\n");
    for _ in 0..1500 {
        let (x1, x2): (f64, f64) = (rng.gen_range(-2.0..2.0), rng.gen_range(-2.0..2.0));
        let south = rng.gen_bool(0.4);
        let noise: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0; // ≈ N(0, 1)
        let y = 3.0 * x1 - 2.0 * x2 + if south { 1.5 } else { 0.0 } + 0.5 * noise;
        csv += &format!("{x1:.4},{x2:.4},{},{y:.4}\n", if south { "south" } else { "north" });
    }
    std::fs::write(&data, csv).unwrap();
    let task = Task::infer(&data, "spend").unwrap();
    assert_eq!(task.target.kind, TaskKind::Regression);
    let run = task.fit(&data).unwrap();
    let Scores::Regression { rmse, r2, .. } = *test_scores(&run) else { panic!("regression") };
    assert_eq!(rmse, 0.5432371258570999, "{}", run.report);
    assert!(rmse < 0.6 && r2 > 0.97, "{}", run.report);
    let mean_baseline = run.report.models.last().unwrap();
    assert!(mean_baseline.1.headline() > 2.0, "predicting the mean: RMSE ≈ the target's sd");
}

/// A customer table as exported by a CRM: ids, dates in two formats, empty cells, a Yes/No
/// target that is sometimes missing, a free-text column.
fn messy_customers(rows: usize, seed: u64) -> (String, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut csv = String::from("customer_id,signup,visits,plan,newsletter,notes,churned\n");
    let mut unlabelled = 0;
    for i in 0..rows {
        let days = rng.gen_range(0..700);
        let (y, d) = (2023 + days / 365, days % 365);
        let (m, day) = (1 + d / 31 % 12, 1 + d % 28);
        let signup = if rng.gen_bool(0.5) { format!("{y}-{m:02}-{day:02}") } else { format!("{y}/{m:02}/{day:02}") };
        let visits: u32 = rng.gen_range(0..20);
        let plan = ["basic", "gold", "platinum"][rng.gen_range(0..3)];
        let risk = (if visits < 6 { 2.0 } else { -1.5 }) + if plan == "basic" { 1.0 } else { -0.5 };
        let churned = rng.gen_bool(1.0 / (1.0 + f64::exp(-risk)));
        let target = if rng.gen_bool(0.05) {
            unlabelled += 1;
            ""
        } else if churned {
            "Yes"
        } else {
            "No"
        };
        let visits = if rng.gen_bool(0.05) { String::new() } else { visits.to_string() };
        let plan = if rng.gen_bool(0.05) { "" } else { plan };
        let newsletter = ["Yes", "No", ""][rng.gen_range(0..3)];
        csv += &format!("C{i:05},{signup},{visits},{plan},{newsletter},\"called on {i}, asked about plan\",{target}\n");
    }
    (csv, unlabelled)
}

#[test]
fn messy_customer_table_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f);
    let s = |f: &str| p(f).to_str().unwrap().to_string();
    let (csv, unlabelled) = messy_customers(1200, 3);
    std::fs::write(p("customers.csv"), csv).unwrap();

    let o = propensity(&["init", "--data", &s("customers.csv"), "--target", "churned", "--output", &s("task.json")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("predict `churned` (binary, positive class \"Yes\"); id column: customer_id"), "{stdout}");
    let task = Task::read(p("task.json")).unwrap();
    let kinds: Vec<(String, String)> = task
        .pipeline
        .features
        .iter()
        .map(|f| {
            let v = serde_json::to_value(f).unwrap();
            (f.column().to_string(), v["kind"].as_str().unwrap().to_string())
        })
        .collect();
    let want = [("signup", "date"), ("visits", "numeric"), ("plan", "categorical"), ("newsletter", "boolean")];
    assert_eq!(kinds, want.map(|(c, k)| (c.to_string(), k.to_string())));
    let ignored: Vec<&str> = task.ignored.iter().map(|i| i.column.as_str()).collect();
    assert_eq!(ignored, ["customer_id", "notes"], "the id and the free text stay out");

    let o = propensity(&[
        "train",
        "--data",
        &s("customers.csv"),
        "--config",
        &s("task.json"),
        "--out",
        &s("out"),
        "--no-record",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("out/report.json")).unwrap()).unwrap();
    assert_eq!(report["rows_without_target"].as_u64().unwrap() as usize, unlabelled);
    assert_eq!(report["rows"].as_u64().unwrap() as usize, 1200 - unlabelled);
    let auc = report["models"][0][1]["auc"].as_f64().unwrap();
    assert_eq!(auc, 0.7554487179487179, "deterministic for the task's seed");
    assert_eq!(report["importance"][0]["feature"], "visits", "the column the churn was generated from");

    // scoring: ids pass through, one row per input row, an unseen plan goes to (other)
    let (new, _) = messy_customers(50, 4);
    let new = new.replacen(",gold,", ",diamond,", 1);
    std::fs::write(p("new.csv"), new).unwrap();
    let o =
        propensity(&["score", "--model", &s("out/model.json"), "--data", &s("new.csv"), "--output", &s("scores.csv")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let scores = std::fs::read_to_string(p("scores.csv")).unwrap();
    let lines: Vec<&str> = scores.lines().collect();
    assert_eq!(lines.len(), 51, "{scores}");
    assert!(lines[0].starts_with("customer_id,"), "{}", lines[0]);
    assert!(lines[1].starts_with("C00000,"), "{}", lines[1]);
    // the same rows gzip-compressed score the same
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(p("new.csv.gz")).unwrap(), Default::default());
    std::io::Write::write_all(&mut gz, std::fs::read(p("new.csv")).unwrap().as_slice()).unwrap();
    gz.finish().unwrap();
    let o =
        propensity(&["score", "--model", &s("out/model.json"), "--data", &s("new.csv.gz"), "--output", &s("gz.csv")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(p("gz.csv")).unwrap(), scores);

    let o = propensity(&["explain", "--model", &s("out/model.json"), "--data", &s("customers.csv"), "--out", &s("ex")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("visits"), "{}", text(&o.stdout));

    // a missing column is named, and no output file is left behind
    let no_plan: String = std::fs::read_to_string(p("new.csv")).unwrap().replace("plan", "tier");
    std::fs::write(p("no_plan.csv"), no_plan).unwrap();
    let o =
        propensity(&["score", "--model", &s("out/model.json"), "--data", &s("no_plan.csv"), "--output", &s("x.csv")]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("the model needs columns [\"plan\"]"), "{}", text(&o.stderr));
    assert!(!p("x.csv").exists());

    // a hand-edited model whose levels no longer match the encoding is refused before scoring
    let model = std::fs::read_to_string(p("out/model.json")).unwrap();
    let edited = model.replacen("\"gold\"", "\"platinum\"", 1);
    assert_ne!(edited, model);
    std::fs::write(p("edited.json"), edited).unwrap();
    let o = propensity(&["score", "--model", &s("edited.json"), "--data", &s("new.csv"), "--output", &s("y.csv")]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("the levels of `plan` must be sorted and distinct"), "{}", text(&o.stderr));
    assert!(!p("y.csv").exists());
}

#[test]
fn bad_task_files_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo("tests/fixtures/logistic_a.csv");
    let task = dir.path().join("task.json");
    logistic_task(&data).save(&task).unwrap();
    let good = std::fs::read_to_string(&task).unwrap();
    let run = |json: &str| {
        std::fs::write(&task, json).unwrap();
        let o =
            propensity(&["train", "--data", data.to_str().unwrap(), "--config", task.to_str().unwrap(), "--no-record"]);
        assert!(!o.status.success());
        text(&o.stderr)
    };
    // a typo in a field name: file, line and column
    let err = run(&good.replacen("\"hidden\"", "\"hiden\"", 1));
    assert!(err.contains("task.json: not a task file: unknown field `hiden`"), "{err}");
    assert!(err.contains(" at line "), "{err}");
    // a value out of range: the field
    let err = run(&good.replacen("\"test\": 0.2", "\"test\": 1.5", 1));
    assert!(err.contains("split"), "{err}");
    // a column the data lacks
    let err = run(&good.replacen("\"tenure\"", "\"tenur\"", 1));
    assert!(err.contains("tenur"), "{err}");
}
