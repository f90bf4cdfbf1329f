//! Stage 1: message bytes -> [`MessageRecord`].
//!
//! Parsing is mail-parser's; this module decides what is mail at all, reads
//! the fields every later stage needs, finds defects, and keeps every
//! attacker-controlled size within [`ParseLimits`]. It never panics on input:
//! mail-parser runs under `catch_unwind`, and a parsed message is torn down
//! iteratively (see [`teardown`]) because its own drop recurses once per
//! nested message/rfc822 level.

mod defects;
pub mod hidden;
pub mod html;
mod html_to_text;
mod mime;
pub(crate) use mime::nested_message_bytes;
mod pdf;
pub mod sniff;
pub mod urls;

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use mail_parser::{Address, DateTime, HeaderName, HeaderValue, Message, MessageParser};
use sha2::{Digest, Sha256};

pub use defects::DefectCode;
use defects::DefectList;

use crate::origin;
use crate::record::{
    AnalysisProvenance, ArrivalSource, BodyText, Container, ListHeaders, Mailbox, MessageRecord,
    ReceivedHeader, TextFrom,
};

/// Bounds on what an attacker controls inside one message. The message size
/// itself is bounded before parsing (`--max-message-size`).
#[derive(Debug, Clone)]
pub struct ParseLimits {
    /// Header fields examined in the top-level header block.
    pub max_headers: usize,
    /// MIME parts examined, nested messages included.
    pub max_parts: usize,
    /// MIME and message/rfc822 nesting examined.
    pub max_depth: usize,
    /// URLs recorded.
    pub max_urls: usize,
    /// To and Cc mailboxes listed (counts stay exact).
    pub max_recipients: usize,
    /// Bytes of decoded body text kept in the record.
    pub max_text_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_headers: 2_000,
            max_parts: 2_000,
            max_depth: 32,
            max_urls: 2_000,
            max_recipients: 1_000,
            max_text_bytes: 1 << 20,
        }
    }
}

/// What an analysis needs besides the bytes: limits, the trust
/// configuration (`wavetrace.toml`), and the caller's clock.
#[derive(Debug, Clone, Default)]
pub struct AnalysisConfig {
    /// Bounds on attacker-controlled sizes.
    pub limits: ParseLimits,
    /// Where the receiving organisation's trust ends (default: inferred).
    pub trust: origin::TrustConfig,
    /// The current time (Unix seconds), to flag Received timestamps far in
    /// the future; None skips that check (the core never reads the clock).
    pub now: Option<i64>,
}

/// Why some bytes are not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotMail {
    /// Zero bytes.
    #[error("empty file")]
    Empty,
    /// The bytes do not start with a header field (`Name: value`).
    #[error("no header block (does not start with a header field)")]
    NoHeaderBlock,
    /// A header block, but none of From, Date, Received, Message-ID, Subject.
    #[error("none of From, Date, Received, Message-ID, Subject")]
    NoMailHeaders,
}

/// Where one copy of the bytes was seen: the `source` string and container
/// metadata (see the README's `source` contract).
#[derive(Debug, Clone, Default)]
pub struct Sighting {
    /// The `source` as defined by the contract (path, `#N`, `!N`, `-`).
    pub source: String,
    /// How the bytes were found.
    pub container: Container,
    /// The mbox envelope date (unix seconds), when there was an envelope line.
    pub envelope_time: Option<i64>,
}

/// Hex sha256 of the message bytes: the message's identity everywhere.
pub fn sha256_hex(raw: &[u8]) -> String {
    hex(&Sha256::digest(raw))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub(crate) fn parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    // Only the fields read through mail-parser's values are parsed. Every
    // other field (Received, the trace and verdict headers, X-Mailer, ...)
    // is read from the raw bytes by its offsets, so mail-parser need not
    // copy it into a string of its own: it keeps its name and offsets only.
    PARSER.get_or_init(|| {
        MessageParser::new()
            .with_mime_headers()
            .with_date_headers()
            .with_address_headers()
            .with_message_ids()
            .header_text(HeaderName::Subject)
            .default_header_ignore()
    })
}

