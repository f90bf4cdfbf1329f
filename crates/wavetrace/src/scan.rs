//! `wavetrace scan`: the ingest pipeline.
//!
//! Three stages on three kinds of thread, joined by bounded channels so
//! memory stays flat however large the input:
//!
//! 1. a reader thread walks the inputs and cuts them into batches of
//!    message bytes (`inputs`);
//! 2. the rayon pool (8 MB stacks: see `parse::teardown`) runs each batch
//!    through the pipeline in parallel (parse, trace, enrich, authenticate;
//!    then fingerprint, serialise, compress);
//! 3. a single writer thread stores each batch in one transaction and
//!    streams records (`--format ndjson`).
//!
//! Then the clustering is recomputed (`campaigns::recluster`).

use std::io::Write;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use wavetrace_core::ingest::unwrap::attached_originals;
use wavetrace_core::parse::Sighting;
use wavetrace_core::record::{Container, ContainerKind, MessageRecord};
use wavetrace_store::{NewMessage, Store, WriteOutcome};

use crate::inputs::{read_input, walk, Item, ReadOptions, RejectKind, Unit};

/// Messages per batch (one transaction each).
const BATCH_MESSAGES: usize = 512;
/// Bytes per batch, so a batch of large messages stays small.
const BATCH_BYTES: usize = 16 << 20;
/// Attached originals taken from one report.
const MAX_ATTACHED_ORIGINALS: usize = 100;

/// Everything `scan` needs, parsed once from the command line.
pub struct ScanConfig {
    pub paths: Vec<String>,
    pub db: std::path::PathBuf,
    pub unwrap_attached: bool,
    pub read: ReadOptions,
    pub pipeline: crate::pipeline::Pipeline,
    pub ndjson: bool,
    pub verbose: bool,
    pub progress: bool,
}

/// What a scan did; printed at the end and kept in the scan log.
#[derive(Debug, Default, Serialize)]
pub struct ScanSummary {
    /// Messages analysed (every copy counted).
    pub analysed: u64,
    /// New distinct messages stored.
    pub stored: u64,
    /// Copies of bytes already stored (this scan or an earlier one).
    pub duplicates: u64,
    /// Of `duplicates`, sightings already recorded by an earlier scan.
    pub rescanned: u64,
    /// Analysed messages with at least one defect (kept, flagged).
    pub malformed: u64,
    /// Analysed messages whose From domain is not authenticated (no aligned
    /// SPF or DKIM pass), whatever the domain's DMARC policy.
    pub from_not_authenticated: u64,
    /// Analysed messages whose From domain is authenticated.
    pub from_authenticated: u64,
    /// Analysed messages judged suspicious (detection).
    pub suspicious: u64,
    /// Analysed messages judged malicious.
    pub malicious: u64,
    /// Inputs that are not mail.
    pub not_mail: u64,
    /// Messages over `--max-message-size`.
    pub too_large: u64,
    /// Inputs that could not be read (I/O, corrupt gzip, ratio cap).
    pub unreadable: u64,
    /// Files in Maildir `tmp/` folders, skipped.
    pub maildir_tmp_skipped: u64,
    /// Message bytes analysed.
    pub bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The clustering after the scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaigns: Option<crate::campaigns::ClusterSummary>,
    /// Peak resident memory of the process, MB (Linux; 0 elsewhere).
    pub peak_rss_mb: f64,
    /// Per input, why it was rejected or what was malformed (`--verbose`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<(String, String)>,
}

enum Analysed {
    Message(Box<NewMessage>),
    Rejected {
        source: String,
        kind: RejectKind,
        reason: String,
    },
}

