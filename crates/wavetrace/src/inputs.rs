//! The ingest edge: paths on the command line -> message bytes with their
//! `source`. Walks directories (recursively, sorted, Maildir-aware), opens
//! files, undoes gzip (bounded), splits mbox files, reads stdin.
//!
//! The `source` contract (README): the path as given joined with the walked
//! relative path, no canonicalisation; `#N` for the Nth message of an mbox;
//! `-` for stdin; `!N` for the Nth attached original (added in `scan`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use wavetrace_core::ingest::gzip::{is_gzip, BoundedGzip};
use wavetrace_core::ingest::mbox::{envelope_date, looks_like_mbox, MboxEntry, MboxReader};
use wavetrace_core::parse::Sighting;
use wavetrace_core::record::{Container, ContainerKind};

/// Directory nesting followed when walking (symlinked directories are not followed).
const MAX_WALK_DEPTH: usize = 64;

/// One thing to read: a file (with how it was found) or stdin.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file; `maildir` when it sits in a Maildir's `cur/` or `new/`.
    File {
        path: PathBuf,
        size: u64,
        maildir: bool,
    },
    /// Standard input (`-`).
    Stdin,
}

/// The inputs of a scan and what the walk skipped.
#[derive(Debug, Default)]
pub struct Walk {
    pub inputs: Vec<Input>,
    /// Files in Maildir `tmp/` folders (partial deliveries), skipped.
    pub maildir_tmp_skipped: u64,
    /// Bytes of all input files, for progress.
    pub total_bytes: u64,
}

/// Why an input yielded no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// Not a message (see `wavetrace_core::parse::NotMail`).
    NotMail,
    /// Over `--max-message-size`.
    TooLarge,
    /// Could not be read (I/O error, corrupt gzip, decompression ratio cap).
    Unreadable,
}

impl RejectKind {
    /// The kind as written in the database and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::NotMail => "not_mail",
            RejectKind::TooLarge => "too_large",
            RejectKind::Unreadable => "unreadable",
        }
    }
}

/// Message bytes and where they were seen.
#[derive(Debug)]
pub struct Unit {
    pub bytes: Vec<u8>,
    pub sighting: Sighting,
}

/// What reading an input yields, in order.
#[derive(Debug)]
pub enum Item {
    Message(Unit),
    Rejected {
        source: String,
        kind: RejectKind,
        reason: String,
    },
}

/// Reading limits.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Per message, after decompression.
    pub max_message_size: usize,
    /// gzip output / input bound.
    pub max_gzip_ratio: u64,
}

/// Checks every path exists, then walks them. Errors name the first path
/// that does not exist or cannot be listed: nothing is scanned then.
pub fn walk(paths: &[String]) -> anyhow::Result<Walk> {
    for p in paths {
        if p != "-" && std::fs::metadata(p).is_err() {
            anyhow::bail!("{p}: no such file or directory");
        }
    }
    let mut walk = Walk::default();
    for p in paths {
        if p == "-" {
            walk.inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(p);
        let meta = std::fs::metadata(&path).map_err(|e| anyhow::anyhow!("{p}: {e}"))?;
        if meta.is_dir() {
            walk_dir(&path, 0, false, &mut walk).map_err(|e| anyhow::anyhow!("{p}: {e}"))?;
        } else {
            walk.total_bytes += meta.len();
            walk.inputs.push(Input::File {
                path,
                size: meta.len(),
                maildir: false,
            });
        }
    }
    Ok(walk)
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() && dir.join("new").is_dir()
}

fn walk_dir(dir: &Path, depth: usize, in_maildir: bool, walk: &mut Walk) -> io::Result<()> {
    if depth > MAX_WALK_DEPTH {
        return Ok(());
    }
    let maildir = is_maildir(dir);
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        if file_type.is_dir() {
            if maildir && name == "tmp" {
                walk.maildir_tmp_skipped += count_files(&path);
                continue;
            }
            let sub_maildir = maildir && (name == "cur" || name == "new");
            walk_dir(&path, depth + 1, sub_maildir, walk)?;
        } else if let Ok(meta) = std::fs::metadata(&path) {
            // Files and symlinks to files; symlinked directories are skipped.
            if meta.is_file() {
                walk.total_bytes += meta.len();
                walk.inputs.push(Input::File {
                    path,
                    size: meta.len(),
                    maildir: in_maildir,
                });
            }
        }
    }
    Ok(())
}

fn count_files(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .count() as u64
        })
        .unwrap_or(0)
}

