//! CDNOW churn and lifetime value on the bundled data, against the Python peers
//! (`../shared/anchors/clv/t1_clv_cdnow.py`: lifetimes 0.11.3 and scikit-learn, same protocol).

use propensity::cdnow::btyd::Btyd;
use propensity::cdnow::models::{churn_out_of_fold, spend_out_of_fold, ChurnConfig, SpendConfig};
use propensity::cdnow::{self, Customers};
use propensity::ranking::{BinaryScores, RegressionScores};

fn customers() -> Customers {
    cdnow::load_default().unwrap()
}

/// Relative difference, for "to 4 significant digits".
fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn protocol_counts_match_the_peer() {
    let c = customers();
    // peer: 23,570 customers, sum of calibration frequency 24,337, 29.94 % buy in the holdout
    assert_eq!(c.len(), 23_570);
    assert_eq!(c.column(|r| r.frequency).iter().sum::<f64>(), 24_337.0);
    let buyers = c.rows.iter().filter(|r| r.bought_in_holdout()).count();
    assert!((buyers as f64 / c.len() as f64 - 0.2994).abs() < 5e-5, "{buyers}");
    assert_eq!(c.protocol.holdout_weeks(), 39.0);
}

#[test]
fn bgnbd_and_gamma_gamma_reproduce_the_published_fit() {
    let b = Btyd::fit(&customers()).unwrap();
    let p = b.bgnbd.params;
    // lifetimes 0.11.3 BetaGeoFitter on the same 23,570 customers (weeks)
    for (got, want) in [(p.r, 0.251624), (p.alpha, 4.788945), (p.a, 0.723433), (p.b, 2.161087)] {
        assert!(rel(got, want) < 5e-5, "BG/NBD {p:?}");
    }
    assert!((b.bgnbd.log_likelihood - -95_368.444).abs() < 1e-3, "{}", b.bgnbd.log_likelihood);
    let g = b.gamma_gamma.params;
    // lifetimes 0.11.3 GammaGammaFitter on the 9,450 repeaters with positive mean spend
    assert_eq!(b.gamma_gamma_customers, 9_450);
    for (got, want) in [(g.p, 6.275359), (g.q, 3.624450), (g.v, 14.983689)] {
        assert!(rel(got, want) < 5e-5, "Gamma-Gamma {g:?}");
    }
}

#[test]
fn bgnbd_holdout_predictions_score_as_the_peer() {
    let c = customers();
    let b = Btyd::fit(&c).unwrap();
    let ids = c.ids();
    let spend = RegressionScores::of(&c.column(|r| r.spend_holdout), &b.expected_spend, &ids).unwrap();
    // peer (lifetimes): RMSE 92.9, MAE 32.7, Spearman 0.421, top-decile share 0.516
    assert!((spend.rmse - 92.9).abs() < 0.05, "{spend:?}");
    assert!((spend.mae - 32.7).abs() < 0.05, "{spend:?}");
    assert!((spend.spearman - 0.421).abs() < 5e-4, "{spend:?}");
    assert!((spend.top_decile_share - 0.516).abs() < 5e-4, "{spend:?}");
    let bought: Vec<bool> = c.rows.iter().map(|r| r.bought_in_holdout()).collect();
    // peer: expected transactions as a buy score AUC 0.763; P(alive) 0.32 (not a churn score)
    let tx = BinaryScores::of(&b.expected_transactions, &bought, &ids).unwrap();
    assert!((tx.auc - 0.763).abs() < 5e-4, "{tx:?}");
    let alive = BinaryScores::of(&b.p_alive, &bought, &ids).unwrap();
    assert!((alive.auc - 0.32).abs() < 0.01, "{alive:?}");
}

#[test]
fn churn_network_matches_the_best_peer_out_of_fold() {
    let c = customers();
    let cfg = ChurnConfig::default();
    let oof = churn_out_of_fold(&c, &cfg).unwrap();
    let s = oof.scores().unwrap();
    // peers out of fold: MLP 0.769, gradient boosting 0.766, BG/NBD 0.763
    assert!(s.auc > 0.765, "{s:?}");
    assert!(s.top_decile_lift > 2.4, "{s:?}");
    assert!(oof.predictions.iter().all(|p| (0.0..=1.0).contains(p)));
    // the same seed gives the same numbers
    assert_eq!(churn_out_of_fold(&c, &cfg).unwrap().predictions, oof.predictions);
}

