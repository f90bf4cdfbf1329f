//! Receiver claims: `Authentication-Results` (RFC 8601),
//! `ARC-Authentication-Results` (RFC 8617 4.1.1) and `Received-SPF`
//! (RFC 7208 9.1), read without any DNS lookup, and judged against the trust
//! boundary found by origin tracing.
//!
//! A claim is evidence only if the receiving organisation wrote it: it must
//! sit above the trust boundary (added after the trusted receiver accepted the
//! message) and carry one of its authserv-ids (RFC 8601 5: a receiver must
//! ignore results with an authserv-id it does not recognise). A claim below
//! the boundary was already in the message when it arrived: anyone, the
//! sender included, could have written it.

use crate::verdict::{AuthResult, Claim, ClaimHeader, ClaimMethod, ClaimPosition, ClaimProperty};

/// Most header fields read from one message; a cap against hostile input.
const MAX_HEADERS: usize = 10_000;

/// One unfolded header field: its position, lower-case name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderField {
    pub index: usize,
    pub name: String,
    pub value: String,
}

/// Splits the header block of a raw message into unfolded fields (RFC 5322
/// 2.2.3). Tolerant: lines without a colon are skipped, bytes that are not
/// UTF-8 are replaced, an mbox `From ` line is ignored.
pub(crate) fn header_fields(raw: &[u8]) -> Vec<HeaderField> {
    let mut fields: Vec<HeaderField> = Vec::new();
    let mut current: Option<(String, Vec<u8>)> = None;
    let flush = |current: &mut Option<(String, Vec<u8>)>, fields: &mut Vec<HeaderField>| {
        if let Some((name, value)) = current.take() {
            let value = String::from_utf8_lossy(&value).trim().to_string();
            let index = fields.len();
            fields.push(HeaderField { index, name, value });
        }
    };
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if fields.len() >= MAX_HEADERS {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, value)) = current.as_mut() {
                value.push(b' ');
                value.extend_from_slice(line.trim_ascii_start());
            }
            continue;
        }
        flush(&mut current, &mut fields);
        if line.starts_with(b"From ") && fields.is_empty() {
            continue;
        }
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            current = Some((name, line[colon + 1..].to_vec()));
        }
    }
    flush(&mut current, &mut fields);
    fields
}

/// The inputs that decide whether a claim is trusted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrustContext<'a> {
    /// Header index of the Received field written by the first trusted receiver.
    pub boundary_header: Option<usize>,
    /// The trusted receiving organisation's authserv-ids.
    pub trusted_ids: &'a [String],
}

/// Finds the header index of the `boundary`-th Received field (0 = topmost).
pub(crate) fn boundary_header(fields: &[HeaderField], boundary: Option<usize>) -> Option<usize> {
    let boundary = boundary?;
    fields
        .iter()
        .filter(|f| f.name == "received")
        .nth(boundary)
        .map(|f| f.index)
}

/// Reads every claim of a message and judges its trust.
pub(crate) fn collect(fields: &[HeaderField], trust: TrustContext<'_>) -> Vec<Claim> {
    let mut claims = Vec::new();
    for field in fields {
        let parsed = match field.name.as_str() {
            "authentication-results" => {
                parse_authentication_results(&field.value, ClaimHeader::AuthenticationResults)
            }
            "arc-authentication-results" => {
                parse_authentication_results(&field.value, ClaimHeader::ArcAuthenticationResults)
            }
            "received-spf" => parse_received_spf(&field.value),
            _ => continue,
        };
        for mut claim in parsed {
            claim.header_index = field.index;
            judge(&mut claim, trust);
            claims.push(claim);
        }
    }
    claims
}

