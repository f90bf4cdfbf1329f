//! wavetrace-core: the analysis core of wavetrace.
//!
//! Bytes in, records out. The pipeline, one module per stage:
//!
//! * [`ingest`]: containers (mbox, gzip, forwarded reports) -> message bytes;
//! * [`parse`]: message bytes -> [`record::MessageRecord`];
//! * [`origin`]: the Received chain -> path, trust boundary, origin, relay abuse;
//! * [`auth`]: the types of the authentication verdicts (computed by the
//!   `wavetrace-auth` crate, which owns the DNS);
//! * [`campaign`]: fingerprints, clustering, waves, templates, summaries.
//!
//! No storage, terminal or command line here: files, DNS, the database and
//! the clock are the caller's (see ARCHITECTURE.md).

#![warn(missing_docs)]

pub mod auth;
pub mod campaign;
pub mod detect;
pub mod domain;
mod fxhash;
pub mod ingest;
pub mod origin;
pub mod parse;
mod recent;
pub mod record;
