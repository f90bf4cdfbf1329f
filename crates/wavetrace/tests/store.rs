//! The store end to end: rescans, a scan killed with SIGKILL, re-analysis,
//! listing, showing.

mod common;

use std::time::Duration;

use common::{counts, repo, unpacked, wavetrace, Db};

#[test]
fn rescanning_stores_nothing_twice() {
    let db = Db::new();
    let sample = repo("samples");
    let first = db.scan(&[&sample], &[]);
    let second = db.scan(&[&sample], &[]);
    let [analysed, stored, ..] = counts(&first);
    assert!(analysed > 0 && stored > 0);
    assert_eq!(second["stored"], 0);
    assert_eq!(second["duplicates"].as_u64(), Some(analysed));
    assert_eq!(second["rescanned"].as_u64(), Some(analysed));
    let records = db.records();
    assert_eq!(records.len() as u64, stored);
    let sightings: usize = records
        .iter()
        .map(|r| r["sources"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        sightings as u64, analysed,
        "one sighting per source, never doubled"
    );
}

/// Kill a scan with SIGKILL at several moments; the database stays
/// consistent and the next scan completes it without duplicates.
#[test]
fn a_killed_scan_is_completed_by_the_next() {
    let corpus = unpacked("spamassassin_public_corpus");
    let reference = Db::new();
    let full = reference.scan(&[&corpus], &[]);
    let mut interrupted = 0;
    for delay_ms in [150, 400, 900] {
        let db = Db::new();
        let mut child = wavetrace()
            .arg("--db")
            .arg(db.path())
            .arg("scan")
            .arg(&corpus)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let check = std::process::Command::new("sqlite3")
            .arg(db.path())
            .arg("PRAGMA integrity_check;")
            .output();
        if let Ok(out) = check {
            if out.status.success() {
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
            }
        }
        if db.path().exists() {
            let partial = db.records().len() as u64;
            if partial > 0 && partial < full["stored"].as_u64().unwrap() {
                interrupted += 1;
            }
        }
        let resumed = db.scan(&[&corpus], &[]);
        assert_eq!(resumed["analysed"], full["analysed"]);
        let records = db.records();
        assert_eq!(
            records.len() as u64,
            full["stored"].as_u64().unwrap(),
            "after kill at {delay_ms} ms"
        );
        let sightings: usize = records
            .iter()
            .map(|r| r["sources"].as_array().unwrap().len())
            .sum();
        assert_eq!(sightings as u64, full["analysed"].as_u64().unwrap());
    }
    assert!(
        interrupted > 0,
        "no kill landed mid-scan: the test proved nothing"
    );
}

#[test]
fn reanalyse_recomputes_identical_records() {
    let db = Db::new();
    db.scan(&[&repo("samples")], &[]);
    let before = db.records();
    let out = db.run(&["reanalyse"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(db.records(), before);
}

#[test]
fn messages_filters_formats_and_show() {
    let db = Db::new();
    db.scan(&[&repo("samples")], &[]);
    let all = db.records();
    assert!(all.len() > 50, "the sample has more than one table page");
    // Table: newest 50 and how many more.
    let table = String::from_utf8(db.run(&["messages"]).stdout).unwrap();
    assert_eq!(table.lines().count(), 52, "header + 50 rows + footer");
    assert!(table
        .lines()
        .last()
        .unwrap()
        .contains(&format!("{} more", all.len() - 50)));
    // JSON: one array with every row.
    let json = db.json(&["messages", "--format", "json"]);
    assert_eq!(json.as_array().unwrap().len(), all.len());
    assert_eq!(
        json.as_array().unwrap()[0],
        all[0],
        "same schema in json and ndjson"
    );
    // Filters.
    let domain = all
        .iter()
        .find_map(|r| r["from"]["domain"].as_str())
        .unwrap()
        .to_string();
    let out = db.json(&["messages", "--format", "json", "--from-domain", &domain]);
    assert!(out
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["from"]["domain"] == domain.as_str()));
    let with_url = all
        .iter()
        .find(|r| {
            r["urls"]
                .as_array()
                .is_some_and(|u| u.iter().any(|u| u["host"].is_string()))
        })
        .unwrap();
    let host = with_url["urls"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|u| u["host"].as_str())
        .unwrap();
    let out = db.json(&["messages", "--format", "json", "--url-domain", host]);
    assert!(out
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["sha256"] == with_url["sha256"]));
    let out = db.json(&[
        "messages",
        "--format",
        "json",
        "--limit",
        "3",
        "--since",
        "2002-01-01",
    ]);
    assert_eq!(out.as_array().unwrap().len(), 3);
    // show by sha256 prefix and by Message-ID; ambiguous and unknown ids exit 1.
    let r = &all[0];
    let sha = r["sha256"].as_str().unwrap();
    let shown = db.run(&["show", &sha[..10], "--format", "json"]);
    assert!(shown.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(&shown, r);
    let with_id = all.iter().find(|r| r["message_id"].is_string()).unwrap();
    let id = with_id["message_id"].as_str().unwrap();
    let text = db.run(&["show", &format!("<{id}>")]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains(with_id["sha256"].as_str().unwrap()));
    assert_eq!(db.run(&["show", "0000000000"]).status.code(), Some(1));
}

#[test]
fn an_ambiguous_id_lists_the_candidates() {
    let db = Db::new();
    let dir = db.dir.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    for body in ["one", "two"] {
        std::fs::write(
            dir.join(body),
            format!("From: a@b.example\nMessage-ID: <same@b.example>\nSubject: {body}\n\n{body}\n"),
        )
        .unwrap();
    }
    db.scan(&[&dir], &[]);
    let out = db.run(&["show", "same@b.example"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ambiguous"), "{stderr}");
    for r in db.records() {
        assert!(stderr.contains(r["sha256"].as_str().unwrap()));
    }
}
