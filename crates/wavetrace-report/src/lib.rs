//! wavetrace-report: what analysts hand to others.
//!
//! Campaigns and their members' records in, documents out; no storage,
//! terminal or command line here (the `wavetrace` binary selects the
//! campaigns from the store and writes the files). The pipeline:
//!
//! * [`model`]: the selected campaigns ([`ExportSet`]) and the sharing
//!   options (TLP marking, producer identity);
//! * [`redact`]: recipients' data replaced by salted hashes, before any
//!   exporter sees it, unless the user opts in (`--include-personal`);
//! * the writers, each a pure function of the prepared set: [`csv`]
//!   (messages, campaigns, indicators, purge lists), [`stix`] (a STIX 2.1
//!   bundle), [`misp`] (one MISP event per campaign), [`html`] (one
//!   self-contained report, no script, its wave charts drawn by
//!   [`timeline`]).
//!
//! Every writer is deterministic: the same data gives the same bytes.

#![warn(missing_docs)]

pub mod csv;
pub mod html;
pub mod indicators;
pub mod misp;
pub mod model;
pub mod redact;
pub mod stix;
pub mod timeline;

#[doc(hidden)]
pub mod testdata;

pub use model::{CampaignExport, ExportSet, Personal, ShareOptions, Tlp};
pub use redact::prepare;
