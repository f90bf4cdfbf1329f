//! End-to-end scan benchmark: `cargo bench -p wavetrace --bench scan`.
//!
//! Scans a corpus (default: phishing_pot, unpacked under target/corpora by
//! scripts/test.sh; or `WAVETRACE_BENCH_CORPUS=PATH`) into a fresh database,
//! `WAVETRACE_BENCH_RUNS` times (default 3), with the release binary, and
//! prints messages/s, MB/s and peak memory per run and the best run. A
//! benchmark, not a test: nothing is asserted.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let corpus = std::env::var_os("WAVETRACE_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora/phishing_pot")
        });
    if !corpus.exists() {
        eprintln!(
            "{} is missing: run scripts/test.sh or set WAVETRACE_BENCH_CORPUS",
            corpus.display()
        );
        std::process::exit(1);
    }
    let runs: usize = std::env::var("WAVETRACE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut best: Option<(f64, f64, f64, f64)> = None;
    println!(
        "scan {} into a fresh database, {runs} runs",
        corpus.display()
    );
    for run in 1..=runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("bench.db");
        let out = Command::new(env!("CARGO_BIN_EXE_wavetrace"))
            .arg("--db")
            .arg(&db)
            .args(["scan", "--summary-format", "json"])
            .arg(&corpus)
            .output()
            .expect("run wavetrace");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let summary: serde_json::Value = match stderr.lines().last().map(serde_json::from_str) {
            Some(Ok(v)) => v,
            _ => {
                eprintln!("scan failed: {stderr}");
                std::process::exit(1);
            }
        };
        let messages = summary["analysed"].as_f64().unwrap_or(0.0);
        let mb = summary["bytes"].as_f64().unwrap_or(0.0) / 1e6;
        let secs = summary["seconds"].as_f64().unwrap_or(f64::NAN);
        let rss = summary["peak_rss_mb"].as_f64().unwrap_or(0.0);
        let db_mb = std::fs::metadata(&db)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0);
        println!(
            "run {run}: {messages} messages, {mb:.1} MB in {secs:.2} s: {:.0} msg/s, {:.1} MB/s, peak memory {rss:.0} MB, database {db_mb:.0} MB",
            messages / secs,
            mb / secs
        );
        let rate = messages / secs;
        if best.is_none_or(|b| rate > b.0) {
            best = Some((rate, mb / secs, rss, secs));
        }
    }
    if let Some((rate, mbs, rss, secs)) = best {
        println!("best: {rate:.0} msg/s, {mbs:.1} MB/s, {secs:.2} s, peak memory {rss:.0} MB");
    }
}
