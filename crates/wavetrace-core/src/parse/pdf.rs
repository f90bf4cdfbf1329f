//! The links of an attached PDF: the targets of its URI actions
//! (`/URI (https://...)`, ISO 32000-1 12.6.4.7).
//!
//! A phishing PDF is often a picture of a document with one link over it;
//! the mail around it says almost nothing, so the link is the evidence.
//! Link annotations are ordinary objects, written as they are or packed
//! into compressed object streams (`/Type /ObjStm`, PDF 1.5); both are
//! read. Content streams (the drawing), images and fonts are never
//! decompressed, and nothing is fetched or run.
//!
//! Bounded: each byte of a PDF is looked at a fixed number of times; at
//! most [`MAX_URI_KEYS`] `/URI` keys and [`MAX_OBJECT_STREAMS`] object
//! streams per file; an object stream inflates to at most
//! [`MAX_INFLATED`] bytes, and all the PDFs of one message together to
//! [`AttachedLinks::INFLATE_PER_MESSAGE`]; [`MAX_LINKS`] links per PDF and
//! [`AttachedLinks::MAX_PER_MESSAGE`] per message.

use std::io::Read;

use super::urls::{scheme, RawUrl, MAX_URL_LEN};
use crate::record::UrlContext;

/// Links kept per PDF.
pub const MAX_LINKS: usize = 64;

/// `/URI` keys examined per PDF (a file of nothing but keys stops here).
const MAX_URI_KEYS: usize = 1024;

/// Object streams decompressed per PDF.
const MAX_OBJECT_STREAMS: usize = 64;

/// Bytes one object stream may inflate to (decompression bombs stop here).
const MAX_INFLATED: u64 = 4 * 1024 * 1024;

/// How far before a `stream` keyword its dictionary is looked for.
const MAX_DICTIONARY: usize = 4096;

/// Bytes of a string value read, whatever it decodes to.
const MAX_STRING_INPUT: usize = 4 * MAX_URL_LEN;

/// The links of one message's attached PDFs, and what those PDFs may
/// still inflate.
#[derive(Debug)]
pub(super) struct AttachedLinks {
    pub urls: Vec<RawUrl>,
    inflate_budget: u64,
}

impl AttachedLinks {
    /// Inflated bytes allowed for all the PDFs of one message.
    pub const INFLATE_PER_MESSAGE: u64 = 16 * 1024 * 1024;

    /// Links kept per message, from all its PDFs.
    pub const MAX_PER_MESSAGE: usize = 256;

    pub fn new() -> AttachedLinks {
        AttachedLinks {
            urls: Vec::new(),
            inflate_budget: Self::INFLATE_PER_MESSAGE,
        }
    }

    /// Adds the URI-action targets of the PDF `data`, as links found in an
    /// attachment. Only absolute URLs are kept (a scheme is required).
    pub fn read_pdf(&mut self, data: &[u8]) {
        let room = Self::MAX_PER_MESSAGE.saturating_sub(self.urls.len());
        let mut links = Vec::new();
        let mut keys = 0;
        uri_values(data, &mut keys, &mut links);
        for stream in object_streams(data).take(MAX_OBJECT_STREAMS) {
            if links.len() >= MAX_LINKS.min(room) || keys >= MAX_URI_KEYS {
                break;
            }
            if self.inflate_budget == 0 {
                break;
            }
            let inflated = inflate(stream, self.inflate_budget.min(MAX_INFLATED));
            self.inflate_budget = self.inflate_budget.saturating_sub(inflated.len() as u64);
            uri_values(&inflated, &mut keys, &mut links);
        }
        self.urls.extend(
            links
                .into_iter()
                .take(room)
                .map(|link| (link, UrlContext::Attachment, None)),
        );
    }
}

/// The values of the `/URI` keys in `bytes` that are absolute URLs; `keys`
/// counts the keys examined in the whole file. Each byte is read once: the
/// search goes on after the value just read.
fn uri_values(bytes: &[u8], keys: &mut usize, links: &mut Vec<String>) {
    let mut at = 0;
    while let Some(found) = bytes
        .get(at..)
        .and_then(|rest| memchr::memmem::find(rest, b"/URI"))
    {
        if links.len() >= MAX_LINKS || *keys >= MAX_URI_KEYS {
            return;
        }
        *keys += 1;
        let value_at = at + found + 4;
        let rest = bytes.get(value_at..).unwrap_or(&[]);
        // `/URI` must be the whole key (not `/URIAction`).
        let blank = rest.iter().take_while(|&&b| is_white_space(b)).count();
        let value = &rest[blank..];
        let (decoded, read) = match value.first() {
            Some(b'(') => literal_string(&value[1..]),
            Some(b'<') if value.get(1) != Some(&b'<') => hex_string(&value[1..]),
            _ => (Vec::new(), 0),
        };
        at = value_at + blank + read;
        if let Some(url) = absolute_url(&decoded) {
            if !links.contains(&url) {
                links.push(url);
            }
        }
    }
}