fn judge(claim: &mut Claim, trust: TrustContext<'_>) {
    let Some(boundary) = trust.boundary_header else {
        claim.position = ClaimPosition::NoBoundary;
        claim.trusted = false;
        claim.trust_reason = "no trust boundary known for this message".to_string();
        return;
    };
    if claim.header_index > boundary {
        claim.position = ClaimPosition::InsertedBeforeReceipt;
        claim.trusted = false;
        claim.trust_reason =
            "inserted before receipt: below the trusted receiver's Received field".to_string();
        return;
    }
    claim.position = ClaimPosition::AboveBoundary;
    match &claim.authserv_id {
        Some(id) if is_trusted_id(id, trust.trusted_ids) => {
            claim.trusted = true;
            claim.trust_reason = format!("above the trust boundary, authserv-id {id} is trusted");
        }
        Some(id) => {
            claim.trusted = false;
            claim.trust_reason =
                format!("authserv-id {id} is not one of the trusted receiver's (RFC 8601 5)");
        }
        None => {
            // Office 365 writes its Authentication-Results without an
            // authserv-id (against RFC 8601 2.2). A field above the trust
            // boundary was added after receipt by the receiving side, since a
            // sender's own fields stay below the receiver's Received field, so
            // position alone ties it to the receiver.
            claim.trusted = true;
            claim.trust_reason =
                "above the trust boundary; no authserv-id (Office 365 writes none), trusted by position"
                    .to_string();
        }
    }
}

/// An authserv-id is trusted when it equals a trusted id or is a host below one.
fn is_trusted_id(id: &str, trusted: &[String]) -> bool {
    let id = id.trim_end_matches('.').to_ascii_lowercase();
    trusted.iter().any(|t| {
        let t = t.trim_end_matches('.').to_ascii_lowercase();
        !t.is_empty() && (id == t || id.ends_with(&format!(".{t}")))
    })
}

/// Splits `value` at top-level `;` and removes comments (RFC 5322 3.2.2),
/// keeping each segment's comments apart so they can serve as reasons.
fn segments(value: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut comments = Vec::new();
    let mut comment = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for ch in value.chars() {
        if escaped {
            if depth > 0 {
                comment.push(ch);
            } else {
                text.push(ch);
            }
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                text.push(ch);
            }
            '(' if !quoted => {
                if depth > 0 {
                    comment.push(ch);
                }
                depth += 1;
                text.push(' ');
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    comments.push(std::mem::take(&mut comment).trim().to_string());
                } else {
                    comment.push(ch);
                }
            }
            ';' if !quoted && depth == 0 => {
                out.push((std::mem::take(&mut text), std::mem::take(&mut comments)));
            }
            _ if depth > 0 => comment.push(ch),
            _ => text.push(ch),
        }
    }
    out.push((text, comments));
    out
}

