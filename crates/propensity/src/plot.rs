//! Plots as SVG documents that show inline in Jupyter (evcxr) and save to files.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::train::History;
use crate::{Error, Result};

/// An SVG document. In an evcxr notebook, a cell whose value is an `Svg` shows the picture.
///
/// ```
/// let svg = propensity::plot::Svg::new("<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into());
/// assert!(svg.as_str().starts_with("<svg"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Training curves of a [`History`]: `loss` / `val_loss` on the left, `accuracy` /
/// `val_accuracy` on the right, per epoch, like the Keras tutorials' `history.history` plots.
///
/// ```
/// use propensity::train::{EpochLog, History, TrainConfig};
/// let e = |epoch, loss| EpochLog { epoch, loss, accuracy: Some(0.7), val_loss: Some(loss + 0.05),
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
    let ep = &history.epochs;
    let series = |name: &str, f: fn(&crate::train::EpochLog) -> Option<f64>| -> (String, Vec<(f64, f64)>) {
        (name.to_string(), ep.iter().filter_map(|e| f(e).map(|v| (e.epoch as f64, v))).collect())
    };
    let loss = [series("loss", |e| Some(e.loss)), series("val_loss", |e| e.val_loss)];
    let accuracy = [series("accuracy", |e| e.accuracy), series("val_accuracy", |e| e.val_accuracy)];
    if accuracy.iter().all(|s| s.1.is_empty()) {
        // a regression loss (an autoencoder) logs no accuracy: the loss panel alone
        return render((450, 340), |root| draw_lines(root, "Loss", Axes::fit("epoch", "loss", &loss, true), &loss));
    }
    render((900, 340), |root| {
        let (left, right) = root.split_horizontally(450);
        let loss_axes = Axes::fit("epoch", "loss", &loss, true);
        draw_lines(&left, "Loss", loss_axes, &loss)?;
        let accuracy_axes = Axes::fit("epoch", "accuracy", &accuracy, true);
        draw_lines(&right, "Accuracy", accuracy_axes, &accuracy)
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Plot(format!("{e:?}"))
}

/// matplotlib's "tab10" colours, used for classes and series in order.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn render(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<Svg> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    // plotters spells out SVG's defaults on every element; a scatter of thousands of points
    // is a third smaller without them, and smaller again once compacted (notebook outputs stay small)
    let text = text.replace(" stroke=\"none\" stroke-width=\"1\"", "").replace(" opacity=\"1\"", "");
    Ok(Svg(crate::svg_compact::compact(&text)))
}

/// A chart with `f64` axes on an SVG area.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws the legend of the series labelled so far, in the house style.
fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(position)
        .draw()
        .map_err(plot_err)
}

/// Where a plot's legend goes.
#[derive(Debug, Clone, PartialEq)]
enum Legend {
    /// In this corner of the plotting area, where it covers no data.
    Corner(SeriesLabelPosition),
    /// In a column of this many pixels to the right of the plot.
    Beside(u32),
}

/// How an entry of a legend drawn [`Legend::Beside`] the plot is marked.
#[derive(Debug, Clone, Copy)]
enum Mark {
    Line(RGBColor),
    Dashed,
    Dot(RGBColor),
    Bar(RGBColor),
}

/// Where a legend goes so that it covers no data: the first corner (upper right, upper left,
/// lower right, lower left) whose box holds none of `points` (matplotlib's `loc="best"`); when
/// every corner holds data, beside the plot. `plot` is the plotting area's size in pixels, the
/// box is sized from the labels as plotters lays it out (12 px text, a 30 px marker column,
/// 10 px margins).
fn place_legend(
    points: &[(f64, f64)],
    x: &std::ops::Range<f64>,
    y: &std::ops::Range<f64>,
    plot: (f64, f64),
    labels: &[&str],
) -> Legend {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let (w, h) = (60.0 + 6.8 * chars, 30.0 + 15.0 * labels.len() as f64);
    let (fw, fh) = ((w / plot.0).min(1.0), (h / plot.1).min(0.6));
    let at = |p: &(f64, f64)| ((p.0 - x.start) / (x.end - x.start), (p.1 - y.start) / (y.end - y.start));
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    for (position, right, top) in corners {
        let inside = |p: &(f64, f64)| {
            let (u, v) = at(p);
            let across = if right { u >= 1.0 - fw } else { u <= fw };
            let up = if top { v >= 1.0 - fh } else { v <= fh };
            across && up && (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v)
        };
        if !points.iter().any(inside) {
            return Legend::Corner(position);
        }
    }
    Legend::Beside((w - 14.0) as u32)
}

/// The plot's area and, for a legend beside it, the legend's column.
fn split_for_legend<'b>(area: &Area<'b>, legend: &Legend) -> (Area<'b>, Option<Area<'b>>) {
    match *legend {
        Legend::Beside(w) => {
            let (a, b) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(w));
            (a, Some(b))
        }
        Legend::Corner(_) => (area.clone(), None),
    }
}

/// Draws the legend where [`place_legend`] put it: plotters' own box in a corner, or `entries`
/// in the column beside the plot.
fn finish_legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    legend: Legend,
    beside: Option<&Area>,
    entries: &[(String, Mark)],
) -> Result<()> {
    let (Legend::Beside(_), Some(area)) = (&legend, beside) else {
        return match legend {
            Legend::Corner(position) => draw_legend(chart, position),
            Legend::Beside(_) => Ok(()),
        };
    };
    let grey = RGBColor(128, 128, 128);
    for (i, (label, mark)) in entries.iter().enumerate() {
        let (x, y) = (4, 44 + 18 * i as i32);
        match *mark {
            Mark::Line(c) => area.draw(&PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))),
            Mark::Dashed => area
                .draw(&PathElement::new(vec![(x, y), (x + 7, y)], grey))
                .and_then(|_| area.draw(&PathElement::new(vec![(x + 11, y), (x + 18, y)], grey))),
            Mark::Dot(c) => area.draw(&Circle::new((x + 9, y), 4, c.filled())),
            Mark::Bar(c) => area.draw(&Rectangle::new([(x + 3, y - 5), (x + 15, y + 5)], c.filled())),
        }
        .map_err(plot_err)?;
        area.draw(&Text::new(label.clone(), (x + 24, y - 7), ("sans-serif", 12))).map_err(plot_err)?;
    }
    Ok(())
}

