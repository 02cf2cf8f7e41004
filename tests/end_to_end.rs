//! End-to-end runs of the library on the bundled Audiobooks data.

use propensity::audiobooks::{self, Prepared, PreprocessConfig, ScalerFit};
use propensity::train::{EarlyStoppingConfig, History, Shuffle, TrainConfig, Trainer};
use propensity::{paths, Dataset, Error};

fn prepared(config: PreprocessConfig) -> Prepared {
    let raw = audiobooks::read_csv(paths::data_file(audiobooks::FILE).unwrap()).unwrap();
    audiobooks::preprocess(&raw, &config).unwrap()
}

#[test]
fn preprocessing_reproduces_the_exercise_counts() {
    let p = prepared(PreprocessConfig::default());
    // 2,237 ones in the file (the original notebook's count) -> 4,474 balanced rows
    assert_eq!((p.raw_rows, p.balanced_rows), (14_084, 4_474));
    let s = &p.splits;
    assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (3_579, 447, 448));
    let ones: usize = [&s.train, &s.validation, &s.test].iter().map(|d| d.class_counts(2)[1]).sum();
    assert_eq!(ones, 2_237);
    // standardized over all balanced rows: the pooled column means are 0 and stds 1
    let all = ndarray::concatenate(
        ndarray::Axis(0),
        &[s.train.inputs().view(), s.validation.inputs().view(), s.test.inputs().view()],
    )
    .unwrap()
    .mapv(f64::from);
    for col in all.columns() {
        assert!(col.mean().unwrap().abs() < 1e-6);
        assert!((col.std(0.0) - 1.0).abs() < 1e-5);
    }
    assert!((p.fill.means()[0] - 8.91).abs() < 0.01, "review ratings were pre-filled with 8.91");
}

#[test]
fn leak_free_scaler_is_fitted_on_train_only() {
    let p = prepared(PreprocessConfig { scaler_fit: ScalerFit::TrainOnly, ..Default::default() });
    let train = p.splits.train.inputs().mapv(f64::from);
    for col in train.columns() {
        assert!(col.mean().unwrap().abs() < 1e-6);
        assert!((col.std(0.0) - 1.0).abs() < 1e-5);
    }
    let default = prepared(PreprocessConfig::default());
    assert_eq!(p.splits.train.targets(), default.splits.train.targets(), "same rows, same order");
    assert_ne!(p.scaler, default.scaler);
}

fn fit(p: &Prepared, config: TrainConfig) -> propensity::train::Fitted {
    Trainer::new(config)
        .unwrap()
        .fit(&propensity::audiobooks::network(), &p.splits.train, Some(&p.splits.validation))
        .unwrap()
}

#[test]
fn default_training_reaches_keras_accuracy_and_stops_early() {
    let p = prepared(PreprocessConfig::default());
    let fitted = fit(&p, TrainConfig::default());
    let test = fitted.model.evaluate(&p.splits.test).unwrap();
    // Keras reference run: 80.80 %; Python peers over 10 seeds 79.1–81.0 % (issue #2).
    // Deterministic: seed 1 with Keras' Adam gets 367 of the 448 test rows right (81.92 %,
    // `propensity audiobooks`, README); PyTorch's form got 366 (81.70 %).
    assert_eq!((test.accuracy * 448.0).round(), 367.0, "test accuracy {}", test.accuracy);
    assert!(test.loss < 0.45, "test loss {}", test.loss);
    let h = &fitted.history;
    assert!(h.stopped_early && h.epochs_run() < 100);
    // Keras semantics: the last `patience` epochs did not beat the best val_loss
    let best = h.best_epoch.unwrap();
    assert_eq!(best + 2, h.epochs_run());
    let best_loss = h.epochs[best - 1].val_loss.unwrap();
    assert!(h.epochs[best..].iter().all(|e| e.val_loss.unwrap() >= best_loss));
    assert!(h.epochs.iter().all(|e| e.steps == 36), "3,579 rows in batches of 100");
}

