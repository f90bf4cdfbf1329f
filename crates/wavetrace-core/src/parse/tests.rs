use super::*;
use crate::record::{ArrivalSource, TextFrom, UrlContext};
use proptest::prelude::*;

fn sighting() -> Sighting {
    Sighting {
        source: "test.eml".into(),
        ..Default::default()
    }
}

fn analyse_ok(raw: &[u8]) -> MessageRecord {
    analyse(raw, &sighting(), &AnalysisConfig::default()).expect("mail")
}

const SIMPLE: &str = "Received: from relay.example (relay.example [203.0.113.5])\r\n\tby mx.example with ESMTP id 1; Tue, 20 Oct 2020 14:03:00 -0400\r\n\
From: \"Proud Group\" <info@proud.example>\r\nTo: Jane <jane@voter.example>, bob@voter.example\r\n\
Reply-To: x@free.example\r\nSubject: =?utf-8?q?Vote_or_else?=\r\nDate: Tue, 20 Oct 2020 12:00:00 -0400\r\n\
Message-ID: <abc@proud.example>\r\nX-Mailer: Mailer 1.0\r\n\r\nWe know. See https://proud.example/x.\r\n";

#[test]
fn reads_the_fields_of_a_simple_message() {
    let r = analyse_ok(SIMPLE.as_bytes());
    assert_eq!(r.sha256, sha256_hex(SIMPLE.as_bytes()));
    assert_eq!(r.size, SIMPLE.len() as u64);
    assert_eq!(r.message_id.as_deref(), Some("abc@proud.example"));
    let from = r.from.as_ref().unwrap();
    assert_eq!(from.name.as_deref(), Some("Proud Group"));
    assert_eq!(from.domain.as_deref(), Some("proud.example"));
    assert_eq!(r.to_count, 2);
    assert_eq!(r.to[1].address.as_deref(), Some("bob@voter.example"));
    assert_eq!(r.reply_to[0].domain.as_deref(), Some("free.example"));
    assert_eq!(r.subject.as_deref(), Some("Vote or else"));
    assert_eq!(r.date.as_deref(), Some("2020-10-20T16:00:00Z"));
    assert_eq!(r.arrival_time.as_deref(), Some("2020-10-20T18:03:00Z"));
    assert_eq!(r.arrival_time_source, Some(ArrivalSource::TrustedHop));
    assert_eq!(r.received.len(), 1);
    assert!(r.received[0]
        .raw
        .starts_with("from relay.example (relay.example [203.0.113.5])\tby mx.example"));
    assert_eq!(r.x_mailer.as_deref(), Some("Mailer 1.0"));
    assert_eq!(r.body.text_from, TextFrom::Plain);
    assert_eq!(r.urls.len(), 1);
    assert_eq!(r.urls[0].url, "https://proud.example/x");
    assert_eq!(r.urls[0].found_in, UrlContext::Text);
    assert!(r.defects.is_empty(), "{:?}", r.defects);
    assert_eq!(r.mime.structure, "text/plain");
}

#[test]
fn not_mail_is_told_apart() {
    let limits = AnalysisConfig::default();
    assert_eq!(analyse(b"", &sighting(), &limits), Err(NotMail::Empty));
    assert_eq!(
        analyse(b"\xFF\xD8\xFF\xE0\x00\x10JFIF", &sighting(), &limits),
        Err(NotMail::NoHeaderBlock)
    );
    assert_eq!(
        analyse(b"hello world\nthis is text\n", &sighting(), &limits),
        Err(NotMail::NoHeaderBlock)
    );
    assert_eq!(
        analyse(b"Content-Type: text/plain\n\nhi\n", &sighting(), &limits),
        Err(NotMail::NoMailHeaders)
    );
    assert!(analyse(b"Subject: only a subject\n\nhi\n", &sighting(), &limits).is_ok());
}