/// Points along each polyline (20 per segment), so a line crossing a corner counts as data there.
fn along(series: &[(String, Vec<(f64, f64)>)]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (_, data) in series {
        out.extend(data.iter().copied());
        for w in data.windows(2) {
            out.extend((1..20).map(|k| {
                let t = k as f64 / 20.0;
                (w[0].0 + t * (w[1].0 - w[0].0), w[0].1 + t * (w[1].1 - w[0].1))
            }));
        }
    }
    out
}

/// The plotting area left inside `area` by a chart's margin, caption and label areas.
fn plot_size(area: &Area, margin: u32, x_label_area: u32, y_label_area: u32, caption: bool) -> (f64, f64) {
    let (w, h) = area.dim_in_pixel();
    let caption = if caption { 26 } else { 0 };
    (
        (w.saturating_sub(2 * margin + y_label_area)).max(1) as f64,
        (h.saturating_sub(2 * margin + x_label_area + caption)).max(1) as f64,
    )
}

/// A chart with numeric axes, their titles and tick labels drawn (`label_areas`: the heights
/// of the x and y label areas in pixels, around a 12 px margin). When every point's x is a
/// whole number over a short range (run 1, 2, 3 …), the x axis is labelled at whole numbers only.
fn xy_chart<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    (x_label, y_label): (&str, &str),
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    points: &[(f64, f64)],
    label_areas: (u32, u32),
) -> Result<Chart<'a, 'b>> {
    let span = x.end - x.start;
    let whole_x = span <= 30.0 && points.iter().all(|p| p.0.fract() == 0.0);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(label_areas.0)
        .y_label_area_size(label_areas.1)
        .build_cartesian_2d(x, y)
        .map_err(plot_err)?;
    let whole = |v: &f64| if v.fract().abs() < 1e-9 { format!("{v:.0}") } else { String::new() };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_label).y_desc(y_label).x_label_formatter(&tick).y_label_formatter(&tick).max_light_lines(0);
    if whole_x {
        mesh.x_labels(span.ceil() as usize + 1).x_label_formatter(&whole);
    }
    mesh.draw().map_err(plot_err)?;
    Ok(chart)
}

/// A chart whose x axis holds one slot per category (at 0, 1, …), with its mesh drawn.
fn category_chart<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    names: &[String],
    y: std::ops::Range<f64>,
    y_label: &str,
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5f64..names.len() as f64 - 0.5, y)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(0)
        .x_labels(names.len())
        .x_label_formatter(&|x| category_at(names, *x))
        .y_label_formatter(&tick)
        .y_desc(y_label)
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// The name of the category drawn at integer position `x` of a categorical axis, or nothing
/// between categories.
fn category_at(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

fn check_lengths(what: &str, a: usize, b: usize) -> Result<()> {
    if a != b || a == 0 {
        return Err(Error::Plot(format!("{what}: {a} labels for {b} values")));
    }
    Ok(())
}

/// Bars with series side by side per group (one series is a plain bar chart), e.g. rows per
/// gender for each shopping preference.
///
/// ```
/// let svg = propensity::plot::bar_chart("Rows per class", "rows", &["a".into(), "b".into()],
///     &[("rows".into(), vec![3.0, 5.0])]).unwrap();
/// assert!(svg.as_str().contains("Rows per class"));
/// ```
pub fn bar_chart(title: &str, y_label: &str, groups: &[String], series: &[(String, Vec<f64>)]) -> Result<Svg> {
    for (name, values) in series {
        check_lengths(name, groups.len(), values.len())?;
    }
    let y_max = series.iter().flat_map(|s| s.1.iter()).copied().fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let n = series.len().max(1) as f64;
    let width = 0.8 / n;
    let left = |k: usize, g: usize| g as f64 - 0.4 + k as f64 * width;
    render((640, 380), |root| {
        let y = 0.0..y_max;
        let mut legend = Legend::Corner(SeriesLabelPosition::UpperLeft);
        if series.len() > 1 {
            // every bar as points over its area, so the legend goes where no bar is
            let mut bars = Vec::new();
            for (k, (_, values)) in series.iter().enumerate() {
                for (g, &v) in values.iter().enumerate() {
                    for i in 0..=4 {
                        for j in 0..=10 {
                            bars.push((left(k, g) + width * 0.95 * i as f64 / 4.0, v * j as f64 / 10.0));
                        }
                    }
                }
            }
            let labels: Vec<&str> = series.iter().map(|s| s.0.as_str()).collect();
            let x = -0.5..groups.len() as f64 - 0.5;
            legend = place_legend(&bars, &x, &y, plot_size(root, 12, 36, 64, true), &labels);
        }
        let (area, beside) = split_for_legend(root, &legend);
        let mut chart = category_chart(&area, title, groups, y, y_label)?;
        for (k, (name, values)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let left = |g: usize| left(k, g);
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .map(|(g, &v)| Rectangle::new([(left(g), 0.0), (left(g) + width * 0.95, v)], color.filled())),
                )
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
        if series.len() > 1 {
            let entries: Vec<(String, Mark)> =
                series.iter().enumerate().map(|(k, s)| (s.0.clone(), Mark::Bar(PALETTE[k % PALETTE.len()]))).collect();
            finish_legend(&mut chart, legend, beside.as_ref(), &entries)?;
        }
        Ok(())
    })
}

/// A pie chart with the share of each slice.
///
/// ```
/// let svg = propensity::plot::pie_chart("Preference", &["Store".into(), "Online".into()], &[87.0, 13.0]).unwrap();
/// assert!(svg.as_str().contains("Store"));
/// ```
pub fn pie_chart(title: &str, labels: &[String], values: &[f64]) -> Result<Svg> {
    check_lengths(title, labels.len(), values.len())?;
    let total: f64 = values.iter().sum();
    let names: Vec<String> =
        labels.iter().zip(values).map(|(l, v)| format!("{l} {:.1}%", 100.0 * v / total.max(1e-12))).collect();
    let colors: Vec<RGBColor> = (0..values.len()).map(|i| PALETTE[i % PALETTE.len()]).collect();
    render((480, 400), |root| {
        let area = root.titled(title, ("sans-serif", 18)).map_err(plot_err)?;
        let (w, h) = area.dim_in_pixel();
        let center = (w as i32 / 2, h as i32 / 2);
        let radius = (w.min(h) as f64) * 0.32;
        let mut pie = Pie::new(&center, &radius, values, &colors, &names);
        pie.start_angle(-90.0);
        pie.label_style(("sans-serif", 14).into_font().color(&BLACK));
        // plotters hangs a label below its anchor: a label over the top of the pie needs a text
        // height of room, or it is written across the slices
        pie.label_offset(radius * 0.05 + 16.0);
        area.draw(&pie).map_err(plot_err)?;
        Ok(())
    })
}

/// Five-number summary of a sample for a box plot: whiskers at the furthest points within
/// 1.5 IQR of the quartiles (matplotlib's default), the rest counted as outliers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxStats {
    /// Lower whisker.
    pub low: f64,
    /// First quartile.
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Upper whisker.
    pub high: f64,
    /// Points beyond the whiskers.
    pub outliers: usize,
}

