//! Scoring a clustering against a labelled truth: B-cubed and pairwise
//! precision, recall and F1, per-label purity and completeness, wave counts
//! and wave boundaries, template slots.
//!
//! Truth: `(message, label)` pairs, label `-` for background. Background
//! messages are not scored themselves; they count only as intruders in the
//! clusters of labelled messages (a campaign that swallowed background mail is
//! less precise). Predicted: `(message, campaign id)` pairs. A labelled message
//! missing from the prediction counts as a singleton; a predicted message
//! missing from the truth counts as background.
//!
//! B-cubed (Bagga and Baldwin 1998; Amigó et al. 2009): for each labelled
//! message, precision is the share of its cluster with its label and recall
//! the share of its label in its cluster; the report averages them over
//! labelled messages. Pairwise: over pairs of messages with at least one
//! labelled member, counted from the cluster-by-label table (never by
//! enumerating pairs).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::template::{SlotType, Template, TemplateSegment};
use super::wave::WaveSpan;

/// The label that marks background messages in a truth file.
pub const BACKGROUND: &str = "-";

/// Purity and completeness of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    /// The label.
    pub label: String,
    /// Labelled messages with it.
    pub size: usize,
    /// The predicted campaign holding most of them.
    pub campaign: String,
    /// Share of that campaign carrying the label (background included in its size).
    pub purity: f64,
    /// Share of the label found in that campaign.
    pub completeness: f64,
}

/// Scores of a clustering against a truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Labelled (non-background) messages scored.
    pub labelled_messages: usize,
    /// Distinct labels.
    pub labels: usize,
    /// Background messages placed in a campaign with labelled ones.
    pub intruders: usize,
    /// B-cubed precision.
    pub bcubed_precision: f64,
    /// B-cubed recall.
    pub bcubed_recall: f64,
    /// B-cubed F1.
    pub bcubed_f1: f64,
    /// Pairwise precision.
    pub pairwise_precision: f64,
    /// Pairwise recall.
    pub pairwise_recall: f64,
    /// Pairwise F1.
    pub pairwise_f1: f64,
    /// Purity and completeness per label, by label.
    pub per_label: Vec<LabelScore>,
}

/// Harmonic mean; 0 when both are 0.
fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// `n` choose 2.
fn pairs(n: usize) -> f64 {
    (n as f64) * (n as f64 - 1.0) / 2.0
}

/// `a / b`, or 1 when there is nothing to measure.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        1.0
    }
}

