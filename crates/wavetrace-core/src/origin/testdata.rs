//! Test support: where the shared corpora are, and a small header-block reader.
//!
//! The loose corpora are `../shared/corpora` beside the workspace (or
//! `WAVETRACE_SHARED_CORPORA`); the unpacked archives are `target/corpora`
//! (or `WAVETRACE_CORPORA`), where scripts/test.sh unpacks them. A missing
//! corpus fails the test: a test that skips proves nothing.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory holding the small corpora (JSON vectors, rspamd and SpamAssassin data).
pub fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("WAVETRACE_SHARED_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/corpora"));
    p.is_dir().then_some(p)
}

/// The directory holding the unpacked archives (phishing_pot, ...).
pub fn unpacked() -> Option<PathBuf> {
    let p = std::env::var_os("WAVETRACE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/corpora"));
    p.join("phishing_pot").is_dir().then_some(p)
}

/// The corpora directory, or a failure that says how to get it.
pub fn need(dir: Option<PathBuf>, what: &str) -> Option<PathBuf> {
    assert!(
        dir.is_some(),
        "{what}: corpora not found; run scripts/test.sh (it unpacks ../shared/corpora into target/corpora)"
    );
    dir
}

/// A message's header block as (name, value) pairs, values unfolded to one line.
/// Reads up to the first empty line; an mbox `From ` line at the top is skipped.
pub fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if n == 0 && line.starts_with("From ") {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            if !name.is_empty() && !name.contains(' ') {
                out.push((name.to_string(), value.trim().to_string()));
            }
        }
    }
    out
}

/// Splits an mbox into messages at `From ` lines.
pub fn mbox_messages(raw: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    let mut prev_empty = true;
    for line in raw.split(|&b| b == b'\n') {
        if prev_empty && line.starts_with(b"From ") {
            starts.push(pos);
        }
        prev_empty = line.is_empty() || line == b"\r";
        pos += line.len() + 1;
    }
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts
            .get(i + 1)
            .copied()
            .unwrap_or(raw.len())
            .min(raw.len());
        if let Some(m) = raw.get(s..e) {
            out.push(m);
        }
    }
    out
}

/// The files in a directory, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Received header values of a message, header order.
pub fn received_of(h: &[(String, String)]) -> Vec<String> {
    h.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("received"))
        .map(|(_, v)| v.clone())
        .collect()
}