impl BoxStats {
    /// Computes the summary (linear-interpolation quartiles, numpy's default).
    ///
    /// ```
    /// let b = propensity::plot::BoxStats::of(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
    /// assert_eq!((b.q1, b.median, b.q3, b.high, b.outliers), (2.0, 3.0, 4.0, 4.0, 1));
    /// ```
    pub fn of(values: &[f64]) -> Option<BoxStats> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        let (q1, median, q3) = (q(0.25), q(0.5), q(0.75));
        let (lo_fence, hi_fence) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
        let low = v.iter().copied().find(|&x| x >= lo_fence).unwrap_or(q1);
        let high = v.iter().rev().copied().find(|&x| x <= hi_fence).unwrap_or(q3);
        let outliers = v.iter().filter(|&&x| x < lo_fence || x > hi_fence).count();
        Some(BoxStats { low, q1, median, q3, high, outliers })
    }
}

/// Box plots of one feature per group (e.g. per class), side by side.
///
/// ```
/// let svg = propensity::plot::box_plots("Age by class", "age",
///     &[("a".into(), vec![1.0, 2.0, 3.0]), ("b".into(), vec![2.0, 4.0, 9.0])]).unwrap();
/// assert!(svg.as_str().contains("Age by class"));
/// ```
pub fn box_plots(title: &str, y_label: &str, groups: &[(String, Vec<f64>)]) -> Result<Svg> {
    let stats: Vec<BoxStats> = groups
        .iter()
        .map(|(name, v)| BoxStats::of(v).ok_or_else(|| Error::Plot(format!("group {name} has no values"))))
        .collect::<Result<_>>()?;
    let lo = stats.iter().map(|s| s.low).fold(f64::INFINITY, f64::min);
    let hi = stats.iter().map(|s| s.high).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    render((420, 340), |root| {
        let mut chart = category_chart(root, title, &names, (lo - pad)..(hi + pad), y_label)?;
        for (g, s) in stats.iter().enumerate() {
            let x = g as f64;
            let color = PALETTE[g % PALETTE.len()];
            let style = BLACK.stroke_width(1);
            chart
                .draw_series([Rectangle::new([(x - 0.3, s.q1), (x + 0.3, s.q3)], color.mix(0.6).filled())])
                .map_err(plot_err)?;
            chart
                .draw_series([
                    PathElement::new(vec![(x - 0.3, s.median), (x + 0.3, s.median)], BLACK.stroke_width(2)),
                    PathElement::new(vec![(x, s.q3), (x, s.high)], style),
                    PathElement::new(vec![(x, s.q1), (x, s.low)], style),
                    PathElement::new(vec![(x - 0.15, s.high), (x + 0.15, s.high)], style),
                    PathElement::new(vec![(x - 0.15, s.low), (x + 0.15, s.low)], style),
                ])
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// A heat map of `values` (rows × columns) with each cell's value written in it, e.g. a
/// confusion matrix or a correlation matrix. Colours run white → blue from `range.0` to
/// `range.1`; with a negative lower bound, red → white → blue.
///
/// ```
/// let svg = propensity::plot::heatmap("Confusion", &["a".into(), "b".into()], &["a".into(), "b".into()],
///     &[vec![5.0, 1.0], vec![0.0, 7.0]], (0.0, 7.0), |v| format!("{v:.0}")).unwrap();
/// // background + 4 cells, each a rectangle of its own colour (`<path d="M x y h w v h h -w z">`)
/// assert!(svg.as_str().matches("<path").count() >= 5);
/// assert!(svg.as_str().lines().any(|l| l.trim() == "7"));
/// ```
pub fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
    range: (f64, f64),
    label: impl Fn(f64) -> String,
) -> Result<Svg> {
    check_lengths(title, rows.len(), values.len())?;
    for r in values {
        check_lengths(title, cols.len(), r.len())?;
    }
    let cell = if cols.len() > 8 { 30 } else { 90 };
    // label areas sized to the longest name (about 7 px a character at 12 px), so none is cut
    let longest = |names: &[String]| names.iter().map(|n| n.chars().count()).max().unwrap_or(1) as u32;
    let x_area = if cols.len() > 8 { (longest(cols) * 6 + 14).clamp(40, 240) } else { 30 };
    let y_area = (longest(rows) * 7 + 14).clamp(50, 240);
    let scale_w = 90;
    let (w, h) = (y_area + 40 + cell * cols.len() as u32 + scale_w, 70 + x_area + cell * rows.len() as u32);
    let color = |v: f64| {
        let (lo, hi) = range;
        if lo < 0.0 {
            let t = (v / hi.abs().max(lo.abs()).max(1e-12)).clamp(-1.0, 1.0);
            let mix = |a: f64, b: f64, t: f64| (a + (b - a) * t) as u8;
            if t >= 0.0 {
                RGBColor(mix(255.0, 33.0, t), mix(255.0, 102.0, t), mix(255.0, 172.0, t))
            } else {
                RGBColor(mix(255.0, 178.0, -t), mix(255.0, 24.0, -t), mix(255.0, 43.0, -t))
            }
        } else {
            let t = ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
            RGBColor((247.0 - 239.0 * t) as u8, (251.0 - 203.0 * t) as u8, (255.0 - 148.0 * t) as u8)
        }
    };
    render((w, h), |root| {
        let (main, strip) = root.split_horizontally(w - scale_w);
        colour_scale(&strip, 40, h as i32 - x_area as i32 - 10, range, &color, &label)?;
        let mut chart = ChartBuilder::on(&main)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(0.0f64..cols.len() as f64, 0.0f64..rows.len() as f64)
            .map_err(plot_err)?;
        let label_at = |names: &[String], x: f64| {
            let i = x.floor();
            if (x - i - 0.5).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let n_rows = rows.len();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(cols.len() * 2 + 1)
            .y_labels(rows.len() * 2 + 1)
            .x_label_formatter(&|x| label_at(cols, *x))
            .y_label_formatter(&|y| {
                let i = y.floor();
                if (y - i - 0.5).abs() < 1e-6 && i >= 0.0 && (i as usize) < n_rows {
                    rows[n_rows - 1 - i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_label_style(("sans-serif", 12).into_font().transform(if cols.len() > 8 {
                FontTransform::Rotate90
            } else {
                FontTransform::None
            }))
            .draw()
            .map_err(plot_err)?;
        for (i, r) in values.iter().enumerate() {
            let y = (n_rows - 1 - i) as f64;
            for (j, &v) in r.iter().enumerate() {
                let x = j as f64;
                chart
                    .draw_series([Rectangle::new([(x, y), (x + 1.0, y + 1.0)], color(v).filled())])
                    .map_err(plot_err)?;
                if cell >= 60 || cols.len() <= 12 {
                    let dark = if range.0 < 0.0 {
                        v.abs() > 0.6 * range.1.abs()
                    } else {
                        (v - range.0) / (range.1 - range.0).max(1e-12) > 0.6
                    };
                    let style = ("sans-serif", if cell >= 60 { 16 } else { 9 })
                        .into_font()
                        .color(if dark { &WHITE } else { &BLACK })
                        .pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Center,
                        ));
                    chart.draw_series([Text::new(label(v), (x + 0.5, y + 0.5), style)]).map_err(plot_err)?;
                }
            }
        }
        Ok(())
    })
    .map(|svg| {
        // plotters centres rotated axis labels on the tick, so half of a long name would sit
        // under the cells: start them at the axis instead
        let text = svg.as_str().lines().map(|l| {
            if l.contains("transform=\"rotate(90,") {
                l.replace("text-anchor=\"middle\"", "text-anchor=\"start\"")
            } else {
                l.to_string()
            }
        });
        Svg::new(text.collect::<Vec<_>>().join("\n"))
    })
}

/// A vertical colour bar from `top` to `bottom` (pixels) on `area`: `range.1` at the top,
/// `range.0` at the bottom, with their labels and, for a range across 0, the 0 in between.
fn colour_scale(
    area: &Area,
    top: i32,
    bottom: i32,
    range: (f64, f64),
    color: &dyn Fn(f64) -> RGBColor,
    label: &dyn Fn(f64) -> String,
) -> Result<()> {
    let (lo, hi) = range;
    let steps = 40;
    let span = (bottom - top).max(steps);
    for k in 0..steps {
        let (y0, y1) = (top + span * k / steps, top + span * (k + 1) / steps);
        let v = hi - (hi - lo) * (k as f64 + 0.5) / steps as f64;
        area.draw(&Rectangle::new([(10, y0), (28, y1)], color(v).filled())).map_err(plot_err)?;
    }
    area.draw(&Rectangle::new([(10, top), (28, top + span)], BLACK.mix(0.4))).map_err(plot_err)?;
    let mut ticks = vec![(hi, top), (lo, top + span)];
    if lo < 0.0 && hi > 0.0 {
        ticks.push((0.0, top + (span as f64 * hi / (hi - lo)) as i32));
    }
    let style = ("sans-serif", 11).into_font().color(&BLACK).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    ));
    for (v, y) in ticks {
        area.draw(&Text::new(label(v), (32, y), style.clone())).map_err(plot_err)?;
    }
    Ok(())
}

/// ROC curves — one per class against the rest, or one per model of a binary target — each with
/// its AUC in the legend, and the diagonal.
pub fn roc_curves(curves: &[crate::classify::RocCurve]) -> Result<Svg> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> =
        vec![(reference("chance (AUC 0.5)"), vec![(0.0, 0.0), (1.0, 1.0)])];
    for c in curves {
        series.push((
            format!("{} (AUC {:.4})", c.class, c.auc),
            c.fpr.iter().copied().zip(c.tpr.iter().copied()).collect(),
        ));
    }
    let axes = Axes {
        x_label: "false positive rate",
        y_label: "true positive rate",
        x: 0.0..1.0,
        y: 0.0..1.0,
        integer_x: false,
    };
    render((520, 460), |root| draw_lines(root, "ROC curves", axes, &series))
}

/// The name of a reference series (chance, perfect calibration, random order) for [`lines`]:
/// drawn dashed grey without markers, and not taking a colour from the palette.
///
/// ```
/// use propensity::plot::{lines, reference};
/// let svg = lines("t", "x", "y", &[(reference("chance"), vec![(0.0, 0.0), (1.0, 1.0)])]).unwrap();
/// assert!(svg.as_str().contains(">chance<") || svg.as_str().contains("chance\n"));
/// ```
pub fn reference(name: &str) -> String {
    format!("{REFERENCE}{name}")
}

const REFERENCE: &str = "\u{1}reference\u{1}";

/// A simple line plot of one or more named series against x, e.g. precision and recall of
/// Hybrid against the decision threshold. Series named with [`reference()`] are reference lines.
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> Result<Svg> {
    if series.iter().all(|s| s.1.is_empty()) {
        return Err(Error::Plot(format!("{title}: nothing to plot")));
    }
    let axes = Axes::fit(x_label, y_label, series, false);
    render((560, 360), |root| draw_lines(root, title, axes, series))
}

/// One panel of [`stacked_lines`]: its title, its y-axis label and its named series.
pub type Panel = (String, String, Vec<(String, Vec<(f64, f64)>)>);

/// Line charts stacked one above the other over the same x values, each with its own y axis:
/// measures whose scales differ (silhouette and inertia against k) stay legible, where one axis
/// would flatten the smaller one.
///
/// ```
/// let silhouette = vec![("silhouette".to_string(), vec![(2.0, 0.24), (3.0, 0.27), (4.0, 0.25)])];
/// let inertia = vec![("inertia".to_string(), vec![(2.0, 1.0), (3.0, 0.8), (4.0, 0.7)])];
/// let panels = vec![
///     ("Silhouette".to_string(), "mean silhouette".to_string(), silhouette),
///     ("Inertia".to_string(), "inertia / inertia at k = 2".to_string(), inertia),
/// ];
/// let svg = propensity::plot::stacked_lines("k", &panels).unwrap();
/// assert!(svg.as_str().contains("mean silhouette") && svg.as_str().contains("inertia / inertia at k = 2"));
/// assert!(propensity::plot::stacked_lines("k", &[]).is_err());
/// ```
pub fn stacked_lines(x_label: &str, panels: &[Panel]) -> Result<Svg> {
    if panels.is_empty() || panels.iter().any(|p| p.2.iter().all(|s| s.1.is_empty())) {
        return Err(Error::Plot("stacked lines: a panel has nothing to plot".into()));
    }
    let integer_x = panels.iter().flat_map(|p| p.2.iter().flat_map(|s| s.1.iter())).all(|p| p.0.fract() == 0.0);
    render((560, 260 * panels.len() as u32), |root| {
        for (area, (title, y_label, series)) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
            draw_lines(area, title, Axes::fit(x_label, y_label, series, integer_x), series)?;
        }
        Ok(())
    })
}

/// Several lines of `(x, y)` points, drawn in one colour by [`trajectories`].
pub type Polylines = Vec<Vec<(f64, f64)>>;

/// Groups of polylines, one colour and one legend entry per group: e.g. each tuning candidate's
/// cross-validated score across the rungs of a search, coloured by how far it went.
///
/// ```
/// let groups = vec![
///     ("dropped".to_string(), vec![vec![(22.0, 0.70)], vec![(22.0, 0.71)]]),
///     ("finalists".to_string(), vec![vec![(22.0, 0.75), (66.0, 0.77), (200.0, 0.78)]]),
/// ];
/// let svg = propensity::plot::trajectories("Search", "epoch budget", "CV AUC", &groups).unwrap();
/// assert_eq!(svg.as_str().matches("<circle").count(), 5 + 2, "a marker per point and per legend entry");
/// ```
pub fn trajectories(title: &str, x_label: &str, y_label: &str, groups: &[(String, Polylines)]) -> Result<Svg> {
    let flat: Vec<(String, Vec<(f64, f64)>)> =
        groups.iter().flat_map(|(name, lines)| lines.iter().map(move |l| (name.clone(), l.clone()))).collect();
    if flat.iter().all(|s| s.1.is_empty()) {
        return Err(Error::Plot(format!("{title}: nothing to plot")));
    }
    // a score far below the rest (under Q1 − 3 IQR) would squeeze every other line into a sliver
    // of the axis: the axis stops above it and the point is drawn on the bottom edge with its value
    let floor = low_fence(flat.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let kept: Vec<(String, Vec<(f64, f64)>)> =
        flat.iter().map(|(n, l)| (n.clone(), l.iter().copied().filter(|p| p.1 >= floor).collect())).collect();
    let mut axes = Axes::fit(x_label, y_label, &kept, false);
    let bottom = axes.y.start;
    if flat.iter().any(|s| s.1.iter().any(|p| p.1 < floor)) {
        // room for the marker and its value below the lowest kept point
        axes.y.start -= (axes.y.end - axes.y.start) * 0.06;
    }
    let y_of = |y: f64| if y < floor { bottom } else { y };
    let pad = (axes.x.end - axes.x.start) * 0.04;
    let x = axes.x.start - pad..axes.x.end + pad;
    render((600, 380), |root| {
        let labels: Vec<&str> = groups.iter().map(|g| g.0.as_str()).collect();
        let shown: Vec<(String, Vec<(f64, f64)>)> =
            flat.iter().map(|(n, l)| (n.clone(), l.iter().map(|p| (p.0, y_of(p.1))).collect())).collect();
        let legend = place_legend(&along(&shown), &x, &axes.y, plot_size(root, 12, 40, 60, true), &labels);
        let (area, beside) = split_for_legend(root, &legend);
        let points: Vec<(f64, f64)> = shown.iter().flat_map(|s| s.1.iter().copied()).collect();
        let mut chart = xy_chart(&area, title, (x_label, y_label), (x.clone(), axes.y.clone()), &points, (40, 60))?;
        for (k, (name, lines)) in groups.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            for line in lines {
                chart
                    .draw_series(LineSeries::new(line.iter().map(|p| (p.0, y_of(p.1))), color.mix(0.7).stroke_width(1)))
                    .map_err(plot_err)?;
            }
            chart
                .draw_series(
                    lines.iter().flatten().filter(|p| p.1 >= floor).map(|&p| Circle::new(p, 3, color.filled())),
                )
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
            // a clipped point: a down arrow on the bottom edge, with its value
            let style = TextStyle::from(("sans-serif", 11).into_font()).color(&color).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            for p in lines.iter().flatten().filter(|p| p.1 < floor) {
                chart
                    .draw_series(std::iter::once(Text::new(format!("▼ {}", tick(&p.1)), (p.0, bottom), style.clone())))
                    .map_err(plot_err)?;
            }
        }
        let entries: Vec<(String, Mark)> =
            groups.iter().enumerate().map(|(k, g)| (g.0.clone(), Mark::Dot(PALETTE[k % PALETTE.len()]))).collect();
        finish_legend(&mut chart, legend, beside.as_ref(), &entries)
    })
}

/// Tukey's far-out fence below `values`, Q1 − 3 IQR (−∞ when the quartiles are equal or there
/// are fewer than 8 values: too few to call one an outlier).
fn low_fence(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|y| y.is_finite()).collect();
    if v.len() < 8 {
        return f64::NEG_INFINITY;
    }
    v.sort_by(f64::total_cmp);
    let (q1, q3) = (v[v.len() / 4], v[3 * v.len() / 4]);
    if q3 > q1 {
        q1 - 3.0 * (q3 - q1)
    } else {
        f64::NEG_INFINITY
    }
}

/// A tick label: whole numbers without a decimal point (`10000`, not `10000.0`), others with at
/// most three significant decimals.
fn tick(v: &f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Axis titles and ranges of a line chart.
struct Axes<'a> {
    x_label: &'a str,
    y_label: &'a str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    /// Label the x axis with whole numbers (epochs).
    integer_x: bool,
}

impl<'a> Axes<'a> {
    /// Ranges that hold every point, with 8 % head room above and below.
    fn fit(x_label: &'a str, y_label: &'a str, series: &[(String, Vec<(f64, f64)>)], integer_x: bool) -> Axes<'a> {
        let pts = || series.iter().flat_map(|s| s.1.iter());
        let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| (a.0.min(p.0), a.1.max(p.0)));
        let (y0, y1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| (a.0.min(p.1), a.1.max(p.1)));
        let pad = ((y1 - y0) * 0.08).max(1e-3);
        Axes { x_label, y_label, x: x0..x1.max(x0 + 1.0), y: (y0 - pad)..(y1 + pad), integer_x }
    }
}