/// Scores `predicted` against `truth` (see the module documentation).
pub fn evaluate(truth: &[(String, String)], predicted: &[(String, String)]) -> EvalReport {
    let truth_of: HashMap<&str, &str> = truth
        .iter()
        .map(|(m, l)| (m.as_str(), l.as_str()))
        .collect();
    let mut cluster_of: HashMap<&str, String> = predicted
        .iter()
        .map(|(m, c)| (m.as_str(), c.clone()))
        .collect();
    for (m, _) in truth {
        if !cluster_of.contains_key(m.as_str()) {
            cluster_of.insert(m.as_str(), format!("\u{0}singleton:{m}"));
        }
    }
    // cluster -> label -> count (background under BACKGROUND)
    let mut table: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (m, c) in &cluster_of {
        let label = truth_of.get(m).copied().unwrap_or(BACKGROUND);
        *table
            .entry(c.as_str())
            .or_default()
            .entry(label)
            .or_insert(0) += 1;
    }
    let mut label_sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for (m, label) in &truth_of {
        if *label != BACKGROUND && cluster_of.contains_key(m) {
            *label_sizes.entry(label).or_insert(0) += 1;
        }
    }
    let labelled: usize = label_sizes.values().sum();

    let (mut precision_sum, mut recall_sum) = (0.0, 0.0);
    let (mut true_positive, mut predicted_pairs, mut intruders) = (0.0, 0.0, 0);
    let mut best: BTreeMap<&str, (usize, &str, usize)> = BTreeMap::new();
    for (cluster, labels) in &table {
        let size: usize = labels.values().sum();
        let background = labels.get(BACKGROUND).copied().unwrap_or(0);
        if background < size {
            intruders += background;
            predicted_pairs += pairs(size) - pairs(background);
        }
        for (label, &n) in labels {
            if *label == BACKGROUND {
                continue;
            }
            let label_size = label_sizes.get(label).copied().unwrap_or(n).max(1);
            precision_sum += n as f64 * n as f64 / size as f64;
            recall_sum += n as f64 * n as f64 / label_size as f64;
            true_positive += pairs(n);
            let entry = best.entry(label).or_insert((0, cluster, size));
            if n > entry.0 {
                *entry = (n, cluster, size);
            }
        }
    }
    let true_pairs: f64 = label_sizes.values().map(|&n| pairs(n)).sum();
    let bcubed_precision = ratio(precision_sum, labelled as f64);
    let bcubed_recall = ratio(recall_sum, labelled as f64);
    let pairwise_precision = ratio(true_positive, predicted_pairs);
    let pairwise_recall = ratio(true_positive, true_pairs);
    let per_label = best
        .into_iter()
        .map(|(label, (n, cluster, size))| {
            let label_size = label_sizes.get(label).copied().unwrap_or(0);
            LabelScore {
                label: label.to_string(),
                size: label_size,
                campaign: cluster.to_string(),
                purity: ratio(n as f64, size as f64),
                completeness: ratio(n as f64, label_size as f64),
            }
        })
        .collect();
    EvalReport {
        labelled_messages: labelled,
        labels: label_sizes.len(),
        intruders,
        bcubed_precision,
        bcubed_recall,
        bcubed_f1: f1(bcubed_precision, bcubed_recall),
        pairwise_precision,
        pairwise_recall,
        pairwise_f1: f1(pairwise_precision, pairwise_recall),
        per_label,
    }
}

/// One campaign's true wave starts against the waves found for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveCase {
    /// Start time of each true wave.
    pub true_starts: Vec<i64>,
    /// Waves found (by [`split_waves`](super::split_waves) on the predicted campaign).
    pub predicted: Vec<WaveSpan>,
}

/// Wave scores over campaigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveScore {
    /// Campaigns scored.
    pub campaigns: usize,
    /// Campaigns whose wave count is right.
    pub right_count: usize,
    /// `right_count / campaigns`.
    pub count_accuracy: f64,
    /// Mean distance (seconds) from each true wave start to the nearest
    /// predicted wave start; `None` without waves.
    pub mean_boundary_error: Option<f64>,
}

/// Scores wave splitting: the share of campaigns with the right number of
/// waves and the mean wave-boundary error.
pub fn score_waves(cases: &[WaveCase]) -> WaveScore {
    let right_count = cases
        .iter()
        .filter(|c| c.true_starts.len() == c.predicted.len())
        .count();
    let errors: Vec<f64> = cases
        .iter()
        .flat_map(|c| {
            c.true_starts.iter().filter_map(|&t| {
                c.predicted
                    .iter()
                    .map(|w| w.start.abs_diff(t) as f64)
                    .reduce(f64::min)
            })
        })
        .collect();
    WaveScore {
        campaigns: cases.len(),
        right_count,
        count_accuracy: ratio(right_count as f64, cases.len() as f64),
        mean_boundary_error: (!errors.is_empty())
            .then(|| errors.iter().sum::<f64>() / errors.len() as f64),
    }
}

/// Template slot agreement: slots matched in type and position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct SlotScore {
    /// Slots in the true template.
    pub true_slots: usize,
    /// Slots in the recovered template.
    pub predicted_slots: usize,
    /// Slots matched (same type, same place in the text).
    pub matched: usize,
}

