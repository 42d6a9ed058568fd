//! The status page's charts, drawn by the collector as SVG with `plotters`: probes online / isolated / dark
//! stacked per bucket, and domestic vs international reachability. Event spans are shaded behind the series.

use chrono::DateTime;
use plotters::prelude::*;

use crate::classify::timeline::TimelinePoint;

/// Chart size in CSS pixels (the SVG scales down with the page).
const SIZE: (u32, u32) = (760, 210);

/// Colours shared with the page's legend (`status.css` uses the same values).
const ONLINE: RGBColor = RGBColor(46, 125, 50);
const ISOLATED: RGBColor = RGBColor(239, 108, 0);
const DARK: RGBColor = RGBColor(97, 97, 97);
const BATTERY: RGBColor = RGBColor(21, 101, 192);
const DOMESTIC: RGBColor = RGBColor(0, 121, 107);
const INTERNATIONAL: RGBColor = RGBColor(173, 20, 87);
const EVENT: RGBColor = RGBColor(255, 205, 210);

/// How high a stacked layer reaches in a bucket.
type LayerHeight = fn(&TimelinePoint) -> usize;
/// A line's value in a bucket (`None`: no checks, a gap).
type LineValue = fn(&TimelinePoint) -> Option<f64>;

/// A chart could not be drawn (an error of the SVG backend; the page shows the text summary instead).
#[derive(Debug, thiserror::Error)]
#[error("chart: {0}")]
pub struct ChartError(String);

fn chart_error<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError(format!("{e:?}"))
}

/// Hours and minutes (UTC) for the time axis.
fn clock_label(t: &i64) -> String {
    DateTime::from_timestamp(*t, 0)
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// The x range of a series: first bucket start to last bucket end.
fn x_range(points: &[TimelinePoint], step: i64) -> std::ops::Range<i64> {
    let first = points.first().map_or(0, |p| p.t);
    let last = points.last().map_or(first, |p| p.t) + step;
    first..last.max(first + 1)
}

/// Shades each `(start, end)` span (clipped to the chart) behind the series.
fn shade_spans<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordi64, impl Ranged<ValueType = f64>>>,
    spans: &[(i64, i64)],
    x: &std::ops::Range<i64>,
    top: f64,
) -> Result<(), ChartError> {
    chart
        .draw_series(spans.iter().filter(|(s, e)| *e > x.start && *s < x.end).map(|(s, e)| {
            Rectangle::new(
                [((*s).max(x.start), 0.0), ((*e).min(x.end), top)],
                EVENT.mix(0.6).filled(),
            )
        }))
        .map_err(chart_error)?;
    Ok(())
}

/// A white chart over `x` (times) and `0..top`, with clock labels below and `y_label` values beside it.
fn frame<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    x: &std::ops::Range<i64>,
    top: f64,
    y_labels: usize,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordi64, plotters::coord::types::RangedCoordf64>>,
    ChartError,
> {
    root.fill(&WHITE).map_err(chart_error)?;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(36)
        .build_cartesian_2d(x.clone(), 0.0..top)
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(y_labels)
        .x_label_formatter(&clock_label)
        .y_label_formatter(y_label)
        .light_line_style(WHITE)
        .draw()
        .map_err(chart_error)?;
    Ok(chart)
}

/// Probes per bucket: online, isolated and dark stacked; on battery as a line. `spans` are event intervals.
pub fn probe_states(points: &[TimelinePoint], step: i64, spans: &[(i64, i64)]) -> Result<String, ChartError> {
    let x = x_range(points, step);
    let top = points
        .iter()
        .map(|p| p.expected.max(p.reporting))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = frame(&root, &x, top, 5, &|v| format!("{v:.0}"))?;
        shade_spans(&mut chart, spans, &x, top)?;
        // Stacked from the top layer down, each drawn to its cumulative height.
        let layers: [(RGBColor, LayerHeight); 3] = [
            (DARK, |p| p.online + p.isolated + p.dark),
            (ISOLATED, |p| p.online + p.isolated),
            (ONLINE, |p| p.online),
        ];
        for (colour, height) in layers {
            chart
                .draw_series(AreaSeries::new(
                    points.iter().map(|p| (p.t, height(p) as f64)),
                    0.0,
                    colour.mix(0.85),
                ))
                .map_err(chart_error)?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.t, p.on_battery as f64)),
                BATTERY.stroke_width(2),
            ))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Consecutive points with a value, as separate runs (a gap where a bucket had no checks).
fn runs(points: &[TimelinePoint], value: LineValue) -> Vec<Vec<(i64, f64)>> {
    let (mut out, mut run) = (Vec::new(), Vec::new());
    for p in points {
        match value(p) {
            Some(v) => run.push((p.t, v * 100.0)),
            None if !run.is_empty() => out.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// Share of domestic and international anchor checks that succeeded, per bucket, in percent.
pub fn reachability(points: &[TimelinePoint], step: i64, spans: &[(i64, i64)]) -> Result<String, ChartError> {
    let x = x_range(points, step);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = frame(&root, &x, 105.0, 6, &|v| format!("{v:.0}%"))?;
        shade_spans(&mut chart, spans, &x, 105.0)?;
        let series: [(RGBColor, LineValue); 2] = [
            (DOMESTIC, |p| p.domestic_reachability),
            (INTERNATIONAL, |p| p.international_reachability),
        ];
        for (colour, value) in series {
            for run in runs(points, value) {
                chart
                    .draw_series(LineSeries::new(run, colour.stroke_width(2)))
                    .map_err(chart_error)?;
            }
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: i64, online: usize, dark: usize, international: Option<f64>) -> TimelinePoint {
        TimelinePoint {
            t,
            expected: online + dark,
            reporting: online,
            online,
            isolated: 0,
            dark,
            on_battery: 0,
            lan_down: 0,
            domestic_reachability: Some(1.0),
            international_reachability: international,
        }
    }

    #[test]
    fn charts_are_svg_documents_with_the_series_and_event_shading() {
        let points: Vec<_> = (0..20)
            .map(|i| {
                let cut = (8..12).contains(&i);
                point(
                    1_700_000_000 + i * 300,
                    if cut { 2 } else { 10 },
                    if cut { 8 } else { 0 },
                    (!cut).then_some(1.0),
                )
            })
            .collect();
        let spans = [(1_700_000_000 + 8 * 300, 1_700_000_000 + 12 * 300)];
        let states = probe_states(&points, 300, &spans).expect("draws");
        assert!(states.starts_with("<svg"), "{}", &states[..80.min(states.len())]);
        assert!(states.trim_end().ends_with("</svg>"));
        assert!(states.contains("<polygon") || states.contains("<path"), "areas drawn");
        assert!(
            states.contains("rgb(255,205,210)") || states.contains("#FFCDD2"),
            "event shaded"
        );
        let reach = reachability(&points, 300, &spans).expect("draws");
        assert!(reach.contains("<polyline"), "lines drawn");
        assert!(reach.contains("100%"), "percent axis");
    }

    #[test]
    fn a_series_with_gaps_is_drawn_as_separate_runs() {
        let points: Vec<_> = [Some(1.0), Some(0.5), None, None, Some(0.0)]
            .into_iter()
            .enumerate()
            .map(|(i, v)| point(i as i64 * 60, 1, 0, v))
            .collect();
        let r = runs(&points, |p| p.international_reachability);
        assert_eq!(r, vec![vec![(0, 100.0), (60, 50.0)], vec![(240, 0.0)]]);
    }
}
