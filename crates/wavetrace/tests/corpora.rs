//! Every shared corpus scans with zero crashes, and the counts of analysed,
//! stored, duplicate, malformed, not-mail, too-large and unreadable inputs
//! are exactly as expected (see the README's definitions).
//!
//! Counts order: [analysed, stored, duplicates, malformed, not_mail, too_large, unreadable].

mod common;

use common::{counts, shared, unpacked, Db};

#[test]
fn phishing_pot() {
    // 5,909 files: one is empty and one holds only MIME headers (no From,
    // Date, Received, Message-ID or Subject): not mail. Two files are
    // byte-identical. Malformed: mostly From headers with an unquoted comma.
    let db = Db::new();
    let s = db.scan(&[&unpacked("phishing_pot")], &[]);
    assert_eq!(counts(&s), [5907, 5906, 1, 1244, 2, 0, 0], "{s}");
}

#[test]
fn spamassassin_public_corpus() {
    // 6,046 messages, each file an mbox of one (an envelope line first);
    // LICENSE and NOTICE are not mail.
    let db = Db::new();
    let s = db.scan(&[&unpacked("spamassassin_public_corpus")], &[]);
    assert_eq!(counts(&s), [6046, 6046, 0, 275, 2, 0, 0], "{s}");
}

#[test]
fn linux_sparse_list_archive() {
    let db = Db::new();
    let s = db.scan(&[&unpacked("linux_sparse_list_archive/msgs")], &[]);
    assert_eq!(counts(&s), [3545, 3545, 0, 2, 0, 0, 0], "{s}");
}

#[test]
fn nazario_mboxes() {
    let db = Db::new();
    let s = db.scan(&[&unpacked("nazario_phishing_2004_2005")], &[]);
    assert_eq!(counts(&s), [1308, 1308, 0, 48, 0, 0, 0], "{s}");
    let records = db.records();
    assert!(records
        .iter()
        .all(|r| r["source"].as_str().unwrap().contains(".mbox#")));
    assert!(records.iter().all(|r| r["container"]["kind"] == "mbox"
        && r["container"]["envelope"]
            .as_str()
            .unwrap()
            .starts_with("From ")));
}

#[test]
fn mail_parser_suite_including_malformed() {
    // The .json files beside the messages are expected outputs: not mail.
    let db = Db::new();
    let s = db.scan(&[&shared("mail-parser/resources")], &[]);
    assert_eq!(counts(&s), [124, 124, 0, 65, 482, 0, 0], "{s}");
}

#[test]
fn spamassassin_test_messages() {
    let db = Db::new();
    let s = db.scan(&[&shared("spamassassin_t_data")], &[]);
    assert_eq!(counts(&s), [217, 208, 9, 25, 19, 0, 0], "{s}");
}

#[test]
fn other_suites() {
    for (path, expected) in [
        ("cpython_test_email", [42, 42, 0, 18, 6, 0, 0]),
        ("crymap_test_data", [32, 32, 0, 3, 2, 0, 0]),
        ("rspamd_test_messages", [157, 156, 1, 79, 62, 0, 0]),
    ] {
        let db = Db::new();
        let s = db.scan(&[&shared(path)], &[]);
        assert_eq!(counts(&s), expected, "{path}: {s}");
    }
}
