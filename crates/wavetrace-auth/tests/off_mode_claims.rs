//! `--dns off`: receiver claims only, judged against the trust boundary.
//! Uses the RFC 7601/8601 Authentication-Results examples.

mod common;

use wavetrace_auth::{
    AuthInput, AuthResult, ClaimMethod, ClaimPosition, FromAuthenticated, Source, Verifier,
    VerifierConfig,
};

fn off() -> Verifier {
    Verifier::new(VerifierConfig::default()).expect("off-mode verifier")
}

#[test]
fn rfc_examples_parse_into_claims() {
    let path = common::loose("auth/authres/authentication_results_examples.txt");
    let text = std::fs::read_to_string(path).expect("examples");
    let verifier = off();
    let (mut headers, mut claims, mut with_result_token) = (0, 0, 0);
    for line in text
        .lines()
        .filter(|l| l.starts_with("Authentication-Results:"))
    {
        headers += 1;
        let value = &line["Authentication-Results:".len()..];
        let authserv_id = value
            .split(';')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        let raw = format!("Authentication-Results:{value}\r\nReceived: from a by b\r\nFrom: x@example.com\r\n\r\nbody\r\n");
        let trusted = vec![authserv_id.clone()];
        let auth = verifier.verify(&AuthInput {
            ip: None,
            helo: None,
            mail_from: None,
            arrival: None,
            boundary: Some(0),
            trusted_authserv_ids: &trusted,
            raw: raw.as_bytes(),
        });
        assert!(auth.verified_at.is_none(), "off mode computes nothing");
        for claim in &auth.claimed {
            claims += 1;
            assert!(claim.trusted, "{line}: {}", claim.trust_reason);
            assert_eq!(
                claim.authserv_id.as_deref(),
                Some(authserv_id.to_ascii_lowercase().as_str())
            );
            with_result_token += usize::from(claim.result.is_some());
        }
    }
    eprintln!("authres examples: {headers} headers, {claims} claims, {with_result_token} with an RFC 8601 result token");
    assert_eq!(
        (headers, claims, with_result_token),
        (EXAMPLE_HEADERS, EXAMPLE_CLAIMS, EXAMPLE_TOKENS)
    );
}

/// 22 example headers; 36 method results; one (`dkim-adsp=discard`) is not
/// an RFC 8601 result token and is kept verbatim in `result_text`.
const EXAMPLE_HEADERS: usize = 22;
const EXAMPLE_CLAIMS: usize = 36;
const EXAMPLE_TOKENS: usize = 35;

#[test]
fn trusted_claims_become_verdicts_and_forged_ones_do_not() {
    let raw = b"Authentication-Results: mx.receiver.example; spf=pass smtp.mailfrom=bounce@news.shop.example;\r\n \
dkim=pass header.d=shop.example header.s=s1; dmarc=pass header.from=shop.example\r\n\
Received: from out.shop.example (out.shop.example [192.0.2.9]) by mx.receiver.example\r\n\
Authentication-Results: mx.receiver.example; dkim=pass header.d=bank.example\r\n\
Received: from sender by out.shop.example\r\n\
From: Shop <news@shop.example>\r\n\r\nhello\r\n";
    let trusted = vec!["receiver.example".to_string()];
    let input = AuthInput {
        ip: None,
        helo: None,
        mail_from: None,
        arrival: None,
        boundary: Some(0),
        trusted_authserv_ids: &trusted,
        raw,
    };
    let auth = off().verify(&input);
    assert_eq!(auth.claimed.len(), 4);
    let forged = &auth.claimed[3];
    assert_eq!(forged.position, ClaimPosition::InsertedBeforeReceipt);
    assert!(!forged.trusted);
    let spf = auth.spf.as_ref().expect("claimed spf");
    assert_eq!(
        (spf.result, spf.source, spf.aligned),
        (AuthResult::Pass, Source::Claimed, Some(true))
    );
    assert_eq!(auth.dkim.len(), 1, "the forged claim is not a verdict");
    assert_eq!(auth.dkim[0].domain.as_deref(), Some("shop.example"));
    assert_eq!(
        auth.dmarc.as_ref().map(|d| d.result),
        Some(AuthResult::Pass)
    );
    assert_eq!(auth.from_authenticated, FromAuthenticated::Yes);
    assert!(
        auth.claimed
            .iter()
            .filter(|c| c.method == ClaimMethod::Dkim)
            .count()
            == 2
    );

    // Untrusted receiver: nothing becomes a verdict, and "no" is never inferred.
    let auth = off().verify(&AuthInput {
        trusted_authserv_ids: &[],
        ..input
    });
    assert!(auth.spf.is_none() && auth.dkim.is_empty() && auth.dmarc.is_none());
    assert_eq!(auth.from_authenticated, FromAuthenticated::Unknown);

    // JSON contract: snake_case, RFC 8601 tokens in lower case.
    let json = serde_json::to_value(off().verify(&input)).expect("json");
    assert_eq!(json["spf"]["result"], "pass");
    assert_eq!(json["spf"]["source"], "claimed");
    assert_eq!(json["from_authenticated"], "yes");
    assert_eq!(json["claimed"][3]["position"], "inserted_before_receipt");
}

#[test]
fn hostile_input_never_panics() {
    let verifier = off();
    let cases: [&[u8]; 6] = [
        b"",
        b"\r\n\r\n",
        b"Authentication-Results: ;;;;===(((\r\n\r\n",
        b"Authentication-Results: \xff\xfe; spf=\xff\r\nARC-Authentication-Results: i=x\r\nReceived-SPF: \r\n\r\n",
        b"Received-SPF: pass (unterminated comment receiver=x\r\n\r\n",
        b"From: <@>\r\nAuthentication-Results: a; dkim=pass header.d=\"unterminated\r\n\r\n",
    ];
    for raw in cases {
        let auth = verifier.verify(&AuthInput {
            ip: None,
            helo: None,
            mail_from: None,
            arrival: None,
            boundary: Some(5),
            trusted_authserv_ids: &["a".to_string()],
            raw,
        });
        assert_eq!(auth.from_authenticated, FromAuthenticated::Unknown);
    }
}