/// Does the input start like a message: an optional mbox envelope already
/// removed, the first line must be a header field `name:` (RFC 5322 2.2,
/// with the obsolete whitespace before the colon allowed).
pub fn starts_with_header_field(raw: &[u8]) -> bool {
    let line_end = memchr::memchr(b'\n', raw).unwrap_or(raw.len());
    let line = &raw[..line_end];
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let name = trim_end_ws(&line[..colon]);
    !name.is_empty()
        && name.len() <= 200
        && name.iter().all(|&b| (33..=126).contains(&b) && b != b':')
}

fn trim_end_ws(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(0, |p| p + 1);
    &s[..end]
}

/// Analyses one message (parsing, then origin tracing). Returns the
/// record, or why the bytes are not mail.
pub fn analyse(
    raw: &[u8],
    sighting: &Sighting,
    config: &AnalysisConfig,
) -> Result<MessageRecord, NotMail> {
    if raw.is_empty() {
        return Err(NotMail::Empty);
    }
    if !starts_with_header_field(raw) {
        return Err(NotMail::NoHeaderBlock);
    }
    let parsed = catch_unwind(AssertUnwindSafe(|| parser().parse(raw)));
    let message = match parsed {
        Ok(Some(message)) => message,
        Ok(None) => return Err(NotMail::NoHeaderBlock),
        Err(_) => return Ok(fallback_record(raw, sighting)),
    };
    if !has_mail_header(&message) {
        teardown(message);
        return Err(NotMail::NoMailHeaders);
    }
    let built = catch_unwind(AssertUnwindSafe(|| {
        build_record(raw, &message, sighting, config)
    }));
    teardown(message);
    Ok(built.unwrap_or_else(|_| fallback_record(raw, sighting)))
}

fn has_mail_header(message: &Message<'_>) -> bool {
    message.headers().iter().any(|h| {
        matches!(
            h.name,
            HeaderName::From
                | HeaderName::Date
                | HeaderName::Received
                | HeaderName::MessageId
                | HeaderName::Subject
        )
    })
}

/// A record for bytes the parser failed on: identity and container only, so
/// nothing is lost and the raw bytes are still stored.
fn fallback_record(raw: &[u8], sighting: &Sighting) -> MessageRecord {
    let mut defects = DefectList::default();
    defects.add(
        DefectCode::ParserFailure,
        Some("the MIME parser failed on this input".into()),
    );
    MessageRecord {
        sha256: sha256_hex(raw),
        size: raw.len() as u64,
        source: sighting.source.clone(),
        sources: vec![sighting.source.clone()],
        campaign_id: None,
        message_id: None,
        date: None,
        date_raw: None,
        arrival_time: sighting.envelope_time.map(rfc3339_utc),
        arrival_time_source: sighting.envelope_time.map(|_| ArrivalSource::Envelope),
        from: None,
        sender: None,
        reply_to: Vec::new(),
        return_path: None,
        to: Vec::new(),
        to_count: 0,
        cc: Vec::new(),
        cc_count: 0,
        subject: None,
        in_reply_to: Vec::new(),
        references: Vec::new(),
        received: Vec::new(),
        path: Vec::new(),
        trust_boundary: None,
        origin: None,
        claimed_path: Vec::new(),
        trace_anomalies: Vec::new(),
        findings: Vec::new(),
        auth: None,
        list: None,
        precedence: None,
        x_mailer: None,
        user_agent: None,
        signals: None,
        score: None,
        verdict: None,
        labels: Vec::new(),
        receiver_verdicts: Vec::new(),
        mime: Default::default(),
        body: Default::default(),
        urls: Vec::new(),
        attachments: Vec::new(),
        defects: defects.into_sorted(),
        container: sighting.container.clone(),
        analysis: AnalysisProvenance::default(),
    }
}

