use super::*;
use wavetrace_core::parse::{analyse, AnalysisConfig, Sighting};

fn message(raw: &str, source: &str) -> NewMessage {
    let sighting = Sighting {
        source: source.into(),
        ..Default::default()
    };
    let record = analyse(raw.as_bytes(), &sighting, &AnalysisConfig::default()).expect("mail");
    NewMessage::prepare(record, raw.as_bytes()).unwrap()
}

const A: &str = "Received: from x ([198.51.100.7]) by mx; Tue, 20 Oct 2020 14:03:00 +0000\nFrom: a@evil.example\nMessage-ID: <a1@evil.example>\nSubject: one\n\nhttps://login.evil.example/x\n";
const B: &str = "From: b@good.example\nMessage-ID: <b1@good.example>\nDate: Mon, 19 Oct 2020 10:00:00 +0000\nSubject: two\n\nhello\n";

#[test]
fn duplicates_and_rescans() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    let scan = store.begin_scan("2026-01-01T00:00:00Z").unwrap();
    let out = store
        .write_batch(
            Some(scan),
            &[
                message(A, "a.eml"),
                message(A, "copy.eml"),
                message(B, "b.eml"),
            ],
            &[],
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            WriteOutcome::New,
            WriteOutcome::Duplicate,
            WriteOutcome::New
        ]
    );
    let again = store
        .write_batch(Some(scan), &[message(A, "a.eml")], &[])
        .unwrap();
    assert_eq!(again, vec![WriteOutcome::AlreadySeen]);
    assert_eq!(store.message_count().unwrap(), 2);
    let sha = wavetrace_core::parse::sha256_hex(A.as_bytes());
    let record = store.record(&sha).unwrap().unwrap();
    assert_eq!(record.source, "a.eml");
    assert_eq!(record.sources, vec!["a.eml", "copy.eml"]);
}

#[test]
fn lookups_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    store
        .write_batch(None, &[message(A, "a.eml"), message(B, "b.eml")], &[])
        .unwrap();
    let sha = wavetrace_core::parse::sha256_hex(A.as_bytes());
    assert!(matches!(store.lookup(&sha[..8]).unwrap(), Lookup::Found(r) if r.sha256 == sha));
    assert!(matches!(
        store.lookup("<a1@evil.example>").unwrap(),
        Lookup::Found(_)
    ));
    assert!(matches!(
        store.lookup("a1@evil.example").unwrap(),
        Lookup::Found(_)
    ));
    assert!(matches!(
        store.lookup("ffffffffffff").unwrap(),
        Lookup::NotFound
    ));
    let count = |f: MessageFilter| store.count(&f).unwrap();
    assert_eq!(count(MessageFilter::default()), 2);
    assert_eq!(
        count(MessageFilter {
            from_domain: Some("EVIL.example".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(MessageFilter {
            url_domain: Some("evil.example".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(MessageFilter {
            url_domain: Some("vil.example".into()),
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        count(MessageFilter {
            ip: Some("198.51.100.7".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(MessageFilter {
            since: Some("2020-10-20T00:00:00Z".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(MessageFilter {
            until: Some("2020-10-20T00:00:00Z".into()),
            ..Default::default()
        }),
        1
    );
    let rows = store.rows(&MessageFilter::default(), Some(1)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].sha256, sha, "newest first");
}

#[test]
fn raw_bytes_round_trip_for_reanalysis() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    store
        .write_batch(None, &[message(B, "b.eml")], &[])
        .unwrap();
    let shas = store.all_sha256().unwrap();
    let raws = store.raw_messages(&shas).unwrap();
    assert_eq!(raws[0].raw, B.as_bytes());
    assert_eq!(raws[0].source, "b.eml");
}

#[test]
fn reopening_keeps_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
}

#[test]
fn the_export_salt_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let first = Store::open(&path).unwrap().export_salt().unwrap();
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    let again = Store::open(&path).unwrap().export_salt().unwrap();
    assert_eq!(first, again);
    let other = Store::open(&dir.path().join("x.db"))
        .unwrap()
        .export_salt()
        .unwrap();
    assert_ne!(first, other);
}