/// Draws named line series (with point markers when they are short) in palette order, the
/// legend where it covers no line ([`place_legend`]).
fn draw_lines(area: &Area, title: &str, axes: Axes, series: &[(String, Vec<(f64, f64)>)]) -> Result<()> {
    let labels: Vec<&str> =
        series.iter().filter(|s| !s.1.is_empty()).map(|s| s.0.strip_prefix(REFERENCE).unwrap_or(&s.0)).collect();
    let legend = place_legend(&along(series), &axes.x, &axes.y, plot_size(area, 12, 40, 60, true), &labels);
    let (plot_area, beside) = split_for_legend(area, &legend);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())
        .map_err(plot_err)?;
    let whole = |x: &f64| format!("{x:.0}");
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_label).y_desc(axes.y_label).max_light_lines(0);
    mesh.x_label_formatter(&tick).y_label_formatter(&tick);
    if axes.integer_x {
        mesh.x_label_formatter(&whole);
    }
    mesh.draw().map_err(plot_err)?;
    let mut k = 0;
    let mut entries = Vec::new();
    for (name, data) in series {
        if data.is_empty() {
            continue;
        }
        if let Some(name) = name.strip_prefix(REFERENCE) {
            entries.push((name.to_string(), Mark::Dashed));
            let grey = RGBColor(128, 128, 128).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(data.iter().copied(), 6, 4, grey))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
            continue;
        }
        let color = PALETTE[k % PALETTE.len()];
        k += 1;
        entries.push((name.clone(), Mark::Line(color)));
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
            .map_err(plot_err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        if data.len() <= 40 {
            chart.draw_series(data.iter().map(|&p| Circle::new(p, 2, color.filled()))).map_err(plot_err)?;
        }
    }
    finish_legend(&mut chart, legend, beside.as_ref(), &entries)
}

