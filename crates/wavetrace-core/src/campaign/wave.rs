//! Waves: bursts in send time within one campaign.
//!
//! Method (relative to the campaign's own rhythm): sort the arrival times and
//! take the gaps between consecutive messages. The campaign's rhythm is the
//! median gap. A gap starts a new wave when it is longer than
//! [`RHYTHM_FACTOR`] times the median gap and at least [`MIN_QUIET`] long,
//! or, whatever the rhythm, when it is at least [`LONG_QUIET`] long (a
//! template reused days later is a new wave even in a two-message campaign).
//!
//! Why the median: inside a burst, gaps are short and numerous; the few
//! quiet gaps between bursts do not move the median, so the threshold adapts
//! to a campaign sending every second as well as to one trickling every
//! twenty minutes. With exponential gaps inside a burst (median = 0.69 of the
//! mean), a gap twenty medians long happens with probability about 1e-6 per
//! gap, so false splits are rare; [`MIN_QUIET`] keeps minute-scale hiccups of a fast sender from
//! counting.

use serde::{Deserialize, Serialize};

/// A quiet gap must be this many times the median gap to split.
pub const RHYTHM_FACTOR: i64 = 20;

/// Shortest quiet gap that can split a campaign (seconds): one hour.
pub const MIN_QUIET: i64 = 3_600;

/// A gap this long always splits (seconds): two days.
pub const LONG_QUIET: i64 = 2 * 86_400;

/// One wave: a burst of a campaign's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveSpan {
    /// Arrival time of the wave's first message (unix seconds).
    pub start: i64,
    /// Arrival time of its last message.
    pub end: i64,
    /// Number of messages.
    pub size: usize,
}

impl WaveSpan {
    /// True when a time falls inside the wave.
    pub fn contains(&self, time: i64) -> bool {
        (self.start..=self.end).contains(&time)
    }
}

/// Splits a campaign's arrival times (any order) into waves, earliest first.
/// Every time belongs to exactly one wave; no times, no waves.
pub fn split_waves(times: &[i64]) -> Vec<WaveSpan> {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let Some(&first) = sorted.first() else {
        return Vec::new();
    };
    let gaps: Vec<i64> = sorted
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect();
    let mut ordered = gaps.clone();
    ordered.sort_unstable();
    let median = ordered
        .get(ordered.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0);
    let threshold = median.saturating_mul(RHYTHM_FACTOR).max(MIN_QUIET);
    let mut waves = Vec::new();
    let mut current = WaveSpan {
        start: first,
        end: first,
        size: 1,
    };
    for (gap, &time) in gaps.iter().zip(sorted.iter().skip(1)) {
        if *gap > threshold || *gap >= LONG_QUIET {
            waves.push(current);
            current = WaveSpan {
                start: time,
                end: time,
                size: 1,
            };
        } else {
            current.end = time;
            current.size += 1;
        }
    }
    waves.push(current);
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(start: i64, count: i64, step: i64) -> Vec<i64> {
        (0..count)
            .map(|i| start + i * step + (i * 37 % 11))
            .collect()
    }

    #[test]
    fn three_bursts_split_in_three() {
        let mut times = burst(0, 50, 40);
        times.extend(burst(8 * 3600, 30, 90));
        times.extend(burst(30 * 3600, 20, 20));
        times.reverse();
        let waves = split_waves(&times);
        assert_eq!(waves.len(), 3, "{waves:?}");
        assert_eq!(
            waves.iter().map(|w| w.size).collect::<Vec<_>>(),
            [50, 30, 20]
        );
        assert_eq!(waves[1].start, 8 * 3600);
    }

    #[test]
    fn slow_trickle_is_one_wave() {
        // one message every 20 minutes for a day: no quiet gap stands out
        let times = burst(0, 72, 1200);
        assert_eq!(split_waves(&times).len(), 1);
    }

    #[test]
    fn small_campaign_reused_days_later_is_two_waves() {
        assert_eq!(split_waves(&[0, 600, 10 * 86_400]).len(), 2);
        assert_eq!(split_waves(&[0, 600]).len(), 1);
    }

    #[test]
    fn empty_and_single() {
        assert!(split_waves(&[]).is_empty());
        assert_eq!(
            split_waves(&[5]),
            [WaveSpan {
                start: 5,
                end: 5,
                size: 1
            }]
        );
        assert_eq!(split_waves(&[i64::MIN, i64::MAX]).len(), 2);
    }
}
