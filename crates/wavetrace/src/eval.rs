//! `wavetrace eval`: scores the stored clustering against a labelled truth
//! (B-cubed and pairwise precision, recall and F1, per-label purity and
//! completeness, wave counts and boundary errors). Exit 3 below `--min-f1`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use wavetrace_core::campaign::{self, WaveCase, WaveSpan};

/// Runs the evaluation and prints the report.
pub fn run(
    db: &Path,
    truth_path: &Path,
    waves_path: Option<&Path>,
    min_f1: Option<f64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = crate::open_existing(db)?;
    let text = std::fs::read_to_string(truth_path)
        .with_context(|| format!("reading {}", truth_path.display()))?;
    let mut truth = Vec::new();
    let mut missing = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, label)) = line.split_once('\t') else {
            anyhow::bail!(
                "{}:{}: expected `source-or-sha256<TAB>label`",
                truth_path.display(),
                n + 1
            );
        };
        let sha = if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(key.to_ascii_lowercase())
        } else {
            // A file holding an mbox of one message is stored as `path#1`.
            match store.sha256_of_source(key)? {
                Some(sha) => Some(sha),
                None => store.sha256_of_source(&format!("{key}#1"))?,
            }
        };
        match sha {
            Some(sha) => truth.push((sha, label.trim().to_string())),
            None => missing.push(key.to_string()),
        }
    }
    let members = store.campaign_members()?;
    let report = campaign::evaluate(&truth, &members);

    let wave_score = match waves_path {
        Some(path) => Some(score_waves(&store, path, &truth, &members)?),
        None => None,
    };
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"clustering": report, "waves": wave_score, "missing": missing.len()})
            )?
        )?;
    } else {
        outln!(
            "messages scored: {} labelled ({} labels), {} not found in the store",
            report.labelled_messages,
            report.labels,
            missing.len()
        )?;
        outln!(
            "B-cubed   precision {:.4}  recall {:.4}  F1 {:.4}",
            report.bcubed_precision,
            report.bcubed_recall,
            report.bcubed_f1
        )?;
        outln!(
            "pairwise  precision {:.4}  recall {:.4}  F1 {:.4}",
            report.pairwise_precision,
            report.pairwise_recall,
            report.pairwise_f1
        )?;
        outln!(
            "background messages inside labelled campaigns: {}",
            report.intruders
        )?;
        outln!(
            "{:<28} {:>8} {:>12} {:>6}",
            "label",
            "purity",
            "completeness",
            "size"
        )?;
        for l in &report.per_label {
            outln!(
                "{:<28} {:>8.3} {:>12.3} {:>6}",
                l.label,
                l.purity,
                l.completeness,
                l.size
            )?;
        }
        if let Some(w) = &wave_score {
            outln!(
                "waves: right count for {}/{} campaigns ({:.1}%), mean boundary error {}",
                w.right_count,
                w.campaigns,
                100.0 * w.count_accuracy,
                w.mean_boundary_error
                    .map(|e| format!("{e:.0} s"))
                    .unwrap_or_else(|| "-".into())
            )?;
        }
        for m in missing.iter().take(10) {
            outln!("not found: {m}")?;
        }
    }
    if let Some(min) = min_f1 {
        if report.bcubed_f1 < min {
            eprintln!(
                "wavetrace: B-cubed F1 {:.4} is below --min-f1 {min}",
                report.bcubed_f1
            );
            return Ok(ExitCode::from(3));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// For each labelled campaign with true waves: the waves of the predicted
/// campaign holding most of its messages.
fn score_waves(
    store: &wavetrace_store::Store,
    path: &Path,
    truth: &[(String, String)],
    members: &[(String, String)],
) -> anyhow::Result<campaign::WaveScore> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut starts: HashMap<String, Vec<i64>> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, start) = line
            .split_once('\t')
            .with_context(|| format!("{}:{}: expected `label<TAB>start`", path.display(), n + 1))?;
        let start: i64 = start
            .trim()
            .parse()
            .with_context(|| format!("{}:{}: start is not unix seconds", path.display(), n + 1))?;
        starts.entry(label.to_string()).or_default().push(start);
    }
    let campaign_of: HashMap<&str, &str> = members
        .iter()
        .map(|(s, c)| (s.as_str(), c.as_str()))
        .collect();
    let mut cases = Vec::new();
    let mut labels: Vec<&String> = starts.keys().collect();
    labels.sort();
    for label in labels {
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for (sha, _) in truth.iter().filter(|(_, l)| l == label) {
            if let Some(c) = campaign_of.get(sha.as_str()) {
                *votes.entry(c).or_default() += 1;
            }
        }
        let Some((best, _)) = votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        else {
            continue;
        };
        let Some((summary, _)) = store.campaign(best)? else {
            continue;
        };
        let summary = crate::campaigns::parse_summary(&summary)?;
        let predicted = summary
            .waves
            .iter()
            .filter_map(|w| {
                Some(WaveSpan {
                    start: campaign::record_features::unix_time(&w.start)?,
                    end: campaign::record_features::unix_time(&w.end)?,
                    size: w.size,
                })
            })
            .collect();
        let mut true_starts = starts[label].clone();
        true_starts.sort_unstable();
        cases.push(WaveCase {
            true_starts,
            predicted,
        });
    }
    Ok(campaign::score_waves(&cases))
}
