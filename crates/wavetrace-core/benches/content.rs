//! Content classifiers on real mail: `cargo bench -p wavetrace-core --bench content`.
//!
//! Reads the unpacked corpora (`$WAVETRACE_CORPORA`, else
//! `../../target/corpora` beside the manifest, else
//! `/work/main/target/corpora`; skipped with a message when none exists),
//! parses every message with `parse::analyse`, then for each corpus:
//! * times `detect::content::classify` on the subject and body text of every
//!   message (best of three passes) and prints µs/message;
//! * prints the share of messages whose score for each classifier is
//!   >= 0.5 (the calibration table).
//!
//! Corpora: SpamAssassin easy/hard ham and spam, the Linux sparse list
//! archive (legitimate), and phishing_pot restricted to the 70% tuning split
//! (first byte of sha256(file name) < 179), so the other 30% stays unseen.
//!
//! `WAVETRACE_CONTENT_SHOW=classifier` additionally lists, per corpus, the
//! messages scoring >= 0.5 on that classifier with their phrases (for
//! calibration). A benchmark, not a test: nothing is asserted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use wavetrace_core::detect::content::{classify, Classifiers};
use wavetrace_core::parse::{analyse, sha256_hex, AnalysisConfig, Sighting};

/// The classes whose union is the `fraud*` column: any of them >= 0.5.
const FRAUD_CLASSES: [&str; 5] = [
    "credential_phishing",
    "payment_fraud",
    "advance_fee",
    "spam",
    "extortion",
];

/// Messages of one corpus: (file name, subject, body text).
type Messages = Vec<(String, Option<String>, String)>;

fn corpora_root() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("WAVETRACE_CORPORA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora")),
        Some(PathBuf::from("/work/main/target/corpora")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_dir())
}

/// Files of `dir` (sorted), keeping those `keep` accepts by file name.
fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// phishing_pot's tuning split: sha256(file name) first byte < 179.
fn in_tuning_split(name: &str) -> bool {
    u8::from_str_radix(&sha256_hex(name.as_bytes())[..2], 16).is_ok_and(|b| b < 179)
}

fn load(paths: &[PathBuf]) -> Messages {
    let config = AnalysisConfig::default();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let Ok(raw) = std::fs::read(path) else {
            continue;
        };
        // SpamAssassin files start with an mbox envelope line.
        let raw = match raw.strip_prefix(b"From ") {
            Some(rest) => rest
                .iter()
                .position(|&b| b == b'\n')
                .and_then(|p| rest.get(p + 1..))
                .unwrap_or(rest),
            None => &raw[..],
        };
        let Ok(record) = analyse(raw, &Sighting::default(), &config) else {
            continue;
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        out.push((name, record.subject, record.body.text));
    }
    out
}

fn main() {
    let Some(root) = corpora_root() else {
        println!("content bench skipped: no corpora (set WAVETRACE_CORPORA or unpack them into target/corpora)");
        return;
    };
    let sa = root.join("spamassassin_public_corpus");
    let any = |_: &str| true;
    let corpora: Vec<(&str, Vec<PathBuf>)> = vec![
        ("easy_ham", {
            let mut v = files(&sa.join("easy-ham-1"), any);
            v.extend(files(&sa.join("easy-ham-2"), any));
            v
        }),
        ("hard_ham", files(&sa.join("hard-ham-1"), any)),
        (
            "linux_sparse",
            files(&root.join("linux_sparse_list_archive/msgs"), |n| {
                n.ends_with(".eml")
            }),
        ),
        ("sa_spam", {
            let mut v = files(&sa.join("spam-1"), any);
            v.extend(files(&sa.join("spam-2"), any));
            v
        }),
        (
            "phishing_pot_tune",
            files(&root.join("phishing_pot"), in_tuning_split),
        ),
    ];
    // Compile the lexicons first so their one-time cost is not in the timings.
    let start = Instant::now();
    let names: Vec<String> = Classifiers::builtin().names().to_vec();
    println!(
        "lexicons compiled in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let show = std::env::var("WAVETRACE_CONTENT_SHOW").ok();

    let mut header = format!(
        "{:<18} {:>6} {:>8} {:>7}",
        "corpus", "msgs", "µs/msg", "KB/msg"
    );
    for n in &names {
        header.push_str(&format!(" {:>8}", abbreviate(n)));
    }
    header.push_str(&format!(" {:>8}", "fraud*"));
    println!("{header}");
    for (corpus, paths) in corpora {
        let messages = load(&paths);
        if messages.is_empty() {
            println!("{corpus:<18} (absent)");
            continue;
        }
        let mut best = f64::INFINITY;
        let mut results = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            results = messages
                .iter()
                .map(|(_, subject, text)| classify(subject.as_deref(), text))
                .collect::<Vec<_>>();
            best = best.min(start.elapsed().as_secs_f64());
        }
        let kb = messages.iter().map(|m| m.2.len()).sum::<usize>() as f64
            / 1024.0
            / messages.len() as f64;
        let mut row = format!(
            "{corpus:<18} {:>6} {:>8.1} {:>7.1}",
            messages.len(),
            best * 1e6 / messages.len() as f64,
            kb
        );
        for n in &names {
            let hits = results
                .iter()
                .filter(|r| r.classes.get(n).is_some_and(|c| c.score >= 0.5))
                .count();
            row.push_str(&format!(
                " {:>7.1}%",
                100.0 * hits as f64 / messages.len() as f64
            ));
        }
        let fraud = results
            .iter()
            .filter(|r| {
                FRAUD_CLASSES
                    .iter()
                    .any(|n| r.classes.get(*n).is_some_and(|c| c.score >= 0.5))
            })
            .count();
        row.push_str(&format!(
            " {:>7.1}%",
            100.0 * fraud as f64 / messages.len() as f64
        ));
        println!("{row}");
        if let Some(class) = &show {
            for ((name, subject, _), r) in messages.iter().zip(&results) {
                if let Some(c) = r.classes.get(class).filter(|c| c.score >= 0.5) {
                    println!(
                        "    {name} {:.2} {:?} | {}",
                        c.score,
                        c.phrases,
                        subject
                            .as_deref()
                            .unwrap_or("")
                            .chars()
                            .take(60)
                            .collect::<String>()
                    );
                }
            }
        }
    }
}

/// Column titles short enough for a table.
fn abbreviate(name: &str) -> String {
    match name {
        "intimidation" => "intimid".into(),
        "extortion" => "extort".into(),
        "data_possession" => "data_pos".into(),
        "credential_phishing" => "cred_phi".into(),
        "payment_fraud" => "pay_frd".into(),
        "advance_fee" => "adv_fee".into(),
        other => other.chars().take(8).collect(),
    }
}