/// Horizontal bars, one per label, largest first as given (e.g. feature importances).
///
/// ```
/// let svg = propensity::plot::hbar_chart("Importance", "drop", &["a".into(), "b".into()], &[3.0, 1.0]).unwrap();
/// assert!(svg.as_str().contains("Importance"));
/// ```
pub fn hbar_chart(title: &str, x_label: &str, labels: &[String], values: &[f64]) -> Result<Svg> {
    check_lengths(title, labels.len(), values.len())?;
    let x_max = values.iter().copied().fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let n = labels.len();
    render((640, 80 + 26 * n as u32), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(210)
            .build_cartesian_2d(0.0..x_max, -0.5f64..n as f64 - 0.5)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .max_light_lines(0)
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                    labels[n - 1 - i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_label_formatter(&tick)
            .x_desc(x_label)
            // fixed sizes: plotters' defaults scale with the chart's height, which here grows
            // with the number of bars (two bars gave 5-pixel labels)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 12))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let y = (n - 1 - i) as f64;
                Rectangle::new([(0.0, y - 0.35), (v, y + 0.35)], PALETTE[0].filled())
            }))
            .map_err(plot_err)?;
        Ok(())
    })
}

/// A scatter plot of named point groups in palette order (e.g. a t-SNE map coloured by segment).
///
/// ```
/// let g = vec![("a".to_string(), vec![(0.0, 1.0), (1.0, 2.0)]), ("b".to_string(), vec![(3.0, 0.5)])];
/// let svg = propensity::plot::scatter("Map", "x", "y", &g).unwrap();
/// assert_eq!(svg.as_str().matches("<circle").count(), 3 + 2); // points + legend markers
/// ```
pub fn scatter(title: &str, x_label: &str, y_label: &str, groups: &[(String, Vec<(f64, f64)>)]) -> Result<Svg> {
    if groups.iter().all(|g| g.1.is_empty()) {
        return Err(Error::Plot(format!("{title}: nothing to plot")));
    }
    let axes = Axes::fit(x_label, y_label, groups, false);
    let pad = (axes.x.end - axes.x.start) * 0.04;
    let x = axes.x.start - pad..axes.x.end + pad;
    render((620, 520), |root| {
        let points: Vec<(f64, f64)> = groups.iter().flat_map(|g| g.1.iter().copied()).collect();
        let labels: Vec<&str> = groups.iter().map(|g| g.0.as_str()).collect();
        let legend = place_legend(&points, &x, &axes.y, plot_size(root, 12, 36, 50, true), &labels);
        let (area, beside) = split_for_legend(root, &legend);
        let mut chart = xy_chart(&area, title, (x_label, y_label), (x.clone(), axes.y.clone()), &points, (36, 50))?;
        // a map of thousands of points needs small dots; a few runs need visible ones
        let radius = if points.len() <= 200 { 4 } else { 2 };
        for (k, (name, points)) in groups.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, radius, color.mix(0.6).filled())))
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
        let entries: Vec<(String, Mark)> =
            groups.iter().enumerate().map(|(k, g)| (g.0.clone(), Mark::Dot(PALETTE[k % PALETTE.len()]))).collect();
        finish_legend(&mut chart, legend, beside.as_ref(), &entries)
    })
}