fn build_record(
    raw: &[u8],
    message: &Message<'_>,
    sighting: &Sighting,
    config: &AnalysisConfig,
) -> MessageRecord {
    let limits = &config.limits;
    let mut defects = DefectList::default();
    let headers = message.headers();
    if headers.len() > limits.max_headers {
        defects.add(
            DefectCode::LimitHeaders,
            Some(format!(
                "{} header fields, {} examined",
                headers.len(),
                limits.max_headers
            )),
        );
    }
    let headers = &headers[..headers.len().min(limits.max_headers)];
    check_header_block(raw, message, headers, &mut defects);

    let from = match message.header(HeaderName::From) {
        None => {
            defects.add(DefectCode::MissingFrom, None);
            None
        }
        Some(value) => {
            let (first, clean) = value.as_address().map_or((None, false), from_mailbox);
            if !clean {
                defects.add(
                    DefectCode::InvalidFrom,
                    message
                        .header_raw(HeaderName::From)
                        .map(|r| clip(unfold(r).as_ref(), 200)),
                );
            }
            first
        }
    };

    let (date, date_raw) = match message.header(HeaderName::Date) {
        None => {
            defects.add(DefectCode::MissingDate, None);
            (None, None)
        }
        Some(value) => {
            let raw_value = message
                .header_raw(HeaderName::Date)
                .map(|r| clip(unfold(r).trim(), 200));
            match value.as_datetime().filter(|d| d.is_valid()) {
                Some(d) => (Some(d.to_timestamp()), None),
                None => match raw_value.as_deref().and_then(repair_date) {
                    Some((t, repair)) => {
                        defects.add(DefectCode::DateRepaired, Some(repair.to_string()));
                        (Some(t), raw_value)
                    }
                    None => {
                        defects.add(DefectCode::UnparseableDate, raw_value.clone());
                        (None, raw_value)
                    }
                },
            }
        }
    };

    let message_id = message.message_id().map(|s| s.to_string());
    if message_id.is_none() && message.header(HeaderName::MessageId).is_some() {
        defects.add(
            DefectCode::InvalidMessageId,
            message
                .header_raw(HeaderName::MessageId)
                .map(|r| clip(unfold(r).trim(), 200)),
        );
    }

    let received_raw: Vec<String> = headers
        .iter()
        .filter(|h| h.name == HeaderName::Received)
        .map(|h| {
            unfold(header_slice(raw, h.offset_start, h.offset_end))
                .trim()
                .to_string()
        })
        .collect();
    let trace_headers: Vec<(String, String)> = headers
        .iter()
        .filter(|h| origin::is_trace_header(h.name.as_str()))
        .take(200)
        .map(|h| {
            let value = unfold(header_slice(raw, h.offset_start, h.offset_end));
            (h.name.as_str().to_string(), clip(value.trim(), 1000))
        })
        .collect();
    let return_path = headers
        .iter()
        .find(|h| h.name == HeaderName::ReturnPath)
        .map(|h| return_path(header_slice(raw, h.offset_start, h.offset_end)));
    let dkim_domains = dkim_signing_domains(raw, headers);
    let trace = origin::trace(
        &origin::TraceInput {
            received: &received_raw,
            headers: &trace_headers,
            from_domain: from.as_ref().and_then(|f| f.domain.as_deref()),
            envelope_sender_domain: return_path.as_deref().and_then(address_domain).as_deref(),
            dkim_domains: &dkim_domains,
            now: config.now.unwrap_or(i64::MAX),
        },
        &config.trust,
    );
    let trusted_time = trace
        .trust_boundary
        .and_then(|b| trace.hops.get(b))
        .and_then(|h| h.unix_time);
    let topmost_time = trace.hops.iter().find_map(|h| h.unix_time);
    let (arrival_time, arrival_time_source) =
        arrival(trusted_time, topmost_time, date, sighting.envelope_time);
    let mut hops = trace.hops.into_iter();
    let received: Vec<ReceivedHeader> = received_raw
        .into_iter()
        .map(|raw| ReceivedHeader {
            raw,
            hop: hops.next().unwrap_or_default(),
        })
        .collect();

    let (to, to_count) = mailboxes(message.to(), limits.max_recipients);
    let (cc, cc_count) = mailboxes(message.cc(), limits.max_recipients);
    if to_count > to.len() || cc_count > cc.len() {
        defects.add(
            DefectCode::LimitRecipients,
            Some(format!("{} To and {} Cc mailboxes", to_count, cc_count)),
        );
    }

    let mut body = body_text(message, limits.max_text_bytes);
    // Without any text, a text part mail-parser left among the attachments
    // is the body.
    let recovered = if body.text_from == TextFrom::None {
        mime::stray_text(message, limits.max_text_bytes, limits.max_parts)
            .filter(|r| !r.text.trim().is_empty())
    } else {
        None
    };
    let mime = mime::walk(
        message,
        limits,
        &mut defects,
        recovered.as_ref().map(|r| r.part),
    );
    body.hidden_text = mime.hidden_text;
    let mut found_urls = mime.urls;
    if let Some(recovered) = recovered {
        if let Some(html) = &recovered.html {
            urls::html_attribute_urls(html, &mut found_urls);
        }
        body.text_from = if recovered.html.is_some() {
            TextFrom::Html
        } else {
            TextFrom::Plain
        };
        body.text = recovered.text;
        body.truncated = cap_text(&mut body.text, limits.max_text_bytes) || recovered.truncated;
    }
    urls::text_urls(&body.text, &mut found_urls);
    // After the message's own URLs: attached PDFs cannot push them out
    // under the URL limit.
    found_urls.extend(mime.attachment_urls);
    let (urls, capped) = urls::dedup_urls(found_urls, limits.max_urls);
    if capped {
        defects.add(
            DefectCode::LimitUrls,
            Some(format!("first {} URLs kept", limits.max_urls)),
        );
    }

    MessageRecord {
        sha256: sha256_hex(raw),
        size: raw.len() as u64,
        source: sighting.source.clone(),
        sources: vec![sighting.source.clone()],
        campaign_id: None,
        message_id,
        date: date.map(rfc3339_utc),
        date_raw,
        arrival_time: arrival_time.map(rfc3339_utc),
        arrival_time_source,
        from,
        sender: message.sender().and_then(|a| a.iter().next()).map(mailbox),
        reply_to: message
            .reply_to()
            .map(|a| a.iter().take(limits.max_recipients).map(mailbox).collect())
            .unwrap_or_default(),
        return_path,
        to,
        to_count,
        cc,
        cc_count,
        subject: message.subject().map(str::to_string),
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        received,
        path: trace.path,
        trust_boundary: trace.trust_boundary,
        origin: trace.origin,
        claimed_path: trace.claimed_path,
        trace_anomalies: trace.anomalies,
        findings: trace.findings,
        signals: None,
        score: None,
        verdict: None,
        labels: Vec::new(),
        receiver_verdicts: receiver_verdicts(raw, headers),
        auth: None,
        list: list_headers(message),
        precedence: raw_header(message, HeaderName::Other(Cow::Borrowed("Precedence"))),
        x_mailer: raw_header(message, HeaderName::Other(Cow::Borrowed("X-Mailer"))),
        user_agent: raw_header(message, HeaderName::Other(Cow::Borrowed("User-Agent"))),
        mime: mime.summary,
        body,
        urls,
        attachments: mime.attachments,
        defects: defects.into_sorted(),
        container: sighting.container.clone(),
        analysis: AnalysisProvenance::default(),
    }
}