#[test]
fn spend_network_ranks_like_the_peers() {
    let c = customers();
    let oof = spend_out_of_fold(&c, &SpendConfig::default()).unwrap();
    let s = oof.regression().unwrap();
    // peers: gradient boosting RMSE 102.6, Spearman 0.442-0.445; BG/NBD x Gamma-Gamma 92.9 / 0.421 / 0.516
    assert!(s.rmse < 110.0 && s.spearman > 0.40 && s.top_decile_share > 0.49, "{s:?}");
    assert!(oof.predictions.iter().all(|p| *p >= 0.0));
    // trained on log(1 + spend) it ranks better than the best peer's Spearman (0.442-0.445)
    let log_cfg = SpendConfig { target: propensity::cdnow::models::SpendTarget::Log1p, ..SpendConfig::default() };
    let log = spend_out_of_fold(&c, &log_cfg).unwrap().regression().unwrap();
    assert!(log.spearman > 0.445, "{log:?}");
    // ... and predicts a typical, not a mean, amount: its total is far below the actual
    assert!(log.sum_predicted < 0.5 * log.sum_actual, "{log:?}");
}

#[test]
fn a_bad_line_is_reported_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.txt");
    std::fs::write(
        &p,
        "customer_id date number_of_cds dollar_value\n 00001 19970101 1 11.77\n 00002 19970112 x 12.00\n",
    )
    .unwrap();
    let e = cdnow::read(&p).unwrap_err();
    assert!(matches!(e, propensity::Error::Cell { line: 3, ref column, .. } if column == "number_of_cds"), "{e}");
    std::fs::write(&p, "id date cds dollars\n").unwrap();
    assert!(matches!(cdnow::read(&p).unwrap_err(), propensity::Error::Format { .. }));
}

#[test]
fn kpi_tree_segments_beat_kmeans_out_of_sample_with_no_tiny_segment() {
    use propensity::cdnow::segments::{compare, SegmentConfig};
    let c = customers();
    let cmp = compare(&c, &SegmentConfig::default()).unwrap();
    let (km, tree) = (&cmp.kmeans, &cmp.kpi_tree);
    // peer (scikit-learn, k = 4): k-means silhouette 0.336, out-of-sample eta² of log(1+KPI) 0.245;
    // regression tree on log(1+KPI) 0.274 with silhouette 0.310
    assert!((km.silhouette - 0.336).abs() < 0.01, "{}", km.silhouette);
    assert!((km.eta2_log_oos - 0.245).abs() < 0.01, "{}", km.eta2_log_oos);
    assert!((tree.silhouette - 0.310).abs() < 0.01, "{}", tree.silhouette);
    assert!(tree.eta2_log_oos > km.eta2_log_oos + 0.02 && tree.eta2_oos > km.eta2_oos, "{tree:?}");
    assert!(tree.min_share >= 0.02 && tree.min_share_oos >= 0.02);
    assert_eq!(tree.segments.len(), 4);
    assert_eq!(tree.segments.iter().map(|s| s.n).sum::<usize>(), c.len());
    // segments are numbered by mean KPI, highest first
    assert!(tree.segments.windows(2).all(|w| w[0].kpi_mean >= w[1].kpi_mean));
    // the table has one header cell per value cell: 13 columns for the 4 segments, wider than a
    // notebook page, so the HTML shows it turned (a column per segment, a row per measure)
    let table = tree.table();
    assert!(table.width_px() > 1000, "{}", table.width_px());
    let t = table.to_html();
    assert_eq!(t.matches("</th>").count(), 1 + 4);
    assert_eq!(t.matches("</td>").count(), 12 * (1 + 4));
    assert_eq!(table.to_string().lines().count(), 2 + 4, "the text form keeps a row per segment");
}

fn propensity(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_propensity")).args(args).output().expect("runs the binary")
}