/// A directed graph with its nodes on a circle: node area ∝ `sizes`, arrow width ∝ the edge
/// weight, each arrow labelled with its weight (e.g. "customers who bought A then B").
///
/// ```
/// let svg = propensity::plot::digraph("Graph", &["a".into(), "b".into()], &[1.0, 2.0], &[(0, 1, 5.0)]).unwrap();
/// assert_eq!(svg.as_str().matches("<polygon").count(), 3); // two nodes and one arrowhead
/// assert!(svg.as_str().split("</text>").any(|t| t.trim_end().ends_with('5')), "the edge's label");
/// ```
pub fn digraph(title: &str, nodes: &[String], sizes: &[f64], edges: &[(usize, usize, f64)]) -> Result<Svg> {
    check_lengths(title, nodes.len(), sizes.len())?;
    if let Some(e) = edges.iter().find(|e| e.0 >= nodes.len() || e.1 >= nodes.len()) {
        return Err(Error::Plot(format!("{title}: edge {} → {} has no node", e.0, e.1)));
    }
    let n = nodes.len() as f64;
    let pos = |i: usize| {
        let a = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
        (a.cos(), a.sin())
    };
    let max_size = sizes.iter().copied().fold(0.0f64, f64::max).max(1e-9);
    let max_weight = edges.iter().map(|e| e.2).fold(0.0f64, f64::max).max(1e-9);
    let radius = |i: usize| 0.06 + 0.08 * (sizes[i] / max_size).sqrt();
    render((620, 620), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .build_cartesian_2d(-1.35f64..1.35, -1.35f64..1.35)
            .map_err(plot_err)?;
        for &(a, b, w) in edges {
            if a == b {
                continue;
            }
            let ((x0, y0), (x1, y1)) = (pos(a), pos(b));
            // offset sideways so that a → b and b → a do not overlap
            let (dx, dy) = (x1 - x0, y1 - y0);
            let len = (dx * dx + dy * dy).sqrt();
            let (ux, uy, ox, oy) = (dx / len, dy / len, -dy / len * 0.035, dx / len * 0.035);
            let start = (x0 + ux * radius(a) + ox, y0 + uy * radius(a) + oy);
            let end = (x1 - ux * radius(b) + ox, y1 - uy * radius(b) + oy);
            let width = (1.0 + 7.0 * w / max_weight).round() as u32;
            let color = BLACK.mix(0.25 + 0.6 * w / max_weight);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![start, end], color.stroke_width(width))))
                .map_err(plot_err)?;
            let head = 0.06;
            let (hx, hy) = (end.0 - ux * head, end.1 - uy * head);
            let tri =
                vec![end, (hx - uy * head * 0.5, hy + ux * head * 0.5), (hx + uy * head * 0.5, hy - ux * head * 0.5)];
            chart.draw_series(std::iter::once(Polygon::new(tri, color.filled()))).map_err(plot_err)?;
            // the count beside its own edge (on the side away from the opposite edge), centred
            // on its point, so a thick dark edge does not run through it
            let mid = ((start.0 + end.0) / 2.0 + 3.5 * ox, (start.1 + end.1) / 2.0 + 3.5 * oy);
            let style = TextStyle::from(("sans-serif", 11).into_font()).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ));
            chart.draw_series(std::iter::once(Text::new(format!("{w:.0}"), mid, style))).map_err(plot_err)?;
        }
        for (i, name) in nodes.iter().enumerate() {
            let (x, y) = pos(i);
            let r = radius(i);
            let circle: Vec<(f64, f64)> = (0..40)
                .map(|k| {
                    let a = std::f64::consts::TAU * k as f64 / 40.0;
                    (x + r * a.cos(), y + r * a.sin())
                })
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(circle, PALETTE[i % PALETTE.len()].filled())))
                .map_err(plot_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    name.clone(),
                    (x - 0.06, y - r - 0.05),
                    ("sans-serif", 14).into_font(),
                )))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// Small histograms, one panel per column, in a grid of `per_row` panels (`bins` equal-width bins