/// Header-block checks that mail-parser does not report: raw bytes that are
/// not UTF-8, NUL bytes, and fields that RFC 5322 3.6 allows only once.
fn check_header_block(
    raw: &[u8],
    message: &Message<'_>,
    headers: &[mail_parser::Header<'_>],
    defects: &mut DefectList,
) {
    let block_end = (message.root_part().offset_body as usize).min(raw.len());
    let block = &raw[..block_end];
    if std::str::from_utf8(block).is_err() {
        defects.add(DefectCode::InvalidUtf8Header, None);
    }
    if memchr::memchr(0, block).is_some() {
        defects.add(DefectCode::NulInHeader, None);
    }
    const SINGLE: [HeaderName<'static>; 8] = [
        HeaderName::From,
        HeaderName::Sender,
        HeaderName::ReplyTo,
        HeaderName::To,
        HeaderName::Cc,
        HeaderName::Subject,
        HeaderName::Date,
        HeaderName::MessageId,
    ];
    for name in SINGLE {
        if headers.iter().filter(|h| h.name == name).count() > 1 {
            defects.add(DefectCode::DuplicateHeader, Some(name.as_str().to_string()));
        }
    }
}

/// The arrival time and where it came from, best evidence first: the
/// timestamp of the first trusted hop (origin tracing), else the topmost
/// Received header with a valid date, else the Date header, else the mbox
/// envelope. Never the scan time.
fn arrival(
    trusted: Option<i64>,
    topmost: Option<i64>,
    date: Option<i64>,
    envelope: Option<i64>,
) -> (Option<i64>, Option<ArrivalSource>) {
    [
        (trusted, ArrivalSource::TrustedHop),
        (topmost, ArrivalSource::Received),
        (date, ArrivalSource::Date),
        (envelope, ArrivalSource::Envelope),
    ]
    .into_iter()
    .find_map(|(t, source)| t.map(|t| (Some(t), Some(source))))
    .unwrap_or((None, None))
}

/// The `d=` domains of the DKIM-Signature headers (RFC 6376 3.5), lower
/// case: origin tracing relates the origin to them. Verification is the
/// authentication stage's.
fn dkim_signing_domains(raw: &[u8], headers: &[mail_parser::Header<'_>]) -> Vec<String> {
    headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case("DKIM-Signature"))
        .take(20)
        .filter_map(|h| {
            let value = header_slice(raw, h.offset_start, h.offset_end);
            value.split(';').find_map(|tag| {
                let (name, v) = tag.split_once('=')?;
                (name.trim() == "d").then(|| {
                    v.split_whitespace()
                        .collect::<String>()
                        .to_ascii_lowercase()
                })
            })
        })
        .filter(|d| !d.is_empty())
        .collect()
}

/// Receivers' spam verdicts, kept as their claims (see
/// [`crate::detect::receiver`]); at most 32.
fn receiver_verdicts(
    raw: &[u8],
    headers: &[mail_parser::Header<'_>],
) -> Vec<crate::detect::receiver::ReceiverVerdict> {
    headers
        .iter()
        .filter_map(|h| {
            // The name first: unfolding every header's value costs.
            let known = crate::detect::receiver::known_header(h.name.as_str())?;
            let value = unfold(header_slice(raw, h.offset_start, h.offset_end));
            Some(crate::detect::receiver::read_known(
                known,
                h.name.as_str(),
                value.trim(),
            ))
        })
        .take(32)
        .collect()
}

/// Reads the two date mistakes that old and careless mailers make, as
/// RFC 5322 4.3 says to read them: a year of three digits (or `0102`, the
/// C `tm_year` bug) is 1900 plus it; a date without a zone is read as UTC.
/// Returns the time and what was repaired.
pub fn repair_date(raw: &str) -> Option<(i64, &'static str)> {
    let mut tokens: Vec<String> = raw.split_whitespace().map(str::to_string).collect();
    let mut repairs = Vec::new();
    for t in tokens.iter_mut() {
        if (3..=4).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(year) = t.parse::<u32>() {
                if year < 1000 {
                    *t = (year + 1900).to_string();
                    repairs.push("year");
                }
            }
        }
    }
    let has_zone = tokens.last().is_some_and(|t| {
        t.starts_with(['+', '-']) || t.chars().all(|c| c.is_ascii_alphabetic()) && !t.contains(',')
    });
    if !has_zone {
        tokens.push("+0000".to_string());
        repairs.push("zone");
    }
    if repairs.is_empty() {
        return None;
    }
    let t = DateTime::parse_rfc822(&tokens.join(" "))
        .filter(|d| d.is_valid())?
        .to_timestamp();
    let what = match (repairs.contains(&"year"), repairs.contains(&"zone")) {
        (true, true) => "three-digit year read as 1900+year; no time zone, read as UTC",
        (true, false) => "three-digit year read as 1900+year",
        _ => "no time zone, read as UTC",
    };
    Some((t, what))
}

/// The address of the topmost Return-Path (RFC 5321 4.4: written at final
/// delivery): the text inside `<>`, empty for the null reverse-path `<>`.
fn return_path(raw: &str) -> String {
    let value = unfold(raw);
    let value = value.trim();
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(start), Some(end)) if start < end => &value[start + 1..end],
        _ => value,
    };
    clip(inner.trim(), 320)
}

