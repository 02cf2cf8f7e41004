//! The multi-class metrics against scikit-learn's answers on the same predictions
//! (tests/fixtures/sklearn_multiclass.json, written by make_sklearn_fixture.py with sklearn 1.9).

use propensity::classify::{macro_auc, one_vs_rest, ClassificationReport, ConfusionMatrix};
use serde_json::Value;

fn fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sklearn_multiclass.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

#[test]
fn confusion_matrix_and_report_match_sklearn() {
    let f = fixture();
    let classes: Vec<String> =
        f["classes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    let cm = ConfusionMatrix::new(&usizes(&f["y_true"]), &usizes(&f["y_pred"]), &classes).unwrap();
    let expected: Vec<Vec<usize>> = f["confusion_matrix"].as_array().unwrap().iter().map(usizes).collect();
    assert_eq!(cm.counts, expected);
    let r = ClassificationReport::from_confusion(&cm);
    let rep = &f["report"];
    let close = |a: f64, b: &Value| assert!((a - b.as_f64().unwrap()).abs() < 1e-12, "{a} vs {b}");
    for (c, s) in classes.iter().zip(&r.per_class) {
        close(s.precision, &rep[c]["precision"]);
        close(s.recall, &rep[c]["recall"]);
        close(s.f1, &rep[c]["f1-score"]);
        assert_eq!(s.support as f64, rep[c]["support"].as_f64().unwrap());
    }
    close(r.accuracy, &rep["accuracy"]);
    for (ours, key) in [(&r.macro_avg, "macro avg"), (&r.weighted_avg, "weighted avg")] {
        close(ours.precision, &rep[key]["precision"]);
        close(ours.recall, &rep[key]["recall"]);
        close(ours.f1, &rep[key]["f1-score"]);
    }
}

#[test]
fn one_vs_rest_auc_matches_sklearn_to_1e6() {
    let f = fixture();
    let rows: Vec<Vec<f32>> = f["proba"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect();
    let proba = ndarray::Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
    let curves = one_vs_rest(&proba, &usizes(&f["y_true"]), &["Hybrid", "Online", "Store"]).unwrap();
    for (c, expected) in curves.iter().zip(f["auc_ovr"].as_array().unwrap()) {
        assert!((c.auc - expected.as_f64().unwrap()).abs() < 1e-6, "{} {} vs {expected}", c.class, c.auc);
    }
    assert!((macro_auc(&curves) - f["auc_macro"].as_f64().unwrap()).abs() < 1e-6);
}
