//! Streaming mbox reader (RFC 4155 and the mboxo/mboxrd variants).
//!
//! Messages are separated by `From ` envelope lines. The reader keeps at
//! most one message in memory and never more than the size limit: a larger
//! message is skipped to the next separator and reported with its size.
//! Line endings are left exactly as they are.

use std::io::{self, BufRead};

use crate::record::MboxVariant;

/// Bytes of a line kept to recognise an envelope line.
const LINE_PREFIX: usize = 512;

/// One entry of an mbox, in file order.
#[derive(Debug, PartialEq, Eq)]
pub enum MboxEntry {
    /// A message within the size limit.
    Message {
        /// 1-based position in the mbox.
        index: usize,
        /// The `From ` line without its line ending.
        envelope: String,
        /// The message as reconstructed: envelope removed, quoting undone one
        /// level, the separating blank line removed.
        bytes: Vec<u8>,
        /// The variant assumed for unquoting.
        variant: MboxVariant,
    },
    /// A message over the size limit, skipped.
    TooLarge {
        /// 1-based position in the mbox.
        index: usize,
        /// Bytes seen before the next separator.
        size: u64,
    },
}

/// Does the input start like an mbox (a `From ` envelope line)?
pub fn looks_like_mbox(head: &[u8]) -> bool {
    head.starts_with(b"From ")
}

/// Iterates the messages of an mbox read from `reader`.
pub struct MboxReader<R> {
    reader: R,
    max_size: usize,
    index: usize,
    envelope: Option<String>,
    started: bool,
}

impl<R: BufRead> MboxReader<R> {
    /// `max_size` bounds each message (after unquoting is irrelevant: the
    /// bound applies to the bytes read).
    pub fn new(reader: R, max_size: usize) -> Self {
        MboxReader {
            reader,
            max_size,
            index: 0,
            envelope: None,
            started: false,
        }
    }

    /// Reads one line into `buf` (when `keep`), returning (bytes read, the
    /// line's first bytes). Memory stays bounded by the caller's decision.
    fn read_line(&mut self, buf: &mut Vec<u8>, keep: bool) -> io::Result<(usize, Vec<u8>)> {
        let mut prefix = Vec::new();
        let mut total = 0;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((total, prefix));
            }
            let (chunk_len, done) = match memchr::memchr(b'\n', available) {
                Some(pos) => (pos + 1, true),
                None => (available.len(), false),
            };
            let chunk = &available[..chunk_len];
            if prefix.len() < LINE_PREFIX {
                let take = (LINE_PREFIX - prefix.len()).min(chunk.len());
                prefix.extend_from_slice(&chunk[..take]);
            }
            // Stop keeping once past the limit: the caller sees the overflow.
            if keep && buf.len() <= self.max_size {
                buf.extend_from_slice(chunk);
            }
            total += chunk_len;
            self.reader.consume(chunk_len);
            if done {
                return Ok((total, prefix));
            }
        }
    }

    fn next_entry(&mut self) -> io::Result<Option<MboxEntry>> {
        if !self.started {
            self.started = true;
            // The first line is the first envelope (callers check looks_like_mbox).
            let mut first = Vec::new();
            let (n, prefix) = self.read_line(&mut first, false)?;
            if n == 0 {
                return Ok(None);
            }
            self.envelope = Some(envelope_text(&prefix));
        }
        let Some(envelope) = self.envelope.take() else {
            return Ok(None);
        };
        self.index += 1;
        let mut bytes = Vec::new();
        let mut size: u64 = 0;
        let mut too_large = false;
        loop {
            let line_start = bytes.len();
            let (n, prefix) = self.read_line(&mut bytes, !too_large)?;
            if n == 0 {
                break;
            }
            if is_separator(&prefix) {
                bytes.truncate(line_start);
                self.envelope = Some(envelope_text(&prefix));
                break;
            }
            size += n as u64;
            if !too_large && bytes.len() > self.max_size {
                too_large = true;
                bytes = Vec::new();
            }
        }
        if too_large {
            return Ok(Some(MboxEntry::TooLarge {
                index: self.index,
                size,
            }));
        }
        strip_separator_blank_line(&mut bytes);
        let variant = if has_rd_quoting(&bytes) {
            MboxVariant::Mboxrd
        } else {
            MboxVariant::Mboxo
        };
        let bytes = unquote(&bytes, variant);
        Ok(Some(MboxEntry::Message {
            index: self.index,
            envelope,
            bytes,
            variant,
        }))
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<MboxEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => None,
            Err(e) => {
                self.envelope = None;
                Some(Err(e))
            }
        }
    }
}

