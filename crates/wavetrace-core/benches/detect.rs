//! Detection cost per message with the shipped rule set:
//! `cargo bench -p wavetrace-core --bench detect`.
//!
//! Reads every message of the unpacked corpora (`$WAVETRACE_CORPORA`, else
//! `target/corpora` of the workspace; skipped with a message when absent),
//! then times, best of three passes, on each corpus:
//! * mail-parser alone (`MessageParser::default().parse`), the floor under
//!   everything else;
//! * parsing and tracing (`parse::analyse`: MIME, text, URLs, hidden text,
//!   the Received chain);
//! * the content classifiers, link signals, sender signals,
//!   personalisation and obfuscation (mixed scripts, style sheets, hash
//!   busters) alone;
//! * `Detector::signals` (all of them, plus impersonation and lookalikes);
//! * the whole record as a `serde_json::Value` (the judge converts only
//!   the fields its rules read);
//! * `Detector::judge` (signals, the record as the rules read it, every
//!   rule, verdict);
//! * the analysis: parsing and tracing plus judging;
//!
//! and prints µs/message, with mimalloc as the allocator (as in the
//! `wavetrace` binary). Authentication is not run here (it needs the
//! auth crate); the rules that read `auth` see it absent. A benchmark, not a
//! test: nothing is asserted.

/// The allocator the `wavetrace` binary runs with, so the bench times what
/// the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::Instant;

use wavetrace_core::detect::content::Classifiers;
use wavetrace_core::detect::{links, personal, sender, text, Detector};
use wavetrace_core::parse::{analyse, AnalysisConfig, Sighting};
use wavetrace_core::record::MessageRecord;

fn corpora_root() -> Option<PathBuf> {
    [
        std::env::var_os("WAVETRACE_CORPORA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_dir())
}

/// Every message file under `dirs`, its mbox envelope line stripped.
fn raw_messages(dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|raw| match raw.strip_prefix(b"From ") {
            Some(rest) => rest
                .iter()
                .position(|&b| b == b'\n')
                .and_then(|i| rest.get(i + 1..))
                .unwrap_or(rest)
                .to_vec(),
            None => raw,
        })
        .collect()
}

/// Best of three passes of parsing and tracing `raws`, in µs per message,
/// and the records.
fn parsed(raws: &[Vec<u8>]) -> (f64, Vec<MessageRecord>) {
    let config = AnalysisConfig::default();
    let parse = |raw: &Vec<u8>| analyse(raw, &Sighting::default(), &config).ok();
    let us = (0..3)
        .map(|_| {
            let start = Instant::now();
            for raw in raws {
                std::hint::black_box(parse(raw));
            }
            start.elapsed().as_secs_f64() * 1e6 / raws.len().max(1) as f64
        })
        .fold(f64::INFINITY, f64::min);
    (us, raws.iter().filter_map(parse).collect())
}

/// Best of three passes of mail-parser alone over `raws`, in µs per message.
fn mail_parser_alone(raws: &[Vec<u8>]) -> f64 {
    let parser = mail_parser::MessageParser::default();
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for raw in raws {
                std::hint::black_box(parser.parse(raw.as_slice()));
            }
            start.elapsed().as_secs_f64() * 1e6 / raws.len().max(1) as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Best of three passes of `f` over `records`, in µs per message.
fn best_us(records: &[MessageRecord], mut f: impl FnMut(&MessageRecord)) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for r in records {
                f(r);
            }
            start.elapsed().as_secs_f64() * 1e6 / records.len().max(1) as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let Some(root) = corpora_root() else {
        println!("detect bench skipped: no corpora (set WAVETRACE_CORPORA or run scripts/test.sh)");
        return;
    };
    let detector = match Detector::builtin() {
        Ok(d) => d,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            std::process::exit(1);
        }
    };
    let sa = root.join("spamassassin_public_corpus");
    let corpora = [
        ("phishing_pot", vec![root.join("phishing_pot")]),
        (
            "spamassassin ham",
            vec![
                sa.join("easy-ham-1"),
                sa.join("easy-ham-2"),
                sa.join("hard-ham-1"),
            ],
        ),
        (
            "linux_sparse",
            vec![root.join("linux_sparse_list_archive/msgs")],
        ),
    ];
    println!(
        "{} rules, rule set {}",
        detector.provenance().count,
        detector.provenance().digest
    );
    println!(
        "| corpus | messages | mail-parser alone | parse and trace | content | links | sender | personal | obfuscation | signals | whole record as JSON | judge | analysis (µs/msg) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, dirs) in corpora {
        let raws = raw_messages(&dirs);
        let floor = mail_parser_alone(&raws);
        let (parse, recs) = parsed(&raws);
        let classifiers = Classifiers::builtin();
        let content = best_us(&recs, |r| {
            std::hint::black_box(classifiers.classify(r.subject.as_deref(), &r.body.text));
        });
        let link = best_us(&recs, |r| {
            std::hint::black_box(links::link_signals(&r.urls));
        });
        let from = best_us(&recs, |r| {
            std::hint::black_box(sender::sender_signals(r));
        });
        let personal = best_us(&recs, |r| {
            std::hint::black_box(personal::personalisation(r));
        });
        let obfuscation = best_us(&recs, |r| {
            std::hint::black_box(text::obfuscation(r.subject.as_deref(), &r.body.text));
        });
        let json = best_us(&recs, |r| {
            std::hint::black_box(serde_json::to_value(r).ok());
        });
        let signals = best_us(&recs, |r| {
            std::hint::black_box(detector.signals(r));
        });
        let judge = best_us(&recs, |r| {
            let mut r = r.clone();
            detector.judge(&mut r);
            std::hint::black_box(r);
        });
        let clone = best_us(&recs, |r| {
            std::hint::black_box(r.clone());
        });
        println!(
            "| {name} | {} | {floor:.1} | {parse:.1} | {content:.1} | {link:.1} | {from:.1} | {personal:.1} | {obfuscation:.1} | {signals:.1} | {json:.1} | {:.1} | {:.1} |",
            recs.len(),
            judge - clone,
            parse + judge - clone
        );
    }
}
