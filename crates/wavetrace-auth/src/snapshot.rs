//! The DNS snapshot: every answer a verification needed, as a diffable text file.
//!
//! # Format
//!
//! A snapshot is UTF-8 text, one record per line, zone-file-like:
//!
//! ```text
//! ; wavetrace-dns-snapshot 1
//! ; captured: 2026-06-01T12:00:00Z
//! ; resolver: 9.9.9.9:53
//! example.com. A 192.0.2.1
//! example.com. MX 10 mail.example.com.
//! example.com. TXT "v=spf1 ip4:192.0.2.0/24 " "-all"
//! nothing.example. TXT NXDOMAIN
//! example.com. AAAA NODATA
//! broken.example. TXT SERVFAIL
//! slow.example. A TIMEOUT
//! ```
//!
//! * Lines are `name type rdata`. Names are lower case and end with a dot.
//!   Types are `A`, `AAAA`, `MX`, `TXT`, `PTR`, `CNAME`.
//! * TXT rdata is one or more double-quoted character-strings; inside them
//!   `\"`, `\\` and `\DDD` (a decimal byte) escape as in RFC 1035 5.1.
//! * The rdata may instead be a pseudo-record naming a negative answer to the
//!   query `name type`: `NXDOMAIN` (the name does not exist, whatever the type),
//!   `NODATA` (the name exists, no record of this type), `SERVFAIL`, `TIMEOUT`
//!   (no answer came).
//! * Header lines start with `;` and hold `key: value`: `captured` (when the
//!   answers were recorded), `resolver` (who gave them) and `closed-world`
//!   (`yes` for hand-written zones such as conformance suites: a name absent
//!   from the file is NXDOMAIN and a present name without the type is NODATA).
//!   Without `closed-world: yes` a question the file does not answer has **no
//!   evidence**: it is answered SERVFAIL and the verdict is a temperror with
//!   the reason "no evidence in snapshot", never a network lookup.
//! * Other `;` lines and blank lines are comments. Written files are sorted by
//!   name, type and rdata so two snapshots diff line by line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The first line of every written snapshot.
pub const SNAPSHOT_MAGIC: &str = "; wavetrace-dns-snapshot 1";

/// Record types a snapshot can hold: those SPF, DKIM, DMARC and ARC query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    /// IPv4 address (RFC 1035).
    A,
    /// IPv6 address (RFC 3596).
    Aaaa,
    /// Mail exchanger (RFC 1035).
    Mx,
    /// Text (RFC 1035); SPF, DKIM keys and DMARC policies live here.
    Txt,
    /// Reverse pointer (RFC 1035); SPF `ptr` and `%{p}`.
    Ptr,
    /// Alias (RFC 1035).
    Cname,
}

impl RecordType {
    /// The type's mnemonic as written in a snapshot.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Ptr => "PTR",
            Self::Cname => "CNAME",
        }
    }

    /// Reads a mnemonic, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "MX" => Self::Mx,
            "TXT" | "SPF" => Self::Txt,
            "PTR" => Self::Ptr,
            "CNAME" => Self::Cname,
            _ => return None,
        })
    }
}

/// The data of one resource record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rdata {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// Preference and exchange (absolute name).
    Mx(u16, String),
    /// The character-strings of one TXT record.
    Txt(Vec<Vec<u8>>),
    /// A target name.
    Ptr(String),
    /// A canonical name.
    Cname(String),
}

impl Rdata {
    /// The record type of this data.
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Mx(..) => RecordType::Mx,
            Self::Txt(_) => RecordType::Txt,
            Self::Ptr(_) => RecordType::Ptr,
            Self::Cname(_) => RecordType::Cname,
        }
    }

    fn render(&self, out: &mut String) {
        match self {
            Self::A(ip) => {
                let _ = write!(out, "{ip}");
            }
            Self::Aaaa(ip) => {
                let _ = write!(out, "{ip}");
            }
            Self::Mx(pref, name) => {
                let _ = write!(out, "{pref} {name}");
            }
            Self::Ptr(name) | Self::Cname(name) => out.push_str(name),
            Self::Txt(strings) => {
                for (i, string) in strings.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push('"');
                    for &byte in string {
                        match byte {
                            b'"' => out.push_str("\\\""),
                            b'\\' => out.push_str("\\\\"),
                            0x20..=0x7e => out.push(char::from(byte)),
                            _ => {
                                let _ = write!(out, "\\{byte:03}");
                            }
                        }
                    }
                    out.push('"');
                }
            }
        }
    }
}