/// Unix seconds as RFC 3339 UTC (`2020-10-20T14:03:00Z`).
pub fn rfc3339_utc(t: i64) -> String {
    DateTime::from_timestamp(t).to_rfc3339()
}

/// The From mailbox, best effort. Spam often writes an unquoted comma in
/// the display name (`Bank Team ,_<x@y>`, `Shop, jehd <x@y>`), which RFC 5322
/// reads as a list whose first mailbox has no address. Then the first
/// mailbox with an address is taken and the names before it form the
/// display name. Returns whether the header was clean (one mailbox, with an
/// address).
fn from_mailbox(address: &Address<'_>) -> (Option<Mailbox>, bool) {
    let addrs: Vec<&mail_parser::Addr<'_>> = address.iter().take(64).collect();
    let Some(first) = addrs.first() else {
        return (None, false);
    };
    if first.address().is_some_and(|a| !a.trim().is_empty()) {
        return (Some(mailbox(first)), true);
    }
    let Some(pos) = addrs
        .iter()
        .position(|a| a.address().is_some_and(|a| !a.trim().is_empty()))
    else {
        return (Some(mailbox(first)), false);
    };
    let mut found = mailbox(addrs[pos]);
    let names: Vec<&str> = addrs[..=pos]
        .iter()
        .filter_map(|a| a.name())
        .map(str::trim)
        .filter(|n| n.chars().any(char::is_alphanumeric))
        .collect();
    if !names.is_empty() {
        found.name = Some(names.join(", "));
    }
    (Some(found), false)
}

