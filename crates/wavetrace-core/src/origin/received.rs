//! The Received header parser: one header value in, one [`ReceivedHop`] out.
//!
//! RFC 5321 section 4.4 defines the trace line a server prepends when it accepts a
//! message (`from` domain and TCP-info, `by`, `via`, `with`, `id`, `for`, then `;` and a
//! date-time), and RFC 5322 section 3.6.7 its place among the trace fields. Real servers
//! follow that grammar loosely: Postfix, Exim, Sendmail, qmail, Exchange and Office 365,
//! Gmail, CommuniGate, fetchmail and dozens of others each put the connecting host's
//! HELO name, reverse DNS name and IP address in a different order inside comments.
//!
//! The parser is a hand-written tokenizer (words, comments with nesting, `[...]`
//! literals, `<...>` paths, quoted strings, `;` and `,`) followed by a clause reader
//! that assigns each token to the clause keyword before it. The comments of the `from`
//! clause are then read for the connecting side's three names, which is where servers
//! differ; each rule below names the servers that write that shape. Nothing here
//! panics on any input, no regular expression is compiled, and what an attacker
//! controls is bounded: the input is cut at [`MAX_HEADER_LEN`] bytes and every kept
//! string at [`MAX_FIELD_LEN`].

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use mail_parser::DateTime;
use serde::{Deserialize, Serialize};

/// Longest header value read, in bytes; the rest is ignored (and noted). Real Received
/// values stay under 1 KiB; this bounds the work an attacker can cause per header.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// Longest string kept for any one field, in bytes (a DNS name is at most 253).
pub const MAX_FIELD_LEN: usize = 255;

/// How deep nested comments are read; deeper ones are skipped as opaque text.
const MAX_COMMENT_DEPTH: usize = 6;

/// What kind of trace line a Received header is.
///
/// Only a [`HopForm::Relay`] records a network client (the `from` part of RFC 5321
/// section 4.4 with its TCP-info); the other recognised forms are written by a server
/// about something that happened inside it and carry no connecting host.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HopForm {
    /// A full relay hop: a client connected and handed the message over (SMTP, ESMTP,
    /// LMTP with a client address, ...).
    Relay,
    /// Local injection or delivery with no network client: Postfix `from userid`,
    /// Exim `with local`, Sendmail `(from user@localhost)`, a `by` part alone.
    LocalDelivery,
    /// Exchange/IIS pickup directory: `from mail pickup service by ...`.
    Pickup,
    /// Mailing list expansion inside one server: `by ... via listexpand`.
    ListExpand,
    /// qmail's local trace line: `(qmail 123 invoked by uid 89)` or `invoked from network`.
    QmailInvoked,
    /// Retrieval by fetchmail (POP3/IMAP) into the local mailbox.
    Fetchmail,
    /// Office 365 / Exchange mailbox-internal transport: `with mapi`, or `with HTTPS`
    /// from a loopback client (`(::1)`).
    ExchangeInternal,
    /// Webmail submission over HTTP (`with HTTP`, SquirrelMail, CommuniGate WebUser).
    Http,
    /// A content filter re-injecting the message (qmail-scanner, `by uid`, SpamAssassin).
    ContentFilter,
    /// Not recognised: the raw value is kept by the caller and the hop is flagged.
    #[default]
    Unparseable,
}

impl HopForm {
    /// Every form, in a fixed order (for reports and sweeps).
    pub const ALL: [HopForm; 10] = [
        HopForm::Relay,
        HopForm::LocalDelivery,
        HopForm::Pickup,
        HopForm::ListExpand,
        HopForm::QmailInvoked,
        HopForm::Fetchmail,
        HopForm::ExchangeInternal,
        HopForm::Http,
        HopForm::ContentFilter,
        HopForm::Unparseable,
    ];

    /// The form's name as serialised (`relay`, `local_delivery`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HopForm::Relay => "relay",
            HopForm::LocalDelivery => "local_delivery",
            HopForm::Pickup => "pickup",
            HopForm::ListExpand => "list_expand",
            HopForm::QmailInvoked => "qmail_invoked",
            HopForm::Fetchmail => "fetchmail",
            HopForm::ExchangeInternal => "exchange_internal",
            HopForm::Http => "http",
            HopForm::ContentFilter => "content_filter",
            HopForm::Unparseable => "unparseable",
        }
    }
}

/// Something the parser noticed about a header that did not stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseNote {
    /// No date-time after the clauses (RFC 5321 4.4 requires one).
    NoDate,
    /// A date-time was present but could not be read.
    BadDate,
    /// The value was longer than [`MAX_HEADER_LEN`] and was cut.
    Truncated,
    /// The server wrote `(may be forged)`: its reverse DNS did not confirm forward.
    MayBeForged,
}

/// One parsed Received header.
///
/// Serialises (snake_case, absent fields skipped) into the same JSON object as the
/// header's `raw` value, so the field names are short:
/// - `form`: what kind of trace line this is ([`HopForm`]);
/// - `from_helo`: the name the client gave in HELO/EHLO (a claim, forgeable);
///   an address literal keeps its brackets (`[192.0.2.1]`);
/// - `from_rdns`: the reverse DNS name the receiving server recorded for the client;
/// - `from_ip`, `from_port`: the client's address as the receiving server saw it
///   (IPv4-mapped IPv6 is written as IPv4);
/// - `from_ident`: an ident/user name written beside the address (`user@1.2.3.4`);
/// - `by_host`, `by_ip`: the receiving server's name and, if written, its address;
/// - `protocol`: the `with` keyword upper-cased (SMTP, ESMTPS, ESMTPSA, LMTP, HTTP, ...);
/// - `tls` (only when true), `tls_version`, `tls_cipher`: transport encryption;
/// - `queue_id`, `envelope_for`, `envelope_from`: the `id`, `for` and envelope sender;
/// - `timestamp`: the date-time after `;`, as RFC 3339 UTC;
/// - `authenticated` (only when true) and `auth`: the evidence of SMTP AUTH or a webmail login;
/// - `via`: the `via` clause (`Frontend Transport`, `listexpand`, ...);
/// - `notes`: what the parser noticed ([`ParseNote`]); `error`: why a hop is unparseable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceivedHop {
    /// What kind of trace line this is.
    pub form: HopForm,
    /// The HELO/EHLO name the client claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_helo: Option<String>,
    /// The client's reverse DNS name as recorded by the receiving server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_rdns: Option<String>,
    /// The client's IP address as recorded by the receiving server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ip: Option<IpAddr>,
    /// The client's TCP port, when written (Exim, ecelerity, XMail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<u16>,
    /// An ident or user name written with the client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ident: Option<String>,
    /// The receiving server's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_host: Option<String>,
    /// The receiving server's own address, when written (Exchange, amavis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_ip: Option<IpAddr>,
    /// The `with` protocol, upper-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The hop was encrypted (TLS details written, or an `S` protocol such as ESMTPS).
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls: bool,
    /// TLS protocol version as written (`TLSv1.3`, `TLS1_2`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// TLS cipher as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cipher: Option<String>,
    /// The receiving server's queue id (`id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// The recipient the hop was for (`for`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_for: Option<String>,
    /// The envelope sender, when the server wrote it (`envelope-from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_from: Option<String>,
    /// The hop's date-time as RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The hop's date-time as Unix seconds (not serialised: `timestamp` carries it).
    #[serde(skip)]
    pub unix_time: Option<i64>,
    /// The client authenticated (SMTP AUTH, ESMTPA/ESMTPSA, a webmail login).
    #[serde(default, skip_serializing_if = "is_false")]
    pub authenticated: bool,
    /// The text that showed the authentication (`ESMTPSA`, `AUTH: LOGIN`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// The `via` clause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// What the parser noticed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<ParseNote>,
    /// Why the hop is unparseable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ReceivedHop {
    /// The client's best name: the recorded reverse DNS name, else the HELO claim.
    pub fn from_host(&self) -> Option<&str> {
        self.from_rdns.as_deref().or(self.from_helo.as_deref())
    }
}

