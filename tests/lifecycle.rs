//! Model lifecycle: run log, save/load, streaming scoring, importance, calibration, generator.

use std::path::Path;
use std::process::Command;

use propensity::audiobooks::{self, PreprocessConfig};
use propensity::model::Model;
use propensity::runs::{append_record, read_records, RunRecord};
use propensity::saved::{load, ModelCard, SavedModel};
use propensity::train::{TrainConfig, Trainer};
use propensity::{Dataset, Error};

fn bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_propensity")).args(args).output().unwrap()
}

fn card() -> ModelCard {
    ModelCard {
        data_file: "Audiobooks_data.csv".into(),
        data_sha256: "abc".into(),
        created: propensity::saved::now_rfc3339(),
        crate_version: "test".into(),
        config: TrainConfig::default(),
        metrics: serde_json::json!({ "test_accuracy": 0.8 }),
    }
}

/// A short audiobooks training, saved to `dir/model.json`.
fn trained_model(dir: &Path) -> (Model, audiobooks::Prepared) {
    let raw = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    let prepared = audiobooks::preprocess(&raw, &PreprocessConfig::default()).unwrap();
    let s = &prepared.splits;
    let fitted = Trainer::new(TrainConfig { max_epochs: 5, ..TrainConfig::default() })
        .unwrap()
        .fit(&propensity::audiobooks::network(), &s.train, Some(&s.validation))
        .unwrap();
    audiobooks::saved_model(&fitted.model, &prepared, card()).save(dir.join("model.json")).unwrap();
    (fitted.model, prepared)
}

#[test]
fn run_records_round_trip_and_bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs/runs.jsonl");
    let raw = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    let s = audiobooks::preprocess(&raw, &PreprocessConfig::default()).unwrap().splits;
    let fitted = Trainer::new(TrainConfig { max_epochs: 3, ..TrainConfig::default() })
        .unwrap()
        .fit(&propensity::audiobooks::network(), &s.train, Some(&s.validation))
        .unwrap();
    let test = fitted.model.evaluate(&s.test).unwrap();
    let a = RunRecord::new("audiobooks", "hash", "default", &fitted.history, test, serde_json::Value::Null);
    let b = RunRecord { label: "other".into(), ..a.clone() };
    append_record(&path, &a).unwrap();
    append_record(&path, &b).unwrap();
    assert_eq!(read_records(&path).unwrap(), vec![a, b]);
    std::fs::write(
        &path,
        format!("{}\n{{\"dataset\": 3}}\n", std::fs::read_to_string(&path).unwrap().lines().next().unwrap()),
    )
    .unwrap();
    let e = read_records(&path).unwrap_err();
    assert!(matches!(e, Error::Row { line: 2, .. }), "{e}");
}

#[test]
fn a_loaded_model_predicts_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let (model, prepared) = trained_model(dir.path());
    let (loaded, saved) = load(dir.path().join("model.json")).unwrap();
    let x = prepared.splits.test.inputs();
    let bits = |m: &Model| m.predict_proba(x).unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&model), bits(&loaded));
    assert_eq!(saved.classes, ["0", "1"]);
    assert_eq!(
        (saved.preprocessing.id.as_slice(), saved.preprocessing.target.as_slice()),
        (&["ID".to_string()][..], &["Targets".to_string()][..])
    );
    assert_eq!(saved.card.metrics["test_accuracy"], 0.8);
}

#[test]
fn the_generic_preprocessing_gives_the_audiobooks_inputs_bit_for_bit_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let (model, prepared) = trained_model(dir.path());
    let csv = propensity::paths::data_file(audiobooks::FILE).unwrap();
    // the seed pipeline's own steps on every row: fill the rating, standardize
    let filled = prepared.fill.transform(&audiobooks::read_csv(&csv).unwrap()).unwrap();
    let (x, y) = audiobooks::features_and_targets(&filled).unwrap();
    let x = prepared.scaler.transform(&x).unwrap().mapv(|v| v as f32);
    let loaded = propensity::loaded::LoadedModel::read(dir.path().join("model.json")).unwrap();
    let propensity::saved::Labelled::Classes(d) = loaded.labelled(&csv).unwrap() else { panic!("classes") };
    assert_eq!((d.inputs(), d.targets()), (&x, y.as_slice()));
    // `evaluate` agrees with the model's own evaluation of the same rows
    let e = loaded.evaluate(&csv).unwrap();
    let propensity::task::Scores::Binary { accuracy, .. } = e.scores[0].1 else { panic!("binary") };
    assert_eq!(accuracy, model.evaluate(&d).unwrap().accuracy);
    assert_eq!((e.rows, e.confusion.as_ref().unwrap().counts.iter().flatten().sum::<usize>()), (14_084, 14_084));
    // the CLI prints the same table and writes the scores as JSON; a bad target cell is named
    let json = dir.path().join("evaluation.json");
    let model_path = dir.path().join("model.json");
    let o = Command::new(env!("CARGO_BIN_EXE_propensity"))
        .args(["evaluate", "--model", model_path.to_str().unwrap(), "--data", csv.to_str().unwrap()])
        .args(["--output", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&e.table().to_string()));
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written[0][1]["accuracy"].as_f64(), Some(accuracy));
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().take(4).map(String::from).collect();
    lines[3] = lines[3].rsplit_once(',').map(|(head, _)| format!("{head},2")).unwrap();
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let e = loaded.evaluate(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.csv, line 4, column `Targets`: expected a class number 0 to 1, found \"2\""), "{e}");
}