/// A negative or failed answer, written as a pseudo-record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Negative {
    /// The name does not exist (RCODE 3), for every type.
    NxDomain,
    /// The name exists but has no record of the type asked.
    NoData,
    /// The server failed (RCODE 2).
    ServFail,
    /// No answer came before the timeout.
    Timeout,
}

impl Negative {
    /// The pseudo-record's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NxDomain => "NXDOMAIN",
            Self::NoData => "NODATA",
            Self::ServFail => "SERVFAIL",
            Self::Timeout => "TIMEOUT",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "NXDOMAIN" => Self::NxDomain,
            "NODATA" => Self::NoData,
            "SERVFAIL" => Self::ServFail,
            "TIMEOUT" => Self::Timeout,
            _ => return None,
        })
    }
}

/// What a snapshot holds for one question (name, type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Records, with any CNAME chain followed (aliases first).
    Records(Vec<(String, Rdata)>),
    /// A negative or failed answer.
    Negative(Negative),
    /// The snapshot holds nothing for this question.
    NoEvidence,
}

/// An error reading a snapshot: the line and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("DNS snapshot line {line}: {message}")]
pub struct SnapshotError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Entry {
    #[default]
    Empty,
    Records(Vec<Rdata>),
    Negative(Negative),
}

/// A set of recorded DNS answers. See the module documentation for the format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// When the answers were captured (header `captured`), as written.
    pub captured: Option<String>,
    /// Which resolver gave them (header `resolver`), as written.
    pub resolver: Option<String>,
    /// Closed world: absent names are NXDOMAIN, absent types NODATA.
    pub closed_world: bool,
    entries: BTreeMap<(String, RecordType), Entry>,
}

/// Lower-cases a name and makes it absolute (trailing dot).
pub fn normalize_name(name: &str) -> String {
    let mut name = name.trim().to_ascii_lowercase();
    if !name.ends_with('.') {
        name.push('.');
    }
    name
}

impl Snapshot {
    /// An empty, open-world snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record for `name`.
    pub fn add_record(&mut self, name: &str, rdata: Rdata) {
        let key = (normalize_name(name), rdata.record_type());
        let entry = self.entries.entry(key).or_default();
        match entry {
            Entry::Records(records) => {
                if !records.contains(&rdata) {
                    records.push(rdata);
                }
            }
            _ => *entry = Entry::Records(vec![rdata]),
        }
    }

    /// Records a negative answer for the question `name type`.
    pub fn add_negative(&mut self, name: &str, rtype: RecordType, negative: Negative) {
        self.entries
            .insert((normalize_name(name), rtype), Entry::Negative(negative));
    }

    /// Number of questions answered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the snapshot answers nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the question `name type` has an entry (no CNAME following).
    pub fn contains(&self, name: &str, rtype: RecordType) -> bool {
        self.entries.contains_key(&(normalize_name(name), rtype))
    }

    fn name_known(&self, name: &str) -> bool {
        self.entries
            .range((name.to_string(), RecordType::A)..)
            .next()
            .is_some_and(|((n, _), _)| n == name)
    }

    fn name_nxdomain(&self, name: &str) -> bool {
        self.entries
            .range((name.to_string(), RecordType::A)..)
            .take_while(|((n, _), _)| n == name)
            .any(|(_, e)| *e == Entry::Negative(Negative::NxDomain))
    }