/// A separator is a `From ` line that looks like an envelope: a sender then
/// a date with a time of day (`From a@b Thu Nov 26 04:28:43 2026`). Body
/// lines starting with `From ` are quoted by mbox writers; the date check
/// guards against writers that forgot.
fn is_separator(line: &[u8]) -> bool {
    line.starts_with(b"From ") && envelope_date(&envelope_text(line)).is_some()
}

fn envelope_text(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// The envelope's date as unix seconds (asctime as written by mbox writers,
/// UTC; an RFC 5322 date is accepted too).
pub fn envelope_date(envelope: &str) -> Option<i64> {
    let rest = envelope.strip_prefix("From ")?;
    let mut tokens = rest.split_whitespace();
    tokens.next()?; // sender
    let date: Vec<&str> = tokens.collect();
    asctime(&date).or_else(|| {
        mail_parser::DateTime::parse_rfc822(&date.join(" "))
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp())
    })
}

/// The month (1-12) a token names by its first three letters.
fn month_of(token: &str) -> Option<u8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    // `get` rather than slicing: the token may start with a multi-byte character.
    let prefix = token.get(..3)?;
    MONTHS
        .iter()
        .position(|m| prefix.eq_ignore_ascii_case(m))
        .map(|i| i as u8 + 1)
}

/// An asctime date in text (`Thu Nov 26 04:28:43 2026`), read as UTC.
pub(crate) fn asctime_text(text: &str) -> Option<i64> {
    asctime(&text.split_whitespace().collect::<Vec<_>>())
}

/// `[Dow] Mon DD HH:MM[:SS] YYYY [zone]`, read as UTC.
fn asctime(tokens: &[&str]) -> Option<i64> {
    let month_pos = tokens.iter().position(|t| month_of(t).is_some())?;
    let month = month_of(tokens[month_pos])?;
    let day: u8 = tokens.get(month_pos + 1)?.parse().ok()?;
    let time = tokens.get(month_pos + 2)?;
    let mut hms = time.split(':').map(|p| p.parse::<u8>());
    let hour = hms.next()?.ok()?;
    let minute = hms.next()?.ok()?;
    let second = hms.next().and_then(Result::ok).unwrap_or(0);
    let year: u16 = tokens.get(month_pos + 3)?.parse().ok()?;
    let dt = mail_parser::DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        tz_before_gmt: false,
        tz_hour: 0,
        tz_minute: 0,
    };
    dt.is_valid().then(|| dt.to_timestamp())
}