#[test]
fn cli_churn_model_is_saved_scored_and_tuned_config_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let run = propensity(&["cdnow", "churn", "--out", out]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("BG/NBD expected holdout purchases") && stdout.contains("0.763"), "{stdout}");
    let scores = dir.path().join("scores.csv");
    let model = dir.path().join("model.json");
    let customer_file = dir.path().join("customers.csv");
    let run = propensity(&[
        "score",
        "--model",
        model.to_str().unwrap(),
        "--input",
        customer_file.to_str().unwrap(),
        "--output",
        scores.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(text.lines().next(), Some("customer_id,p_churned,p_active,predicted"));
    assert_eq!(text.lines().count(), 23_570 + 1);
    // the scorer's probabilities rank buyers as well as the model did out of fold (in-sample here)
    let c = customers();
    let p_active: Vec<f64> = text.lines().skip(1).map(|l| l.split(',').nth(2).unwrap().parse().unwrap()).collect();
    let bought: Vec<bool> = c.rows.iter().map(|r| r.bought_in_holdout()).collect();
    let auc = propensity::classify::roc_auc(&p_active, &bought).unwrap();
    assert!(auc > 0.76, "{auc}");
    // a hand-written config is used; a bad one is refused before any work
    let cfg = dir.path().join("cfg.json");
    std::fs::write(&cfg, r#"{"architecture": "logistic", "train": {"max_epochs": 5}}"#).unwrap();
    let run = propensity(&["cdnow", "churn", "--config", cfg.to_str().unwrap(), "--out", out]);
    assert!(run.status.success() && String::from_utf8_lossy(&run.stdout).contains("mlp-17-2"));
    std::fs::write(&cfg, r#"{"validation_share": 2.0}"#).unwrap();
    let run = propensity(&["cdnow", "churn", "--config", cfg.to_str().unwrap(), "--out", out]);
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("validation_share"));
}

#[test]
fn customer_file_round_trips_and_bad_cells_are_named() {
    let c = customers();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.csv");
    c.write_csv(&p).unwrap();
    let back = Customers::read_csv(&p, c.protocol).unwrap();
    assert_eq!(back.rows, c.rows);
    let text = std::fs::read_to_string(&p).unwrap().replacen(",0,", ",-3,", 1);
    std::fs::write(&p, text).unwrap();
    let e = Customers::read_csv(&p, c.protocol).unwrap_err();
    assert!(matches!(e, propensity::Error::Cell { line: 2, .. }), "{e}");
}

#[test]
fn tuner_runs_seeded_and_saves_a_loadable_config() {
    use propensity::cdnow::tune::{load_config, tune, Strategy, TuneConfig};
    let c = customers();
    let cfg = TuneConfig {
        strategy: Strategy::SuccessiveHalving { candidates: 4, eta: 2, rungs: 2 },
        ..TuneConfig::default()
    };
    let r = tune(&c, &cfg).unwrap();
    // 4 candidates in rung 0, the best 2 in rung 1
    assert_eq!(r.trials.iter().filter(|t| t.rung == 0).count(), 4);
    assert_eq!(r.trials.iter().filter(|t| t.rung == 1).count(), 2);
    assert!(r.trials.iter().filter(|t| t.rung == 0).all(|t| t.config.train.max_epochs == 100));
    assert!(r.best_on_fold4.n == 4_714 && r.best_on_fold4.auc > 0.74, "{:?}", r.best_on_fold4);
    let dir = tempfile::tempdir().unwrap();
    r.save_best(dir.path().join("best.json")).unwrap();
    assert_eq!(load_config(dir.path().join("best.json")).unwrap(), r.best);
    // the search as one plot: 2 candidates stopped after 100 epochs, 1 in the final rung, the chosen one
    let svg = r.plot().unwrap();
    let text = svg.as_str();
    for name in ["stopped after 100 epochs", "final rung (200 epochs)", "chosen", "cross-validated ROC AUC"] {
        assert!(text.contains(name), "{name} missing");
    }
    assert_eq!(text.matches("<circle").count(), 6 + 3, "6 trials and 3 legend markers");
    let again = tune(&c, &cfg).unwrap();
    assert_eq!(
        again.trials.iter().map(|t| t.cv.auc).collect::<Vec<_>>(),
        r.trials.iter().map(|t| t.cv.auc).collect::<Vec<_>>()
    );
}

#[test]
fn saved_spend_model_scores_dollars() {
    use propensity::cdnow::models::train_spend_model;
    let c = customers();
    let file = propensity::paths::data_file(cdnow::FILE).unwrap();
    let (saved, history) = train_spend_model(&c, &SpendConfig::default(), &file, serde_json::Value::Null).unwrap();
    assert!(history.epochs_run() > 1);
    let dir = tempfile::tempdir().unwrap();
    let (model, rows, out) = (dir.path().join("m.json"), dir.path().join("c.csv"), dir.path().join("s.csv"));
    saved.save(&model).unwrap();
    c.write_csv(&rows).unwrap();
    propensity::score::score_csv(&model, &rows, &out, Default::default(), &mut |_, _| {}).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().next(), Some("customer_id,predicted_spend_holdout"));
    let p: Vec<f64> = text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert!(p.iter().all(|v| *v >= 0.0));
    // in sample the total is close to the actual total, and the ranking is useful
    let actual = c.column(|r| r.spend_holdout);
    let ratio = p.iter().sum::<f64>() / actual.iter().sum::<f64>();
    assert!((0.8..1.25).contains(&ratio), "{ratio}");
    assert!(propensity::ranking::spearman(&actual, &p) > 0.4);
    // the generic preprocessing gives the inputs the model was trained on (log1p, then the
    // training scaler), and `evaluate` scores what `score` wrote (to its 4 decimals)
    let loaded = propensity::loaded::LoadedModel::read(&model).unwrap();
    let propensity::saved::Labelled::Amounts { x, y } = loaded.labelled(&rows).unwrap() else { panic!("amounts") };
    let transform = propensity::cdnow::models::InputTransform {
        log1p: true,
        scaler: saved.preprocessing.pipeline.scaler.clone().unwrap(),
    };
    assert_eq!(x, transform.transform(&c.features()).unwrap().mapv(|v| v as f32));
    assert_eq!(y, actual);
    let e = loaded.evaluate(&rows).unwrap();
    let propensity::task::Scores::Regression { rmse, .. } = e.scores[0].1 else { panic!("regression") };
    let file_rmse = (actual.iter().zip(&p).map(|(a, p)| (a - p).powi(2)).sum::<f64>() / p.len() as f64).sqrt();
    assert!((rmse - file_rmse).abs() < 1e-3, "{rmse} vs {file_rmse}");
    assert_eq!((e.kind, e.rows), ("regressor", 23_570));
    // a log-target model maps its outputs back to dollars when scoring
    let log_cfg = SpendConfig { target: propensity::cdnow::models::SpendTarget::Log1p, ..SpendConfig::default() };
    let (saved, _) = train_spend_model(&c, &log_cfg, &file, serde_json::Value::Null).unwrap();
    saved.save(&model).unwrap();
    propensity::score::score_csv(&model, &rows, &out, Default::default(), &mut |_, _| {}).unwrap();
    let q: Vec<f64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(propensity::ranking::spearman(&actual, &q) > 0.45 && q.iter().all(|v| *v >= 0.0));
}

#[test]
fn a_model_whose_preprocessing_does_not_fit_its_network_is_refused() {
    use propensity::cdnow::models::train_churn_model;
    use propensity::pipeline::FittedPipeline;
    let c = customers();
    let file = propensity::paths::data_file(cdnow::FILE).unwrap();
    let cfg = ChurnConfig {
        train: propensity::train::TrainConfig { max_epochs: 2, ..ChurnConfig::default().train },
        ..ChurnConfig::default()
    };
    let (mut saved, _) = train_churn_model(&c, &cfg, &file, serde_json::Value::Null).unwrap();
    // a hand-edited file: the churn network with a 3-input feature-file preprocessing
    let x = ndarray::Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as f64);
    saved.preprocessing.pipeline =
        FittedPipeline::numeric(["a", "b", "c"], Some(propensity::preprocess::StandardScaler::fit(&x).unwrap()));
    saved.preprocessing.id = vec!["id".into()];
    let dir = tempfile::tempdir().unwrap();
    let (model, input, out) = (dir.path().join("m.json"), dir.path().join("in.csv"), dir.path().join("out.csv"));
    saved.save(&model).unwrap();
    std::fs::write(&input, "id,a,b,c\n1,1,2,3\n").unwrap();
    let e = propensity::score::score_csv(&model, &input, &out, Default::default(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, propensity::Error::Model { .. }) && e.to_string().contains("3 inputs"), "{e}");
    assert!(!out.exists());
}