    /// The answer to the question `name type`, following CNAMEs (at most 8).
    pub fn answer(&self, name: &str, rtype: RecordType) -> Answer {
        let mut name = normalize_name(name);
        let mut chain = Vec::new();
        for _ in 0..8 {
            match self.entries.get(&(name.clone(), rtype)) {
                Some(Entry::Records(records)) => {
                    chain.extend(records.iter().map(|r| (name.clone(), r.clone())));
                    return Answer::Records(chain);
                }
                Some(Entry::Negative(negative)) => {
                    return if chain.is_empty() {
                        Answer::Negative(*negative)
                    } else if *negative == Negative::NxDomain {
                        // RFC 2308 2.1: the alias exists, its target does not.
                        Answer::Records(chain)
                    } else {
                        Answer::Negative(*negative)
                    };
                }
                Some(Entry::Empty) | None => {}
            }
            if rtype != RecordType::Cname {
                if let Some(Entry::Records(records)) =
                    self.entries.get(&(name.clone(), RecordType::Cname))
                {
                    if let Some(Rdata::Cname(target)) = records.first() {
                        chain.push((name.clone(), Rdata::Cname(target.clone())));
                        name = normalize_name(target);
                        continue;
                    }
                }
            }
            if self.name_nxdomain(&name) {
                return if chain.is_empty() {
                    Answer::Negative(Negative::NxDomain)
                } else {
                    Answer::Records(chain)
                };
            }
            if self.closed_world {
                return if !chain.is_empty() {
                    Answer::Records(chain)
                } else if self.name_known(&name) || self.has_descendant(&name) {
                    Answer::Negative(Negative::NoData)
                } else {
                    Answer::Negative(Negative::NxDomain)
                };
            }
            return Answer::NoEvidence;
        }
        Answer::Negative(Negative::ServFail)
    }

    /// RFC 8020: a name with descendants exists (an "empty non-terminal").
    fn has_descendant(&self, name: &str) -> bool {
        let suffix = format!(".{name}");
        self.entries.keys().any(|(n, _)| n.ends_with(&suffix))
    }