/// PDF white space (ISO 32000-1 7.2.2).
fn is_white_space(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// A decoded string value as a URL, when it is one: UTF-16BE (with its byte
/// order mark) or bytes; cut at the first white space or control character
/// (a URI has none, RFC 3986), so an unterminated string ends there.
fn absolute_url(decoded: &[u8]) -> Option<String> {
    let text = match decoded.strip_prefix(&[0xfe, 0xff]) {
        Some(utf16) => {
            let units = utf16
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect::<String>()
        }
        None => String::from_utf8_lossy(decoded).into_owned(),
    };
    let url = text
        .trim()
        .split(|c: char| c.is_whitespace() || c.is_control())
        .next()
        .unwrap_or("");
    scheme(url).map(|_| crate::parse::prefix(url, MAX_URL_LEN).to_string())
}

/// A literal string's bytes after its `(` (escapes undone, balanced
/// parentheses kept, ISO 32000-1 7.3.4.2) and how many bytes were read: up
/// to its closing `)`, within [`MAX_STRING_INPUT`] bytes.
fn literal_string(bytes: &[u8]) -> (Vec<u8>, usize) {
    let bytes = &bytes[..bytes.len().min(MAX_STRING_INPUT)];
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        match b {
            b'\\' => {
                let Some(&next) = bytes.get(i) else { break };
                i += 1;
                match next {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'\r' => {
                        if bytes.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    b'0'..=b'7' => {
                        let mut code = u32::from(next - b'0');
                        for _ in 0..2 {
                            match bytes.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    code = code * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((code & 0xff) as u8);
                    }
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' if depth == 0 => break,
            b')' => {
                depth -= 1;
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    (out, i)
}

/// A hex string's bytes after its `<` (other bytes than hex digits
/// skipped, an odd last digit followed by 0, ISO 32000-1 7.3.4.3) and how
/// many bytes were read: up to its `>`, within [`MAX_STRING_INPUT`] bytes.
fn hex_string(bytes: &[u8]) -> (Vec<u8>, usize) {
    let body = &bytes[..bytes.len().min(MAX_STRING_INPUT)];
    let end = memchr::memchr(b'>', body).unwrap_or(body.len());
    let digits: Vec<u8> = body[..end]
        .iter()
        .filter_map(|&b| char::from(b).to_digit(16).map(|d| d as u8))
        .collect();
    let decoded = digits
        .chunks(2)
        .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
        .collect();
    (decoded, (end + 1).min(body.len()))
}

/// The raw data of each Flate-compressed object stream in `data`. A
/// stream's dictionary is looked for between the `obj` before its `stream`
/// keyword and that keyword, within [`MAX_DICTIONARY`] bytes and never
/// before the previous keyword: each byte is looked at once.
fn object_streams(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut previous_end = 0;
    memchr::memmem::find_iter(data, b"stream").filter_map(move |at| {
        let window_start = at.saturating_sub(MAX_DICTIONARY).max(previous_end);
        previous_end = at + b"stream".len();
        // `endstream` ends a stream; the keyword that starts one follows `>>`.
        if data[..at].ends_with(b"end") {
            return None;
        }
        let window = data.get(window_start..at)?;
        let dictionary = &window[memchr::memmem::rfind(window, b"obj")?..];
        let is_object_stream = memchr::memmem::find(dictionary, b"/ObjStm").is_some();
        let is_flate = memchr::memmem::find(dictionary, b"/FlateDecode").is_some();
        if !is_object_stream || !is_flate {
            return None;
        }
        let mut start = previous_end;
        if data.get(start) == Some(&b'\r') {
            start += 1;
        }
        if data.get(start) == Some(&b'\n') {
            start += 1;
        }
        let rest = data.get(start..)?;
        let end = memchr::memmem::find(rest, b"endstream").unwrap_or(rest.len());
        Some(&rest[..end])
    })
}

/// `compressed` inflated (zlib), within `limit` bytes; what could be
/// inflated before an error is kept.
fn inflate(compressed: &[u8], limit: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::ZlibDecoder::new(compressed).take(limit);
    // A truncated or corrupt stream still gives what came before the damage.
    let _ = decoder.read_to_end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn links(pdf: &[u8]) -> Vec<String> {
        let mut attached = AttachedLinks::new();
        attached.read_pdf(pdf);
        let out = attached.urls;
        assert!(out
            .iter()
            .all(|(_, c, t)| *c == UrlContext::Attachment && t.is_none()));
        out.into_iter().map(|(u, _, _)| u).collect()
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn uri_actions_written_as_they_are() {
        let pdf = b"%PDF-1.4\n4 0 obj\n<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://docs.google.com/drawings/d/1E/preview?6) >> >>\nendobj\n\
            5 0 obj<</A<</S/URI/URI(http://a.example/p\\(1\\)\\051x)>>>>endobj\n\
            6 0 obj<</A<</S/URI/URI<68747470733A2F2F622E6578616D706C652F>>>>>endobj\n\
            7 0 obj<</A<</S/URI/URI(/relative/path)>>>>endobj\n\
            8 0 obj<</URIAction (https://not.a.key/)>>endobj\n%%EOF";
        assert_eq!(
            links(pdf),
            [
                "https://docs.google.com/drawings/d/1E/preview?6",
                "http://a.example/p(1))x",
                "https://b.example/",
            ]
        );
    }

    #[test]
    fn utf16_values_and_pdf_white_space() {
        let mut pdf = b"1 0 obj<</A<</S/URI/URI\0(\xfe\xff".to_vec();
        for unit in "https://c.example/".encode_utf16() {
            pdf.extend_from_slice(&unit.to_be_bytes());
        }
        pdf.extend_from_slice(b")>>>>endobj");
        assert_eq!(links(&pdf), ["https://c.example/"]);
    }

    #[test]
    fn uri_actions_in_compressed_object_streams() {
        let objects = b"1 0 2 60 <</Type/Annot/Subtype/Link/A<</S/URI/URI(https://cutt.ly/x)>>>> <</Type/Page>>";
        let stream = zlib(objects);
        let mut pdf = b"%PDF-1.5\n9 0 obj\n<</Type/ObjStm/N 2/First 8/Filter/FlateDecode/Length 99>>\nstream\r\n".to_vec();
        pdf.extend_from_slice(&stream);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        // A content stream is never inflated: its text is not a link.
        let content = zlib(b"BT (/URI \\(https://drawn.example/\\)) Tj ET");
        pdf.extend_from_slice(b"10 0 obj\n<</Filter/FlateDecode/Length 40>>\nstream\n");
        pdf.extend_from_slice(&content);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF");
        assert_eq!(links(&pdf), ["https://cutt.ly/x"]);
    }

    #[test]
    fn bombs_and_floods_are_bounded() {
        // 64 MB of zeros compress to about 64 KB; only 4 MB are inflated.
        let bomb = zlib(&vec![0u8; 64 * 1024 * 1024]);
        assert!(inflate(&bomb, MAX_INFLATED).len() as u64 <= MAX_INFLATED);
        // The PDFs of one message share one budget.
        let mut pdf = b"1 0 obj<</Type/ObjStm/Filter/FlateDecode>>stream\n".to_vec();
        pdf.extend_from_slice(&bomb);
        pdf.extend_from_slice(b"\nendstream\n");
        let mut attached = AttachedLinks::new();
        for _ in 0..8 {
            attached.read_pdf(&pdf);
        }
        assert_eq!(attached.inflate_budget, 0);
        // Keys without values, and strings without an end, are each read once.
        assert!(links(&b"/URI(".repeat(1_000_000)).is_empty());
        assert!(links(&b"/URI<".repeat(1_000_000)).is_empty());
        assert!(links(&b"stream".repeat(1_000_000)).is_empty());
        let flood = "1 0 obj<</A<</S/URI/URI(https://x.example/N)>>>>endobj\n".repeat(1000);
        let flood = (0..1000).fold(flood, |s, i| s.replacen("/N)", &format!("/{i})"), 1));
        assert_eq!(links(flood.as_bytes()).len(), MAX_LINKS);
        // An unterminated string is read within the URL length, and ends
        // where a URL cannot go on.
        let open = format!("/URI (https://{}", "a".repeat(100_000));
        assert!(links(open.as_bytes())[0].len() <= MAX_URL_LEN);
        assert_eq!(
            links(b"/URI (https://a.example/x\nendobj\n%%EOF"),
            ["https://a.example/x"]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = links(&bytes);
        }

        #[test]
        fn never_panics_on_pdf_soup(s in "(/URI|\\(|\\)|\\\\|<|>|stream|endstream|obj|/ObjStm|/FlateDecode|https://a.b/| |7|x)*") {
            let _ = links(s.as_bytes());
        }
    }
}