/// Reads one input, calling `emit` for every message or rejection in order.
pub fn read_input(input: &Input, opts: ReadOptions, emit: &mut dyn FnMut(Item)) {
    match input {
        Input::Stdin => {
            let stdin = io::stdin();
            read_stream(
                Box::new(stdin.lock()),
                "-",
                ContainerKind::Stdin,
                false,
                opts,
                emit,
            );
        }
        Input::File { path, maildir, .. } => {
            let source = path.to_string_lossy().into_owned();
            match File::open(path) {
                Ok(file) => {
                    let kind = if *maildir {
                        ContainerKind::Maildir
                    } else {
                        ContainerKind::File
                    };
                    read_stream(Box::new(file), &source, kind, true, opts, emit);
                }
                Err(e) => emit(Item::Rejected {
                    source,
                    kind: RejectKind::Unreadable,
                    reason: e.to_string(),
                }),
            }
        }
    }
}

/// Peeks at a stream: gzip is undone (once), an mbox is split, anything
/// else is one message. Stdin is always one message (a leading envelope line
/// is removed and kept).
fn read_stream(
    reader: Box<dyn Read + '_>,
    source: &str,
    kind: ContainerKind,
    split_mbox: bool,
    opts: ReadOptions,
    emit: &mut dyn FnMut(Item),
) {
    let mut reader = BufReader::with_capacity(64 << 10, reader);
    let gzip = match reader.fill_buf() {
        Ok(head) => is_gzip(head),
        Err(e) => {
            return emit(Item::Rejected {
                source: source.to_string(),
                kind: RejectKind::Unreadable,
                reason: e.to_string(),
            })
        }
    };
    let mut reader: Box<dyn BufRead + '_> = if gzip {
        Box::new(BufReader::with_capacity(
            64 << 10,
            BoundedGzip::new(reader, opts.max_gzip_ratio),
        ))
    } else {
        Box::new(reader)
    };
    let is_mbox = match reader.fill_buf() {
        Ok(head) => looks_like_mbox(head),
        Err(e) => {
            return emit(Item::Rejected {
                source: source.to_string(),
                kind: RejectKind::Unreadable,
                reason: e.to_string(),
            })
        }
    };
    if is_mbox && split_mbox {
        read_mbox(reader, source, gzip, opts, emit);
    } else {
        read_single(reader, source, kind, gzip, opts, emit);
    }
}

fn read_mbox(
    reader: Box<dyn BufRead + '_>,
    source: &str,
    gzip: bool,
    opts: ReadOptions,
    emit: &mut dyn FnMut(Item),
) {
    for entry in MboxReader::new(reader, opts.max_message_size) {
        match entry {
            Ok(MboxEntry::Message {
                index,
                envelope,
                bytes,
                variant,
            }) => {
                let sighting = Sighting {
                    source: format!("{source}#{index}"),
                    envelope_time: envelope_date(&envelope),
                    container: Container {
                        kind: ContainerKind::Mbox,
                        mbox_variant: Some(variant),
                        envelope: Some(envelope),
                        gzip,
                        reporter: None,
                    },
                };
                emit(Item::Message(Unit { bytes, sighting }));
            }
            Ok(MboxEntry::TooLarge { index, size }) => emit(Item::Rejected {
                source: format!("{source}#{index}"),
                kind: RejectKind::TooLarge,
                reason: format!(
                    "{size} bytes, over the {} byte limit",
                    opts.max_message_size
                ),
            }),
            Err(e) => {
                emit(Item::Rejected {
                    source: source.to_string(),
                    kind: RejectKind::Unreadable,
                    reason: format!("mbox stopped: {e}"),
                });
                return;
            }
        }
    }
}

fn read_single(
    mut reader: Box<dyn BufRead + '_>,
    source: &str,
    kind: ContainerKind,
    gzip: bool,
    opts: ReadOptions,
    emit: &mut dyn FnMut(Item),
) {
    let mut bytes = Vec::new();
    let limit = opts.max_message_size as u64 + 1;
    if let Err(e) = (&mut reader).take(limit).read_to_end(&mut bytes) {
        return emit(Item::Rejected {
            source: source.to_string(),
            kind: RejectKind::Unreadable,
            reason: e.to_string(),
        });
    }
    if bytes.len() as u64 == limit {
        // Count the rest without keeping it (bounded by the gzip ratio cap).
        let rest = io::copy(&mut reader, &mut io::sink()).unwrap_or(0);
        return emit(Item::Rejected {
            source: source.to_string(),
            kind: RejectKind::TooLarge,
            reason: format!(
                "{} bytes, over the {} byte limit",
                limit + rest - 1,
                opts.max_message_size
            ),
        });
    }
    let mut container = Container {
        kind,
        gzip,
        ..Default::default()
    };
    let mut envelope_time = None;
    if looks_like_mbox(&bytes) {
        // Stdin (or a single message) with an envelope line: keep it as metadata.
        let end = memchr_newline(&bytes);
        let line = String::from_utf8_lossy(&bytes[..end])
            .trim_end()
            .to_string();
        envelope_time = envelope_date(&line);
        container.envelope = Some(line);
        bytes.drain(..(end + 1).min(bytes.len()));
    }
    emit(Item::Message(Unit {
        bytes,
        sighting: Sighting {
            source: source.to_string(),
            container,
            envelope_time,
        },
    }));
}

fn memchr_newline(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len())
}
