//! The `propensity` binary: outputs, log format, and refusals of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn propensity(args: &[&str]) -> Output {
    // --no-record keeps the tests out of the repository's run log
    let record = if matches!(args.first(), Some(&"audiobooks")) { &["--no-record"][..] } else { &[] };
    Command::new(env!("CARGO_BIN_EXE_propensity")).args(args).args(record).output().expect("runs the binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bundled_csv() -> PathBuf {
    propensity::paths::data_file(propensity::audiobooks::FILE).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn test_line(stdout: &str) -> String {
    stdout.lines().find(|l| l.starts_with("Test loss:")).expect("a test line").to_string()
}

#[test]
fn main_job_writes_splits_history_and_curves() {
    let out = tempfile::tempdir().unwrap();
    let o = propensity(&["audiobooks", "--out", out.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("14084 rows, 4474 after balancing -> train 3579 / validation 447 / test 448"), "{stdout}");
    // Keras verbose=2: "Epoch 1/100" then "36/36 - 0s - loss: 0.5935 - accuracy: … - 3ms/step"
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines.iter().position(|l| *l == "Epoch 1/100").expect("first epoch header");
    let log = lines[i + 1];
    assert!(log.starts_with("36/36 - 0s - loss: "), "{log}");
    for field in [" - accuracy: ", " - val_loss: ", " - val_accuracy: ", "/epoch - "] {
        assert!(log.contains(field), "{log}");
    }
    assert!(log.ends_with("s/step"), "{log}");
    let test = test_line(&stdout);
    let acc: f64 = test.rsplit(' ').next().unwrap().trim_end_matches('%').parse().unwrap();
    assert!(acc >= 78.0, "{test}");
    assert_eq!(
        files_in(out.path()),
        [
            "Audiobooks_data_test.npz",
            "Audiobooks_data_train.npz",
            "Audiobooks_data_validation.npz",
            "curves.svg",
            "history.json",
            "model.json"
        ]
    );
    let history = propensity::train::History::load_json(out.path().join("history.json")).unwrap();
    assert_eq!(history.epochs.len(), stdout.matches("Epoch ").count());
}

#[test]
fn header_less_classic_file_gives_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(bundled_csv()).unwrap();
    let classic = dir.path().join("classic.csv");
    std::fs::write(&classic, csv.split_once('\n').unwrap().1).unwrap();
    let a = propensity(&["audiobooks", "--out", dir.path().join("a").to_str().unwrap()]);
    let b = propensity(&[
        "audiobooks",
        "--data",
        classic.to_str().unwrap(),
        "--out",
        dir.path().join("b").to_str().unwrap(),
    ]);
    assert!(a.status.success() && b.status.success(), "{}", text(&b.stderr));
    assert_eq!(test_line(&text(&a.stdout)), test_line(&text(&b.stdout)));
}

#[test]
fn empty_review_ratings_are_filled_with_the_mean() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(bundled_csv()).unwrap();
    // blank the rating of customers without a review (Review = 0), as in the raw export
    let blanked: String = csv
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut f: Vec<&str> = line.split(',').collect();
            if i > 0 && f[5] == "0" {
                f[6] = "";
            }
            f.join(",") + "\n"
        })
        .collect();
    let path = dir.path().join("blank.csv");
    std::fs::write(&path, blanked).unwrap();
    let o =
        propensity(&["audiobooks", "--data", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(test_line(&text(&o.stdout)).contains("Test accuracy:"));
}

fn refused(csv: &str) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.path().join("out");
    let o = propensity(&["audiobooks", "--data", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success(), "a bad file must fail");
    (text(&o.stderr), files_in(&out))
}

const HEADER: &str = "ID,Book length(mins)_overall,Book length(mins)_avg,Price_overall,Price_avg,Review,Review ?/10,Completion,Listened(mins),Support request,Last visited after Purchase date ,Targets\n";
const ROW1: &str = "994,1620,1620,19.73,19.73,1,10,0.99,1603.8,5,92,1\n";
const ROW0: &str = "1143,2160,2160,5.33,5.33,0,8.91,0,0,0,0,0\n";

#[test]
fn bad_files_are_refused_with_file_line_and_column_and_write_nothing() {
    let cases = [
        (
            format!("{HEADER}{ROW1}994,1620,1620,19.73,abc,1,10,0.99,1603.8,5,92,0\n"),
            "line 3, column `Price_avg`: expected a number, found \"abc\"",
        ),
        (
            format!("{HEADER}{ROW1}994,1620,1620,19.73,inf,1,10,0.99,1603.8,5,92,0\n"),
            "line 3, column `Price_avg`: expected a finite number",
        ),
        (format!("{HEADER}{ROW1}994,1620,1620\n"), "line 3: expected 12 columns, found 3"),
        (
            format!("{HEADER}{ROW1}{}", ROW0.replace(",0\n", ",2\n")),
            "line 3, column `Targets`: expected 0 or 1, found 2",
        ),
        (format!("{HEADER}{ROW0}{ROW0}"), "class 1 has no rows"),
        (HEADER.to_string(), "no data rows"),
    ];
    for (csv, expected) in cases {
        let (stderr, written) = refused(&csv);
        assert!(stderr.contains("bad.csv"), "error must name the file: {stderr}");
        assert!(stderr.contains(expected), "expected {expected:?} in {stderr}");
        assert!(written.is_empty(), "nothing may be written for a refused file: {written:?}");
    }
}

#[test]
fn a_missing_file_is_refused() {
    let o = propensity(&["audiobooks", "--data", "/nonexistent/audiobooks.csv", "--out", "/tmp/never-written"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("/nonexistent/audiobooks.csv"), "{}", text(&o.stderr));
}

#[test]
fn runs_sweeps_seeds_and_summarises() {
    let out = tempfile::tempdir().unwrap();
    let o = propensity(&["audiobooks", "--runs", "3", "--seed", "5", "--out", out.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    for s in 5..8 {
        assert!(stdout.contains(&format!("seed {s}:")), "{stdout}");
    }
    assert!(stdout.contains("test accuracy over 3 runs: "), "{stdout}");
    let runs: propensity::runs::RunTable =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("runs.json")).unwrap()).unwrap();
    assert_eq!(runs.rows().iter().map(|r| r.seed).collect::<Vec<_>>(), [5, 6, 7]);
    assert!(out.path().join("history-seed-6.json").is_file());
}

#[test]
fn help_lists_the_options_and_bad_flags_fail() {
    let o = propensity(&["audiobooks", "--help"]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    for flag in ["--data", "--seed", "--runs", "--out", "--leak-free", "--shuffle", "--restore-best"] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
    assert!(!propensity(&["audiobooks", "--runs", "zero"]).status.success());
    assert!(!propensity(&["audiobooks", "--runs", "0"]).status.success());
}

#[test]
fn a_closed_pipe_ends_quietly_and_score_never_replaces_its_input() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ab");
    // `propensity audiobooks | head -0`: the reader is gone before anything is written; the run
    // ends quietly with status 0 (it used to panic with "Broken pipe", status 101)
    let mut child = Command::new(env!("CARGO_BIN_EXE_propensity"))
        .args(["audiobooks", "--no-record", "--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success() && !text(&o.stderr).contains("panicked"), "{:?} {}", o.status, text(&o.stderr));
    let o = propensity(&["audiobooks", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // the input as the output: refused, the input untouched
    let input = dir.path().join("customers.csv");
    std::fs::copy(bundled_csv(), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let o = propensity(&[
        "score",
        "--model",
        out.join("model.json").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        dir.path().join(".").join("customers.csv").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("is the input file"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // an output in a missing folder names the folder
    let o = propensity(&[
        "score",
        "--model",
        out.join("model.json").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        dir.path().join("missing").join("s.csv").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("missing") && err.contains("does not exist") && !err.contains(".propensity-"), "{err}");
}
