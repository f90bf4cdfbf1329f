//! A campaign's timeline as an inline SVG drawn here (no script, no
//! library): messages per time bucket as bars, each wave shaded as one
//! `<rect class="wave">` and labelled with its relays, time labels on the
//! axis. Styling comes from the report's `<style>` by class, and from SVG
//! presentation attributes: the report's Content-Security-Policy forbids
//! `style` attributes.
//!
//! The bucket size is chosen from the campaign's span so the chart has
//! about [`MIN_BUCKETS`] to [`MAX_BUCKETS`] bars; the axis is in UTC.

use wavetrace_core::campaign::record_features::unix_time;
use wavetrace_core::campaign::summary::WaveSummary;
use wavetrace_core::parse::rfc3339_utc;

use crate::html::{clip, escape};

/// Fewest buckets drawn: shorter campaigns are padded on both sides, so a
/// single message is a thin bar in a wide chart, not one wide block.
pub const MIN_BUCKETS: i64 = 20;

/// Most buckets drawn (unless a span needs more than the largest size).
pub const MAX_BUCKETS: i64 = 60;

/// Candidate bucket sizes in seconds, smallest first: minutes, hours, days.
/// Neighbours differ by at most three times, so the first size that gives
/// at most [`MAX_BUCKETS`] buckets gives more than a third of that.
const BUCKET_SIZES: [i64; 20] = [
    60,
    2 * 60,
    5 * 60,
    10 * 60,
    15 * 60,
    30 * 60,
    3_600,
    2 * 3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    2 * 86_400,
    3 * 86_400,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
    60 * 86_400,
    90 * 86_400,
    180 * 86_400,
];

/// Chart width in SVG units (the SVG scales to the page width).
const WIDTH: f64 = 960.0;
/// Left margin, for the count labels.
const LEFT: f64 = 48.0;
/// Right margin.
const RIGHT: f64 = 16.0;
/// Height of the bar area.
const PLOT_HEIGHT: f64 = 170.0;
/// Height of one row of wave labels above the plot.
const LABEL_ROW: f64 = 15.0;
/// Rows the wave labels are staggered over, so neighbours do not collide.
const LABEL_ROWS: usize = 3;
/// Characters of one wave label.
const LABEL_CHARS: usize = 42;
/// Relays named in one wave label.
const LABEL_RELAYS: usize = 2;
/// Time labels on the axis, at most (a label with the time of day is
/// about 110 units wide; the plot is 896).
const TICKS: i64 = 6;
/// Half the width of the widest time label.
const HALF_LABEL: f64 = 56.0;

/// The bucket size (seconds) for arrivals from `first` to `last`: the
/// smallest candidate that needs at most [`MAX_BUCKETS`] buckets (sizes
/// beyond half a year double until one does).
pub fn bucket_seconds(first: i64, last: i64) -> i64 {
    let fits = |size: i64| buckets_spanned(first, last, size) <= MAX_BUCKETS;
    if let Some(size) = BUCKET_SIZES.iter().copied().find(|s| fits(*s)) {
        return size;
    }
    let mut size = BUCKET_SIZES[BUCKET_SIZES.len() - 1];
    while !fits(size) {
        size = size.saturating_mul(2);
    }
    size
}

/// Buckets of `size` seconds (aligned to the Unix epoch) that the times
/// from `first` to `last` fall in.
fn buckets_spanned(first: i64, last: i64, size: i64) -> i64 {
    last.div_euclid(size) - first.div_euclid(size) + 1
}

/// The chart's time axis: aligned buckets, padded to [`MIN_BUCKETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Axis {
    /// Start of the first bucket (unix seconds).
    start: i64,
    /// Bucket size in seconds.
    size: i64,
    /// Number of buckets.
    count: i64,
}

impl Axis {
    fn new(first: i64, last: i64) -> Axis {
        let size = bucket_seconds(first, last);
        let spanned = buckets_spanned(first, last, size);
        let pad = (MIN_BUCKETS - spanned).max(0);
        let before = pad / 2;
        Axis {
            start: (first.div_euclid(size) - before) * size,
            size,
            count: spanned + pad,
        }
    }

    /// Index of the bucket a time falls in.
    fn bucket(&self, t: i64) -> i64 {
        (t - self.start)
            .div_euclid(self.size)
            .clamp(0, self.count - 1)
    }

    /// Width of one bucket in SVG units.
    fn bucket_width(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.count as f64
    }

    /// x of a bucket's left edge.
    fn x(&self, bucket: i64) -> f64 {
        LEFT + bucket as f64 * self.bucket_width()
    }

