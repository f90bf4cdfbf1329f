//! Real DKIM signatures from the linux-sparse list archive, verified offline
//! from a snapshot holding the three archived Gmail keys, judged at arrival.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use wavetrace_auth::{AuthResult, Rdata, Snapshot, Verifier, VerifyAt};

fn key_snapshot(tsv: &str) -> Snapshot {
    let mut snapshot = Snapshot::new();
    snapshot.captured = Some("archived keys (dkim_keys_archived.tsv)".to_string());
    for line in tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        let (Some(name), Some(txt)) = (cols.next(), cols.next()) else {
            continue;
        };
        snapshot.add_record(name, Rdata::Txt(vec![txt.as_bytes().to_vec()]));
    }
    snapshot
}

#[test]
fn archived_gmail_signatures_verify_at_arrival() {
    let dir = common::unpacked("linux_sparse_list_archive");
    let keys = std::fs::read_to_string(dir.join("dkim_keys_archived.tsv")).expect("keys tsv");
    let results = std::fs::read_to_string(dir.join("dkim_results.tsv")).expect("results tsv");
    let verifier = Verifier::from_snapshot(
        key_snapshot(&keys),
        VerifyAt::Arrival,
        Duration::from_secs(2),
    )
    .expect("verifier");

    // (file, d, s) -> expected verdicts, in signature order.
    let mut rows: Vec<(String, String, String, String, String)> = Vec::new();
    for line in results.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 10 {
            continue;
        }
        rows.push((
            cols[0].into(),
            cols[2].into(),
            cols[3].into(),
            cols[8].into(),
            cols[9].into(),
        ));
    }
    let files: Vec<String> = {
        let mut f: Vec<String> = rows
            .iter()
            .filter(|r| r.3 != "nokey")
            .map(|r| r.0.clone())
            .collect();
        f.dedup();
        f
    };
    // Verify each file once, on two threads sharing one verifier.
    let verdicts: HashMap<String, Vec<(String, String, AuthResult, String)>> =
        std::thread::scope(|scope| {
            let chunks: Vec<&[String]> = files.chunks(files.len().div_ceil(2).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let verifier = &verifier;
                    let dir = &dir;
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|file| {
                                let raw = std::fs::read(dir.join(file)).expect("message");
                                let auth =
                                    common::verify_message(verifier, &raw, common::arrival(&raw));
                                let v = auth
                                    .dkim
                                    .iter()
                                    .map(|d| {
                                        (
                                            d.domain.clone().unwrap_or_default(),
                                            d.detail.selector.clone().unwrap_or_default(),
                                            d.result,
                                            d.reason.clone(),
                                        )
                                    })
                                    .collect();
                                (file.clone(), v)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("thread"))
                .collect()
        });

    let (mut compared, mut agreed, mut passes) = (0usize, 0usize, 0usize);
    let (mut ar_compared, mut ar_agreed) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    for (file, d, s, archived, ar) in rows.iter().filter(|r| r.3 != "nokey") {
        let Some(list) = verdicts.get(file) else {
            continue;
        };
        let nth = used.entry(format!("{file}/{d}/{s}")).or_insert(0);
        let Some((_, _, result, reason)) = list
            .iter()
            .filter(|(vd, vs, _, _)| vd == d && vs == s)
            .nth(*nth)
        else {
            disagreements.push(format!("{file} {d} {s}: no verdict"));
            continue;
        };
        *nth += 1;
        compared += 1;
        if *result == AuthResult::Pass {
            passes += 1;
        }
        if result.as_str() == archived {
            agreed += 1;
        } else {
            disagreements.push(format!(
                "{file} {d} {s}: expected {archived}, got {} ({reason})",
                result.as_str()
            ));
        }
        if !ar.is_empty() {
            ar_compared += 1;
            if result.as_str() == ar {
                ar_agreed += 1;
            }
        }
    }
    eprintln!(
        "linux_sparse: {passes} pass; {agreed}/{compared} agree with archived-key verdicts; \
         {ar_agreed}/{ar_compared} agree with kernel.org Authentication-Results; disagreements: {disagreements:#?}"
    );
    assert_eq!(passes, 1555, "{disagreements:#?}");
    assert!(
        agreed * 100 >= compared * 99,
        "{agreed}/{compared}: {disagreements:#?}"
    );
    assert!(
        ar_agreed * 100 >= ar_compared * 99,
        "{ar_agreed}/{ar_compared}"
    );
}

#[test]
fn judged_now_the_same_signatures_expire_or_still_pass_with_reason() {
    // The same keys judged at a fixed time long after arrival: signatures
    // with x= must fail with the expiry reason, never pass.
    let dir = common::unpacked("linux_sparse_list_archive");
    let keys = std::fs::read_to_string(dir.join("dkim_keys_archived.tsv")).expect("keys tsv");
    let far_future = 4_102_444_800; // 2100-01-01
    let verifier = Verifier::from_snapshot(
        key_snapshot(&keys),
        VerifyAt::Fixed(far_future),
        Duration::from_secs(2),
    )
    .expect("verifier");
    let raw = std::fs::read(dir.join("msgs/00003.eml")).expect("message");
    let auth = common::verify_message(&verifier, &raw, None);
    let gmail = auth
        .dkim
        .iter()
        .find(|d| d.domain.as_deref() == Some("gmail.com"))
        .expect("gmail signature");
    if gmail.detail.expires_at.is_some() {
        assert_eq!(gmail.result, AuthResult::Fail);
        assert!(
            gmail.reason.starts_with("signature expired"),
            "{}",
            gmail.reason
        );
    } else {
        assert_eq!(gmail.result, AuthResult::Pass, "{}", gmail.reason);
    }
}
