//! Test data for this crate's tests and the HTML report's browser test:
//! messages analysed, judged and grouped into campaigns by file name (the
//! part before the last `-`), as the store would hand them over. The
//! bundled synthetic sample (`samples/synthetic`, written for this project)
//! gives two campaigns. And headless Chromium for the tests that open the
//! report in a browser (this crate's and the binary's). Panics on
//! unreadable test files or a failing browser: test support only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// One browser at a time: the machine is small and Chromium is not.
static BROWSER: Mutex<()> = Mutex::new(());

/// Longest a browser run may take before the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium binary, or a failure that says how to get one.
pub fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("WAVETRACE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        path.is_file(),
        "headless Chromium not found at {}: the HTML report's browser test needs it. \
         Run scripts/test.sh (it installs Chromium), or set WAVETRACE_CHROMIUM to a Chromium binary.",
        path.display()
    );
    path
}

/// A new empty directory for this test process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wavetrace-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs headless Chromium on `page` with the extra arguments; returns its
/// standard output and error.
pub fn run_chromium(page: &Path, extra: &[String]) -> (String, String) {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let profile = temp_dir("profile");
    let out_dir = temp_dir("io");
    let (stdout_path, stderr_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--virtual-time-budget=3000")
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    (stdout, stderr)
}

/// The DOM of the page after loading, as Chromium serialises it, and the
/// browser's log.
pub fn dump_dom(page: &Path) -> (String, String) {
    let (dom, log) = run_chromium(page, &["--dump-dom".to_string()]);
    assert!(
        dom.contains("</html>"),
        "chromium dumped no document; its log: {log}"
    );
    (dom, log)
}