    /// How a time on this axis is labelled: with the time of day for
    /// buckets under a day.
    fn label(&self, t: i64) -> String {
        time_label(t, self.size < 86_400)
    }

    /// The bucket size in words: `15 minutes`, `1 hour`, `2 days`.
    fn size_words(&self) -> String {
        let (n, unit) = if self.size % 86_400 == 0 {
            (self.size / 86_400, "day")
        } else if self.size % 3_600 == 0 {
            (self.size / 3_600, "hour")
        } else {
            (self.size / 60, "minute")
        };
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    }
}

/// The timeline of a campaign whose members arrived at `times` (unix
/// seconds, any order) in `waves`: an `<svg>` element, or a note when no
/// member has an arrival time.
pub fn svg(times: &[i64], waves: &[WaveSummary]) -> String {
    let spans: Vec<Option<(i64, i64)>> = waves
        .iter()
        .map(|w| Some((unix_time(&w.start)?, unix_time(&w.end)?)))
        .collect();
    let bounds = times
        .iter()
        .copied()
        .chain(spans.iter().flatten().flat_map(|(s, e)| [*s, *e]));
    let (Some(first), Some(last)) = (bounds.clone().min(), bounds.max()) else {
        return "<p class=\"note\">No arrival times: no member says when it arrived, so there is no timeline.</p>\n"
            .to_string();
    };
    let axis = Axis::new(first, last);
    let mut counts = vec![0usize; usize::try_from(axis.count).unwrap_or(0)];
    for t in times {
        if let Some(c) = usize::try_from(axis.bucket(*t))
            .ok()
            .and_then(|b| counts.get_mut(b))
        {
            *c += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let rows = LABEL_ROWS.min(waves.len().max(1));
    let top = 6.0 + rows as f64 * LABEL_ROW;
    let bottom = top + PLOT_HEIGHT;
    let height = bottom + 44.0;

    let mut out = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{}\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\n",
        escape(&format!(
            "Messages per {}, {} wave(s) shaded",
            axis.size_words(),
            waves.len()
        ))
    );
    out.push_str(&grid(bottom, max));
    for (i, (wave, span)) in waves.iter().zip(&spans).enumerate() {
        out.push_str(&wave_shading(i, wave, *span, &axis, top, bottom));
    }
    out.push_str(&bars(&counts, &axis, bottom, max));
    out.push_str(&time_axis(&axis, bottom));
    out.push_str("</svg>\n");
    out
}

/// Horizontal grid lines and count labels at 0, half and the maximum.
fn grid(bottom: f64, max: usize) -> String {
    let mut out = String::new();
    let mut levels = vec![0, max];
    if max >= 4 {
        levels.insert(1, max / 2);
    }
    for level in levels {
        let y = bottom - PLOT_HEIGHT * level as f64 / max as f64;
        let class = if level == 0 { "baseline" } else { "gridline" };
        out.push_str(&format!(
            "<line class=\"{class}\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\"/>\n<text class=\"count\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{level}</text>\n",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
        ));
    }
    out
}

/// One wave: a shaded `<rect class="wave">` over its buckets with a
/// tooltip, and a label above the plot naming it and its relays.
fn wave_shading(
    index: usize,
    wave: &WaveSummary,
    span: Option<(i64, i64)>,
    axis: &Axis,
    top: f64,
    bottom: f64,
) -> String {
    let (from, to) = match span {
        Some((s, e)) => (axis.bucket(s), axis.bucket(e)),
        // Unreadable times (never written by wavetrace): a sliver at the
        // start, so the wave is still drawn and counted.
        None => (0, 0),
    };
    let x = axis.x(from);
    let width = (axis.x(to + 1) - x).max(2.0);
    let number = index + 1;
    let relays = relay_words(&wave.relays);
    let tooltip = format!(
        "Wave {number}: {} to {}, {} message(s); relays: {}",
        wave.start,
        wave.end,
        wave.size,
        if wave.relays.is_empty() {
            "none recorded".to_string()
        } else {
            let mut named: Vec<String> = wave.relays.iter().take(10).map(|r| clip(r, 80)).collect();
            if wave.relays.len() > 10 {
                named.push(format!("and {} more", wave.relays.len() - 10));
            }
            named.join(", ")
        }
    );
    let row = index % LABEL_ROWS;
    let label_y = 6.0 + (row as f64 + 1.0) * LABEL_ROW - 4.0;
    let label = clip(&format!("W{number}: {relays}"), LABEL_CHARS);
    // Labels of waves near the right edge end at the wave instead of
    // starting there, so they stay inside the chart.
    let (label_x, anchor) = if x > WIDTH * 0.6 {
        ((x + width).min(WIDTH - RIGHT), "end")
    } else {
        (x, "start")
    };
    format!(
        "<rect class=\"wave\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{:.1}\"><title>{}</title></rect>\n<line class=\"wave-mark\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{top:.1}\"/>\n<text class=\"wave-label\" x=\"{label_x:.1}\" y=\"{label_y:.1}\" text-anchor=\"{anchor}\">{}</text>\n",
        bottom - top,
        escape(&clip(&tooltip, 600)),
        label_y + 3.0,
        escape(&label),
    )
}

/// A wave's relays for its label: the first few, then how many more.
fn relay_words(relays: &[String]) -> String {
    if relays.is_empty() {
        return "no relay recorded".to_string();
    }
    let mut words: Vec<String> = relays
        .iter()
        .take(LABEL_RELAYS)
        .map(|r| clip(r, 28))
        .collect();
    if relays.len() > LABEL_RELAYS {
        words.push(format!("+{}", relays.len() - LABEL_RELAYS));
    }
    words.join(", ")
}

/// One bar per non-empty bucket, with its count as a tooltip.
fn bars(counts: &[usize], axis: &Axis, bottom: f64, max: usize) -> String {
    let width = axis.bucket_width();
    let gap = if width > 6.0 { 1.5 } else { 0.5 };
    let mut out = String::new();
    for (bucket, &count) in (0i64..).zip(counts) {
        if count == 0 {
            continue;
        }
        let h = (PLOT_HEIGHT * count as f64 / max as f64).max(1.0);
        out.push_str(&format!(
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{}: {count} message(s)</title></rect>\n",
            axis.x(bucket) + gap,
            bottom - h,
            (width - 2.0 * gap).max(0.5),
            escape(&axis.label(axis.start + bucket * axis.size)),
        ));
    }
    out
}

/// A time as labelled: `2020-09-28 17:00`, or the date alone.
fn time_label(t: i64, with_time: bool) -> String {
    let stamp = rfc3339_utc(t);
    let date = stamp.get(..10).unwrap_or(&stamp);
    match stamp.get(11..16) {
        Some(time) if with_time => format!("{date} {time}"),
        _ => date.to_string(),
    }
}

/// Steps between time labels, in seconds: round minutes, hours, days.
const TICK_STEPS: [i64; 19] = [
    60,
    5 * 60,
    10 * 60,
    15 * 60,
    30 * 60,
    3_600,
    2 * 3_600,
    3 * 3_600,
    6 * 3_600,
    12 * 3_600,
    86_400,
    2 * 86_400,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
    60 * 86_400,
    90 * 86_400,
    180 * 86_400,
    365 * 86_400,
];

/// The step between time labels: the smallest round step that gives at
/// most [`TICKS`] labels on the axis.
fn tick_step(axis: &Axis) -> i64 {
    let span = axis.size * axis.count;
    let fits = |step: i64| span / step <= TICKS;
    if let Some(step) = TICK_STEPS.iter().copied().find(|s| fits(*s)) {
        return step;
    }
    let mut step = TICK_STEPS[TICK_STEPS.len() - 1];
    while !fits(step) {
        step = step.saturating_mul(2);
    }
    step
}

/// Tick marks and time labels under the plot at round times, and the
/// axis title.
fn time_axis(axis: &Axis, bottom: f64) -> String {
    let step = tick_step(axis);
    let end = axis.start + axis.size * axis.count;
    let plot = WIDTH - LEFT - RIGHT;
    let mut out = String::new();
    let mut t = axis.start.div_euclid(step) * step;
    if t < axis.start {
        t += step;
    }
    while t <= end {
        let x = LEFT + (t - axis.start) as f64 / (end - axis.start) as f64 * plot;
        // Labels are centred on their tick, except where half a label
        // would stick out of the chart.
        let anchor = if x < HALF_LABEL {
            "start"
        } else if x > WIDTH - HALF_LABEL {
            "end"
        } else {
            "middle"
        };
        let label = time_label(t, step % 86_400 != 0);
        out.push_str(&format!(
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\n<text class=\"time\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>\n",
            bottom + 4.0,
            bottom + 16.0,
            escape(&label),
        ));
        t += step;
    }
    out.push_str(&format!(
        "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">Messages per {} (UTC)</text>\n",
        LEFT + plot / 2.0,
        bottom + 36.0,
        axis.size_words(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(start: i64, end: i64, size: usize, relays: &[&str]) -> WaveSummary {
        WaveSummary {
            start: rfc3339_utc(start),
            end: rfc3339_utc(end),
            size,
            origins: Vec::new(),
            relays: relays.iter().map(|r| r.to_string()).collect(),
            senders: Vec::new(),
        }
    }

    /// 2020-09-28T17:00:00Z.
    const T0: i64 = 1_601_312_400;

    #[test]
    fn bucket_size_gives_twenty_to_sixty_buckets() {
        for span in [
            20 * 60,
            3_600,
            5 * 3_600,
            26 * 3_600,
            3 * 86_400,
            20 * 86_400,
            200 * 86_400,
            3 * 365 * 86_400,
        ] {
            let size = bucket_seconds(T0, T0 + span);
            let n = buckets_spanned(T0, T0 + span, size);
            assert!(
                (20..=MAX_BUCKETS).contains(&n),
                "span {span}: {n} buckets of {size}"
            );
        }
        assert_eq!(bucket_seconds(T0, T0 + 3_600), 2 * 60);
        assert_eq!(bucket_seconds(T0, T0 + 26 * 3_600), 30 * 60);
        assert_eq!(bucket_seconds(T0, T0 + 20 * 86_400), 12 * 3_600);
        // A century of forged dates still fits in sixty buckets.
        let size = bucket_seconds(0, 100 * 365 * 86_400);
        assert!(buckets_spanned(0, 100 * 365 * 86_400, size) <= MAX_BUCKETS);
    }

    #[test]
    fn short_spans_are_padded_to_the_minimum() {
        let axis = Axis::new(T0, T0);
        assert_eq!(axis.count, MIN_BUCKETS);
        assert_eq!(axis.size, 60);
        assert!(axis.start <= T0 && T0 < axis.start + axis.count * axis.size);
        // Nine empty buckets before, ten after.
        assert_eq!(axis.bucket(T0), 9);
    }

    #[test]
    fn one_wave_rect_per_wave() {
        let times: Vec<i64> = (0..30)
            .map(|i| T0 + i * 60)
            .chain((0..10).map(|i| T0 + 86_400 + i * 120))
            .chain([T0 + 2 * 86_400 + 7])
            .collect();
        let waves = [
            wave(T0, T0 + 29 * 60, 30, &["smtp1.relay.example"]),
            wave(
                T0 + 86_400,
                T0 + 86_400 + 18 * 60,
                10,
                &["a.example", "b.example", "c.example"],
            ),
            wave(T0 + 2 * 86_400 + 7, T0 + 2 * 86_400 + 7, 1, &[]),
        ];
        let svg = svg(&times, &waves);
        assert_eq!(svg.matches("<rect class=\"wave\"").count(), 3);
        assert!(svg.contains("W2: a.example, b.example, +1"));
        assert!(svg.contains("W3: no relay recorded"));
        let bars: usize = svg.matches("<rect class=\"bar\"").count();
        assert!(bars >= 3, "{svg}");
        assert!(!svg.contains("style="));
    }

    #[test]
    fn no_times_is_a_note_not_an_empty_chart() {
        let out = svg(&[], &[]);
        assert!(!out.contains("<svg"));
        assert!(out.contains("No arrival times"));
    }

    #[test]
    fn single_message_is_one_bar_in_one_wave() {
        let out = svg(&[T0 + 90], &[wave(T0 + 90, T0 + 90, 1, &["mx.example"])]);
        assert_eq!(out.matches("<rect class=\"wave\"").count(), 1);
        assert_eq!(out.matches("<rect class=\"bar\"").count(), 1);
        assert!(out.contains("2020-09-28 17:01"));
        assert!(out.contains("Messages per 1 minute (UTC)"));
    }

    #[test]
    fn relay_names_are_escaped_and_cut() {
        let hostile = "\"><script>alert(1)</script>.example";
        let long = "a".repeat(500);
        let out = svg(&[T0], &[wave(T0, T0, 1, &[hostile, &long])]);
        assert!(!out.contains("<script"));
        assert!(out.contains("&lt;script&gt;"));
        assert!(!out.contains(&"a".repeat(400)));
    }

    #[test]
    fn snapshot_of_a_small_campaign() {
        let times = [T0, T0 + 300, T0 + 420, T0 + 3 * 3_600, T0 + 3 * 3_600 + 60];
        let waves = [
            wave(T0, T0 + 420, 3, &["smtp1.bulkrelay.example"]),
            wave(
                T0 + 3 * 3_600,
                T0 + 3 * 3_600 + 60,
                2,
                &["mail.victim.example"],
            ),
        ];
        insta::assert_snapshot!(svg(&times, &waves));
    }
}
