//! Shared helpers for the corpus tests: locating corpora, arrival times,
//! and running a verifier over a snapshot.
#![allow(dead_code)]

use std::path::PathBuf;

use wavetrace_auth::{AuthInput, AuthResults, Verifier};

/// The folder holding the unpacked corpora archives: `$WAVETRACE_CORPORA`,
/// else the workspace's `target/corpora`.
pub fn unpacked(name: &str) -> PathBuf {
    let base = std::env::var_os("WAVETRACE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora"));
    let path = base.join(name);
    assert!(
        path.exists(),
        "corpus {} not found: unpack the corpora (../shared/corpora/unpack.sh) or set WAVETRACE_CORPORA",
        path.display()
    );
    path
}

/// A loose corpus folder: `$WAVETRACE_CORPORA/<name>` when present, else
/// `../shared/corpora/<name>` relative to the workspace root.
pub fn loose(name: &str) -> PathBuf {
    if let Some(base) = std::env::var_os("WAVETRACE_CORPORA") {
        let path = PathBuf::from(base).join(name);
        if path.exists() {
            return path;
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora")
        .join(name);
    assert!(
        path.exists(),
        "corpus {} not found (set WAVETRACE_CORPORA)",
        path.display()
    );
    path
}

/// Arrival time: the date of the topmost Received field, as origin tracing would give.
pub fn arrival(raw: &[u8]) -> Option<u64> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let ts = message.received()?.date()?.to_timestamp();
    u64::try_from(ts).ok()
}

/// Verifies a raw message with only the message (no SMTP envelope).
pub fn verify_message(verifier: &Verifier, raw: &[u8], arrival: Option<u64>) -> AuthResults {
    verifier.verify(&AuthInput {
        ip: None,
        helo: None,
        mail_from: None,
        arrival,
        boundary: None,
        trusted_authserv_ids: &[],
        raw,
    })
}
