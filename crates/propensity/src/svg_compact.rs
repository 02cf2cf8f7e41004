//! Makes plotters' SVG text compact without changing the picture, so that notebook outputs stay
//! small: a histogram's bars become one path, a scatter's points share one style, a curve keeps
//! only the points where it turns, font sizes lose their sixteen decimals and SVG's defaults are
//! not spelt out.
//!
//! plotters writes one element a line (`<rect .../>`, `<circle .../>`, `<polyline .../>`, and
//! `<text ...>` over three lines); a line this module does not recognise passes through as it is.

/// A self-closing element on one line: its tag and its attributes in order.
struct Element<'a> {
    tag: &'a str,
    attributes: Vec<(&'a str, &'a str)>,
}

impl<'a> Element<'a> {
    /// Parses `<tag name="value" .../>`; `None` for anything else.
    fn parse(line: &'a str) -> Option<Self> {
        let body = line.trim().strip_prefix('<')?.strip_suffix("/>")?;
        let (tag, mut rest) = body.split_once(' ')?;
        let mut attributes = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                return Some(Element { tag, attributes });
            }
            let (name, after) = rest.split_once("=\"")?;
            let (value, after) = after.split_once('"')?;
            if name.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
                return None;
            }
            attributes.push((name, value));
            rest = after;
        }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.attributes.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// The attributes other than `geometry`, written as ` name="value"`: what two elements
    /// must share to be drawn as one.
    fn style(&self, geometry: &[&str]) -> String {
        self.attributes.iter().filter(|(n, _)| !geometry.contains(n)).map(|(n, v)| format!(" {n}=\"{v}\"")).collect()
    }
}

const RECT: [&str; 4] = ["x", "y", "width", "height"];
const CIRCLE: [&str; 3] = ["cx", "cy", "r"];

/// Elements waiting to be written as one.
enum Run {
    None,
    /// Rectangles of one style: one path of closed subpaths. `boxes` are the rectangles so far,
    /// none overlapping another (an overlap would be painted once in a path but twice as rects).
    Rects {
        style: String,
        d: String,
        boxes: Vec<[f64; 4]>,
    },
    /// Opaque unfilled polylines of one stroke: one path of open subpaths.
    Lines {
        style: String,
        d: String,
    },
    /// Circles of one fill and no stroke: one group carrying the style.
    Circles {
        style: String,
        body: String,
    },
}

impl Run {
    fn flush(&mut self, out: &mut String) {
        match std::mem::replace(self, Run::None) {
            Run::None => {}
            Run::Rects { style, d, .. } | Run::Lines { style, d } => {
                out.push_str(&format!("<path d=\"{d}\"{style}/>\n"))
            }
            Run::Circles { style, body } => out.push_str(&format!("<g{style}>\n{body}</g>\n")),
        }
    }
}