impl SlotScore {
    /// Adds another campaign's counts.
    pub fn add(&mut self, other: SlotScore) {
        self.true_slots += other.true_slots;
        self.predicted_slots += other.predicted_slots;
        self.matched += other.matched;
    }

    /// F1 of matched slots.
    pub fn f1(&self) -> f64 {
        f1(
            ratio(self.matched as f64, self.predicted_slots as f64),
            ratio(self.matched as f64, self.true_slots as f64),
        )
    }
}

/// One element of a template as compared: a word or a typed slot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    Word(String),
    Slot(SlotType),
}

/// Slot type from a slot name such as `name` or `name_2`.
fn slot_type_from_name(name: &str) -> SlotType {
    let base = name
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_end_matches('_');
    [
        SlotType::Name,
        SlotType::StreetAddress,
        SlotType::Email,
        SlotType::Phone,
        SlotType::Number,
        SlotType::Amount,
        SlotType::Date,
        SlotType::Url,
        SlotType::Token,
    ]
    .into_iter()
    .find(|t| t.as_str() == base)
    .unwrap_or(SlotType::Other)
}

/// Words of template text, lower-cased, punctuation dropped.
fn words_of(text: &str, out: &mut Vec<Element>) {
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.push(Element::Word(w.to_lowercase()));
    }
}

/// Elements of a template text written with `{type}` or `{type_N}` slots and
/// doubled literal braces.
fn elements_of_text(text: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                words_of(&literal, &mut out);
                literal.clear();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push(Element::Slot(slot_type_from_name(&name)));
            }
            _ => literal.push(c),
        }
    }
    words_of(&literal, &mut out);
    out
}