    /// Reads a snapshot. Unknown types are an error, so a typo cannot
    /// silently turn into "no evidence".
    pub fn parse(text: &str) -> Result<Self, SnapshotError> {
        let mut snapshot = Snapshot::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix(';') {
                if let Some((key, value)) = comment.trim().split_once(':') {
                    let value = value.trim().to_string();
                    match key.trim().to_ascii_lowercase().as_str() {
                        "captured" => snapshot.captured = Some(value),
                        "resolver" => snapshot.resolver = Some(value),
                        "closed-world" => snapshot.closed_world = value.eq_ignore_ascii_case("yes"),
                        _ => {}
                    }
                }
                continue;
            }
            let err = |message: &str| SnapshotError {
                line: line_no,
                message: message.to_string(),
            };
            let (name, rest) = split_token(line).ok_or_else(|| err("missing type"))?;
            let (rtype_text, rdata_text) = split_token(rest).ok_or_else(|| err("missing rdata"))?;
            let rtype = RecordType::parse(rtype_text)
                .ok_or_else(|| err(&format!("unknown type {rtype_text:?}")))?;
            if let Some(negative) = Negative::parse(rdata_text.trim()) {
                snapshot.add_negative(name, rtype, negative);
                continue;
            }
            let rdata = parse_rdata(rtype, rdata_text.trim()).map_err(|m| err(&m))?;
            snapshot.add_record(name, rdata);
        }
        Ok(snapshot)
    }

    /// Writes the snapshot: header, then one sorted line per record.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(SNAPSHOT_MAGIC);
        out.push('\n');
        if let Some(captured) = &self.captured {
            let _ = writeln!(out, "; captured: {captured}");
        }
        if let Some(resolver) = &self.resolver {
            let _ = writeln!(out, "; resolver: {resolver}");
        }
        if self.closed_world {
            out.push_str("; closed-world: yes\n");
        }
        for ((name, rtype), entry) in &self.entries {
            match entry {
                Entry::Empty => {}
                Entry::Negative(negative) => {
                    let _ = writeln!(out, "{name} {} {}", rtype.as_str(), negative.as_str());
                }
                Entry::Records(records) => {
                    let mut lines: Vec<String> = records
                        .iter()
                        .map(|r| {
                            let mut line = format!("{name} {} ", rtype.as_str());
                            r.render(&mut line);
                            line
                        })
                        .collect();
                    lines.sort();
                    for line in lines {
                        out.push_str(&line);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

fn split_token(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace)?;
    Some((&text[..end], &text[end..]))
}

fn parse_rdata(rtype: RecordType, text: &str) -> Result<Rdata, String> {
    match rtype {
        RecordType::A => text
            .parse()
            .map(Rdata::A)
            .map_err(|_| format!("bad IPv4 address {text:?}")),
        RecordType::Aaaa => text
            .parse()
            .map(Rdata::Aaaa)
            .map_err(|_| format!("bad IPv6 address {text:?}")),
        RecordType::Mx => {
            let (pref, exchange) = split_token(text)
                .ok_or_else(|| format!("MX needs preference and exchange: {text:?}"))?;
            let pref = pref
                .parse()
                .map_err(|_| format!("bad MX preference {pref:?}"))?;
            Ok(Rdata::Mx(pref, normalize_name(exchange)))
        }
        RecordType::Ptr => Ok(Rdata::Ptr(normalize_name(text))),
        RecordType::Cname => Ok(Rdata::Cname(normalize_name(text))),
        RecordType::Txt => parse_txt(text).map(Rdata::Txt),
    }
}

/// Reads TXT rdata: quoted character-strings with RFC 1035 5.1 escapes, or a
/// single unquoted word.
fn parse_txt(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = text.as_bytes();
    let mut strings = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b' ' | b'\t' => pos += 1,
            b'"' => {
                pos += 1;
                let mut string = Vec::new();
                loop {
                    match bytes.get(pos) {
                        None => return Err("unterminated TXT string".to_string()),
                        Some(b'"') => {
                            pos += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = bytes
                                .get(pos + 1..pos + 4)
                                .filter(|d| d.iter().all(u8::is_ascii_digit));
                            if let Some(digits) = digits {
                                let value = digits
                                    .iter()
                                    .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
                                let byte = u8::try_from(value)
                                    .map_err(|_| format!("bad escape \\{value}"))?;
                                string.push(byte);
                                pos += 4;
                            } else if let Some(&next) = bytes.get(pos + 1) {
                                string.push(next);
                                pos += 2;
                            } else {
                                return Err("dangling backslash".to_string());
                            }
                        }
                        Some(&byte) => {
                            string.push(byte);
                            pos += 1;
                        }
                    }
                }
                strings.push(string);
            }
            _ => {
                if !strings.is_empty() {
                    return Err(format!("unquoted text after TXT strings: {text:?}"));
                }
                strings.push(text.trim().as_bytes().to_vec());
                break;
            }
        }
    }
    if strings.is_empty() {
        strings.push(Vec::new());
    }
    Ok(strings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_sorted_and_stable() {
        let text = "; captured: 2026-01-01T00:00:00Z\n\
            b.example. TXT \"v=spf1 \" \"-all\"\n\
            A.example A 192.0.2.1\n\
            a.example. MX 10 MX.a.example\n\
            n.example. TXT NXDOMAIN\n\
            q.example. TXT \"quote\\\" back\\\\ byte\\001\"\n";
        let snapshot = Snapshot::parse(text).expect("valid snapshot");
        let rendered = snapshot.render();
        assert_eq!(
            rendered,
            "; wavetrace-dns-snapshot 1\n; captured: 2026-01-01T00:00:00Z\n\
             a.example. A 192.0.2.1\na.example. MX 10 mx.a.example.\n\
             b.example. TXT \"v=spf1 \" \"-all\"\nn.example. TXT NXDOMAIN\n\
             q.example. TXT \"quote\\\" back\\\\ byte\\001\"\n"
        );
        assert_eq!(Snapshot::parse(&rendered), Ok(snapshot));
    }

    #[test]
    fn answers_follow_cname_and_negatives() {
        let mut s = Snapshot::new();
        s.add_record("alias.example", Rdata::Cname("target.example.".into()));
        s.add_record("target.example", Rdata::A(Ipv4Addr::new(192, 0, 2, 7)));
        s.add_negative("gone.example", RecordType::Txt, Negative::NxDomain);
        assert_eq!(
            s.answer("alias.example.", RecordType::A),
            Answer::Records(vec![
                (
                    "alias.example.".into(),
                    Rdata::Cname("target.example.".into())
                ),
                (
                    "target.example.".into(),
                    Rdata::A(Ipv4Addr::new(192, 0, 2, 7))
                ),
            ])
        );
        assert_eq!(
            s.answer("gone.example", RecordType::A),
            Answer::Negative(Negative::NxDomain)
        );
        assert_eq!(
            s.answer("target.example", RecordType::Txt),
            Answer::NoEvidence
        );
        s.closed_world = true;
        assert_eq!(
            s.answer("target.example", RecordType::Txt),
            Answer::Negative(Negative::NoData)
        );
        assert_eq!(
            s.answer("other.example", RecordType::Txt),
            Answer::Negative(Negative::NxDomain)
        );
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for bad in [
            "x.example. FOO 1",
            "x.example. A nope",
            "x.example. TXT \"open",
            "x.example.",
        ] {
            assert!(Snapshot::parse(bad).is_err(), "{bad}");
        }
    }
}
