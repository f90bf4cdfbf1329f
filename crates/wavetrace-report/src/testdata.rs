//! Test data for this crate's tests and the HTML report's browser test:
//! messages analysed, judged and grouped into campaigns by file name (the
//! part before the last `-`), as the store would hand them over. The
//! bundled synthetic sample (`samples/synthetic`, written for this project)
//! gives two campaigns. Panics on unreadable test files: test support only.

use std::path::Path;

use wavetrace_core::campaign::{summarise, CampaignMembers};
use wavetrace_core::detect::Detector;
use wavetrace_core::parse::{analyse, AnalysisConfig, Sighting};
use wavetrace_core::record::MessageRecord;

use crate::model::CampaignExport;

/// The salt the tests redact with.
pub const SALT: &[u8] = b"wavetrace-test-salt";

/// The synthetic sample's campaigns (`election-phish`, `county-notice`).
pub fn sample_campaigns() -> Vec<CampaignExport> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthetic");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples/synthetic")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    campaigns_from(&files)
}

/// Campaigns of the given message files, grouped by file name (largest
/// first).
pub fn campaigns_from(files: &[std::path::PathBuf]) -> Vec<CampaignExport> {
    let detector = Detector::builtin().expect("shipped rules");
    let mut groups: Vec<(String, Vec<MessageRecord>)> = Vec::new();
    for path in files {
        let raw = std::fs::read(path).expect("test message file");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let label = name.rsplit_once('-').map_or(name, |(l, _)| l).to_string();
        let sighting = Sighting {
            source: source_of(path),
            ..Sighting::default()
        };
        let mut record = analyse(&raw, &sighting, &AnalysisConfig::default()).expect("mail");
        detector.judge(&mut record);
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, records)) => records.push(record),
            None => groups.push((label, vec![record])),
        }
    }
    let mut campaigns: Vec<CampaignExport> = groups
        .into_iter()
        .map(|(_, mut records)| {
            let time = |r: &MessageRecord| {
                r.arrival_time
                    .as_deref()
                    .and_then(wavetrace_core::campaign::record_features::unix_time)
            };
            records.sort_by(|a, b| (time(a), &a.sha256).cmp(&(time(b), &b.sha256)));
            let members = CampaignMembers {
                id: records[0].sha256[..12].to_string(),
                aliases: Vec::new(),
                members: records.iter().map(|r| r.sha256.clone()).collect(),
                arrival_times: records.iter().map(time).collect(),
            };
            let summary = summarise(&members, &records);
            CampaignExport {
                summary,
                members: records,
                observables: Vec::new(),
            }
        })
        .collect();
    campaigns.sort_by_key(|c| std::cmp::Reverse(c.summary.size));
    campaigns
}

/// The path relative to the workspace root (as the README's commands,
/// run from there, would record it), else as given.
fn source_of(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match (root.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(path)) => path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string(),
        _ => path.display().to_string(),
    }
}
