//! DNS modes end to end: record against a DNS server on 127.0.0.1, replay
//! from the written snapshot with that server stopped; and snapshot mode in
//! a network namespace that has only loopback.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use wavetrace_auth::{
    AuthInput, AuthResult, DnsMode, Rdata, Snapshot, SnapshotServer, Verifier, VerifierConfig,
    VerifyAt,
};

/// A small closed-world zone: the archived Gmail keys, an SPF record and a
/// DMARC policy with pct (reported, not applied).
fn upstream_zone() -> Snapshot {
    let dir = common::unpacked("linux_sparse_list_archive");
    let keys = std::fs::read_to_string(dir.join("dkim_keys_archived.tsv")).expect("keys");
    let mut zone = Snapshot::new();
    zone.closed_world = true;
    for line in keys
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        if let (Some(name), Some(txt)) = (cols.next(), cols.next()) {
            zone.add_record(name, Rdata::Txt(vec![txt.as_bytes().to_vec()]));
        }
    }
    zone.add_record(
        "gmail.com",
        Rdata::Txt(vec![b"v=spf1 ip4:192.0.2.0/24 -all".to_vec()]),
    );
    zone.add_record(
        "_dmarc.gmail.com",
        Rdata::Txt(vec![b"v=DMARC1; p=none; sp=quarantine; pct=50".to_vec()]),
    );
    zone
}

/// Twenty list messages with a Gmail signature.
fn sample_messages() -> Vec<Vec<u8>> {
    let dir = common::unpacked("linux_sparse_list_archive");
    let results = std::fs::read_to_string(dir.join("dkim_results.tsv")).expect("results");
    let mut files: Vec<&str> = results
        .lines()
        .filter(|l| l.split('\t').nth(8) == Some("pass"))
        .filter_map(|l| l.split('\t').next())
        .collect();
    files.dedup();
    files
        .into_iter()
        .take(20)
        .map(|f| std::fs::read(dir.join(f)).expect("message"))
        .collect()
}

fn verify_all(verifier: &Verifier, messages: &[Vec<u8>]) -> Vec<serde_json::Value> {
    let ip: IpAddr = "192.0.2.10".parse().expect("ip");
    messages
        .iter()
        .map(|raw| {
            let auth = verifier.verify(&AuthInput {
                ip: Some(ip),
                helo: Some("mail-example.google.com"),
                mail_from: Some("someone@gmail.com"),
                arrival: common::arrival(raw),
                boundary: None,
                trusted_authserv_ids: &[],
                raw,
            });
            serde_json::to_value(&auth).expect("json")
        })
        .collect()
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wavetrace-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn record_then_replay_gives_identical_verdicts() {
    let messages = sample_messages();
    let dns_file = temp_file("recorded.zone");
    let upstream = SnapshotServer::start(upstream_zone()).expect("upstream");
    let recorder = Verifier::new(VerifierConfig {
        mode: DnsMode::Record,
        dns_file: Some(dns_file.clone()),
        dns_server: Some(upstream.addr()),
        verify_at: VerifyAt::Arrival,
        timeout: Duration::from_secs(2),
    })
    .expect("record verifier");
    let recorded = verify_all(&recorder, &messages);
    recorder.write_recording().expect("write recording");
    drop(recorder);
    drop(upstream);

    let text = std::fs::read_to_string(&dns_file).expect("recording");
    assert!(
        text.starts_with("; wavetrace-dns-snapshot 1\n; captured: "),
        "{text}"
    );
    assert!(
        text.contains("20230601._domainkey.gmail.com. TXT")
            || text.contains("20161025._domainkey.gmail.com. TXT")
    );
    assert!(
        text.contains(" NXDOMAIN\n"),
        "negative answers are recorded: {text}"
    );

    let replayer = Verifier::new(VerifierConfig {
        mode: DnsMode::Snapshot,
        dns_file: Some(dns_file.clone()),
        dns_server: None,
        verify_at: VerifyAt::Arrival,
        timeout: Duration::from_secs(2),
    })
    .expect("snapshot verifier");
    let replayed = verify_all(&replayer, &messages);
    assert_eq!(recorded, replayed);

    // The verdicts are real ones: DKIM pass, SPF pass, DMARC pass with pct reported.
    let first = &replayed[0];
    assert_eq!(first["spf"]["result"], "pass", "{first:#}");
    assert_eq!(first["dmarc"]["result"], "pass", "{first:#}");
    assert_eq!(first["dmarc"]["pct"], 50, "{first:#}");
    assert_eq!(first["from_authenticated"], "yes", "{first:#}");
    assert!(
        first["dkim"]
            .as_array()
            .is_some_and(|d| d.iter().any(|s| s["result"] == "pass")),
        "{first:#}"
    );
    let provenance = replayer.provenance();
    assert_eq!(provenance.dns_mode, DnsMode::Snapshot);
    assert!(provenance.snapshot_captured.is_some());
    let _ = std::fs::remove_file(dns_file);
}

/// Runs the snapshot-mode check in a fresh network namespace where only
/// the loopback interface exists (up): any packet meant for another host
/// could not leave, so verdicts that still come out right, and a missing
/// name reported as "no evidence in snapshot", show that snapshot mode
/// needs nothing beyond 127.0.0.1.
#[test]
fn snapshot_mode_needs_only_loopback() {
    if std::env::var_os("WAVETRACE_IN_NETNS").is_some() {
        snapshot_checks();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let status = std::process::Command::new("unshare")
        .args(["-rn", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(exe)
        .args([
            "--exact",
            "snapshot_mode_needs_only_loopback",
            "--nocapture",
        ])
        .env("WAVETRACE_IN_NETNS", "1")
        .status()
        .expect("unshare (util-linux) must be available to run this test");
    assert!(
        status.success(),
        "snapshot checks failed inside the loopback-only namespace"
    );
}

fn snapshot_checks() {
    // No route off the host inside the namespace.
    assert!(std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.send_to(b"x", "192.0.2.1:53"))
        .is_err());
    let mut zone = upstream_zone();
    zone.closed_world = false;
    let verifier =
        Verifier::from_snapshot(zone, VerifyAt::Arrival, Duration::from_secs(1)).expect("verifier");
    let messages = sample_messages();
    let results = verify_all(&verifier, &messages[..5]);
    for r in &results {
        assert_eq!(r["spf"]["result"], "pass", "{r:#}");
        assert!(
            r["dkim"]
                .as_array()
                .is_some_and(|d| d.iter().any(|s| s["result"] == "pass")),
            "{r:#}"
        );
    }
    // A name the snapshot lacks: temperror, "no evidence in snapshot", fast.
    let raw = b"From: a@elsewhere.example\r\nDKIM-Signature: v=1; a=rsa-sha256; d=elsewhere.example; s=sel; \
c=relaxed/relaxed; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\r\n";
    let started = std::time::Instant::now();
    let auth = common::verify_message(&verifier, raw, None);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "no waiting on timeouts"
    );
    let dkim = auth.dkim.first().expect("dkim verdict");
    assert_eq!(dkim.result, AuthResult::Temperror, "{}", dkim.reason);
    assert_eq!(
        dkim.reason,
        "no evidence in snapshot for sel._domainkey.elsewhere.example TXT"
    );
}
