//! Plots as SVG documents that show inline in Jupyter (evcxr) and save to files.

use std::path::Path;

use plotters::prelude::*;

use crate::train::History;
use crate::{Error, Result};

/// An SVG document. In an evcxr notebook, a cell whose value is an `Svg` shows the picture.
///
/// ```
/// let svg = propensity::plot::Svg::new("<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into());
/// assert!(svg.as_str().starts_with("<svg"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svg(String);

impl Svg {
    /// Wraps SVG text.
    pub fn new(text: String) -> Self {
        Svg(text)
    }

    /// The SVG text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Writes the SVG to `path` atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_bytes_atomic(path.as_ref(), self.0.as_bytes())
    }

    /// evcxr's display hook: emits the SVG with mime type `image/svg+xml`.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT", self.0);
    }
}

const TRAIN: RGBColor = RGBColor(31, 119, 180); // matplotlib's C0
const VALID: RGBColor = RGBColor(255, 127, 14); // matplotlib's C1

/// Training curves of a [`History`]: `loss` / `val_loss` on the left, `accuracy` /
/// `val_accuracy` on the right, per epoch, like the Keras tutorials' `history.history` plots.
///
/// ```
/// use propensity::train::{EpochLog, History, TrainConfig};
/// let e = |epoch, loss| EpochLog { epoch, loss, accuracy: 0.7, val_loss: Some(loss + 0.05),
///     val_accuracy: Some(0.72), steps: 36, seconds: 0.01 };
/// let h = History { config: TrainConfig::default(), epochs: vec![e(1, 0.6), e(2, 0.4)],
///     stopped_early: false, best_epoch: Some(2), restored_best: false, seconds: 0.02 };
/// let svg = propensity::plot::training_curves(&h).unwrap();
/// assert!(svg.as_str().contains("val_loss"));
/// ```
pub fn training_curves(history: &History) -> Result<Svg> {
    if history.epochs.is_empty() {
        return Err(Error::Plot("the history has no epochs to plot".into()));
    }
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (900, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (left, right) = root.split_horizontally(450);
        let ep = &history.epochs;
        let series = |f: fn(&crate::train::EpochLog) -> Option<f64>| -> Vec<(f64, f64)> {
            ep.iter().filter_map(|e| f(e).map(|v| (e.epoch as f64, v))).collect()
        };
        panel(
            &left,
            "Loss",
            "loss",
            SeriesLabelPosition::UpperRight,
            &[("loss", series(|e| Some(e.loss)), TRAIN), ("val_loss", series(|e| e.val_loss), VALID)],
        )?;
        panel(
            &right,
            "Accuracy",
            "accuracy",
            SeriesLabelPosition::LowerRight,
            &[
                ("accuracy", series(|e| Some(e.accuracy)), TRAIN),
                ("val_accuracy", series(|e| e.val_accuracy), VALID),
            ],
        )?;
        root.present().map_err(plot_err)?;
    }
    Ok(Svg(text))
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn panel(
    area: &Area,
    title: &str,
    y_label: &str,
    legend: SeriesLabelPosition,
    lines: &[(&str, Vec<(f64, f64)>, RGBColor)],
) -> Result<()> {
    let points = lines.iter().flat_map(|l| l.1.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let pad = ((y_max - y_min) * 0.08).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(1.0..x_max.max(2.0), (y_min - pad)..(y_max + pad))
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_label)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_err)?;
    for (name, data, color) in lines {
        if data.is_empty() {
            continue;
        }
        let color = *color;
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(data.iter().map(|&p| Circle::new(p, 2, color.filled()))).map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(legend)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Plot(format!("{e:?}"))
}