#[test]
fn defects_are_listed() {
    let raw = b"Subject: a\nSubject: b\nDate: not a date\nMessage-ID: garbage without brackets\xff\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain; charset=klingon\n\nhi\n";
    let r = analyse_ok(raw);
    let codes: Vec<DefectCode> = r.defects.iter().map(|d| d.code).collect();
    for expected in [
        DefectCode::MissingFrom,
        DefectCode::UnparseableDate,
        DefectCode::DuplicateHeader,
        DefectCode::InvalidUtf8Header,
        DefectCode::MultipartUnterminated,
        DefectCode::UnknownCharset,
    ] {
        assert!(
            codes.contains(&expected),
            "{expected:?} missing from {codes:?}"
        );
    }
    assert_eq!(r.date_raw.as_deref(), Some("not a date"));
}

#[test]
fn html_only_mail_gives_text_and_attribute_urls() {
    let raw = b"From: a@b.example\nSubject: s\nContent-Type: text/html\n\n<html><body><a href=\"https://login.evil.example/?u=1&amp;v=2\">Your bank</a> <img src=http://t.example/p.gif></body></html>\n";
    let r = analyse_ok(raw);
    assert_eq!(r.body.text_from, TextFrom::Html);
    assert!(r.body.text.contains("Your bank"));
    let urls: Vec<(&str, UrlContext)> = r
        .urls
        .iter()
        .map(|u| (u.url.as_str(), u.found_in))
        .collect();
    assert!(
        urls.contains(&("https://login.evil.example/?u=1&v=2", UrlContext::Href)),
        "{urls:?}"
    );
    assert!(urls.contains(&("http://t.example/p.gif", UrlContext::Src)));
    assert_eq!(r.urls[0].host.as_deref(), Some("login.evil.example"));
}

#[test]
fn attachments_are_hashed_and_sniffed() {
    let raw = b"From: a@b.example\nSubject: s\nDate: Tue, 20 Oct 2020 12:00:00 +0000\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee attached\n--B\nContent-Type: application/pdf; name=invoice.pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"invoice.pdf\"\n\nTVqQAAMAAAAEAAAA\n--B--\n";
    let r = analyse_ok(raw);
    assert_eq!(
        r.mime.structure,
        "multipart/mixed(text/plain,application/pdf)"
    );
    assert_eq!(r.attachments.len(), 1);
    let a = &r.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("invoice.pdf"));
    assert_eq!(a.declared_type, "application/pdf");
    assert_eq!(a.sniffed_type.as_deref(), Some("application/x-msdownload"));
    assert_eq!(a.size, 12);
    assert_eq!(
        a.sha256,
        sha256_hex(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00")
    );
    assert!(r.defects.is_empty(), "{:?}", r.defects);
}

/// Tens of thousands of nested message/rfc822 levels: no stack overflow on
/// drop (FIELD-NOTES), the depth limit flagged.
#[test]
fn deep_nesting_is_bounded() {
    let levels = 40_000;
    let mut raw = Vec::new();
    for _ in 0..levels {
        raw.extend_from_slice(b"From: a@b.example\nSubject: n\nContent-Type: message/rfc822\n\n");
    }
    raw.extend_from_slice(b"From: a@b.example\nSubject: inner\n\nbody\n");
    // A small stack, like a worker thread's, must be enough.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            analyse(&raw, &sighting(), &AnalysisConfig::default())
                .map(|r| (r.mime.max_depth, r.defects))
        })
        .unwrap();
    let (depth, defects) = handle.join().expect("no overflow").expect("mail");
    assert_eq!(depth, ParseLimits::default().max_depth);
    assert!(defects.iter().any(|d| d.code == DefectCode::LimitDepth));
}

#[test]
fn huge_header_blocks_are_capped() {
    let mut raw = b"From: a@b.example\n".to_vec();
    for i in 0..100_000 {
        raw.extend_from_slice(format!("X-Junk-{i}: value\n").as_bytes());
    }
    raw.extend_from_slice(b"\nbody\n");
    let r = analyse_ok(&raw);
    assert!(r.defects.iter().any(|d| d.code == DefectCode::LimitHeaders));
}

#[test]
fn arrival_falls_back_to_date_then_envelope() {
    let r = analyse_ok(b"Subject: s\nDate: Tue, 20 Oct 2020 12:00:00 +0000\n\nx\n");
    assert_eq!(r.arrival_time_source, Some(ArrivalSource::Date));
    let s = Sighting {
        envelope_time: Some(0),
        ..sighting()
    };
    let r = analyse(b"Subject: s\n\nx\n", &s, &AnalysisConfig::default()).unwrap();
    assert_eq!(r.arrival_time.as_deref(), Some("1970-01-01T00:00:00Z"));
    assert_eq!(r.arrival_time_source, Some(ArrivalSource::Envelope));
}