/// Parses one Received header value (unfolded or not) into a hop.
///
/// Never panics, for any input: unrecognised text gives a hop of form
/// [`HopForm::Unparseable`] with `error` set. Costs a few microseconds for a typical
/// header and allocates only the strings it keeps.
pub fn parse_received(raw: &str) -> ReceivedHop {
    let mut notes = Vec::new();
    let text = if raw.len() > MAX_HEADER_LEN {
        notes.push(ParseNote::Truncated);
        cut(raw, MAX_HEADER_LEN)
    } else {
        raw
    };
    let unfolded = unfold(text);
    let mut hop = Parser::new(&unfolded).run();
    hop.notes.splice(0..0, notes);
    hop
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    crate::parse::prefix(s, max)
}

/// Keeps at most [`MAX_FIELD_LEN`] bytes of a field.
fn keep(s: &str) -> String {
    cut(s, MAX_FIELD_LEN).to_string()
}

/// Replaces folding white space (RFC 5322 3.2.2) and control characters with single spaces.
/// Borrowed when there is nothing to replace: printable ASCII with single spaces
/// between words, as most Received fields are once mail-parser has cut them out.
fn unfold(s: &str) -> Cow<'_, str> {
    let mut after_space = true;
    let clean = s.bytes().all(|c| {
        let ok = (0x21..=0x7e).contains(&c) || (c == b' ' && !after_space);
        after_space = c == b' ';
        ok
    });
    if clean && !after_space {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    /// `( ... )`, text without the outer parentheses.
    Comment,
    /// `[ ... ]`, text without the brackets.
    Bracket,
    /// `< ... >`, text without the outer angle brackets.
    Angle,
    /// `" ... "`, text without the quotes.
    Quoted,
    Semi,
    Comma,
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    /// Byte offset of the token's first character in the tokenized string.
    start: usize,
}

/// Splits `s` into tokens. Unbalanced openers run to the end of the string.
fn tokenize(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b')' | b'>' => i += 1,
            b';' => {
                toks.push(Tok {
                    kind: Kind::Semi,
                    text: ";",
                    start: i,
                });
                i += 1;
            }
            b',' => {
                toks.push(Tok {
                    kind: Kind::Comma,
                    text: ",",
                    start: i,
                });
                i += 1;
            }
            b'(' => {
                let (end, next) = close_paren(b, i);
                toks.push(Tok {
                    kind: Kind::Comment,
                    text: s.get(i + 1..end).unwrap_or(""),
                    start: i,
                });
                i = next;
            }
            b'[' => {
                let end = b[i + 1..]
                    .iter()
                    .position(|&x| x == b']')
                    .map_or(b.len(), |p| i + 1 + p);
                toks.push(Tok {
                    kind: Kind::Bracket,
                    text: s.get(i + 1..end).unwrap_or(""),
                    start: i,
                });
                i = (end + 1).min(b.len());
            }
            b'<' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    if b[j] == b'<' {
                        depth += 1;
                    } else if b[j] == b'>' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                let inner = s.get(i + 1..j.min(b.len())).unwrap_or("");
                toks.push(Tok {
                    kind: Kind::Angle,
                    text: inner.trim_matches(|c| c == '<' || c == '>'),
                    start: i,
                });
                i = (j + 1).min(b.len());
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let end = j.min(b.len());
                toks.push(Tok {
                    kind: Kind::Quoted,
                    text: s.get(i + 1..end).unwrap_or(""),
                    start: i,
                });
                i = (end + 1).min(b.len());
            }
            _ => {
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b' ' | b'\t' | b'(' | b'[' | b'<' | b'"' | b';' | b',')
                {
                    j += 1;
                }
                // A word ending in ')' or '>' keeps it only if balanced; strip strays.
                let word = s.get(i..j).unwrap_or("").trim_end_matches([')', '>']);
                if !word.is_empty() {
                    toks.push(Tok {
                        kind: Kind::Word,
                        text: word,
                        start: i,
                    });
                }
                i = j.max(i + 1);
            }
        }
    }
    toks
}

/// Finds the `)` matching the `(` at `open`: returns (end of content, index after it).
fn close_paren(b: &[u8], open: usize) -> (usize, usize) {
    let mut depth = 0usize;
    let mut j = open;
    while j < b.len() {
        match b[j] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (j, j + 1);
                }
            }
            b'\\' => j += 1,
            _ => {}
        }
        j += 1;
    }
    (b.len(), b.len())
}

// ---------------------------------------------------------------------------
// Small recognisers
// ---------------------------------------------------------------------------