/// Runs a scan; returns its summary.
pub fn run(cfg: &ScanConfig) -> anyhow::Result<ScanSummary> {
    let started = Instant::now();
    let walked = walk(&cfg.paths)?;
    let mut store =
        Store::open(&cfg.db).with_context(|| format!("opening {}", cfg.db.display()))?;
    let scan_id = store.begin_scan(&crate::now_rfc3339())?;
    let progress = progress_bar(cfg.progress, walked.total_bytes);
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("wt-analyse-{i}"))
        .stack_size(8 << 20)
        .build()?;

    let (batch_tx, batch_rx) = sync_channel::<Vec<Item>>(2);
    let (stored_tx, stored_rx) = sync_channel::<Vec<Analysed>>(2);
    let read_opts = cfg.read;
    let reader_progress = progress.clone();
    let inputs = walked.inputs;

    let summary = std::thread::scope(|scope| -> anyhow::Result<ScanSummary> {
        let reader = std::thread::Builder::new().name("wt-reader".into());
        reader.spawn_scoped(scope, move || {
            let mut batch = Vec::new();
            let mut batch_bytes = 0;
            for input in &inputs {
                read_input(input, read_opts, &mut |item| {
                    if let Item::Message(unit) = &item {
                        batch_bytes += unit.bytes.len();
                    }
                    batch.push(item);
                    if batch.len() >= BATCH_MESSAGES || batch_bytes >= BATCH_BYTES {
                        batch_bytes = 0;
                        // A closed channel means the writer failed; stop quietly.
                        let _ = batch_tx.send(std::mem::take(&mut batch));
                    }
                });
                if let crate::inputs::Input::File { size, .. } = input {
                    reader_progress.inc(*size);
                }
            }
            let _ = batch_tx.send(batch);
        })?;

        let writer_progress = progress.clone();
        let ndjson = cfg.ndjson;
        let verbose = cfg.verbose;
        let writer = std::thread::Builder::new().name("wt-writer".into());
        let writer = writer.spawn_scoped(scope, move || -> anyhow::Result<ScanSummary> {
            let mut summary = ScanSummary::default();
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for batch in stored_rx {
                let mut messages = Vec::with_capacity(batch.len());
                let mut rejects = Vec::new();
                for item in batch {
                    match item {
                        Analysed::Message(m) => messages.push(*m),
                        Analysed::Rejected {
                            source,
                            kind,
                            reason,
                        } => rejects.push((source, kind.as_str(), reason)),
                    }
                }
                let outcomes = store.write_batch(Some(scan_id), &messages, &rejects)?;
                for (m, outcome) in messages.into_iter().zip(outcomes) {
                    count_message(&mut summary, &m.record, &outcome, verbose);
                    if ndjson {
                        let mut record = m.record;
                        if outcome != WriteOutcome::New {
                            record.sources = store.sources(&record.sha256)?;
                            record.source =
                                record.sources.first().cloned().unwrap_or(record.source);
                        }
                        serde_json::to_writer(&mut out, &record)?;
                        out.write_all(b"\n")?;
                    }
                }
                for (source, kind, reason) in rejects {
                    match kind {
                        "not_mail" => summary.not_mail += 1,
                        "too_large" => summary.too_large += 1,
                        _ => summary.unreadable += 1,
                    }
                    if verbose {
                        summary.details.push((source, format!("{kind}: {reason}")));
                    }
                }
                writer_progress.set_message(format!("{} messages", summary.analysed));
            }
            out.flush()?;
            Ok(summary)
        });

        for batch in batch_rx {
            let analysed: Vec<Analysed> = pool.install(|| {
                batch
                    .into_par_iter()
                    .flat_map_iter(|item| analyse_item(item, cfg))
                    .collect()
            });
            if stored_tx.send(analysed).is_err() {
                break;
            }
        }
        drop(stored_tx);
        writer?
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?
    });
    progress.finish_and_clear();
    let mut summary = summary?;
    summary.maildir_tmp_skipped = walked.maildir_tmp_skipped;
    cfg.pipeline.finish()?;
    let mut store = Store::open(&cfg.db)?;
    summary.campaigns = Some(crate::campaigns::recluster(&mut store, false)?);
    summary.seconds = started.elapsed().as_secs_f64();
    summary.peak_rss_mb = peak_rss_mb();
    store.finish_scan(
        scan_id,
        &crate::now_rfc3339(),
        &serde_json::to_string(&summary)?,
    )?;
    Ok(summary)
}

fn count_message(
    summary: &mut ScanSummary,
    record: &MessageRecord,
    outcome: &WriteOutcome,
    verbose: bool,
) {
    summary.analysed += 1;
    summary.bytes += record.size;
    match outcome {
        WriteOutcome::New => summary.stored += 1,
        WriteOutcome::Duplicate => summary.duplicates += 1,
        WriteOutcome::AlreadySeen => {
            summary.duplicates += 1;
            summary.rescanned += 1;
        }
    }
    match record.auth.as_ref().map(|a| a.from_authenticated) {
        Some(wavetrace_core::auth::FromAuthenticated::Yes) => summary.from_authenticated += 1,
        Some(wavetrace_core::auth::FromAuthenticated::No) => summary.from_not_authenticated += 1,
        _ => {}
    }
    match record.verdict {
        Some(wavetrace_core::detect::Verdict::Suspicious) => summary.suspicious += 1,
        Some(wavetrace_core::detect::Verdict::Malicious) => summary.malicious += 1,
        _ => {}
    }
    if !record.defects.is_empty() {
        summary.malformed += 1;
        if verbose {
            let codes: Vec<&str> = record.defects.iter().map(|d| d.code.as_str()).collect();
            summary.details.push((
                record.source.clone(),
                format!("malformed: {}", codes.join(", ")),
            ));
        }
    }
}

