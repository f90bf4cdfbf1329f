//! Containers, `source` forms, bad input and exit codes, end to end.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{counts, wavetrace, Db};

const MSG_A: &str = "From: Alice <alice@a.example>\nTo: bob@b.example\nSubject: first\nDate: Tue, 20 Oct 2020 12:00:00 +0000\nMessage-ID: <a@a.example>\n\nhello\n";
const MSG_B: &str = "From: carol@c.example\nSubject: second\nDate: Tue, 20 Oct 2020 13:00:00 +0000\nMessage-ID: <b@c.example>\n\n>From the start\nbye\n";

fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn sources(db: &Db) -> Vec<String> {
    let mut s: Vec<String> = db
        .records()
        .iter()
        .map(|r| r["source"].as_str().unwrap().to_string())
        .collect();
    s.sort();
    s
}

#[test]
fn directories_mbox_maildir_and_gzip_sources() {
    let db = Db::new();
    let root = db.dir.path().join("mail");
    write(&root.join("one.eml"), MSG_A.as_bytes());
    let mbox = format!("From alice@a.example Tue Oct 20 12:00:00 2020\n{MSG_A}\nFrom carol@c.example Tue Oct 20 13:00:00 2020\n{}\n", MSG_B.replace("\n>From", "\n>>From"));
    write(&root.join("box.mbox"), mbox.as_bytes());
    write(
        &root.join("box2.mbox.gz"),
        &gzip(
            format!(
                "From x@y Tue Oct 20 14:00:00 2020\n{}",
                MSG_A.replace("first", "third")
            )
            .as_bytes(),
        ),
    );
    write(
        &root.join("Maildir/cur/1.host:2,S"),
        MSG_A.replace("first", "fourth").as_bytes(),
    );
    write(
        &root.join("Maildir/new/2.host"),
        MSG_A.replace("first", "fifth").as_bytes(),
    );
    write(&root.join("Maildir/tmp/3.host"), b"partial delivery");
    let given = format!("{}/", root.display());
    let s = db.scan(&[Path::new(&given)], &[]);
    assert_eq!(counts(&s), [6, 5, 1, 0, 0, 0, 0], "{s}");
    assert_eq!(s["maildir_tmp_skipped"], 1);
    let base = given.clone();
    assert_eq!(
        sources(&db),
        vec![
            format!("{base}Maildir/cur/1.host:2,S"),
            format!("{base}Maildir/new/2.host"),
            format!("{base}box.mbox#1"),
            format!("{base}box.mbox#2"),
            format!("{base}box2.mbox.gz#1"),
        ]
    );
    let records = db.records();
    let by_subject = |s: &str| records.iter().find(|r| r["subject"] == s).unwrap().clone();
    // The same bytes in box.mbox#1 and one.eml (walked in name order):
    // stored once, both sightings kept, the first is `source`.
    let first = by_subject("first");
    assert_eq!(
        first["sources"],
        serde_json::json!([format!("{base}box.mbox#1"), format!("{base}one.eml")])
    );
    // mboxrd quoting undone one level; the variant is recorded.
    let second = by_subject("second");
    assert_eq!(second["container"]["mbox_variant"], "mboxrd");
    assert!(second["body"]["text"]
        .as_str()
        .unwrap()
        .contains(">From the start"));
    assert_eq!(
        second["sha256"],
        wavetrace_core::parse::sha256_hex(MSG_B.as_bytes())
    );
    let third = by_subject("third");
    assert_eq!(third["container"]["gzip"], true);
    assert_eq!(by_subject("fourth")["container"]["kind"], "maildir");
}