fn mailbox(addr: &mail_parser::Addr<'_>) -> Mailbox {
    let address = addr
        .address()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    let domain = address.as_deref().and_then(address_domain);
    Mailbox {
        name: addr
            .name()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        address,
        domain,
    }
}

/// The lower-case domain of an address (after the last `@`), without a
/// trailing dot or stray brackets.
pub fn address_domain(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain
        .trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '[' || c == ']')
        .trim_end_matches('.');
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

fn mailboxes(value: Option<&Address<'_>>, limit: usize) -> (Vec<Mailbox>, usize) {
    let Some(value) = value else {
        return (Vec::new(), 0);
    };
    let count = value.iter().count();
    (value.iter().take(limit).map(mailbox).collect(), count)
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().take(500).map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn raw_header(message: &Message<'_>, name: HeaderName<'_>) -> Option<String> {
    message
        .header_raw(name)
        .map(|r| clip(unfold(r).trim(), 1000))
        .filter(|s| !s.is_empty())
}

fn list_headers(message: &Message<'_>) -> Option<ListHeaders> {
    let list = ListHeaders {
        id: raw_header(message, HeaderName::ListId),
        unsubscribe: raw_header(message, HeaderName::ListUnsubscribe),
        unsubscribe_post: raw_header(
            message,
            HeaderName::Other(Cow::Borrowed("List-Unsubscribe-Post")),
        ),
        post: raw_header(message, HeaderName::ListPost),
        help: raw_header(message, HeaderName::ListHelp),
        owner: raw_header(message, HeaderName::ListOwner),
        archive: raw_header(message, HeaderName::ListArchive),
        mailing_list: raw_header(message, HeaderName::Other(Cow::Borrowed("Mailing-List"))),
        x_loop: raw_header(message, HeaderName::Other(Cow::Borrowed("X-Loop"))),
    };
    (list != ListHeaders::default()).then_some(list)
}

/// Plain text shorter than this is checked against the HTML alternative.
const STUB_TEXT_BYTES: usize = 1024;

/// The text of every body part, in order, joined by blank lines; HTML parts
/// that stand in for text (HTML-only mail) converted ([`html::html_text`]), and a
/// stub plain part replaced by its HTML alternative's text.
fn body_text(message: &Message<'_>, max_bytes: usize) -> BodyText {
    let mut text = String::new();
    let (mut plain, mut html) = (false, false);
    for (pos, &part_id) in message.text_body.iter().enumerate() {
        let is_html = message
            .parts
            .get(part_id as usize)
            .is_some_and(|p| p.is_text_html());
        let part_text = if is_html {
            message
                .parts
                .get(part_id as usize)
                .and_then(|p| p.text_contents())
                .map(|h| Cow::Owned(html::html_text(h)))
        } else {
            message.body_text(pos)
        };
        let Some(part_text) = part_text else {
            continue;
        };
        if part_text.trim().is_empty() {
            continue;
        }
        if is_html {
            html = true;
        } else {
            plain = true;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&part_text);
        if text.len() > max_bytes {
            break;
        }
    }
    // A short plain part that only says "view this in HTML": the HTML
    // alternative carries the message, so its text is the body.
    if plain && !html && text.len() < STUB_TEXT_BYTES {
        if let Some(converted) = message.body_html(0).map(|h| html::html_text(&h)) {
            if converted.trim().len() > 2 * text.trim().len() {
                text = converted;
                plain = false;
                html = true;
            }
        }
    }
    let truncated = cap_text(&mut text, max_bytes);
    let text_from = match (plain, html) {
        (false, false) => TextFrom::None,
        (true, false) => TextFrom::Plain,
        (false, true) => TextFrom::Html,
        (true, true) => TextFrom::Mixed,
    };
    BodyText {
        text,
        text_from,
        truncated,
        hidden_text: None,
    }
}

/// Cuts `text` to at most `max_bytes` (on a character boundary); whether it
/// was longer.
fn cap_text(text: &mut String, max_bytes: usize) -> bool {
    let longer = text.len() > max_bytes;
    if longer {
        text.truncate(text.floor_char_boundary(max_bytes));
    }
    longer
}

fn header_slice(raw: &[u8], start: u32, end: u32) -> &str {
    let (start, end) = (start as usize, (end as usize).min(raw.len()));
    if start >= end {
        return "";
    }
    // Header values are mostly ASCII; invalid bytes are flagged elsewhere.
    std::str::from_utf8(&raw[start..end]).unwrap_or("")
}

/// Removes folding (CRLF or LF followed by whitespace, RFC 5322 2.2.3).
pub fn unfold(value: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\n', value.as_bytes()).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if i > 0 && !out.is_empty() && !line.starts_with([' ', '\t']) {
            out.push(' ');
        }
        out.push_str(line);
    }
    Cow::Owned(out)
}

fn clip(s: &str, max: usize) -> String {
    prefix(s, max).to_string()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary: how every attacker-controlled string is cut.
pub fn prefix(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

/// Drops a parsed message without recursion. mail-parser's `Message` owns
/// nested messages by value, so the derived drop recurses once per
/// message/rfc822 level and overflows the stack near 30,000 levels (see
/// FIELD-NOTES). Here every nested message is moved onto a list first.
pub fn teardown(message: Message<'_>) {
    let mut pending = vec![message];
    while let Some(mut current) = pending.pop() {
        for part in current.parts.iter_mut() {
            if part.is_message() {
                if let mail_parser::PartType::Message(inner) = std::mem::take(&mut part.body) {
                    pending.push(inner);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