/// Removes the blank line an mbox writer puts before the next envelope.
fn strip_separator_blank_line(bytes: &mut Vec<u8>) {
    if bytes.ends_with(b"\r\n\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n\n") {
        bytes.truncate(bytes.len() - 1);
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n')
}

/// mboxrd quotes `>From ` as `>>From `; mboxo never adds a second `>`.
/// A `>>From ` line is therefore the mark of mboxrd.
fn has_rd_quoting(bytes: &[u8]) -> bool {
    lines(bytes).any(|l| {
        let gts = l.iter().take_while(|&&b| b == b'>').count();
        gts >= 2 && l[gts..].starts_with(b"From ")
    })
}

/// Undoes the quoting one level: mboxo `>From ` -> `From `; mboxrd
/// `>>*From ` -> one `>` fewer.
fn unquote(bytes: &[u8], variant: MboxVariant) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for line in lines(bytes) {
        let gts = line.iter().take_while(|&&b| b == b'>').count();
        let quoted = gts >= 1
            && line[gts..].starts_with(b"From ")
            && (gts == 1 || variant == MboxVariant::Mboxrd);
        out.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], max: usize) -> Vec<MboxEntry> {
        MboxReader::new(input, max)
            .collect::<io::Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn splits_and_unquotes_mboxo() {
        let mbox = b"From a@b Thu Nov 26 04:28:43 2026\nSubject: one\n\n>From here\n>>From there\n\nFrom c@d Fri Nov 27 01:00:00 2026\r\nSubject: two\r\n\r\nbody\r\n";
        let entries = read(mbox, 1000);
        assert_eq!(entries.len(), 2);
        match &entries[0] {
            MboxEntry::Message {
                index,
                envelope,
                bytes,
                variant,
            } => {
                assert_eq!(*index, 1);
                assert_eq!(envelope, "From a@b Thu Nov 26 04:28:43 2026");
                assert_eq!(*variant, MboxVariant::Mboxrd);
                assert_eq!(bytes, b"Subject: one\n\nFrom here\n>From there\n");
            }
            other => panic!("{other:?}"),
        }
        match &entries[1] {
            MboxEntry::Message { bytes, variant, .. } => {
                assert_eq!(*variant, MboxVariant::Mboxo);
                assert_eq!(bytes, b"Subject: two\r\n\r\nbody\r\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mboxo_keeps_double_quoting() {
        let entries = read(
            b"From a@b Thu Nov 26 04:28:43 2026\nS: x\n\n>From a\n",
            1000,
        );
        let MboxEntry::Message { bytes, variant, .. } = &entries[0] else {
            panic!()
        };
        assert_eq!(*variant, MboxVariant::Mboxo);
        assert_eq!(bytes, b"S: x\n\nFrom a\n");
    }

    #[test]
    fn body_from_lines_without_date_are_not_separators() {
        let entries = read(
            b"From a@b Thu Nov 26 04:28:43 2026\nS: x\n\nFrom me to you\n",
            1000,
        );
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn too_large_messages_are_skipped_not_buffered() {
        let mut mbox = b"From a@b Thu Nov 26 04:28:43 2026\nS: x\n\n".to_vec();
        mbox.extend(std::iter::repeat_n(b'a', 10_000));
        mbox.extend_from_slice(b"\nFrom a@b Thu Nov 26 04:28:44 2026\nS: y\n\nok\n");
        let entries = read(&mbox, 1000);
        assert!(matches!(entries[0], MboxEntry::TooLarge { index: 1, size } if size > 10_000));
        assert!(matches!(&entries[1], MboxEntry::Message { index: 2, .. }));
    }

    #[test]
    fn envelope_dates_with_multibyte_tokens() {
        // Found by fuzzing: slicing a token that starts with a multi-byte character.
        assert_eq!(envelope_date("From a é€x 1 02:03 2020"), None);
    }

    #[test]
    fn envelope_dates() {
        assert_eq!(
            envelope_date("From a@b Thu Nov 26 04:28:43 2026"),
            Some(1795667323)
        );
        assert_eq!(
            envelope_date("From MAILER-DAEMON Mon Jun  5 10:00:00 2005 +0000"),
            Some(1117965600)
        );
        assert_eq!(
            envelope_date("From a@b  Sat, 1 Jan 2005 10:00:00 +0100"),
            Some(1104570000)
        );
        assert_eq!(envelope_date("From me to you"), None);
    }

    /// Writes messages as an mboxrd file, the way a careful writer does.
    fn write_mboxrd(messages: &[Vec<String>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, lines) in messages.iter().enumerate() {
            out.extend_from_slice(
                format!(
                    "From sender@example.com Thu Nov 26 04:28:{:02} 2026\n",
                    n % 60
                )
                .as_bytes(),
            );
            for line in lines {
                let gts = line.bytes().take_while(|&b| b == b'>').count();
                if line[gts..].starts_with("From ") {
                    out.push(b'>');
                }
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.push(b'\n');
        }
        out
    }

    proptest::proptest! {
        /// Messages written as mboxrd (bodies with `From ` and `>From `
        /// lines) come back byte for byte, in order, under any size limit
        /// they fit.
        #[test]
        fn mboxrd_round_trips(messages in proptest::collection::vec(
            proptest::collection::vec("(>{0,2}From [a-z ]{0,10}|[A-Za-z: ]{1,20})", 1..6), 1..5)) {
            let mut messages = messages;
            // A message is a header line first (and cannot end with an empty line).
            for m in messages.iter_mut() {
                m.insert(0, "Subject: x".to_string());
            }
            let mbox = write_mboxrd(&messages);
            let entries = MboxReader::new(&mbox[..], 1 << 20).collect::<io::Result<Vec<_>>>().unwrap();
            proptest::prop_assert_eq!(entries.len(), messages.len());
            for (entry, lines) in entries.iter().zip(&messages) {
                let MboxEntry::Message { bytes, .. } = entry else { panic!("too large") };
                let expected: String = lines.iter().map(|l| format!("{l}\n")).collect();
                proptest::prop_assert_eq!(String::from_utf8_lossy(bytes), expected);
            }
        }

        /// Any bytes: entries or an error, never a panic, and never a message
        /// over the limit.
        #[test]
        fn any_bytes_are_read_within_the_limit(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
            let mut input = b"From a@b Thu Nov 26 04:28:43 2026\n".to_vec();
            input.extend_from_slice(&bytes);
            for entry in MboxReader::new(&input[..], 512).flatten() {
                if let MboxEntry::Message { bytes, .. } = entry {
                    proptest::prop_assert!(bytes.len() <= 512);
                }
            }
        }
    }
}
