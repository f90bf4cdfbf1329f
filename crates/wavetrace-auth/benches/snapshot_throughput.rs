//! Verification throughput in snapshot mode on the DKIM-signed linux_sparse
//! messages (all four mechanisms computed, answers from the loopback
//! server). Run: `cargo bench --bench snapshot_throughput`. Threads:
//! `WAVETRACE_BENCH_THREADS` (default 1, then the number of CPUs).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wavetrace_auth::{AuthInput, Rdata, Snapshot, Verifier, VerifyAt};

fn main() {
    let base = std::env::var_os("WAVETRACE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/corpora"))
        .join("linux_sparse_list_archive");
    let (Ok(keys), Ok(results)) = (
        std::fs::read_to_string(base.join("dkim_keys_archived.tsv")),
        std::fs::read_to_string(base.join("dkim_results.tsv")),
    ) else {
        eprintln!("linux_sparse corpus not found under {}", base.display());
        std::process::exit(1);
    };
    let mut snapshot = Snapshot::new();
    for line in keys.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        if let (Some(name), Some(txt)) = (cols.next(), cols.next()) {
            snapshot.add_record(name, Rdata::Txt(vec![txt.as_bytes().to_vec()]));
        }
    }
    let mut files: Vec<&str> = results
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .collect();
    files.dedup();
    let messages: Vec<(Vec<u8>, Option<u64>)> = files
        .iter()
        .filter_map(|f| std::fs::read(base.join(f)).ok())
        .map(|raw| {
            let arrival = mail_parser::MessageParser::default()
                .parse(&raw)
                .and_then(|m| {
                    m.received()
                        .and_then(|r| r.date())
                        .map(|d| d.to_timestamp())
                })
                .and_then(|t| u64::try_from(t).ok());
            (raw, arrival)
        })
        .collect();
    let bytes: usize = messages.iter().map(|(m, _)| m.len()).sum();
    let verifier =
        match Verifier::from_snapshot(snapshot, VerifyAt::Arrival, Duration::from_secs(1)) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
    let ip = "192.0.2.1".parse().ok();
    let run = |chunk: &[(Vec<u8>, Option<u64>)]| {
        for (raw, arrival) in chunk {
            let auth = verifier.verify(&AuthInput {
                ip,
                helo: Some("mail.example.org"),
                mail_from: Some("someone@gmail.com"),
                arrival: *arrival,
                boundary: None,
                trusted_authserv_ids: &[],
                raw,
            });
            std::hint::black_box(auth);
        }
    };
    run(&messages[..messages.len().min(50)]); // warm the resolver cache
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<usize> = match std::env::var("WAVETRACE_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
    {
        Some(n) => vec![n],
        None => vec![1, cpus],
    };
    for n in threads {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for chunk in messages.chunks(messages.len().div_ceil(n.max(1)).max(1)) {
                scope.spawn(|| run(chunk));
            }
        });
        let secs = started.elapsed().as_secs_f64();
        println!(
            "snapshot-mode verification, {n} thread(s): {} messages ({:.1} MB) in {secs:.2} s = {:.0} msg/s",
            messages.len(),
            bytes as f64 / 1e6,
            messages.len() as f64 / secs
        );
    }
}