/// Reads an address as servers write it: `1.2.3.4`, `IPv6:2001:db8::1`, `::ffff:1.2.3.4`,
/// `1.2.3.4:25`, `1.2.3.4.25` (Exim 3 appends the port with a dot), `ident@1.2.3.4`.
/// Returns the address (IPv4-mapped written as IPv4), the port and the ident.
fn parse_addr(s: &str) -> Option<(IpAddr, Option<u16>, Option<&str>)> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip.to_canonical(), None, None));
    }
    let s = s.trim_end_matches(['.', ',', ':']);
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let (ident, s) = match s.rfind('@') {
        Some(p) => (
            s.get(..p).filter(|x| !x.is_empty()),
            s.get(p + 1..).unwrap_or(""),
        ),
        None => (None, s),
    };
    let s = strip_prefix_ci(s, "ipv6:").unwrap_or(s);
    let s = s
        .trim_start_matches(['[', '('])
        .trim_end_matches([']', ')']);
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip.to_canonical(), None, ident));
    }
    // [ip]:port written inside one word
    if let Some((a, p)) = s.split_once("]:") {
        let ip = a.trim_start_matches('[').parse::<IpAddr>().ok()?;
        return Some((ip.to_canonical(), p.parse().ok(), ident));
    }
    // v4:port
    if let Some((a, p)) = s.rsplit_once(':') {
        if let Ok(v4) = a.parse::<Ipv4Addr>() {
            return Some((IpAddr::V4(v4), p.parse().ok(), ident));
        }
    }
    // v4.port (five dotted parts)
    if s.bytes().filter(|&c| c == b'.').count() == 4 {
        if let Some((a, p)) = s.rsplit_once('.') {
            if let Ok(v4) = a.parse::<Ipv4Addr>() {
                return Some((IpAddr::V4(v4), p.parse().ok(), ident));
            }
        }
    }
    None
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    if h.len() < n.len() {
        return false;
    }
    let first = first.to_ascii_lowercase();
    (0..=h.len() - n.len()).any(|i| {
        h[i].to_ascii_lowercase() == first
            && h.get(i + 1..i + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(rest))
    })
}

/// A plausible DNS host name (letters, digits, `-`, `_`, `.`), used to tell a name
/// from other words inside comments.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
        && s.bytes().any(|c| c.is_ascii_alphabetic())
}

/// Words servers write where the reverse DNS name would be when there is none.
fn is_no_rdns_word(s: &str) -> bool {
    [
        "unknown",
        "softdnserr",
        "unverified",
        "unavailable",
        "dynamic",
        "may",
        "rdns",
    ]
    .iter()
    .any(|w| s.eq_ignore_ascii_case(w))
}

/// `with` keywords that mean the client authenticated (RFC 3848 and common variants).
fn protocol_is_authenticated(p: &str) -> bool {
    matches!(
        p,
        "ESMTPA"
            | "ESMTPSA"
            | "LMTPA"
            | "LMTPSA"
            | "UTF8SMTPA"
            | "UTF8SMTPSA"
            | "UTF8ESMTPA"
            | "UTF8ESMTPSA"
            | "ASMTP"
            | "SMTPA"
            | "SMTPSA"
    )
}

/// `with` keywords that mean TLS (RFC 3848).
fn protocol_is_tls(p: &str) -> bool {
    matches!(
        p,
        "ESMTPS"
            | "ESMTPSA"
            | "LMTPS"
            | "LMTPSA"
            | "UTF8SMTPS"
            | "UTF8SMTPSA"
            | "SMTPS"
            | "SMTPSA"
            | "HTTPS"
    )
}

const KNOWN_PROTOCOLS: &[&str] = &[
    "SMTP",
    "ESMTP",
    "ESMTPS",
    "ESMTPA",
    "ESMTPSA",
    "LMTP",
    "LMTPA",
    "LMTPS",
    "LMTPSA",
    "UTF8SMTP",
    "UTF8SMTPS",
    "UTF8SMTPA",
    "UTF8SMTPSA",
    "UTF8ESMTP",
    "UTF8ESMTPA",
    "UTF8ESMTPS",
    "UTF8ESMTPSA",
    "HTTP",
    "HTTPS",
    "HTTPU",
    "IMAP",
    "POP3",
    "LOCAL",
    "MAPI",
    "ASMTP",
    "SMTPS",
    "SMTPA",
    "SMTPSA",
    "QMQP",
    "ECSTREAM",
    "NNFMP",
    "TCP",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    None,
    From,
    By,
    With,
    Id,
    For,
    Via,
}

fn keyword(w: &str) -> Option<Clause> {
    let c = match w.len() {
        2 if w.eq_ignore_ascii_case("by") => Clause::By,
        2 if w.eq_ignore_ascii_case("id") => Clause::Id,
        3 if w.eq_ignore_ascii_case("for") => Clause::For,
        3 if w.eq_ignore_ascii_case("via") => Clause::Via,
        4 if w.eq_ignore_ascii_case("from") => Clause::From,
        4 if w.eq_ignore_ascii_case("with") => Clause::With,
        _ => return None,
    };
    Some(c)
}

/// What one comment (or the top-level tokens of the from clause) says about the client.
#[derive(Default)]
struct Facts<'a> {
    /// Addresses in `[...]`, with the word written just before (a reverse DNS name).
    bracket_ips: Vec<(IpAddr, Option<u16>, Option<&'a str>)>,
    /// Addresses written bare (`(1.2.3.4)`, `(user@1.2.3.4)`, `(1.2.3.4:25)`).
    bare_ips: Vec<(IpAddr, Option<u16>)>,
    /// An explicit HELO: `HELO x`, `EHLO x`, `helo=x`, `claiming to be "x"`. `Some("")`
    /// when the keyword was there with no name.
    helo: Option<&'a str>,
    ident: Option<&'a str>,
    auth: Option<String>,
    envelope_from: Option<&'a str>,
    tls_version: Option<&'a str>,
    tls_cipher: Option<&'a str>,
    verified: bool,
    may_be_forged: bool,
    /// The comment held exactly one host name and nothing else.
    only_host: Option<&'a str>,
    fetchmail: bool,
}

impl<'a> Facts<'a> {
    fn merge(&mut self, o: Facts<'a>) {
        self.bracket_ips.extend(o.bracket_ips);
        self.bare_ips.extend(o.bare_ips);
        self.helo = self.helo.or(o.helo);
        self.ident = self.ident.or(o.ident);
        if self.auth.is_none() {
            self.auth = o.auth;
        }
        self.envelope_from = self.envelope_from.or(o.envelope_from);
        self.tls_version = self.tls_version.or(o.tls_version);
        self.tls_cipher = self.tls_cipher.or(o.tls_cipher);
        self.verified |= o.verified;
        self.may_be_forged |= o.may_be_forged;
        self.fetchmail |= o.fetchmail;
    }
}