/// between each column's min and max). A skewed count or amount — no negative value, a maximum of
/// at least 10 and more than half of the values in the first bin, one spike — is binned on
/// `ln(1 + x)` instead, its ticks labelled in the column's own units and its caption marked
/// "(log scale)".
///
/// ```
/// let svg = propensity::plot::histograms("Distributions", &[("a".into(), vec![1.0, 2.0, 2.0, 3.0])], 3, 10).unwrap();
/// assert!(svg.as_str().contains("Distributions"));
/// // the bars of a panel are one path of rectangles (`M x y h w v h h -w z` each): the three
/// // bins that hold values (empty bins draw nothing), after the white background
/// let bars = svg.as_str().lines().find(|l| l.starts_with("<path") && l.contains("opacity")).unwrap();
/// assert_eq!(bars.matches("z").count(), 3);
/// // counts with a long tail: most customers buy once, a few hundreds of times
/// let counts: Vec<f64> = (0..1000).map(|i| if i % 100 == 0 { 300.0 } else { (i % 3) as f64 }).collect();
/// let svg = propensity::plot::histograms("Counts", &[("orders".into(), counts)], 1, 20).unwrap();
/// assert!(svg.as_str().contains("orders (log scale)"));
/// ```
pub fn histograms(title: &str, columns: &[(String, Vec<f64>)], per_row: usize, bins: usize) -> Result<Svg> {
    if columns.is_empty() || per_row == 0 || bins == 0 {
        return Err(Error::Plot(format!("{title}: nothing to draw")));
    }
    let grid_rows = columns.len().div_ceil(per_row);
    let (pw, ph) = (260u32, 170u32);
    render((pw * per_row as u32, 40 + ph * grid_rows as u32), |root| {
        let (head, body) = root.split_vertically(40);
        head.titled(title, ("sans-serif", 18)).map_err(plot_err)?;
        let panels = body.split_evenly((grid_rows, per_row));
        for ((name, values), area) in columns.iter().zip(panels.iter()) {
            let (lo, hi, width, counts) = binned(values.iter().copied(), bins);
            let finite = values.iter().filter(|v| v.is_finite()).count() as f64;
            let log = lo >= 0.0 && hi >= 10.0 && counts[0] > 0.5 * finite;
            let (lo, hi, width, counts) =
                if log { binned(values.iter().map(|v| v.ln_1p()), bins) } else { (lo, hi, width, counts) };
            let caption = if log { format!("{name} (log scale)") } else { name.clone() };
            // on a log axis the ticks fall between round numbers: two significant digits
            let in_units = |v: &f64| if log { two_digits(v.exp_m1()) } else { tick(v) };
            let top = counts.iter().copied().fold(1.0, f64::max);
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 13))
                .margin(6)
                .x_label_area_size(22)
                .y_label_area_size(40)
                .build_cartesian_2d(lo..hi, 0.0..top * 1.05)
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(4)
                .y_labels(3)
                .x_label_formatter(&in_units)
                .y_label_formatter(&tick)
                .label_style(("sans-serif", 10))
                .draw()
                .map_err(plot_err)?;
            chart
                .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                    let x = lo + i as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width, c)], RGBColor(33, 102, 172).mix(0.8).filled())
                }))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// `v` to two significant digits, as a tick label: `6.4`, `19`, `54`, `400`, `1100`.