/// Splits a segment into whitespace-separated words, keeping quoted strings whole.
fn words(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for ch in segment.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn method_of(name: &str) -> ClaimMethod {
    match name {
        "spf" => ClaimMethod::Spf,
        "dkim" => ClaimMethod::Dkim,
        "dmarc" => ClaimMethod::Dmarc,
        "arc" => ClaimMethod::Arc,
        _ => ClaimMethod::Other,
    }
}

fn new_claim(header: ClaimHeader, authserv_id: Option<String>) -> Claim {
    Claim {
        header,
        header_index: 0,
        authserv_id,
        arc_instance: None,
        method: ClaimMethod::Other,
        method_name: String::new(),
        result: None,
        result_text: String::new(),
        reason: None,
        properties: Vec::new(),
        trusted: false,
        position: ClaimPosition::NoBoundary,
        trust_reason: String::new(),
    }
}

/// Parses an `Authentication-Results` or `ARC-Authentication-Results` value
/// (RFC 8601 2.2): `authserv-id [version] ; method=result [reason=..] ptype.prop=value ...`.
/// Malformed parts are skipped; a header with no result (`none`) yields no claim.
pub(crate) fn parse_authentication_results(value: &str, header: ClaimHeader) -> Vec<Claim> {
    let mut segs = segments(value).into_iter().peekable();
    let mut arc_instance = None;
    if header == ClaimHeader::ArcAuthenticationResults {
        if let Some((first, _)) = segs.peek() {
            if let Some(i) = first
                .trim()
                .strip_prefix("i=")
                .or_else(|| first.trim().strip_prefix("I="))
            {
                arc_instance = i.trim().parse().ok();
                segs.next();
            }
        }
    }
    // The authserv-id comes first (RFC 8601 2.2); Office 365 omits it and
    // starts with a result (`spf=pass (sender IP is ...)`), which is then a
    // method like the others, not an id.
    let starts_with_result = segs
        .peek()
        .and_then(|(first, _)| words(first).into_iter().next())
        .is_some_and(|w| w.contains('='));
    let authserv_id = if starts_with_result {
        None
    } else {
        segs.next().and_then(|(first, _)| {
            words(&first)
                .into_iter()
                .next()
                .map(|w| w.to_ascii_lowercase())
                .filter(|w| !w.is_empty())
        })
    };
    let mut claims = Vec::new();
    for (segment, comments) in segs {
        let mut parts = words(&segment).into_iter();
        let Some(methodspec) = parts.next() else {
            continue;
        };
        let Some((method, result)) = methodspec.split_once('=') else {
            continue;
        };
        let method = method
            .split('/')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let result = result.trim().to_ascii_lowercase();
        if method.is_empty() || result.is_empty() {
            continue;
        }
        let mut claim = new_claim(header, authserv_id.clone());
        claim.arc_instance = arc_instance;
        claim.method = method_of(&method);
        claim.method_name = method;
        claim.result = AuthResult::from_token(&result);
        claim.result_text = result;
        claim.reason = comments.into_iter().find(|c| !c.is_empty());
        for word in parts {
            let Some((name, value)) = word.split_once('=') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            if name == "reason" {
                claim.reason = Some(value.to_string());
            } else if name.contains('.') {
                claim.properties.push(ClaimProperty {
                    name,
                    value: value.to_string(),
                });
            }
        }
        claims.push(claim);
    }
    claims
}

/// Parses a `Received-SPF` value (RFC 7208 9.1):
/// `result [comment] [key=value; ...]`. The `receiver` key is the authserv-id.
pub(crate) fn parse_received_spf(value: &str) -> Vec<Claim> {
    let segs = segments(value);
    let Some((first, comments)) = segs.first() else {
        return Vec::new();
    };
    let mut first_words = words(first).into_iter();
    let Some(result) = first_words.next().map(|r| r.to_ascii_lowercase()) else {
        return Vec::new();
    };
    let mut claim = new_claim(ClaimHeader::ReceivedSpf, None);
    claim.method = ClaimMethod::Spf;
    claim.method_name = "spf".to_string();
    claim.result = AuthResult::from_token(&result);
    claim.result_text = result;
    claim.reason = comments.iter().find(|c| !c.is_empty()).cloned();
    let rest = first_words.collect::<Vec<_>>().join(" ");
    let pairs = std::iter::once(rest).chain(segs.iter().skip(1).map(|(t, _)| t.clone()));
    for segment in pairs {
        for word in words(&segment) {
            let Some((key, value)) = word.split_once('=') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            match key.as_str() {
                "receiver" => claim.authserv_id = Some(value.to_ascii_lowercase()),
                "envelope-from" => claim.properties.push(ClaimProperty {
                    name: "smtp.mailfrom".to_string(),
                    value: value.trim_matches(|c| c == '<' || c == '>').to_string(),
                }),
                "helo" => claim.properties.push(ClaimProperty {
                    name: "smtp.helo".to_string(),
                    value,
                }),
                "client-ip" => claim.properties.push(ClaimProperty {
                    name: "policy.client-ip".to_string(),
                    value,
                }),
                "identity" => claim.properties.push(ClaimProperty {
                    name: "policy.identity".to_string(),
                    value,
                }),
                _ => {}
            }
        }
    }
    vec![claim]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_results_reasons_and_properties() {
        let claims = parse_authentication_results(
            "mail-router.example.net; dkim=pass (good signature) header.d=newyork.example.com \
             header.b=oINEO8hg; dkim=fail reason=\"bad signature\" header.d=newyork.example.com; spf=none",
            ClaimHeader::AuthenticationResults,
        );
        assert_eq!(claims.len(), 3);
        assert_eq!(
            claims[0].authserv_id.as_deref(),
            Some("mail-router.example.net")
        );
        assert_eq!(claims[0].result, Some(AuthResult::Pass));
        assert_eq!(claims[0].reason.as_deref(), Some("good signature"));
        assert_eq!(claims[0].property("header.d"), Some("newyork.example.com"));
        assert_eq!(claims[1].reason.as_deref(), Some("bad signature"));
        assert_eq!(claims[2].method, ClaimMethod::Spf);
        assert_eq!(claims[2].result, Some(AuthResult::None));
    }

    #[test]
    fn no_result_and_version_and_comments_in_id() {
        assert!(parse_authentication_results(
            "example.org 1; none",
            ClaimHeader::AuthenticationResults
        )
        .is_empty());
        let claims = parse_authentication_results(
            "example.com (a comment; with semicolon) 1; spf/1=pass smtp.mailfrom=a@example.net",
            ClaimHeader::AuthenticationResults,
        );
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].authserv_id.as_deref(), Some("example.com"));
        assert_eq!(claims[0].method_name, "spf");
    }

    #[test]
    fn arc_and_received_spf() {
        let claims = parse_authentication_results(
            "i=2; lists.example.org; dmarc=pass header.from=example.com",
            ClaimHeader::ArcAuthenticationResults,
        );
        assert_eq!(claims[0].arc_instance, Some(2));
        assert_eq!(claims[0].authserv_id.as_deref(), Some("lists.example.org"));
        let spf = parse_received_spf(
            "SoftFail (mx.example.org: domain of transitioning a@b.example does not designate 192.0.2.1) \
             receiver=mx.example.org; client-ip=192.0.2.1; envelope-from=<a@b.example>; helo=h.example;",
        );
        assert_eq!(spf[0].result, Some(AuthResult::Softfail));
        assert_eq!(spf[0].authserv_id.as_deref(), Some("mx.example.org"));
        assert_eq!(spf[0].property("smtp.mailfrom"), Some("a@b.example"));
    }

    #[test]
    fn trust_follows_boundary_and_id() {
        let raw =
            b"Authentication-Results: mx.trusted.example; spf=pass smtp.mailfrom=a@b.example\r\n\
Received: from x by mx.trusted.example\r\n\
Authentication-Results: mx.trusted.example; dkim=pass header.d=b.example\r\n\
Received: from y by z\r\n\r\nbody";
        let fields = header_fields(raw);
        let trusted = vec!["trusted.example".to_string()];
        let trust = TrustContext {
            boundary_header: boundary_header(&fields, Some(0)),
            trusted_ids: &trusted,
        };
        let claims = collect(&fields, trust);
        assert_eq!(claims.len(), 2);
        assert!(claims[0].trusted);
        assert_eq!(claims[1].position, ClaimPosition::InsertedBeforeReceipt);
        assert!(!claims[1].trusted);
    }

    #[test]
    fn office365_results_without_authserv_id() {
        let claims = parse_authentication_results(
            "spf=none (sender IP is 103.167.154.120) smtp.mailfrom=nisihfjoz.co.uk; dkim=fail (no key for signature) header.d=microsoft.com;dmarc=fail action=oreject header.from=microsoft.com;compauth=fail reason=000",
            ClaimHeader::AuthenticationResults,
        );
        let methods: Vec<(&str, &str)> = claims
            .iter()
            .map(|c| (c.method_name.as_str(), c.result_text.as_str()))
            .collect();
        assert_eq!(
            methods,
            vec![
                ("spf", "none"),
                ("dkim", "fail"),
                ("dmarc", "fail"),
                ("compauth", "fail")
            ]
        );
        assert!(claims.iter().all(|c| c.authserv_id.is_none()));
        assert_eq!(
            claims[0].reason.as_deref(),
            Some("sender IP is 103.167.154.120")
        );
    }
}