/// Reads one comment's text for facts about the client, TLS, authentication and the
/// envelope sender.
fn read_comment(text: &str, depth: usize) -> Facts<'_> {
    let mut f = Facts::default();
    if depth > MAX_COMMENT_DEPTH {
        return f;
    }
    let toks = tokenize(text);
    if toks.len() == 1
        && toks[0].kind == Kind::Word
        && is_hostname(toks[0].text)
        && parse_addr(toks[0].text).is_none()
    {
        f.only_host = Some(toks[0].text);
    }
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let next = toks.get(i + 1);
        match t.kind {
            Kind::Comment => f.merge(read_comment(t.text, depth + 1)),
            Kind::Bracket => {
                if let Some((ip, port, _)) = parse_addr(t.text) {
                    let name = i
                        .checked_sub(1)
                        .and_then(|p| toks.get(p))
                        .filter(|p| {
                            p.kind == Kind::Word
                                && is_hostname(p.text)
                                && parse_addr(p.text).is_none()
                        })
                        .map(|p| p.text)
                        .filter(|n| {
                            !is_no_rdns_word(n) && keyword(n).is_none() && !is_helo_word(n)
                        });
                    // `[ip]:port` written as a bracket then a word
                    let port = port.or_else(|| {
                        next.filter(|n| {
                            n.kind == Kind::Word && n.start == t.start + t.text.len() + 2
                        })
                        .and_then(|n| n.text.strip_prefix(':'))
                        .and_then(|p| p.parse().ok())
                    });
                    if let Some(user) = i
                        .checked_sub(1)
                        .and_then(|p| toks.get(p))
                        .filter(|p| p.kind == Kind::Word && p.start + p.text.len() == t.start)
                        .and_then(|p| p.text.strip_suffix('@'))
                    {
                        f.ident = Some(user);
                    }
                    f.bracket_ips.push((ip, port, name));
                }
            }
            Kind::Word => {
                let w = t.text;
                let lw = w.trim_end_matches([',', ':', ';']);
                if is_helo_word(lw) {
                    // HELO/EHLO/LHLO followed by the name (possibly nothing)
                    match next {
                        Some(n) if n.kind == Kind::Word && keyword(n.text).is_none() => {
                            f.helo = Some(n.text.trim_end_matches(','));
                            i += 1;
                        }
                        Some(n) if n.kind == Kind::Bracket => {
                            f.helo = Some(bracket_span(text, n));
                            i += 1;
                        }
                        _ => f.helo = Some(""),
                    }
                } else if let Some(v) = strip_prefix_ci(w, "helo=") {
                    if v.is_empty() {
                        if let Some(n) = next.filter(|n| n.kind == Kind::Bracket) {
                            f.helo = Some(bracket_span(text, n));
                            i += 1;
                        } else {
                            f.helo = Some("");
                        }
                    } else {
                        f.helo = Some(v);
                    }
                } else if let Some(v) =
                    strip_prefix_ci(w, "ident=").or_else(|| strip_prefix_ci(w, "IDENT:"))
                {
                    if v.is_empty() {
                        if let Some(n) = next.filter(|n| n.kind == Kind::Bracket) {
                            f.ident = Some(n.text);
                            i += 1;
                        }
                    } else if let Some((user, _)) = v.split_once('@') {
                        f.ident = Some(user);
                    } else {
                        f.ident = Some(v);
                    }
                } else if lw.eq_ignore_ascii_case("AUTH") {
                    let mech = next
                        .filter(|n| n.kind == Kind::Word)
                        .map_or("", |n| n.text.trim_end_matches(','));
                    f.auth = Some(format!("AUTH {mech}").trim_end().to_string());
                } else if lw.eq_ignore_ascii_case("authenticated") {
                    let negated = i.checked_sub(1).and_then(|p| toks.get(p)).is_some_and(|p| {
                        p.text.eq_ignore_ascii_case("not") || p.text.eq_ignore_ascii_case("un")
                    });
                    if !negated {
                        f.auth = Some(keep(cut(text.trim(), 64)));
                    }
                } else if lw.eq_ignore_ascii_case("account") && next.is_some() {
                    f.auth = Some("account".to_string());
                } else if lw.eq_ignore_ascii_case("envelope-from")
                    || lw.eq_ignore_ascii_case("envelope-sender")
                {
                    if let Some(n) = next.filter(|n| matches!(n.kind, Kind::Word | Kind::Angle)) {
                        f.envelope_from = Some(n.text.trim_end_matches(','));
                        i += 1;
                    }
                } else if lw.eq_ignore_ascii_case("using") {
                    if let Some(n) = next.filter(|n| n.kind == Kind::Word) {
                        f.tls_version = Some(n.text);
                        i += 1;
                    }
                } else if lw.eq_ignore_ascii_case("cipher") {
                    if let Some(n) = next.filter(|n| n.kind == Kind::Word) {
                        if (starts_ci(n.text, "TLS") || starts_ci(n.text, "SSL"))
                            && n.text.contains(':')
                        {
                            let mut parts = n.text.split(':');
                            f.tls_version = parts.next();
                            f.tls_cipher = parts.next().filter(|c| !c.is_empty());
                        } else {
                            f.tls_cipher = Some(n.text.trim_end_matches(','));
                        }
                        i += 1;
                    }
                } else if let Some(v) = strip_prefix_ci(w, "version=") {
                    f.tls_version = Some(v.trim_end_matches(','));
                } else if let Some(v) = strip_prefix_ci(w, "cipher=") {
                    f.tls_cipher = Some(v.trim_end_matches(','));
                } else if lw.eq_ignore_ascii_case("TLS") || lw.eq_ignore_ascii_case("SSL") {
                    // `TLS: TLSv1/SSLv3, 168bits,DES-CBC3-SHA` (CommuniGate, qpsmtpd)
                    if w.ends_with(':') {
                        if let Some(n) = next.filter(|n| n.kind == Kind::Word) {
                            f.tls_version = Some(n.text.trim_end_matches(','));
                            let rest = text.get(n.start..).unwrap_or("");
                            if let Some(last) = rest
                                .rsplit([',', ')'])
                                .map(str::trim)
                                .find(|p| !p.is_empty())
                            {
                                if last.contains('-') || last.contains('_') {
                                    f.tls_cipher = Some(last);
                                }
                            }
                            i += 1;
                        }
                    }
                } else if (starts_ci(w, "TLS") || starts_ci(w, "SSL")) && w.contains(':') {
                    // Exim: `(TLSv1:AES256-SHA:256)`, `(TLS-1.0:DHE_RSA_3DES_EDE_CBC_SHA:24)`
                    let mut parts = w.split(':');
                    f.tls_version = parts.next();
                    f.tls_cipher = parts.next().filter(|c| !c.is_empty());
                } else if lw.eq_ignore_ascii_case("verified") {
                    f.verified = true;
                } else if lw.eq_ignore_ascii_case("forged") {
                    f.may_be_forged = true;
                } else if starts_ci(w, "fetchmail") {
                    f.fetchmail = true;
                } else if let Some((ip, port, ident)) = parse_addr(w) {
                    f.bare_ips.push((ip, port));
                    if ident.is_some() {
                        f.ident = ident;
                    }
                } else if let Some((user, _)) = w.rsplit_once('@') {
                    if f.ident.is_none() && !user.is_empty() && toks.len() == 1 {
                        f.ident = Some(user);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    f
}

fn is_helo_word(w: &str) -> bool {
    w.eq_ignore_ascii_case("HELO")
        || w.eq_ignore_ascii_case("EHLO")
        || w.eq_ignore_ascii_case("LHLO")
}

fn starts_ci(s: &str, p: &str) -> bool {
    strip_prefix_ci(s, p).is_some()
}

/// The text of a bracket token with its brackets (`[10.0.0.1]`), as a HELO literal.
fn bracket_span<'a>(text: &'a str, t: &Tok<'a>) -> &'a str {
    text.get(t.start..t.start + t.text.len() + 2)
        .unwrap_or(t.text)
}

/// Tokens collected for one clause: the value (first token after the keyword) and the rest.
#[derive(Default)]
struct ClauseToks<'a> {
    seen: bool,
    value: Option<Tok<'a>>,
    rest: Vec<Tok<'a>>,
}

struct Parser<'a> {
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text }
    }

    fn run(self) -> ReceivedHop {
        let text = self.text;
        let mut hop = ReceivedHop::default();
        if text.is_empty() {
            hop.error = Some("empty header".to_string());
            return hop;
        }
        let toks = tokenize(text);

        // qmail's own trace line
        if let Some(first) = toks.first() {
            if first.kind == Kind::Comment
                && starts_ci(first.text, "qmail ")
                && contains_ci(first.text, "invoked")
            {
                hop.form = HopForm::QmailInvoked;
                self.read_date(&toks, &mut hop);
                return hop;
            }
        }

        // The date follows the last top-level `;` (RFC 5321 4.4).
        let semi = toks.iter().rposition(|t| t.kind == Kind::Semi);
        let clause_toks = match semi {
            Some(p) => toks.get(..p).unwrap_or(&[]),
            None => &toks[..],
        };

        let mut from = ClauseToks::default();
        let mut by = ClauseToks::default();
        let mut with = ClauseToks::default();
        let mut id = ClauseToks::default();
        let mut for_ = ClauseToks::default();
        let mut via = ClauseToks::default();
        let mut xmail_from: Option<&str> = None;
        let mut leading_from_comment = false;
        let mut current = Clause::None;
        let mut junk_words = 0usize;

        for (idx, t) in clause_toks.iter().enumerate() {
            if t.kind == Kind::Word {
                if let Some(k) = keyword(t.text) {
                    if k == Clause::From && from.seen {
                        // XMail: `for <rcpt> from <sender>`
                        if let Some(n) = clause_toks.get(idx + 1) {
                            if n.kind == Kind::Angle {
                                xmail_from = Some(n.text);
                            }
                        }
                        current = Clause::None;
                        continue;
                    }
                    let c = clause_mut(
                        k, &mut from, &mut by, &mut with, &mut id, &mut for_, &mut via,
                    );
                    if c.seen {
                        // a second `by` (qmail-scanner `by host by uid 502`): keep the first
                        current = Clause::None;
                        junk_words += 1;
                        continue;
                    }
                    c.seen = true;
                    current = k;
                    continue;
                }
            }
            if current == Clause::None {
                // `(from host [ip]) by ...`: a leading comment holding the from clause
                if idx == 0 && t.kind == Kind::Comment && starts_ci(t.text, "from ") {
                    from.seen = true;
                    leading_from_comment = true;
                    let inner = t.text.get(5..).unwrap_or("");
                    for it in tokenize(inner) {
                        if from.value.is_none() && matches!(it.kind, Kind::Word | Kind::Bracket) {
                            from.value = Some(it);
                        } else {
                            from.rest.push(it);
                        }
                    }
                    continue;
                }
                if matches!(t.kind, Kind::Word | Kind::Quoted | Kind::Bracket) {
                    junk_words += 1;
                }
                continue;
            }
            let c = clause_mut(
                current, &mut from, &mut by, &mut with, &mut id, &mut for_, &mut via,
            );
            if c.value.is_none() && matches!(t.kind, Kind::Word | Kind::Bracket | Kind::Angle) {
                c.value = Some(*t);
            } else {
                c.rest.push(*t);
            }
        }

        // one lower-cased copy for the whole-line signature checks below
        let lower = text.to_ascii_lowercase();
        let has = |n: &str| lower.contains(n);
        let exim = has("exim");
        let microsoft = has("microsoft smtp") || has("microsoft exchange");

        // ---- with
        let mut with_facts = Facts::default();
        let mut protocol: Option<String> = None;
        let mut with_words: Vec<&str> = Vec::new();
        if let Some(v) = with.value {
            match v.kind {
                Kind::Bracket => {
                    // XMail: `with [XMail 1.20 ESMTP Server]`
                    protocol = v
                        .text
                        .split_whitespace()
                        .map(|w| w.to_ascii_uppercase())
                        .find(|w| KNOWN_PROTOCOLS.contains(&w.as_str()));
                }
                _ => with_words.push(v.text),
            }
        }
        for t in &with.rest {
            match t.kind {
                Kind::Word => with_words.push(t.text),
                Kind::Comment => with_facts.merge(read_comment(t.text, 1)),
                _ => {}
            }
        }
        if protocol.is_none() {
            if let Some(first) = with_words.first() {
                let mut parts = first.split('/');
                let p = parts.next().unwrap_or("").to_ascii_uppercase();
                // `ESMTP/TLS/cipher` (s-web.de)
                let after: Vec<&str> = parts.collect();
                if after.first().is_some_and(|x| x.eq_ignore_ascii_case("TLS")) {
                    with_facts.tls_cipher = with_facts.tls_cipher.or(after.get(1).copied());
                    with_facts.tls_version = with_facts.tls_version.or(Some("TLS"));
                }
                let known = with_words
                    .iter()
                    .map(|w| w.to_ascii_uppercase())
                    .find(|w| KNOWN_PROTOCOLS.contains(&w.as_str()));
                if let Some(k) = known.filter(|_| !KNOWN_PROTOCOLS.contains(&p.as_str())) {
                    protocol = Some(k);
                } else if p == "MICROSOFT" {
                    // `with Microsoft SMTP Server`, `with Microsoft SMTPSVC(6.0)`
                    protocol = Some("SMTP".to_string());
                } else if !p.is_empty() {
                    protocol = Some(keep(&p));
                }
            }
        }
        let with_lower: Vec<String> = with_words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let content_filter = with_lower.iter().any(|w| {
            w.starts_with("qmail-scanner")
                || w == "spamassassin"
                || w == "scanned-ok"
                || w.ends_with("spam-scanned")
                || w == "mailscanner"
        }) || by
            .rest
            .iter()
            .any(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("uid"))
            || has(" by uid ");
        let local_with = with_lower
            .iter()
            .any(|w| w == "local" || w.starts_with("local-"));

        // ---- via
        let via_text = via.value.map(|v| {
            let mut s = v.text.to_string();
            for t in &via.rest {
                if t.kind == Kind::Word && s.len() < MAX_FIELD_LEN {
                    s.push(' ');
                    s.push_str(t.text);
                }
            }
            keep(&s)
        });
        if protocol.is_none() {
            if let Some(v) = &via_text {
                let up = v.to_ascii_uppercase();
                if KNOWN_PROTOCOLS.contains(&up.as_str()) {
                    protocol = Some(up);
                }
            }
        }

        // ---- by
        let mut by_facts = Facts::default();
        let mut by_ip = None;
        let mut postfix_userid = false;
        let mut via_http_comment = false;
        for t in &by.rest {
            if t.kind == Kind::Comment {
                let f = read_comment(t.text, 1);
                if by_ip.is_none() {
                    by_ip = f
                        .bracket_ips
                        .first()
                        .map(|x| x.0)
                        .or(f.bare_ips.first().map(|x| x.0));
                }
                if contains_ci(t.text, "from userid") || contains_ci(t.text, "from uid") {
                    postfix_userid = true;
                }
                if t.text.trim().eq_ignore_ascii_case("via HTTP") {
                    via_http_comment = true;
                }
                by_facts.merge(f);
            }
        }
        let by_host = by.value.and_then(|v| match v.kind {
            Kind::Word | Kind::Bracket => Some(keep(v.text.trim_end_matches('.'))),
            _ => None,
        });

        // ---- from
        let mut ff = Facts::default();
        let mut top_brackets: Vec<(IpAddr, Option<u16>)> = Vec::new();
        let mut only_host: Option<&str> = None;
        let mut claiming: Option<&str> = None;
        for (k, t) in from.rest.iter().enumerate() {
            match t.kind {
                Kind::Comment => {
                    let f = read_comment(t.text, 1);
                    if only_host.is_none() {
                        only_host = f.only_host;
                    }
                    ff.merge(f);
                }
                Kind::Bracket => {
                    if let Some((ip, port, _)) = parse_addr(t.text) {
                        top_brackets.push((ip, port));
                    }
                }
                Kind::Word => {
                    let w = t.text;
                    if leading_from_comment {
                        // tokens of `(from host [ip] ...)` come through here unwrapped
                        if let Some((ip, port, _)) = parse_addr(w) {
                            ff.bare_ips.push((ip, port));
                        }
                    }
                    if is_helo_word(w) {
                        if let Some(n) = from.rest.get(k + 1).filter(|n| n.kind == Kind::Word) {
                            ff.helo = Some(n.text);
                        }
                    } else if let Some(v) = strip_prefix_ci(w, "helo=") {
                        ff.helo = Some(v);
                    } else if w.eq_ignore_ascii_case("verified") {
                        ff.verified = true;
                    }
                }
                // TIS/fwtk smtpd: `from rdns(ip), claiming to be "helo"`
                Kind::Quoted
                    if k >= 1
                        && from
                            .rest
                            .get(k - 1)
                            .is_some_and(|p| p.text.eq_ignore_ascii_case("be")) =>
                {
                    claiming = Some(t.text);
                }
                _ => {}
            }
        }
        ff.merge(with_facts);

        // Postfix writes `(envelope-from x)` after the date; Gmail puts TLS after `id`.
        let mut date_facts = Facts::default();
        for t in id
            .rest
            .iter()
            .chain(for_.rest.iter())
            .chain(via.rest.iter())
        {
            if t.kind == Kind::Comment {
                date_facts.merge(read_comment(t.text, 1));
            }
        }
        if let Some(p) = semi {
            for t in toks.get(p + 1..).unwrap_or(&[]) {
                if t.kind == Kind::Comment {
                    date_facts.merge(read_comment(t.text, 1));
                }
            }
        }
        let envelope_from = ff
            .envelope_from
            .or(by_facts.envelope_from)
            .or(xmail_from)
            .or(date_facts.envelope_from);
        let tls_version = ff
            .tls_version
            .or(by_facts.tls_version)
            .or(date_facts.tls_version);
        let tls_cipher = ff
            .tls_cipher
            .or(by_facts.tls_cipher)
            .or(date_facts.tls_cipher);
        let auth_comment = ff.auth.take().or(by_facts.auth.take());
        let fetchmail = ff.fetchmail || by_facts.fetchmail || has("(fetchmail");

        // The client's address: a bracketed one in a comment (`(rdns [ip])`) first, then
        // one written outside comments (Exim 3, fetchmail), then a bare one in a comment
        // (qmail, Exchange), then the from value itself (`from [ip]`, `from 1.2.3.4`).
        let value = from.value;
        let value_text = value.map(|v| v.text).unwrap_or("");
        let value_ip = value.and_then(|v| match v.kind {
            Kind::Word | Kind::Bracket => parse_addr(v.text),
            _ => None,
        });
        let mut rdns: Option<&str> = None;
        let mut ip: Option<(IpAddr, Option<u16>)> = None;
        let mut ip_source = IpSource::None;
        if let Some((a, p, name)) = ff.bracket_ips.first() {
            ip = Some((*a, *p));
            rdns = *name;
            ip_source = IpSource::CommentBracket;
        } else if let Some((a, p)) = top_brackets.first() {
            ip = Some((*a, *p));
            ip_source = IpSource::TopBracket;
        } else if let Some((a, p)) = ff.bare_ips.first() {
            ip = Some((*a, *p));
            ip_source = IpSource::CommentBare;
        } else if let Some((a, p, _)) = value_ip {
            ip = Some((a, p));
            ip_source = IpSource::Value;
        }

        // The HELO name: explicit when the server labelled it, else the from value.
        let explicit_helo = ff.helo.or(claiming);
        let value_is_name = value.is_some_and(|v| v.kind == Kind::Word) && value_ip.is_none();
        let value_as_helo: Option<String> = match value {
            Some(v) if v.kind == Kind::Bracket => Some(format!("[{}]", v.text)),
            Some(v) if v.kind == Kind::Word => {
                if value_ip.is_some() && ip_source == IpSource::Value {
                    None // `from 1.2.3.4 by ...`: the value is the address, no HELO written
                } else {
                    Some(v.text.to_string())
                }
            }
            _ => None,
        };
        let tis = via_before_by(clause_toks);
        let mut helo: Option<String> = match explicit_helo {
            Some(h) => Some(h.to_string()),
            None if tis => None,
            None if ip_source == IpSource::TopBracket && only_host.is_some() => {
                only_host.map(str::to_string)
            }
            None => value_as_helo,
        };

        // The reverse DNS name, where the server writes it outside `(name [ip])`.
        if rdns.is_none() && value_is_name && !value_text.eq_ignore_ascii_case("unknown") {
            let dotted = value_text.contains('.');
            let value_rdns = if explicit_helo.is_some() || tis {
                // qmail `from rdns (HELO x) (ip)`, Exim `from rdns ([ip] helo=x)`, fwtk
                true
            } else if ff.verified {
                // CommuniGate `from host ([ip] verified)`
                true
            } else if exim && ip_source == IpSource::CommentBracket {
                false // handled above: the bracket had no name before it
            } else if ip_source == IpSource::TopBracket && only_host.is_some() {
                // Exim 3 `from rdns (helo) [ip]`
                true
            } else if ip_source == IpSource::TopBracket && exim {
                true
            } else if ip_source == IpSource::CommentBare {
                // qmail `from rdns (ip)` writes the resolved name; Exchange writes the HELO;
                // XMail `(ip:port)` writes the HELO.
                dotted && !microsoft && ip.is_some_and(|x| x.1.is_none() && x.0.is_ipv4())
            } else {
                false
            };
            if value_rdns {
                rdns = Some(value_text);
            }
        }
        if rdns.is_none()
            && exim
            && value_is_name
            && ip_source == IpSource::CommentBracket
            && explicit_helo.is_none()
        {
            // Exim `from host ([ip])`: the host was verified and equals the HELO
            let named = ff.bracket_ips.first().is_some_and(|b| b.2.is_some());
            if !named {
                rdns = Some(value_text);
            }
        }

        // ---- form
        let from_has_client = value.is_some() || ip.is_some();
        let proto_owned = protocol.clone().unwrap_or_default();
        let proto = proto_owned.as_str();
        let is_http = matches!(proto, "HTTP" | "HTTPS" | "HTTPU")
            || via_text
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("HTTP"))
            || via_http_comment
            || auth_comment
                .as_deref()
                .is_some_and(|a| contains_ci(a, "SquirrelMail") || contains_ci(a, "NaSMail"))
            || has("webuser");
        let loopback = ip.is_some_and(|(a, _)| a.is_loopback());
        let form = if fetchmail {
            HopForm::Fetchmail
        } else if via_text
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("listexpand"))
        {
            HopForm::ListExpand
        } else if contains_ci(value_text, "pickup") || has("mail pickup service") {
            HopForm::Pickup
        } else if content_filter
            && !(ip.is_some()
                && ip_source != IpSource::Value
                && !content_filter_strict(&with_lower))
        {
            HopForm::ContentFilter
        } else if proto == "MAPI"
            || (is_http
                && matches!(proto, "HTTPS" | "HTTP")
                && (loopback
                    || microsoft
                    || by_host
                        .as_deref()
                        .is_some_and(|b| contains_ci(b, ".prod.outlook.com"))))
        {
            HopForm::ExchangeInternal
        } else if is_http && from_has_client {
            HopForm::Http
        } else if postfix_userid || local_with || (leading_from_comment && ip.is_none()) {
            HopForm::LocalDelivery
        } else if from.seen && from_has_client {
            // `from user@host by ...` and LMTP without an address: local injection
            if ip.is_none() && (value_text.contains('@') || proto.starts_with("LMTP")) {
                HopForm::LocalDelivery
            } else if by.seen || ip.is_some() || semi.is_some() {
                HopForm::Relay
            } else {
                HopForm::Unparseable
            }
        } else if by.seen && by_host.is_some() && !from.seen {
            HopForm::LocalDelivery
        } else {
            HopForm::Unparseable
        };
        hop.form = form;
        if form == HopForm::Unparseable {
            hop.error = Some(if !from.seen && !by.seen {
                "no from or by clause".to_string()
            } else if from.seen && !from_has_client {
                "from clause without a host or address".to_string()
            } else {
                "no by clause, address or date".to_string()
            });
            // `(EGP: mail-8_1_0_1); date` (Yahoo Groups), `(ofmipd 1.2.3.4); date`: a
            // server's own note with a date and no clauses: local, no client.
            if !from.seen
                && !by.seen
                && junk_words == 0
                && clause_toks.first().is_some_and(|t| t.kind == Kind::Comment)
            {
                self.read_date(&toks, &mut hop);
                if hop.unix_time.is_some() {
                    hop.form = HopForm::LocalDelivery;
                    hop.error = None;
                }
                return hop;
            }
            // `with ECARTIS (v1.0.0; list x); date`, `via dmail-2002(12) for +lists/y; date`:
            // a list manager's or local agent's line without from or by.
            if !from.seen && !by.seen && (with.seen || via.seen) && semi.is_some() {
                self.read_date(&toks, &mut hop);
                if hop.unix_time.is_some() {
                    hop.form = if contains_ci(text, "list") {
                        HopForm::ListExpand
                    } else {
                        HopForm::LocalDelivery
                    };
                    hop.error = None;
                    hop.protocol = protocol;
                    hop.via = via_text;
                }
                return hop;
            }
            if junk_words > 0 && !from.seen && !by.seen {
                self.read_date(&toks, &mut hop);
                return hop;
            }
        }
        if matches!(form, HopForm::Http | HopForm::Pickup) {
            helo = None; // HTTP and the pickup directory have no HELO
        }

        hop.from_ip = ip.map(|x| x.0);
        hop.from_port = ip.and_then(|x| x.1);
        hop.from_helo = helo
            .filter(|h| !h.is_empty())
            .map(|h| keep(h.trim_end_matches('.')));
        hop.from_rdns = rdns
            .filter(|r| !r.is_empty())
            .map(|r| keep(r.trim_end_matches('.')));
        hop.from_ident = ff.ident.filter(|s| !s.is_empty()).map(keep);
        hop.by_host = by_host;
        hop.by_ip = by_ip;
        hop.protocol = protocol;
        hop.tls_version = tls_version.filter(|s| !s.is_empty()).map(keep);
        hop.tls_cipher = tls_cipher.filter(|s| !s.is_empty()).map(keep);
        hop.tls = hop.tls_version.is_some() || hop.tls_cipher.is_some() || protocol_is_tls(proto);
        hop.queue_id = id.value.map(|v| keep(v.text.trim_end_matches([',', ';'])));
        hop.envelope_for = for_
            .value
            .map(|v| keep(v.text.trim_matches(|c| c == '<' || c == '>')));
        hop.envelope_from = envelope_from.map(|s| keep(s.trim_matches(|c| c == '<' || c == '>')));
        hop.via = via_text;
        if ff.may_be_forged {
            hop.notes.push(ParseNote::MayBeForged);
        }
        if protocol_is_authenticated(proto) {
            hop.authenticated = true;
            hop.auth = Some(proto.to_string());
        } else if let Some(a) = auth_comment {
            hop.authenticated = true;
            hop.auth = Some(keep(&a));
        } else if form == HopForm::Http {
            hop.authenticated = true;
            hop.auth = Some(proto_or(proto, "HTTP"));
        }
        self.read_date(&toks, &mut hop);
        // `...; date id X` (some servers put the id after the date)
        if hop.queue_id.is_none() {
            if let Some(p) = semi {
                let after = toks.get(p + 1..).unwrap_or(&[]);
                if let Some(k) = after
                    .iter()
                    .position(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("id"))
                {
                    if let Some(v) = after.get(k + 1).filter(|v| v.kind == Kind::Word) {
                        hop.queue_id = Some(keep(v.text));
                    }
                }
            }
        }
        hop
    }

    /// Reads the date-time after the last top-level `;`, or, failing that, at the end of
    /// the clauses. Comments (`(PDT)`, `(envelope-from ...)`) are dropped first.
    fn read_date(&self, toks: &[Tok<'_>], hop: &mut ReceivedHop) {
        let semi = toks.iter().rposition(|t| t.kind == Kind::Semi);
        let candidate: Option<String> = match semi {
            Some(p) => {
                let after = toks.get(p + 1..).unwrap_or(&[]);
                if after.is_empty() {
                    None
                } else {
                    Some(join_words(after))
                }
            }
            None => None,
        };
        let mut found = candidate.as_deref().and_then(parse_date);
        if found.is_none() {
            // no `;`, or an unreadable tail: look for a date starting at one of the last words
            let words: Vec<usize> = toks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.kind == Kind::Word)
                .map(|(i, _)| i)
                .collect();
            for &i in words.iter().rev().take(8) {
                let t = toks[i];
                if !looks_like_date_start(t.text) {
                    continue;
                }
                let s = join_words(toks.get(i..).unwrap_or(&[]));
                if let Some(ts) = parse_date(&s) {
                    found = Some(ts);
                    break;
                }
            }
        }
        match found {
            Some(ts) => {
                hop.unix_time = Some(ts);
                hop.timestamp = Some(rfc3339_utc(ts));
            }
            None if candidate.is_some() => hop.notes.push(ParseNote::BadDate),
            None => hop.notes.push(ParseNote::NoDate),
        }
    }
}

