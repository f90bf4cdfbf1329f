//! Authentication through the command line, offline: linux_sparse messages
//! verified in snapshot mode against the archived DKIM keys, judged at
//! arrival time; the DNS mode recorded in the record's provenance.

mod common;

use common::{unpacked, Db};

/// A snapshot holding the archived keys (TXT strings cut to 255 bytes, as
/// DNS carries them).
fn keys_snapshot(dir: &std::path::Path) -> std::path::PathBuf {
    let keys = std::fs::read_to_string(
        unpacked("linux_sparse_list_archive").join("dkim_keys_archived.tsv"),
    )
    .unwrap();
    let mut text = String::from(
        "; wavetrace-dns-snapshot 1\n; captured: archived keys of the linux_sparse archive\n",
    );
    for line in keys
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut fields = line.split('\t');
        let (Some(name), Some(record)) = (fields.next(), fields.next()) else {
            continue;
        };
        let chunks: Vec<String> = record
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        text.push_str(&format!(
            "{}. TXT {}\n",
            name.trim_end_matches('.'),
            chunks.join(" ")
        ));
    }
    let path = dir.join("keys.snapshot");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn dkim_verifies_offline_at_arrival_time() {
    let archive = unpacked("linux_sparse_list_archive");
    let results = std::fs::read_to_string(archive.join("dkim_results.tsv")).unwrap();
    let passing: Vec<String> = results
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.get(8) == Some(&"pass")).then(|| f[0].to_string())
        })
        .take(12)
        .collect();
    assert_eq!(passing.len(), 12);
    let db = Db::new();
    let snapshot = keys_snapshot(db.dir.path());
    let paths: Vec<std::path::PathBuf> = passing.iter().map(|f| archive.join(f)).collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    db.scan(
        &refs,
        &[
            "--dns",
            "snapshot",
            "--dns-file",
            snapshot.to_str().unwrap(),
        ],
    );
    let records = db.records();
    assert_eq!(records.len(), 12);
    for r in &records {
        let dkim = r["auth"]["dkim"].as_array().unwrap();
        assert!(
            dkim.iter().any(|v| v["result"] == "pass"
                && v["source"] == "computed"
                && v["domain"] == "gmail.com"),
            "{}: {dkim:?}",
            r["source"]
        );
        assert_eq!(r["analysis"]["auth"]["dns_mode"], "snapshot");
    }
}

/// A signature with an expiry (`x=`, 7 days after signing) passes at
/// arrival time and fails when judged now, with the reason in words.
#[test]
fn expiry_is_judged_at_the_chosen_time() {
    let archive = unpacked("linux_sparse_list_archive");
    let results = std::fs::read_to_string(archive.join("dkim_results.tsv")).unwrap();
    let expiring = results
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.get(8) == Some(&"pass") && f.get(7).is_some_and(|x| !x.is_empty()))
                .then(|| f[0].to_string())
        })
        .unwrap();
    let msg = archive.join(expiring);
    let dkim_of = |verify_at: &str| {
        let db = Db::new();
        let snapshot = keys_snapshot(db.dir.path());
        db.scan(
            &[&msg],
            &[
                "--dns",
                "snapshot",
                "--dns-file",
                snapshot.to_str().unwrap(),
                "--verify-at",
                verify_at,
            ],
        );
        db.records()[0]["auth"]["dkim"][0].clone()
    };
    let at_arrival = dkim_of("arrival");
    assert_eq!(at_arrival["result"], "pass", "{at_arrival}");
    let now = dkim_of("now");
    assert_eq!(now["result"], "fail", "{now}");
    assert!(now["reason"].as_str().unwrap().contains("expired"), "{now}");
}

#[test]
fn snapshot_mode_needs_a_file() {
    let db = Db::new();
    let msg = unpacked("linux_sparse_list_archive").join("msgs/00003.eml");
    let out = db.run(&["scan", "--dns", "snapshot", msg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dns-file"));
}