#[test]
fn unfolding() {
    assert_eq!(unfold("a\r\n b\n\tc"), "a b\tc");
    assert_eq!(unfold("plain"), "plain");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any bytes: a record or a reason, never a panic; the record's identity
    /// is the sha256 of exactly those bytes.
    #[test]
    fn analyse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(r) = analyse(&bytes, &sighting(), &AnalysisConfig::default()) {
            prop_assert_eq!(r.sha256, sha256_hex(&bytes));
            prop_assert_eq!(r.size, bytes.len() as u64);
        }
    }

    /// Empty multiparts (`--B--` at once) anywhere among a multipart/mixed's
    /// text parts, with either line ending: every text part is still read,
    /// and the empty multiparts are reported.
    #[test]
    fn empty_multiparts_hide_no_part(
        words in proptest::collection::vec("[a-z]{6,12}", 1..6),
        empties in proptest::collection::vec(any::<bool>(), 6),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut raw = format!(
            "From: a@b.example{nl}To: c@d.example{nl}Subject: s{nl}Date: Tue, 14 Feb 2023 21:23:25 +0100{nl}\
MIME-Version: 1.0{nl}Content-Type: multipart/mixed; boundary=\"OUT\"{nl}{nl}"
        );
        let mut empty_count = 0;
        for (i, word) in words.iter().enumerate() {
            if empties.get(i).copied().unwrap_or(false) {
                empty_count += 1;
                raw.push_str(&format!(
                    "--OUT{nl}Content-Type: multipart/related; boundary=\"IN{i}\"{nl}{nl}--IN{i}--{nl}{nl}"
                ));
            }
            raw.push_str(&format!("--OUT{nl}Content-Type: text/plain{nl}{nl}{word}{nl}"));
        }
        raw.push_str(&format!("--OUT--{nl}"));
        let r = analyse_ok(raw.as_bytes());
        for word in &words {
            prop_assert!(r.body.text.contains(word.as_str()), "{} missing from {:?}", word, r.body.text);
        }
        // Defects are listed once per code.
        let reported = r.defects.iter().any(|d| d.code == DefectCode::MultipartEmpty);
        prop_assert_eq!(reported, empty_count > 0);
        prop_assert_eq!(r.mime.structure.matches("multipart/related()").count(), empty_count);
    }

    /// Mail-shaped input with arbitrary header values and bodies.
    #[test]
    fn mail_shaped_input_is_mail(subject in "[ -~]{0,80}", from in "[ -~]{0,80}", body in "\\PC{0,400}") {
        let raw = format!("From: {from}\r\nSubject: {subject}\r\n\r\n{body}");
        let r = analyse(raw.as_bytes(), &sighting(), &AnalysisConfig::default());
        prop_assert!(r.is_ok());
    }
}

#[test]
fn from_with_an_unquoted_comma_is_read_best_effort() {
    let r = analyse_ok(b"From: Microsoft account team ,_<no-reply@access-example.com>\nSubject: s\nDate: Tue, 20 Oct 2020 12:00:00 +0000\n\nx\n");
    let from = r.from.as_ref().unwrap();
    assert_eq!(from.address.as_deref(), Some("no-reply@access-example.com"));
    assert_eq!(from.name.as_deref(), Some("Microsoft account team"));
    assert_eq!(r.defects[0].code, DefectCode::InvalidFrom);
    let r = analyse_ok(b"From: Shop, jehd <service@shop.example>\nSubject: s\nDate: Tue, 20 Oct 2020 12:00:00 +0000\n\nx\n");
    assert_eq!(r.from.as_ref().unwrap().name.as_deref(), Some("Shop, jehd"));
}

