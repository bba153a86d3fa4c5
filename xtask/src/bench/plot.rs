//! What both bench plots draw the same way: one line with dots per series,
//! and the legend box.

use plotters::coord::Shift;
use plotters::prelude::*;

/// A chart whose axes both carry `f64` values (linear or log scale).
pub type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// Draws `points` as a line with dots of `radius`, labelled in the legend.
pub fn series<X, Y>(
    chart: &mut Chart<'_, '_, X, Y>,
    points: Vec<(f64, f64)>,
    label: &str,
    color: RGBAColor,
    radius: u32,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let err = |e: &dyn std::fmt::Display| format!("plotting {label}: {e}");
    chart
        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    chart
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, radius, color.filled())),
        )
        .map_err(|e| err(&e))?;
    Ok(())
}

/// Draws the legend at `position` and writes the picture out.
pub fn finish<'a, 'b: 'a, X, Y>(
    mut chart: Chart<'a, 'b, X, Y>,
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let err = |e: &dyn std::fmt::Display| format!("plotting: {e}");
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}