/// Scores a recovered template against the true template text (slots written
/// `{type}` or `{type_N}`): slots are matched when a longest-common-subsequence
/// alignment of words and slots pairs them with the same type, so a slot
/// counts only in the right place with the right type.
pub fn score_template(true_text: &str, predicted: &Template) -> SlotScore {
    let truth = elements_of_text(true_text);
    let mut found = Vec::new();
    for segment in &predicted.segments {
        match segment {
            TemplateSegment::Text { text } => words_of(text, &mut found),
            TemplateSegment::Slot { slot_type, .. } => found.push(Element::Slot(*slot_type)),
        }
    }
    let weight = |e: &Element| {
        if matches!(e, Element::Slot(_)) {
            4u32
        } else {
            1
        }
    };
    let (n, m) = (truth.len(), found.len());
    let width = m + 1;
    let mut table = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            let skip = table[(i + 1) * width + j].max(table[i * width + j + 1]);
            table[i * width + j] = if truth[i] == found[j] {
                skip.max(table[(i + 1) * width + j + 1] + weight(&truth[i]))
            } else {
                skip
            };
        }
    }
    let (mut i, mut j, mut matched) = (0, 0, 0);
    while i < n && j < m {
        if truth[i] == found[j]
            && table[i * width + j] == table[(i + 1) * width + j + 1] + weight(&truth[i])
        {
            matched += usize::from(matches!(truth[i], Element::Slot(_)));
            i += 1;
            j += 1;
        } else if table[(i + 1) * width + j] >= table[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    let slots = |v: &[Element]| v.iter().filter(|e| matches!(e, Element::Slot(_))).count();
    SlotScore {
        true_slots: slots(&truth),
        predicted_slots: slots(&found),
        matched,
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::template;
    use super::*;

    fn pairs_of(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfect_clustering_scores_one() {
        let truth = pairs_of(&[("1", "A"), ("2", "A"), ("3", "B"), ("4", "-")]);
        let predicted = pairs_of(&[("1", "x"), ("2", "x"), ("3", "y"), ("4", "z")]);
        let r = evaluate(&truth, &predicted);
        assert!(close(r.bcubed_f1, 1.0) && close(r.pairwise_f1, 1.0));
        assert_eq!((r.labelled_messages, r.labels, r.intruders), (3, 2, 0));
    }

    #[test]
    fn known_bcubed_and_pairwise_values() {
        // A = {1,2,3}, B = {4,5}; predicted: {1,2} {3,4,5,6(background)}
        let truth = pairs_of(&[
            ("1", "A"),
            ("2", "A"),
            ("3", "A"),
            ("4", "B"),
            ("5", "B"),
            ("6", "-"),
        ]);
        let predicted = pairs_of(&[
            ("1", "x"),
            ("2", "x"),
            ("3", "y"),
            ("4", "y"),
            ("5", "y"),
            ("6", "y"),
        ]);
        let r = evaluate(&truth, &predicted);
        // precision: 1,1 (x); 3 -> 1/4; 4,5 -> 2/4 each  => (1+1+0.25+0.5+0.5)/5 = 0.65
        assert!(close(r.bcubed_precision, 0.65), "{}", r.bcubed_precision);
        // recall: 1,2 -> 2/3; 3 -> 1/3; 4,5 -> 1 => (2/3+2/3+1/3+1+1)/5 = 11/15
        assert!(close(r.bcubed_recall, 11.0 / 15.0), "{}", r.bcubed_recall);
        // pairs predicted with a labelled member: x:1, y: 6 => 7; TP: (1,2),(4,5) = 2; true pairs 3 + 1 = 4
        assert!(close(r.pairwise_precision, 2.0 / 7.0));
        assert!(close(r.pairwise_recall, 0.5));
        assert_eq!(r.intruders, 1);
        let a = &r.per_label[0];
        assert_eq!((a.label.as_str(), a.campaign.as_str()), ("A", "x"));
        assert!(close(a.purity, 1.0) && close(a.completeness, 2.0 / 3.0));
        let b = &r.per_label[1];
        assert!(close(b.purity, 0.5) && close(b.completeness, 1.0));
    }

    #[test]
    fn missing_prediction_is_a_singleton_and_background_pairs_do_not_count() {
        let truth = pairs_of(&[("1", "A"), ("2", "A"), ("3", "-"), ("4", "-")]);
        let predicted = pairs_of(&[("1", "x"), ("3", "z"), ("4", "z")]);
        let r = evaluate(&truth, &predicted);
        assert!(close(r.bcubed_precision, 1.0));
        assert!(close(r.bcubed_recall, 0.5));
        assert!(close(r.pairwise_precision, 1.0) && close(r.pairwise_recall, 0.0));
    }

    #[test]
    fn wave_scores() {
        let span = |start, end, size| WaveSpan { start, end, size };
        let cases = [
            WaveCase {
                true_starts: vec![0, 1000],
                predicted: vec![span(10, 500, 5), span(1100, 1200, 3)],
            },
            WaveCase {
                true_starts: vec![0],
                predicted: vec![span(0, 5, 2), span(900, 950, 2)],
            },
        ];
        let s = score_waves(&cases);
        assert_eq!((s.campaigns, s.right_count), (2, 1));
        assert_eq!(s.mean_boundary_error, Some((10.0 + 100.0 + 0.0) / 3.0));
        assert_eq!(score_waves(&[]).mean_boundary_error, None);
    }

    #[test]
    fn template_slots_scored_by_type_and_position() {
        let found = template(&[
            "Dear Ann Lee, pay 12 now",
            "Dear Bo Chan, pay 99 now",
            "Dear Cy Roe, pay 7 now",
        ]);
        let s = score_template("Dear {name}, pay {number} now", &found);
        assert_eq!((s.true_slots, s.predicted_slots, s.matched), (2, 2, 2));
        let s = score_template("Dear {name}, pay {amount} now {{x}}", &found);
        assert_eq!(s.matched, 1);
        assert!(close(s.f1(), 0.5));
        let s = score_template("pay {number} now Dear {name}", &found);
        assert_eq!(s.matched, 1);
    }
}