/// Analyses one item (on a pool thread): a message, or with
/// `--unwrap-attached` each original attached to a report.
fn analyse_item(item: Item, cfg: &ScanConfig) -> Vec<Analysed> {
    match item {
        Item::Rejected {
            source,
            kind,
            reason,
        } => vec![Analysed::Rejected {
            source,
            kind,
            reason,
        }],
        Item::Message(unit) => {
            if cfg.unwrap_attached {
                if let Some(report) = attached_originals(&unit.bytes, MAX_ATTACHED_ORIGINALS) {
                    return report
                        .originals
                        .into_iter()
                        .enumerate()
                        .map(|(i, bytes)| {
                            let mut reporter = report.reporter.clone();
                            reporter.index = i + 1;
                            let sighting = Sighting {
                                source: format!("{}!{}", unit.sighting.source, i + 1),
                                container: Container {
                                    kind: ContainerKind::Attached,
                                    gzip: unit.sighting.container.gzip,
                                    reporter: Some(reporter),
                                    ..Default::default()
                                },
                                envelope_time: None,
                            };
                            analyse_unit(Unit { bytes, sighting }, &cfg.pipeline)
                        })
                        .collect();
                }
            }
            vec![analyse_unit(unit, &cfg.pipeline)]
        }
    }
}

fn analyse_unit(unit: Unit, pipeline: &crate::pipeline::Pipeline) -> Analysed {
    match pipeline.analyse(&unit.bytes, &unit.sighting) {
        Ok(record) => match NewMessage::prepare(record, &unit.bytes) {
            Ok(message) => Analysed::Message(Box::new(message)),
            Err(e) => Analysed::Rejected {
                source: unit.sighting.source,
                kind: RejectKind::Unreadable,
                reason: e.to_string(),
            },
        },
        Err(not_mail) => Analysed::Rejected {
            source: unit.sighting.source,
            kind: RejectKind::NotMail,
            reason: not_mail.to_string(),
        },
    }
}

/// Peak resident set size (VmHWM) from /proc, in MB; 0 where unavailable.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        })
        .unwrap_or(0.0)
}

fn progress_bar(enabled: bool, total_bytes: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The summary as printed on stderr at the end of a scan.
pub fn render_summary(s: &ScanSummary, db: &std::path::Path) -> String {
    let rate = if s.seconds > 0.0 {
        s.analysed as f64 / s.seconds
    } else {
        0.0
    };
    let mut out = format!(
        "scanned into {}: {} messages analysed ({:.1} MB, {:.1} s, {:.0} msg/s, peak memory {:.0} MB)\n  stored (new):   {}\n  duplicates:     {} ({} already seen by an earlier scan)\n  malformed:      {} (kept, flagged with defects)\n  From domain:    {} authenticated, {} not authenticated (no aligned SPF or DKIM pass), the rest unknown\n  verdicts:       {} malicious, {} suspicious, the rest clean (wavetrace messages --verdict suspicious)\n  not mail:       {}\n  too large:      {}\n  unreadable:     {}\n",
        db.display(),
        s.analysed,
        s.bytes as f64 / 1e6,
        s.seconds,
        rate,
        s.peak_rss_mb,
        s.stored,
        s.duplicates,
        s.rescanned,
        s.malformed,
        s.from_authenticated,
        s.from_not_authenticated,
        s.malicious,
        s.suspicious,
        s.not_mail,
        s.too_large,
        s.unreadable,
    );
    if let Some(c) = &s.campaigns {
        out.push_str(&format!(
            "  campaigns:      {} of two or more (largest {}), {} in all; clustered {} messages in {:.1} s\n",
            c.campaigns_of_two_or_more, c.largest, c.campaigns, c.messages, c.seconds
        ));
    }
    if s.maildir_tmp_skipped > 0 {
        out.push_str(&format!(
            "  maildir tmp/ skipped: {}\n",
            s.maildir_tmp_skipped
        ));
    }
    for (source, detail) in &s.details {
        out.push_str(&format!("  {source}: {detail}\n"));
    }
    out
}