fn proto_or(p: &str, d: &str) -> String {
    if p.is_empty() {
        d.to_string()
    } else {
        p.to_string()
    }
}

/// qmail-scanner and `by uid` lines are re-injections even when they name an address.
fn content_filter_strict(with_lower: &[String]) -> bool {
    with_lower.iter().any(|w| w.starts_with("qmail-scanner"))
}

/// fwtk/TIS smtpd: `from rdns(ip) via SMTP by host, id smtpdXXX` (the `via` before `by`).
fn via_before_by(toks: &[Tok<'_>]) -> bool {
    let v = toks
        .iter()
        .position(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("via"));
    let b = toks
        .iter()
        .position(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("by"));
    matches!((v, b), (Some(v), Some(b)) if v < b)
        && toks
            .iter()
            .any(|t| t.kind == Kind::Word && starts_ci(t.text, "smtpd"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IpSource {
    None,
    CommentBracket,
    TopBracket,
    CommentBare,
    Value,
}

fn clause_mut<'c, 'a>(
    c: Clause,
    from: &'c mut ClauseToks<'a>,
    by: &'c mut ClauseToks<'a>,
    with: &'c mut ClauseToks<'a>,
    id: &'c mut ClauseToks<'a>,
    for_: &'c mut ClauseToks<'a>,
    via: &'c mut ClauseToks<'a>,
) -> &'c mut ClauseToks<'a> {
    match c {
        Clause::From | Clause::None => from,
        Clause::By => by,
        Clause::With => with,
        Clause::Id => id,
        Clause::For => for_,
        Clause::Via => via,
    }
}

/// Joins the words of a token run with spaces, leaving out comments (time zone names,
/// `(envelope-from ...)`) and punctuation other than the commas a date needs.
fn join_words(toks: &[Tok<'_>]) -> String {
    let mut s = String::new();
    for t in toks.iter().take(16) {
        match t.kind {
            Kind::Word => {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(t.text);
            }
            Kind::Comma => s.push(','),
            _ => {}
        }
    }
    s
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
fn looks_like_date_start(w: &str) -> bool {
    let w = w.trim_end_matches(',');
    (w.len() >= 3
        && w.get(..3)
            .is_some_and(|p| DAYS.iter().any(|d| p.eq_ignore_ascii_case(d))))
        || (!w.is_empty() && w.len() <= 2 && w.bytes().all(|c| c.is_ascii_digit()))
}

/// Parses an RFC 5322 date-time (via mail-parser) or the asctime form some servers
/// write (`Sun Nov 13 14:50:12 2005`, read as UTC). Returns Unix seconds.
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(dt) = DateTime::parse_rfc822(s) {
        if dt.is_valid() {
            return Some(dt.to_timestamp());
        }
    }
    crate::ingest::mbox::asctime_text(s).or_else(|| crate::parse::repair_date(s).map(|(t, _)| t))
}

pub use crate::parse::rfc3339_utc;

#[cfg(test)]
mod tests;
