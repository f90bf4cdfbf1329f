//! rspamd's functional-test messages with the DNS records its tests serve
//! (`_fixtures/fake_dns_records.json`) and the symbols they expect
//! (`_fixtures/expectations.tsv`), mapped to wavetrace verdicts. Only rows
//! whose expected or unexpected symbols are SPF, DKIM, DMARC or ARC ones run.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use wavetrace_auth::{
    AuthInput, AuthResult, AuthResults, DmarcPolicy, Negative, Rdata, RecordType, Snapshot,
    Verifier, VerifyAt,
};

fn snapshot(json: &serde_json::Value) -> Snapshot {
    let mut snapshot = Snapshot::new();
    snapshot.closed_world = true;
    for record in json.as_array().into_iter().flatten() {
        let name = record["name"].as_str().unwrap_or_default();
        let rtype = match record["type"].as_str().unwrap_or_default() {
            "txt" => RecordType::Txt,
            "a" => RecordType::A,
            "aaaa" => RecordType::Aaaa,
            "mx" => RecordType::Mx,
            "ptr" => RecordType::Ptr,
            _ => continue,
        };
        match record["rcode"].as_str() {
            Some("norec") => snapshot.add_negative(name, rtype, Negative::NoData),
            Some("nxdomain") => snapshot.add_negative(name, rtype, Negative::NxDomain),
            Some("timeout") => snapshot.add_negative(name, rtype, Negative::Timeout),
            Some(_) => snapshot.add_negative(name, rtype, Negative::ServFail),
            None => {
                for reply in record["replies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str())
                {
                    let rdata = match rtype {
                        RecordType::Txt => Some(Rdata::Txt(vec![reply.as_bytes().to_vec()])),
                        RecordType::A => reply.parse().ok().map(Rdata::A),
                        RecordType::Aaaa => reply.parse().ok().map(Rdata::Aaaa),
                        RecordType::Ptr => Some(Rdata::Ptr(reply.to_string())),
                        RecordType::Mx => reply
                            .split_once(' ')
                            .and_then(|(p, h)| Some(Rdata::Mx(p.parse().ok()?, h.to_string()))),
                        RecordType::Cname => None,
                    };
                    if let Some(rdata) = rdata {
                        snapshot.add_record(name, rdata);
                    }
                }
            }
        }
    }
    snapshot
}

/// Whether our verdicts show `symbol`; `None` for symbols outside authentication.
fn shows(auth: &AuthResults, symbol: &str) -> Option<bool> {
    let spf = auth.spf.as_ref().map_or(AuthResult::None, |s| s.result);
    let dkim = |r: &[AuthResult]| auth.dkim.iter().any(|d| r.contains(&d.result));
    let dmarc = auth.dmarc.as_ref();
    let dmarc_result = dmarc.map_or(AuthResult::None, |d| d.result);
    let dmarc_fail_with = |p: DmarcPolicy| {
        dmarc_result == AuthResult::Fail && dmarc.and_then(|d| d.detail.policy) == Some(p)
    };
    let arc = auth.arc.as_ref().map_or(AuthResult::None, |a| a.result);
    Some(match symbol {
        "R_SPF_ALLOW" => spf == AuthResult::Pass,
        "R_SPF_FAIL" => spf == AuthResult::Fail,
        "R_SPF_SOFTFAIL" => spf == AuthResult::Softfail,
        "R_SPF_NEUTRAL" => spf == AuthResult::Neutral,
        "R_SPF_NA" => spf == AuthResult::None,
        "R_SPF_DNSFAIL" => spf == AuthResult::Temperror,
        "R_SPF_PERMFAIL" => spf == AuthResult::Permerror,
        "R_DKIM_ALLOW" => dkim(&[AuthResult::Pass]),
        "R_DKIM_REJECT" => dkim(&[AuthResult::Fail]),
        "R_DKIM_PERMFAIL" => dkim(&[AuthResult::Permerror, AuthResult::Neutral]),
        "R_DKIM_TEMPFAIL" => dkim(&[AuthResult::Temperror]),
        "R_DKIM_NA" => auth.dkim.is_empty(),
        "DMARC_POLICY_ALLOW" => dmarc_result == AuthResult::Pass,
        "DMARC_POLICY_REJECT" => dmarc_fail_with(DmarcPolicy::Reject),
        "DMARC_POLICY_QUARANTINE" => dmarc_fail_with(DmarcPolicy::Quarantine),
        "DMARC_POLICY_SOFTFAIL" => dmarc_fail_with(DmarcPolicy::None),
        "DMARC_NA" => dmarc_result == AuthResult::None,
        "DMARC_DNSFAIL" => dmarc_result == AuthResult::Temperror,
        "DMARC_BAD_POLICY" => dmarc_result == AuthResult::Permerror,
        "ARC_ALLOW" => arc == AuthResult::Pass,
        "ARC_REJECT" | "ARC_INVALID" => arc == AuthResult::Fail,
        "ARC_NA" => arc == AuthResult::None,
        "ARC_DNSFAIL" => arc == AuthResult::Temperror,
        _ => return None,
    })
}

#[test]
fn rspamd_functional_messages() {
    let base = common::loose("rspamd_test_messages");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(base.join("_fixtures/fake_dns_records.json")).expect("dns"),
    )
    .expect("json");
    let verifier =
        Verifier::from_snapshot(snapshot(&json), VerifyAt::Now, Duration::from_millis(300))
            .expect("verifier");
    let table =
        std::fs::read_to_string(base.join("_fixtures/expectations.tsv")).expect("expectations");
    let (mut run, mut passed, mut failures) = (0, 0, Vec::new());
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(case), Some(file), Some(params)) = (cols.get(1), cols.get(2), cols.get(3)) else {
            continue;
        };
        let split = |c: Option<&&str>| {
            c.map_or(Vec::new(), |s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
        };
        let (expect, not_expect) = (split(cols.get(4)), split(cols.get(5)));
        let Ok(raw) = std::fs::read(base.join(file)) else {
            continue;
        };
        let mut input = AuthInput {
            ip: None,
            helo: None,
            mail_from: None,
            arrival: None,
            boundary: None,
            trusted_authserv_ids: &[],
            raw: &raw,
        };
        let mut ip = None;
        let (mut from, mut helo) = (None, None);
        for param in params.split('|').map(str::trim) {
            match param.split_once('=') {
                Some(("IP", v)) => ip = v.trim().parse::<IpAddr>().ok(),
                Some(("From", v)) => {
                    from = Some(v.trim().trim_matches(|c| c == '<' || c == '>').to_string())
                }
                Some(("Helo", v)) => helo = Some(v.trim().to_string()),
                _ => {}
            }
        }
        input.ip = ip;
        input.mail_from = from.as_deref();
        input.helo = helo.as_deref();
        let auth = verifier.verify(&input);
        let mut relevant = false;
        let mut wrong = Vec::new();
        for (symbol, want) in expect
            .iter()
            .map(|s| (s, true))
            .chain(not_expect.iter().map(|s| (s, false)))
        {
            if let Some(has) = shows(&auth, symbol) {
                relevant = true;
                if has != want {
                    wrong.push(format!("{}{symbol}", if want { "" } else { "not " }));
                }
            }
        }
        if !relevant {
            continue;
        }
        run += 1;
        if wrong.is_empty() {
            passed += 1;
        } else {
            let spf = auth
                .spf
                .as_ref()
                .map(|s| format!("{} ({})", s.result.as_str(), s.reason));
            let dmarc = auth
                .dmarc
                .as_ref()
                .map(|s| format!("{} ({}) {:?}", s.result.as_str(), s.reason, s.detail.policy));
            let dkim: Vec<String> = auth
                .dkim
                .iter()
                .map(|d| format!("{} ({})", d.result.as_str(), d.reason))
                .collect();
            let arc = auth
                .arc
                .as_ref()
                .map(|s| format!("{} ({})", s.result.as_str(), s.reason));
            failures.push(format!("{case} [{file}]: wanted {wrong:?}; spf {spf:?} dkim {dkim:?} dmarc {dmarc:?} arc {arc:?}"));
        }
    }
    eprintln!("rspamd: {passed}/{run}; failures: {failures:#?}");
    assert_eq!((passed, run), (RSPAMD_PASS, RSPAMD_RUN), "{failures:#?}");
}

const RSPAMD_PASS: usize = 63;
const RSPAMD_RUN: usize = 71;
