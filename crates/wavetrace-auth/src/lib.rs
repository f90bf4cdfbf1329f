//! Sender authentication for wavetrace: SPF (RFC 7208), DKIM (RFC 6376,
//! RFC 8463), DMARC (RFC 7489 / DMARCbis) and ARC (RFC 8617) verdicts that
//! can be reproduced offline, each with its reason in words.
//!
//! * [`Verifier`] is built once per scan for a [`DnsMode`]; its
//!   [`Verifier::verify`] is synchronous and safe to call from many threads.
//! * `off` mode performs no lookups: the receivers' own claims
//!   (`Authentication-Results`, `ARC-Authentication-Results`, `Received-SPF`)
//!   are reported, trusted only above the trust boundary.
//! * `snapshot` mode answers every query from a [`Snapshot`] served by a small
//!   DNS server on 127.0.0.1; `record` mode writes one while resolving live.
//!
//! The verification itself is mail-auth 0.13.3, patched in `vendor/mail-auth`
//! (see its `WAVETRACE-PATCHES.md`) where it departs from the RFCs.

#![deny(missing_docs)]

mod claims;
pub mod dmarc_record;
mod server;
pub mod snapshot;
pub mod time;
mod verifier;

pub use snapshot::{Answer, Negative, Rdata, RecordType, Snapshot, SnapshotError};
pub use verifier::{AuthInput, SnapshotServer, Verifier, VerifierConfig};
/// The verdict types (they live in `wavetrace_core::auth`).
pub use wavetrace_core::auth as verdict;
pub use wavetrace_core::auth::*;

use std::path::PathBuf;

/// Why a [`Verifier`] could not be built or its recording written.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `snapshot` and `record` modes need `--dns-file`.
    #[error("--dns snapshot and --dns record need --dns-file")]
    MissingDnsFile,
    /// The snapshot file could not be read or the recording written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The snapshot file is malformed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The loopback DNS server could not start.
    #[error("cannot start the loopback DNS server: {0}")]
    Server(std::io::Error),
    /// The runtime or its thread could not start.
    #[error("cannot start the DNS runtime: {0}")]
    Runtime(std::io::Error),
    /// The resolver could not be configured.
    #[error("cannot configure the DNS resolver: {0}")]
    Resolver(String),
    /// `--verify-at` is not `now`, `arrival` or an RFC 3339 date-time.
    #[error("--verify-at {0:?}: expected now, arrival or an RFC 3339 date-time")]
    VerifyAt(String),
}

/// Reads `--verify-at`: `now`, `arrival` or an RFC 3339 date-time.
pub fn parse_verify_at(text: &str) -> Result<VerifyAt, AuthError> {
    match text.trim() {
        "now" => Ok(VerifyAt::Now),
        "arrival" => Ok(VerifyAt::Arrival),
        other => time::parse_rfc3339(other)
            .map(VerifyAt::Fixed)
            .ok_or_else(|| AuthError::VerifyAt(text.to_string())),
    }
}