#[test]
fn same_seed_same_numbers_bit_for_bit() {
    let p = prepared(PreprocessConfig::default());
    let cfg = TrainConfig { seed: 7, max_epochs: 5, ..Default::default() };
    let (a, b) = (fit(&p, cfg.clone()), fit(&p, cfg.clone()));
    let losses =
        |h: &History| h.epochs.iter().map(|e| (e.loss.to_bits(), e.val_loss.unwrap().to_bits())).collect::<Vec<_>>();
    assert_eq!(losses(&a.history), losses(&b.history));
    assert_eq!(
        a.model.weights().iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
        b.model.weights().iter().map(|w| w.to_bits()).collect::<Vec<_>>()
    );
    let c = fit(&p, TrainConfig { seed: 8, ..cfg.clone() });
    assert_ne!(losses(&a.history), losses(&c.history));
    let once = fit(&p, TrainConfig { shuffle: Shuffle::Once, ..cfg });
    assert_ne!(losses(&a.history), losses(&once.history));
}

#[test]
fn restore_best_returns_the_best_epoch_weights() {
    let p = prepared(PreprocessConfig::default());
    let es = EarlyStoppingConfig { restore_best: true, ..Default::default() };
    let fitted = fit(&p, TrainConfig { early_stopping: Some(es), seed: 3, ..Default::default() });
    let h = &fitted.history;
    assert!(h.restored_best);
    let best = h.epochs[h.best_epoch.unwrap() - 1].val_loss.unwrap();
    let now = fitted.model.evaluate(&p.splits.validation).unwrap().loss;
    assert!((now - best).abs() < 1e-9, "{now} vs {best}");
}

#[test]
fn without_early_stopping_all_epochs_run() {
    let p = prepared(PreprocessConfig::default());
    let fitted = fit(&p, TrainConfig { early_stopping: None, max_epochs: 7, ..Default::default() });
    assert_eq!(fitted.history.epochs_run(), 7);
    assert!(!fitted.history.stopped_early);
}

#[test]
fn a_diverging_loss_is_an_error_naming_epoch_and_batch() {
    // inputs near f32::MAX overflow the first layer to ±inf, so the loss is NaN at once
    let x = ndarray::Array2::from_elem((20, 10), 3.0e38f32);
    let d = Dataset::new(x, (0..20).map(|i| i % 2).collect()).unwrap();
    let err = Trainer::new(TrainConfig { early_stopping: None, batch_size: 10, ..Default::default() })
        .unwrap()
        .fit(&propensity::audiobooks::network(), &d, None)
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { epoch: 1, batch: 1, .. }), "{err}");
}

#[test]
fn training_input_is_checked_against_the_architecture() {
    let wide = Dataset::new(ndarray::Array2::zeros((4, 3)), vec![0, 1, 0, 1]).unwrap();
    let err = Trainer::new(TrainConfig { early_stopping: None, ..Default::default() })
        .unwrap()
        .fit(&propensity::audiobooks::network(), &wide, None)
        .unwrap_err();
    assert!(err.to_string().contains("3 columns, the model takes 10"), "{err}");
    let three_classes = Dataset::new(ndarray::Array2::zeros((3, 10)), vec![0, 1, 2]).unwrap();
    let err = Trainer::new(TrainConfig { early_stopping: None, ..Default::default() })
        .unwrap()
        .fit(&propensity::audiobooks::network(), &three_classes, None)
        .unwrap_err();
    assert!(err.to_string().contains("class 2"), "{err}");
    let two_classes = Dataset::new(ndarray::Array2::zeros((2, 10)), vec![0, 1]).unwrap();
    let err = Trainer::new(TrainConfig::default())
        .unwrap()
        .fit(&propensity::audiobooks::network(), &two_classes, None)
        .unwrap_err();
    assert!(matches!(err, Error::Config { field: "early_stopping", .. }), "{err}");
}

#[test]
fn history_round_trips_through_json() {
    let p = prepared(PreprocessConfig::default());
    let fitted = fit(&p, TrainConfig { max_epochs: 3, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    fitted.history.save_json(&path).unwrap();
    assert_eq!(History::load_json(&path).unwrap(), fitted.history);
    let svg = propensity::plot::training_curves(&fitted.history).unwrap();
    assert!(svg.as_str().starts_with("<svg") && svg.as_str().contains("val_accuracy"));
}