#[test]
fn bad_model_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    trained_model(dir.path());
    let path = dir.path().join("model.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // hand edits that used to panic in `score` or give garbage: each is refused on load, with the
    // file named, and `score` writes nothing
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| -> String {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        edit(&mut v);
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        let e = SavedModel::read(&p).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
        let out = dir.path().join(format!("{name}.scores.csv"));
        let o = bin(&[
            "score",
            "--model",
            p.to_str().unwrap(),
            "--input",
            propensity::paths::data_file(audiobooks::FILE).unwrap().to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(!o.status.success() && !out.exists(), "{name}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"), "{name}");
        e
    };
    let e = edited("classes.json", &|v| {
        v["classes"].as_array_mut().unwrap().pop();
    });
    assert!(e.contains("1 class names ([\"0\"]) for the 2 outputs"), "{e}");
    let e = edited("steps.json", &|v| v["preprocessing"]["pipeline"]["features"] = serde_json::json!([]));
    assert!(e.contains("the pipeline has no steps"), "{e}");
    let e = edited("fill.json", &|v| v["preprocessing"]["pipeline"]["features"][5]["fill"] = serde_json::json!("x"));
    assert!(e.contains("not a propensity model file (invalid type: string \"x\", expected f64"), "{e}");
    let e = edited("widths.json", &|v| v["network"]["layers"] = serde_json::json!([50, 40]));
    assert!(e.contains("`parameters` is 3202, the mlp-10-50-40-2 network has 2672"), "{e}");
    let e = edited("scale.json", &|v| v["preprocessing"]["pipeline"]["scaler"]["scale"][3] = serde_json::json!(0.0));
    assert!(e.contains("scaler scale 3 is not a positive number"), "{e}");
    let e = edited("head.json", &|v| v["network"]["head"] = serde_json::json!("linear"));
    assert!(e.contains("for a classifier, the network's head is Linear"), "{e}");
    // truncated
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let e = SavedModel::read(&cut).unwrap_err();
    assert!(matches!(&e, Error::Model { message, .. } if message.contains("truncated")), "{e}");
    // weights that do not fit the stated parameter count
    let mut saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    saved["weights"].as_array_mut().unwrap().pop();
    let short = dir.path().join("short.json");
    std::fs::write(&short, saved.to_string()).unwrap();
    assert!(SavedModel::read(&short)
        .unwrap_err()
        .to_string()
        .contains("3201 weights for the 3202 parameters of the mlp-10-50-50-2 network"));
    // not a model at all
    std::fs::write(dir.path().join("x.json"), "{\"a\": 1}").unwrap();
    assert!(SavedModel::read(dir.path().join("x.json"))
        .unwrap_err()
        .to_string()
        .contains("not a propensity model file"));
    // a file of another dataset's schema to score: its header is refused, naming the missing columns
    let o = bin(&[
        "score",
        "--model",
        path.to_str().unwrap(),
        "--input",
        propensity::paths::data_file(propensity::shopping::FILE).unwrap().to_str().unwrap(),
        "--output",
        dir.path().join("s.csv").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("line 1: the model needs columns [\"Book length(mins)_overall\""), "{stderr}");
    assert!(!dir.path().join("s.csv").exists());
}

#[test]
fn scoring_streams_reports_bad_lines_and_writes_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let (model, prepared) = trained_model(dir.path());
    // 300 synthetic customers, then two bad rows at known lines
    let table = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    let mut csv = Vec::new();
    audiobooks::write_synthetic(&table, 300, 5, &mut csv).unwrap();
    let mut text = String::from_utf8(csv).unwrap();
    text.push_str("301,1620,1620,abc,19.73,1,10,0.99,1603.8,5,92,0\n"); // line 302
    text.push_str("302,1620,1620\n"); // line 303
    text.push_str("303,1620,1620,19.73,19.73,0,,0.99,1603.8,5,92,\n"); // line 304: no target, empty rating
    let input = dir.path().join("in.csv");
    std::fs::write(&input, &text).unwrap();
    let model_path = dir.path().join("model.json");
    let out = dir.path().join("scores.csv");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "score",
            "--model",
            model_path.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--batch-rows",
            "64",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let stop = Command::new(env!("CARGO_BIN_EXE_propensity")).args(args(&[])).output().unwrap();
    assert!(!stop.status.success());
    assert!(String::from_utf8_lossy(&stop.stderr)
        .contains("in.csv, line 302: column `Price_overall`: expected a finite number, found \"abc\""));
    assert!(!out.exists(), "no output after a stopped run");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary left behind");

    let skip = Command::new(env!("CARGO_BIN_EXE_propensity")).args(args(&["--skip-bad"])).output().unwrap();
    assert!(skip.status.success(), "{}", String::from_utf8_lossy(&skip.stderr));
    let stdout = String::from_utf8_lossy(&skip.stdout);
    assert!(stdout.contains("scored 301 rows") && stdout.contains("skipped 2 bad rows"), "{stdout}");
    let stderr = String::from_utf8_lossy(&skip.stderr);
    assert!(
        stderr.contains("line 302:") && stderr.contains("line 303: expected 12 fields (as the header), found 3"),
        "{stderr}"
    );
    let scores = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = scores.lines().collect();
    assert_eq!(lines[0], "ID,p_0,p_1,predicted");
    assert_eq!(lines.len(), 302);
    assert!(lines[301].starts_with("303,"), "{}", lines[301]);
    // the streamed scores equal the library's on the same rows: check one row by hand
    let saved = SavedModel::read(&model_path).unwrap();
    let row: Vec<f64> = text.lines().nth(1).unwrap().split(',').skip(1).take(10).map(|v| v.parse().unwrap()).collect();
    let scaler = saved.preprocessing.pipeline.scaler.clone().unwrap();
    let x = scaler.transform(&ndarray::Array2::from_shape_vec((1, 10), row).unwrap()).unwrap().mapv(|v| v as f32);
    let p = model.predict_proba(&x).unwrap();
    assert!(lines[1].starts_with(&format!("1,{:.6},{:.6},", p[[0, 0]], p[[0, 1]])), "{} vs {p}", lines[1]);
    let _ = prepared;
}

#[test]
fn importance_ranks_the_only_informative_column_first() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let n = 2000;
    let x = ndarray::Array2::from_shape_fn((n, 10), |_| rng.gen_range(-1.0f32..1.0));
    let y: Vec<usize> = (0..n).map(|i| usize::from(x[[i, 3]] > 0.0)).collect();
    let train = Dataset::new(x.slice(ndarray::s![..1500, ..]).to_owned(), y[..1500].to_vec()).unwrap();
    let test = Dataset::new(x.slice(ndarray::s![1500.., ..]).to_owned(), y[1500..].to_vec()).unwrap();
    let fitted = Trainer::new(TrainConfig { early_stopping: None, max_epochs: 30, ..TrainConfig::default() })
        .unwrap()
        .fit(&propensity::audiobooks::network(), &train, None)
        .unwrap();
    let groups: Vec<(String, Vec<usize>)> = (0..10).map(|j| (format!("x{j}"), vec![j])).collect();
    let imp = propensity::importance::accuracy_importance(&fitted.model, &test, &groups, 5, 0).unwrap();
    assert_eq!(imp[0].feature, "x3");
    assert!(imp[0].mean > 0.3, "{imp:?}"); // accuracy falls from ~1 to ~0.5 (hand reasoning)
    assert!(imp[1..].iter().all(|m| m.mean < 0.05), "{imp:?}");
}

#[test]
fn generator_is_seeded_and_keeps_the_schema() {
    let table = audiobooks::read_csv(propensity::paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    let write = |seed| {
        let mut out = Vec::new();
        audiobooks::write_synthetic(&table, 500, seed, &mut out).unwrap();
        out
    };
    assert_eq!(write(3), write(3));
    assert_ne!(write(3), write(4));
    let back = audiobooks::read_csv_from("synthetic.csv", &write(3)[..]).unwrap();
    assert_eq!(back.rows(), 500);
}

#[test]
fn runs_subcommand_shows_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.jsonl");
    let o = bin(&[
        "audiobooks",
        "--runs",
        "2",
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--record",
        log.to_str().unwrap(),
        "--label",
        "t",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("95 % CI"));
    let o = bin(&["runs", "--file", log.to_str().unwrap(), "--plot", dir.path().join("r.svg").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && stdout.contains("audiobooks / t: test accuracy"), "{stdout}");
    assert!(dir.path().join("r.svg").is_file());
}