#[test]
fn old_dates_are_repaired_as_rfc5322_says() {
    assert_eq!(
        repair_date("Wed, 24 Jul 2002 02:42:22")
            .map(|(t, _)| rfc3339_utc(t))
            .as_deref(),
        Some("2002-07-24T02:42:22Z")
    );
    assert_eq!(
        repair_date("Wed, 17 Jul 0102 09:53:05 -0200")
            .map(|(t, _)| rfc3339_utc(t))
            .as_deref(),
        Some("2002-07-17T11:53:05Z")
    );
    assert_eq!(
        repair_date("Tue, 23 Jul 2002 14:05:04 +0000"),
        None,
        "nothing to repair"
    );
    assert_eq!(repair_date("garbage"), None);
    let r = analyse_ok(b"From: a@b.example\nDate: Wed, 24 Jul 2002 02:42:22\n\nx\n");
    assert_eq!(r.date.as_deref(), Some("2002-07-24T02:42:22Z"));
    assert_eq!(r.date_raw.as_deref(), Some("Wed, 24 Jul 2002 02:42:22"));
    assert_eq!(r.defects[0].code, DefectCode::DateRepaired);
}

#[test]
fn return_path_is_the_header_only() {
    assert_eq!(
        analyse_ok(SIMPLE.as_bytes()).return_path,
        None,
        "no fallback to From"
    );
    let r = analyse_ok(b"Return-Path: <bounce@list.example>\nReturn-Path: <older@x.example>\nFrom: a@b.example\n\nx\n");
    assert_eq!(r.return_path.as_deref(), Some("bounce@list.example"));
    let r = analyse_ok(b"Return-Path: <>\nFrom: a@b.example\n\nx\n");
    assert_eq!(r.return_path.as_deref(), Some(""));
}

/// A multipart that never closes leaves its only text part to mail-parser's
/// recovery path, undecoded among the attachments; wavetrace decodes it.
#[test]
fn reads_the_text_part_of_an_unterminated_multipart() {
    let html = "From: a@b.example\r\nTo: c@d.example\r\nSubject: Approved\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/html; charset=\"iso-8859-1\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+PHA+WW91ciBob21lIGxvYW4gaXMgPGI+YXBwcm92ZWQ8L2I+ITwvcD48YSBo\r\ncmVmPSJodHRwczovL2xvYW5zLmV4YW1wbGUvY2xhaW0iPkNsYWltIGl0PC9hPjwvYm9keT48L2h0\r\nbWw+\r\n\r\n";
    let r = analyse_ok(html.as_bytes());
    assert_eq!(r.body.text_from, TextFrom::Html);
    assert!(
        r.body.text.contains("Your home loan is approved!"),
        "{}",
        r.body.text
    );
    assert!(
        r.urls
            .iter()
            .any(|u| u.url == "https://loans.example/claim"),
        "{:?}",
        r.urls
    );
    assert!(r
        .defects
        .iter()
        .any(|d| d.code == DefectCode::PartEncodingProblem));
    assert!(r.attachments.is_empty(), "the body is not an attachment");

    // A character outside base64's alphabet does not leave the part encoded.
    let stray = html.replace("\r\nbWw+", "\r\nbW!w+");
    let r = analyse_ok(stray.as_bytes());
    assert!(
        r.body.text.contains("Your home loan is approved!"),
        "{}",
        r.body.text
    );

    let plain = "From: a@b.example\r\nTo: c@d.example\r\nSubject: Konto\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Berlin, bitte best=C3=A4tigen Sie Ihr Konto.\r\n";
    let r = analyse_ok(plain.as_bytes());
    assert_eq!(r.body.text_from, TextFrom::Plain);
    assert!(
        r.body
            .text
            .contains("Grüße aus Berlin, bitte bestätigen Sie Ihr Konto."),
        "{}",
        r.body.text
    );

    // A named file stays an attachment, whatever its type.
    let named = plain.replace(
        "text/plain; charset=utf-8",
        "text/plain; name=\"notes.txt\"",
    );
    assert_eq!(analyse_ok(named.as_bytes()).body.text_from, TextFrom::None);
}