#[test]
fn stdin_is_one_message() {
    let db = Db::new();
    let mut child = wavetrace()
        .arg("--db")
        .arg(db.path())
        .args(["scan", "--format", "ndjson", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("From a@a.example Tue Oct 20 12:00:00 2020\n{MSG_A}").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["source"], "-");
    assert_eq!(record["container"]["kind"], "stdin");
    assert_eq!(
        record["sha256"],
        wavetrace_core::parse::sha256_hex(MSG_A.as_bytes())
    );
}

#[test]
fn unwrap_attached_reports() {
    let db = Db::new();
    let report = format!(
        "From: user@corp.example\nTo: abuse@corp.example\nSubject: Fwd: phish\nDate: Wed, 21 Oct 2020 09:00:00 +0000\nContent-Type: multipart/mixed; boundary=R\n\n--R\nContent-Type: text/plain\n\nplease look\n--R\nContent-Type: message/rfc822\n\n{MSG_A}\n--R\nContent-Type: message/rfc822\n\n{MSG_B}\n--R--\n"
    );
    let path = db.dir.path().join("report.eml");
    write(&path, report.as_bytes());
    let s = db.scan(&[&path], &["--unwrap-attached"]);
    assert_eq!(counts(&s)[1], 2, "{s}");
    let records = db.records();
    let a = records.iter().find(|r| r["subject"] == "first").unwrap();
    assert_eq!(a["source"], format!("{}!1", path.display()));
    assert_eq!(a["container"]["kind"], "attached");
    assert_eq!(
        a["container"]["reporter"]["from"]["address"],
        "user@corp.example"
    );
    assert_eq!(a["container"]["reporter"]["index"], 1);
    let b = records.iter().find(|r| r["subject"] == "second").unwrap();
    assert_eq!(b["source"], format!("{}!2", path.display()));
    // Without the flag the report itself is the message.
    let db2 = Db::new();
    let s = db2.scan(&[&path], &[]);
    assert_eq!(counts(&s)[1], 1);
    assert_eq!(db2.records()[0]["subject"], "Fwd: phish");
}

#[test]
fn bad_input_never_crashes() {
    let db = Db::new();
    let dir = db.dir.path().join("bad");
    write(&dir.join("empty.eml"), b"");
    write(
        &dir.join("binary.bin"),
        &(0..=255u8).cycle().take(10_000).collect::<Vec<u8>>(),
    );
    write(
        &dir.join("photo.jpg"),
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01",
    );
    write(&dir.join("truncated.eml"), b"From: a@b.example\nSubject: cut\nContent-Type: multipart/mixed; boundary=Z\n\n--Z\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjcK");
    write(&dir.join("utf8.eml"), b"From: \xff\xfe <x@\xc3(.example>\nSubject: \xe2\x82\nDate: \xf0\x28\x8c\x28\n\n\xc3\x28 body\n");
    let mut headers = b"From: a@b.example\n".to_vec();
    for i in 0..100_000 {
        headers.extend_from_slice(format!("X-H{i}: v\n").as_bytes());
    }
    headers.extend_from_slice(b"\nbody\n");
    write(&dir.join("headers.eml"), &headers);
    let mut nested = Vec::new();
    for _ in 0..30_000 {
        nested
            .extend_from_slice(b"From: a@b.example\nSubject: n\nContent-Type: message/rfc822\n\n");
    }
    nested.extend_from_slice(b"From: a@b.example\n\ninner\n");
    write(&dir.join("nested.eml"), &nested);
    // 64 MB of zeros, gzip: a bomb past the ratio cap.
    write(&dir.join("bomb.eml.gz"), &gzip(&vec![0u8; 64 << 20]));
    // A 200 MB message (sparse on disk), over the default 50 MB limit.
    write(&dir.join("huge.eml"), MSG_A.as_bytes());
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("huge.eml"))
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let s = db.scan(&[&dir], &[]);
    // analysed: truncated, utf8, headers, nested; not mail: empty, binary, jpg;
    // too large: huge; unreadable: bomb.
    assert_eq!(counts(&s), [4, 4, 0, 4, 3, 1, 1], "{s}");
    assert!(
        s["peak_rss_mb"].as_f64().unwrap() < 400.0,
        "bounded memory: {s}"
    );
}

#[test]
fn messages_over_the_size_limit_are_skipped_and_counted() {
    let db = Db::new();
    let path = db.dir.path().join("big.eml");
    let mut big = MSG_A.as_bytes().to_vec();
    big.extend(std::iter::repeat_n(b'x', 3 << 20));
    write(&path, &big);
    let mbox = db.dir.path().join("box.mbox");
    write(
        &mbox,
        format!(
            "From a@b Tue Oct 20 12:00:00 2020\n{}\nFrom a@b Tue Oct 20 12:00:01 2020\n{MSG_B}",
            String::from_utf8_lossy(&big)
        )
        .as_bytes(),
    );
    let s = db.scan(&[&path, &mbox], &["--max-message-size", "1M"]);
    assert_eq!(counts(&s), [1, 1, 0, 0, 0, 2, 0], "{s}");
}

#[test]
fn exit_codes() {
    let db = Db::new();
    // A path that does not exist: 1, and nothing is scanned.
    let ok = db.dir.path().join("ok.eml");
    write(&ok, MSG_A.as_bytes());
    let out = db.run(&["scan", ok.to_str().unwrap(), "/does/not/exist"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/does/not/exist"));
    assert!(!db.path().exists(), "nothing scanned");
    // Usage errors: 2.
    assert_eq!(db.run(&["scan"]).status.code(), Some(2));
    assert_eq!(db.run(&["no-such-command"]).status.code(), Some(2));
    // A missing database for queries: 1.
    assert_eq!(db.run(&["messages"]).status.code(), Some(1));
    // Rejected files still exit 0.
    let empty = db.dir.path().join("empty");
    write(&empty, b"");
    assert_eq!(
        db.run(&["scan", empty.to_str().unwrap()]).status.code(),
        Some(0)
    );
}