/// The compact form of plotters' SVG `text`.
///
/// Drawn the same: consecutive rectangles of one style that do not overlap become one `<path>`;
/// consecutive circles of one fill and no stroke share a `<g>` (their `opacity` becomes the
/// group's inherited `fill-opacity`, which for a circle without stroke paints the same);
/// a polyline drops repeated points and points inside a straight stretch, and consecutive opaque
/// unfilled polylines of one stroke become one `<path>`; `font-size` is
/// rounded to a tenth of a pixel; SVG's defaults go (`stroke="none"`, a text's black fill, a bar
/// of no height or width), and the texts' `sans-serif` is said once, on the `<svg>` element.
pub(crate) fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 2);
    let mut run = Run::None;
    let mut inherited_font = false;
    for line in text.lines() {
        match Element::parse(line) {
            Some(e) if e.tag == "rect" => {
                let Some(b) = rect_box(&e) else {
                    run.flush(&mut out);
                    out.push_str(line);
                    out.push('\n');
                    continue;
                };
                let style = e.style(&RECT).replace(" stroke=\"none\"", "");
                if (b[2] == 0.0 || b[3] == 0.0) && !style.contains(" stroke=") {
                    continue; // a bar of no height: nothing to paint
                }
                let joins = match &run {
                    Run::Rects { style: s, boxes, .. } => *s == style && !boxes.iter().any(|o| overlap(o, &b)),
                    _ => false,
                };
                if !joins {
                    run.flush(&mut out);
                    run = Run::Rects { style, d: String::new(), boxes: Vec::new() };
                }
                if let Run::Rects { d, boxes, .. } = &mut run {
                    let (x, y, w, h) = (e.get("x"), e.get("y"), e.get("width"), e.get("height"));
                    let (x, y, w, h) = (x.unwrap_or("0"), y.unwrap_or("0"), w.unwrap_or("0"), h.unwrap_or("0"));
                    d.push_str(&format!("M{x} {y}h{w}v{h}h-{w}z"));
                    boxes.push(b);
                }
            }
            Some(e)
                if e.tag == "circle"
                    && e.get("stroke").is_none_or(|s| s == "none")
                    && CIRCLE.iter().all(|a| e.get(a).is_some()) =>
            {
                let style = e.style(&CIRCLE).replace(" stroke=\"none\"", "").replace(" opacity=\"", " fill-opacity=\"");
                if !matches!(&run, Run::Circles { style: s, .. } if *s == style) {
                    run.flush(&mut out);
                    run = Run::Circles { style, body: String::new() };
                }
                if let Run::Circles { body, .. } = &mut run {
                    let geometry: String =
                        CIRCLE.iter().map(|a| format!(" {a}=\"{}\"", e.get(a).unwrap_or("0"))).collect();
                    body.push_str(&format!("<circle{geometry}/>\n"));
                }
            }
            Some(e)
                if e.tag == "polyline"
                    && e.get("fill") == Some("none")
                    && !e.attributes.iter().any(|(n, _)| n.contains("opacity")) =>
            {
                let Some(points) = e.get("points").and_then(simplify_points) else {
                    run.flush(&mut out);
                    out.push_str(line);
                    out.push('\n');
                    continue;
                };
                let style = e.style(&["points"]);
                if !matches!(&run, Run::Lines { style: s, .. } if *s == style) {
                    run.flush(&mut out);
                    run = Run::Lines { style, d: String::new() };
                }
                if let Run::Lines { d, .. } = &mut run {
                    for (i, p) in points.split(' ').enumerate() {
                        d.push_str(if i == 0 {
                            "M"
                        } else if i == 1 {
                            "L"
                        } else {
                            " "
                        });
                        d.push_str(&p.replacen(',', " ", 1));
                    }
                }
            }
            Some(e) if e.tag == "polyline" => {
                run.flush(&mut out);
                match e.get("points").and_then(simplify_points) {
                    Some(points) => {
                        let attributes: String = e
                            .attributes
                            .iter()
                            .map(
                                |&(n, v)| {
                                    if n == "points" {
                                        format!(" {n}=\"{points}\"")
                                    } else {
                                        format!(" {n}=\"{v}\"")
                                    }
                                },
                            )
                            .collect();
                        out.push_str(&format!("<polyline{attributes}/>\n"));
                    }
                    None => {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
            _ if line.starts_with("<svg ") && line.ends_with('>') && !line.contains("font-family") => {
                // the texts' one font, said once: they inherit it
                run.flush(&mut out);
                out.push_str(&line[..line.len() - 1]);
                out.push_str(" font-family=\"sans-serif\">\n");
                inherited_font = true;
            }
            _ => {
                run.flush(&mut out);
                let mut line = round_font_size(line);
                if line.starts_with("<text ") {
                    // black is a text's default fill
                    let mut dropped = line.replace(" fill=\"#000000\"", "");
                    if inherited_font {
                        dropped = dropped.replace(" font-family=\"sans-serif\"", "");
                    }
                    line = dropped.into();
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    run.flush(&mut out);
    out
}

/// A rectangle's `[x, y, width, height]`, when all four are numbers.
fn rect_box(e: &Element) -> Option<[f64; 4]> {
    let mut b = [0.0; 4];
    for (v, name) in b.iter_mut().zip(RECT) {
        *v = e.get(name)?.parse().ok()?;
    }
    Some(b)
}

/// Whether two rectangles share area (touching edges do not count).
fn overlap(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// A polyline's points without repeats and without the points inside a straight stretch
/// (`None` when a point is not a pair of integers: then the line is left alone).
fn simplify_points(points: &str) -> Option<String> {
    let mut kept: Vec<(i64, i64)> = Vec::new();
    for p in points.split_whitespace() {
        let (x, y) = p.split_once(',')?;
        let p = (x.parse().ok()?, y.parse().ok()?);
        if kept.last() == Some(&p) {
            continue;
        }
        if let [.., a, b] = kept[..] {
            let (u, v) = ((b.0 - a.0, b.1 - a.1), (p.0 - b.0, p.1 - b.1));
            // b lies on the segment a → p, going on in the same direction: drawn the same without it
            if u.0 * v.1 == u.1 * v.0 && u.0 * v.0 + u.1 * v.1 > 0 {
                *kept.last_mut()? = p;
                continue;
            }
        }
        kept.push(p);
    }
    Some(kept.iter().map(|(x, y)| format!("{x},{y}")).collect::<Vec<_>>().join(" "))
}

/// `font-size="10.483870967741936"` → `font-size="10.5"`.
fn round_font_size(line: &str) -> std::borrow::Cow<'_, str> {
    const KEY: &str = "font-size=\"";
    if !line.starts_with("<text ") {
        return line.into();
    }
    let Some(start) = line.find(KEY).map(|i| i + KEY.len()) else { return line.into() };
    let Some(len) = line[start..].find('"') else { return line.into() };
    let Ok(size) = line[start..start + len].parse::<f64>() else { return line.into() };
    let rounded = format!("{:.1}", size);
    let rounded = rounded.strip_suffix(".0").unwrap_or(&rounded);
    format!("{}{}{}", &line[..start], rounded, &line[start + len..]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abutting_bars_of_one_style_become_one_path() {
        let svg = "<svg>\n\
            <rect x=\"10\" y=\"20\" width=\"7\" height=\"30\" opacity=\"0.8\" fill=\"#2166AC\"/>\n\
            <rect x=\"17\" y=\"25\" width=\"7\" height=\"25\" opacity=\"0.8\" fill=\"#2166AC\"/>\n\
            <rect x=\"24\" y=\"25\" width=\"7\" height=\"25\" fill=\"#FF0000\" stroke=\"none\"/>\n\
            <rect x=\"31\" y=\"50\" width=\"7\" height=\"0\" fill=\"#FF0000\"/>\n\
            </svg>\n";
        assert_eq!(
            compact(svg),
            "<svg>\n\
             <path d=\"M10 20h7v30h-7zM17 25h7v25h-7z\" opacity=\"0.8\" fill=\"#2166AC\"/>\n\
             <path d=\"M24 25h7v25h-7z\" fill=\"#FF0000\"/>\n\
             </svg>\n"
        );
    }

    #[test]
    fn overlapping_rectangles_stay_apart() {
        // translucent boxes that overlap paint their overlap twice: one path would paint it once
        let svg = "<rect x=\"0\" y=\"0\" width=\"10\" height=\"10\" opacity=\"0.5\" fill=\"#000000\"/>\n\
                   <rect x=\"5\" y=\"5\" width=\"10\" height=\"10\" opacity=\"0.5\" fill=\"#000000\"/>\n";
        assert_eq!(compact(svg).matches("<path").count(), 2);
    }

    #[test]
    fn circles_of_one_fill_share_a_group_with_fill_opacity() {
        let svg = "<circle cx=\"1\" cy=\"2\" r=\"2\" opacity=\"0.6\" fill=\"#1F77B4\"/>\n\
                   <circle cx=\"3\" cy=\"4\" r=\"2\" opacity=\"0.6\" fill=\"#1F77B4\"/>\n\
                   <circle cx=\"5\" cy=\"6\" r=\"2\" stroke=\"#000000\" fill=\"#1F77B4\"/>\n";
        assert_eq!(
            compact(svg),
            "<g fill-opacity=\"0.6\" fill=\"#1F77B4\">\n\
             <circle cx=\"1\" cy=\"2\" r=\"2\"/>\n<circle cx=\"3\" cy=\"4\" r=\"2\"/>\n</g>\n\
             <circle cx=\"5\" cy=\"6\" r=\"2\" stroke=\"#000000\" fill=\"#1F77B4\"/>\n"
        );
    }

    #[test]
    fn a_polyline_keeps_its_corners_and_its_spikes() {
        let svg = "<polyline fill=\"none\" opacity=\"0.5\" stroke=\"#1F77B4\" points=\"72,407 72,405 72,405 72,404 73,404 74,404 74,410 74,400 \"/>\n";
        // 72,405 and 72,404's repeat go (straight on); 73,404 goes; the reversal at 74,410 stays
        assert_eq!(
            compact(svg),
            "<polyline fill=\"none\" opacity=\"0.5\" stroke=\"#1F77B4\" points=\"72,407 72,404 74,404 74,410 74,400\"/>\n"
        );
    }

    #[test]
    fn opaque_lines_of_one_stroke_become_one_path() {
        let svg = "<polyline fill=\"none\" stroke=\"#000000\" stroke-width=\"1\" points=\"40,181 45,181 \"/>\n\
                   <polyline fill=\"none\" stroke=\"#000000\" stroke-width=\"1\" points=\"40,143 45,143 50,140 \"/>\n\
                   <polyline fill=\"none\" stroke=\"#FF0000\" stroke-width=\"1\" points=\"1,2 3,4 \"/>\n";
        assert_eq!(
            compact(svg),
            "<path d=\"M40 181L45 181M40 143L45 143 50 140\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>\n\
             <path d=\"M1 2L3 4\" fill=\"none\" stroke=\"#FF0000\" stroke-width=\"1\"/>\n"
        );
    }

    #[test]
    fn text_keeps_its_words_and_loses_decimals_of_its_size() {
        let svg = "<svg width=\"9\" height=\"9\">\n\
            <text x=\"260\" y=\"17\" font-family=\"sans-serif\" font-size=\"12.903225806451614\" fill=\"#000000\">\nROC curves\n</text>\n\
            <text x=\"260\" y=\"17\" font-family=\"serif\" font-size=\"9\" fill=\"#FF0000\">\nred\n</text>\n</svg>\n";
        assert_eq!(
            compact(svg),
            "<svg width=\"9\" height=\"9\" font-family=\"sans-serif\">\n\
             <text x=\"260\" y=\"17\" font-size=\"12.9\">\nROC curves\n</text>\n\
             <text x=\"260\" y=\"17\" font-family=\"serif\" font-size=\"9\" fill=\"#FF0000\">\nred\n</text>\n</svg>\n"
        );
    }

    #[test]
    fn lines_it_does_not_know_pass_through() {
        let svg = "<g>\n<line x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\"/>\n<rect x=\"a\" y=\"0\" width=\"1\" height=\"1\"/>\n</g>\n";
        assert_eq!(compact(svg), svg);
    }
}