/// A bare addr-spec whose local part is quoted (`"J S"@example.com`, RFC
/// 5322 3.4.1) is the address; mail-parser 0.11.9 read the quoted string as
/// a display name and kept `@example.com` (vendored patch 6). Inside angle
/// brackets, and as a display name before them, nothing changes.
#[test]
fn a_bare_quoted_local_part_is_the_address() {
    let raw = "From: \"John Smith\"@example.com\r\n\
To: \"a b\"@example.org, Jane Doe <\"c d\"@example.net>, \"Bob Jones\" <bob@example.com>, \"e\\\"f\"@example.org\r\n\
Subject: x\r\n\r\nhello\r\n";
    let r = analyse_ok(raw.as_bytes());
    let from = r.from.expect("a From");
    assert_eq!(from.address.as_deref(), Some("\"John Smith\"@example.com"));
    assert_eq!(from.name, None);
    assert_eq!(from.domain.as_deref(), Some("example.com"));
    let to: Vec<(Option<&str>, Option<&str>)> =
        r.to.iter()
            .map(|m| (m.name.as_deref(), m.address.as_deref()))
            .collect();
    assert_eq!(
        to,
        [
            (None, Some("\"a b\"@example.org")),
            (Some("Jane Doe"), Some("\"c d\"@example.net")),
            (Some("Bob Jones"), Some("bob@example.com")),
            (None, Some("\"e\"f\"@example.org")),
        ]
    );
}

/// A multipart whose first delimiter closes it has no parts. mail-parser
/// read its absent first part up to the end of the message, so the real
/// text part after it was lost in a blob of raw MIME; the text part, filed
/// as an attachment of the `multipart/related`, is the body.
#[test]
fn an_empty_multipart_does_not_hide_the_parts_after_it() {
    let raw = "From: Support <a@b.example>\r\nTo: c@d.example\r\nSubject: Sale\r\nDate: Tue, 14 Feb 2023 21:23:25 +0100\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/related; type=\"text/plain\"; boundary=\"OUT\"\r\n\r\npreamble\r\n\r\n--OUT\r\n\
Content-Type: multipart/related; type=\"text/html\";\r\n\tboundary=\"IN\"\r\n\r\n--IN--\r\n\r\n--OUT\r\n\
Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: inline\r\n\r\n\
U0FMRSAtIDUwJQ0KaHR0cHM6Ly9zaG9ydC5leGFtcGxlL2FiYw0K\r\n\r\n--OUT--\r\n";
    let r = analyse_ok(raw.as_bytes());
    assert_eq!(
        r.mime.structure,
        "multipart/related(multipart/related(),text/plain)"
    );
    assert_eq!(r.body.text_from, TextFrom::Plain);
    assert!(r.body.text.starts_with("SALE - 50%"), "{}", r.body.text);
    assert!(
        r.urls.iter().any(|u| u.url == "https://short.example/abc"),
        "{:?}",
        r.urls
    );
    assert!(r.attachments.is_empty(), "the body is not an attachment");
    let codes: Vec<DefectCode> = r.defects.iter().map(|d| d.code).collect();
    assert_eq!(codes, [DefectCode::MultipartEmpty]);

    // `--IN--` inside a line is no delimiter: the multipart is not empty,
    // and the part after the real delimiter is still read.
    let inline = raw.replace("\r\n\r\n--IN--\r\n", "\r\n\r\nsee --IN-- here\r\n--IN\r\nContent-Type: text/plain\r\n\r\nInner words\r\n--IN--\r\n");
    assert_ne!(inline, raw);
    let r = analyse_ok(inline.as_bytes());
    assert!(r.body.text.contains("Inner words"), "{}", r.body.text);
    assert!(
        r.defects
            .iter()
            .all(|d| d.code != DefectCode::MultipartEmpty),
        "{:?}",
        r.defects
    );

    // A multipart cut off after its first delimiter is unterminated, not empty.
    let cut = "From: a@b.example\r\nTo: c@d.example\r\nSubject: Cut\r\nDate: Tue, 14 Feb 2023 21:23:25 +0100\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"CUT\"\r\n\r\n--CUT\r\n";
    let r = analyse_ok(cut.as_bytes());
    let codes: Vec<DefectCode> = r.defects.iter().map(|d| d.code).collect();
    assert!(
        codes.contains(&DefectCode::MultipartUnterminated),
        "{codes:?}"
    );
    assert!(!codes.contains(&DefectCode::MultipartEmpty), "{codes:?}");
}