fn two_digits(v: f64) -> String {
    if v.abs() < 10.0 {
        tick(&((v * 10.0).round() / 10.0))
    } else {
        let scale = 10f64.powi(v.abs().log10().floor() as i32 - 1);
        tick(&((v / scale).round() * scale))
    }
}

/// The range of the finite `values` (a unit range around a constant), the bin width and the
/// count in each of `bins` equal-width bins.
fn binned(values: impl Iterator<Item = f64> + Clone, bins: usize) -> (f64, f64, f64, Vec<f64>) {
    let lo = values.clone().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
    let hi = values.clone().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (lo.min(0.0), lo.max(0.0) + 1.0) };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0.0; bins];
    for v in values.filter(|v| v.is_finite()) {
        counts[(((v - lo) / width) as usize).min(bins - 1)] += 1.0;
    }
    (lo, hi, width, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, points: &[(f64, f64)]) -> (String, Vec<(f64, f64)>) {
        (name.to_string(), points.to_vec())
    }

    #[test]
    fn a_far_low_score_is_drawn_on_the_edge_with_its_value() {
        // 3.4's search: eighteen candidates within 0.768–0.772 and one at 0.752
        let mut dropped: Polylines = (0..18).map(|i| vec![(22.0, 0.768 + 0.004 * i as f64 / 17.0)]).collect();
        let groups = |d: &Polylines| vec![("dropped".to_string(), d.clone())];
        let svg = trajectories("Search", "epochs", "AUC", &groups(&dropped)).unwrap();
        assert!(!svg.as_str().contains('▼'), "nothing to clip");
        dropped.push(vec![(22.0, 0.752)]);
        let svg = trajectories("Search", "epochs", "AUC", &groups(&dropped)).unwrap();
        assert!(svg.as_str().contains("▼ 0.752"));
        assert_eq!(svg.as_str().matches("<circle").count(), 18 + 1, "the clipped point has no dot; one legend dot");
        assert!(low_fence([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0].into_iter()).is_infinite(), "no spread: no fence");
    }

    #[test]
    fn legends_go_where_no_data_is() {
        let (x, y, plot) = (0.0..1.0, 0.0..1.0, (400.0, 300.0));
        // a rising line crosses the upper right and the lower left: the upper left is free
        let rising = along(&[series("a", &[(0.0, 0.0), (1.0, 1.0)])]);
        assert_eq!(place_legend(&rising, &x, &y, plot, &["a"]), Legend::Corner(SeriesLabelPosition::UpperLeft));
        // a falling line (a loss curve) leaves the upper right free
        let falling = along(&[series("loss", &[(0.0, 1.0), (1.0, 0.0)])]);
        assert_eq!(place_legend(&falling, &x, &y, plot, &["loss"]), Legend::Corner(SeriesLabelPosition::UpperRight));
        // points in every corner: the legend goes in a column beside the plot (box 60 + 6.8·9 =
        // 121.2 px wide, less its margins)
        let corners = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)];
        assert_eq!(place_legend(&corners, &x, &y, plot, &["segment 1", "segment 2"]), Legend::Beside(107));
        let g = vec![series("segment 1", &corners), series("segment 2", &[(0.5, 0.5)])];
        let svg = scatter("Map", "x", "y", &g).unwrap();
        // the column's labels are drawn as text beside the plot, not in plotters' legend box
        assert!(svg.as_str().contains("segment 2") && svg.as_str().matches("<circle").count() == 5 + 2);
    }
}
