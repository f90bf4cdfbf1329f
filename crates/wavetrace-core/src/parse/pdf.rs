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
//! Bounded: at most [`MAX_OBJECT_STREAMS`] object streams per file, each
//! inflated to at most [`MAX_INFLATED`] bytes, and [`MAX_LINKS`] links.

use std::io::Read;

use super::urls::{RawUrl, MAX_URL_LEN};
use crate::record::UrlContext;

/// Links kept per PDF.
pub const MAX_LINKS: usize = 64;

/// Object streams decompressed per PDF.
const MAX_OBJECT_STREAMS: usize = 64;

/// Bytes one object stream may inflate to (decompression bombs stop here).
const MAX_INFLATED: u64 = 4 * 1024 * 1024;

/// How far before a `stream` keyword its dictionary is looked for.
const MAX_DICTIONARY: usize = 1024;

/// Adds the URI-action targets of the PDF `data` to `out`, as links found
/// in an attachment. Only absolute URLs are kept (a scheme is required).
pub(super) fn pdf_links(data: &[u8], out: &mut Vec<RawUrl>) {
    let mut links = Vec::new();
    uri_values(data, &mut links);
    for stream in object_streams(data).take(MAX_OBJECT_STREAMS) {
        if links.len() >= MAX_LINKS {
            break;
        }
        uri_values(&inflate(stream), &mut links);
    }
    for link in links.into_iter().take(MAX_LINKS) {
        if !out
            .iter()
            .any(|(u, c, _)| *c == UrlContext::Attachment && *u == link)
        {
            out.push((link, UrlContext::Attachment, None));
        }
    }
}

/// The values of every `/URI` key in `bytes` that are absolute URLs.
fn uri_values(bytes: &[u8], links: &mut Vec<String>) {
    for at in memchr::memmem::find_iter(bytes, b"/URI") {
        if links.len() >= MAX_LINKS {
            return;
        }
        let rest = &bytes[at + 4..];
        // `/URI` must be the whole key (not `/URIAction`).
        let value = rest.trim_ascii_start();
        let decoded = match value.first() {
            Some(b'(') => literal_string(&value[1..]),
            Some(b'<') if value.get(1) != Some(&b'<') => hex_string(&value[1..]),
            _ => continue,
        };
        let text = String::from_utf8_lossy(&decoded);
        // A URI has no white space or control characters (RFC 3986): an
        // unterminated string ends at the first one.
        let url = text
            .trim()
            .split(|c: char| c.is_whitespace() || c.is_control())
            .next()
            .unwrap_or("");
        if has_scheme(url) {
            let url = crate::parse::prefix(url, MAX_URL_LEN).to_string();
            if !links.contains(&url) {
                links.push(url);
            }
        }
    }
}

/// A literal string's bytes after its `(`: escapes undone, balanced
/// parentheses kept, read within [`MAX_URL_LEN`] bytes (ISO 32000-1 7.3.4.2).
fn literal_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_URL_LEN {
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
    out
}

/// A hex string's bytes after its `<` (white space ignored, an odd last
/// digit followed by 0, ISO 32000-1 7.3.4.3).
fn hex_string(bytes: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = bytes
        .iter()
        .take(4 * MAX_URL_LEN)
        .take_while(|&&b| b != b'>')
        .filter_map(|&b| char::from(b).to_digit(16).map(|d| d as u8))
        .collect();
    digits
        .chunks(2)
        .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
        .collect()
}

fn has_scheme(url: &str) -> bool {
    let Some(colon) = url.find(':') else {
        return false;
    };
    let scheme = &url[..colon];
    scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The raw data of each Flate-compressed object stream in `data`.
fn object_streams(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    memchr::memmem::find_iter(data, b"stream").filter_map(move |at| {
        // `endstream` ends a stream; the keyword that starts one follows `>>`.
        if data[..at].ends_with(b"end") {
            return None;
        }
        let dictionary = &data[at.saturating_sub(MAX_DICTIONARY)..at];
        let dictionary = &dictionary[memchr::memmem::rfind(dictionary, b"obj")?..];
        let is_object_stream = memchr::memmem::find(dictionary, b"/ObjStm").is_some();
        let is_flate = memchr::memmem::find(dictionary, b"/FlateDecode").is_some();
        if !is_object_stream || !is_flate {
            return None;
        }
        let mut start = at + b"stream".len();
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

/// `compressed` inflated (zlib), within [`MAX_INFLATED`] bytes; what could
/// be inflated before an error is kept.
fn inflate(compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::ZlibDecoder::new(compressed).take(MAX_INFLATED);
    // A truncated or corrupt stream still gives what came before the damage.
    let _ = decoder.read_to_end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn links(pdf: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        pdf_links(pdf, &mut out);
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
        assert!(inflate(&bomb).len() as u64 <= MAX_INFLATED);
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
