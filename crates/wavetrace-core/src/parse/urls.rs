//! URL extraction from HTML attributes and from plain text.
//!
//! Hand-written scanners rather than an HTML parser: phishing HTML is often
//! broken on purpose, and all we need is the value of a few attributes
//! (`href`, `src`, `action`, ...). Nothing here fetches or resolves a URL.

use crate::record::{FoundUrl, UrlContext};

/// URLs longer than this are cut (at a character boundary): tracking URLs
/// are long, but a 1 MB `data:` URI is an image, not evidence.
pub const MAX_URL_LEN: usize = 2048;

/// Finds URLs in the attributes of an HTML document, in document order.
/// Only absolute URLs are kept (with a scheme), `cid:` references excepted.
pub fn html_attribute_urls(html: &str, out: &mut Vec<(String, UrlContext)>) {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &bytes[i..]) {
        let start = i + off + 1;
        // Tag name.
        let name_end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |p| start + p);
        if name_end == start {
            i = start;
            continue;
        }
        let tag = &html[start..name_end];
        let (end, attrs) = scan_attributes(html, name_end);
        i = end;
        for (name, value) in attrs {
            if let Some(context) = attribute_context(tag, name) {
                let value = decode_entities(value.trim());
                if let Some(url) = absolute_url(&value) {
                    out.push((url, context));
                }
            }
        }
    }
}

/// Which attributes of which tags hold URLs, and what kind.
fn attribute_context(tag: &str, attr: &str) -> Option<UrlContext> {
    if attr.eq_ignore_ascii_case("href") {
        Some(UrlContext::Href)
    } else if attr.eq_ignore_ascii_case("src") || attr.eq_ignore_ascii_case("background") {
        Some(UrlContext::Src)
    } else if (attr.eq_ignore_ascii_case("action") && tag.eq_ignore_ascii_case("form"))
        || attr.eq_ignore_ascii_case("formaction")
    {
        Some(UrlContext::Form)
    } else {
        None
    }
}

/// Reads attributes from `pos` (just after a tag name) to the closing `>`.
/// Returns the position after the tag and the (name, raw value) pairs.
fn scan_attributes(html: &str, mut pos: usize) -> (usize, Vec<(&str, &str)>) {
    let bytes = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b'/') {
            pos += 1;
        }
        if pos >= bytes.len() {
            return (pos, attrs);
        }
        if bytes[pos] == b'>' {
            return (pos + 1, attrs);
        }
        if bytes[pos] == b'<' {
            // Broken tag: let the caller start a new one here.
            return (pos, attrs);
        }
        let name_start = pos;
        while pos < bytes.len()
            && !matches!(bytes[pos], b'=' | b'>' | b'<' | b'/')
            && !bytes[pos].is_ascii_whitespace()
        {
            pos += 1;
        }
        let name = &html[name_start..pos];
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos < bytes.len() && bytes[pos] == b'=' {
            pos += 1;
            while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            let value = match bytes.get(pos) {
                Some(&q @ (b'"' | b'\'')) => {
                    let vstart = pos + 1;
                    let vend =
                        memchr::memchr(q, &bytes[vstart..]).map_or(bytes.len(), |p| vstart + p);
                    pos = (vend + 1).min(bytes.len());
                    &html[vstart..vend]
                }
                _ => {
                    let vstart = pos;
                    while pos < bytes.len()
                        && !bytes[pos].is_ascii_whitespace()
                        && bytes[pos] != b'>'
                    {
                        pos += 1;
                    }
                    &html[vstart..pos]
                }
            };
            if !name.is_empty() {
                attrs.push((name, value));
            }
        } else if name.is_empty() {
            // A stray character we cannot read as an attribute; skip it.
            pos += html[pos..].chars().next().map_or(1, char::len_utf8);
        }
    }
}

/// Decodes the character references that matter inside URLs (RFC-less, as
/// browsers do): `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#NN;`, `&#xHH;`.
pub fn decode_entities(value: &str) -> String {
    if !value.contains('&') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&s| s <= 10);
        let decoded = semi.and_then(|s| decode_entity(&after[..s]).map(|c| (c, s)));
        match decoded {
            Some((c, s)) => {
                out.push(c);
                rest = &after[s + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Keeps a URL only when it is absolute (has a scheme); cuts it to
/// [`MAX_URL_LEN`].
fn absolute_url(value: &str) -> Option<String> {
    let colon = value.find(':')?;
    let scheme = &value[..colon];
    let valid_scheme = !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme || scheme.eq_ignore_ascii_case("cid") {
        return None;
    }
    Some(cut(value).to_string())
}

fn cut(value: &str) -> &str {
    if value.len() <= MAX_URL_LEN {
        return value;
    }
    let mut end = MAX_URL_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// Finds URLs in plain text: `http://`, `https://`, `ftp://` and bare
/// `www.` hosts, ended by whitespace, quotes or angle brackets, with trailing
/// sentence punctuation trimmed.
pub fn text_urls(text: &str, out: &mut Vec<(String, UrlContext)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let prefix_len = if !starts_word || !matches!(b | 0x20, b'h' | b'f' | b'w') {
            0
        } else {
            ["https://", "http://", "ftp://", "www."]
                .iter()
                .find(|p| {
                    bytes.len() - i >= p.len()
                        && bytes[i..i + p.len()].eq_ignore_ascii_case(p.as_bytes())
                })
                .map_or(0, |p| p.len())
        };
        if prefix_len == 0 {
            i += 1;
            continue;
        }
        let mut end = i + prefix_len;
        while end < bytes.len() && !is_url_terminator(bytes[end]) {
            end += 1;
        }
        let url = trim_trailing_punctuation(&text[i..end]);
        if url.len() > prefix_len {
            out.push((cut(url).to_string(), UrlContext::Text));
        }
        i = end.max(i + 1);
    }
}

fn is_url_terminator(b: u8) -> bool {
    b.is_ascii_whitespace()
        || b.is_ascii_control()
        || matches!(
            b,
            b'<' | b'>' | b'"' | b'\'' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
        )
}

/// Drops sentence punctuation after a URL; a closing bracket stays when the
/// URL opened one (Wikipedia-style links).
fn trim_trailing_punctuation(url: &str) -> &str {
    let mut url = url;
    loop {
        let Some(last) = url.chars().last() else {
            return url;
        };
        let drop = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '*' => true,
            ')' => url.matches('(').count() < url.matches(')').count(),
            ']' => url.matches('[').count() < url.matches(']').count(),
            _ => !last.is_ascii() && !last.is_alphanumeric(),
        };
        if !drop {
            return url;
        }
        url = &url[..url.len() - last.len_utf8()];
    }
}

/// The lower-case host of a URL (`www.` URLs included), without user info,
/// port or trailing dot; None for URLs without an authority (mailto:, data:).
pub fn url_host(url: &str) -> Option<String> {
    let rest = if let Some(pos) = url.find("://") {
        &url[pos + 3..]
    } else if url.len() >= 4 && url[..4].eq_ignore_ascii_case("www.") {
        url
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

/// Turns raw (url, context) pairs into records: duplicates of the same URL in
/// the same context dropped, order kept, at most `limit` kept.
/// Returns the records and whether the limit cut anything.
pub fn dedup_urls(found: Vec<(String, UrlContext)>, limit: usize) -> (Vec<FoundUrl>, bool) {
    let mut seen = std::collections::HashSet::with_capacity(found.len());
    let mut out = Vec::new();
    let mut capped = false;
    for (url, found_in) in found {
        if !seen.insert((url.clone(), found_in)) {
            continue;
        }
        if out.len() == limit {
            capped = true;
            break;
        }
        let host = url_host(&url);
        out.push(FoundUrl {
            url,
            host,
            found_in,
        });
    }
    (out, capped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn html(s: &str) -> Vec<(String, UrlContext)> {
        let mut out = Vec::new();
        html_attribute_urls(s, &mut out);
        out
    }

    fn text(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        text_urls(s, &mut out);
        out.into_iter().map(|(u, _)| u).collect()
    }

    #[test]
    fn attributes_by_context() {
        let found = html(
            r#"<a class=x HREF="https://evil.example/login?a=1&amp;b=2">x</a>
               <img src='http://img.example/p.png'><form method=post action=https://collect.example/p>
               <img src="cid:part1"><a href="/relative">r</a><td background=http://bg.example/b.gif>"#,
        );
        assert_eq!(
            found,
            vec![
                (
                    "https://evil.example/login?a=1&b=2".to_string(),
                    UrlContext::Href
                ),
                ("http://img.example/p.png".to_string(), UrlContext::Src),
                ("https://collect.example/p".to_string(), UrlContext::Form),
                ("http://bg.example/b.gif".to_string(), UrlContext::Src),
            ]
        );
    }

    #[test]
    fn broken_html_does_not_stop_the_scan() {
        let found = html(r#"<a href="http://a.example/x"<<<>>< <a href=http://b.example/x>"#);
        assert!(
            found.iter().any(|(u, _)| u == "http://b.example/x"),
            "{found:?}"
        );
        assert!(html("<a href=\"").is_empty());
        assert!(html("<<<").is_empty());
    }

    #[test]
    fn javascript_and_data_urls_are_kept_as_evidence() {
        let found =
            html(r#"<a href="javascript:alert(1)">x</a><img src="data:image/png;base64,AAAA">"#);
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn text_urls_trim_punctuation() {
        assert_eq!(
            text("Go to https://bank.example/verify. Or (see http://x.example/a_(b)) and www.shop.example!"),
            vec!["https://bank.example/verify", "http://x.example/a_(b)", "www.shop.example"]
        );
        assert_eq!(text("mailto:x@y.z nohttp://a"), Vec::<String>::new());
        assert_eq!(text("<http://a.example/x>"), vec!["http://a.example/x"]);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://User:pw@Evil.Example.:8443/x").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            url_host("http://[2001:db8::1]:80/").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            url_host("www.Shop.example/a").as_deref(),
            Some("www.shop.example")
        );
        assert_eq!(url_host("mailto:a@b.example"), None);
        assert_eq!(url_host("http:///path"), None);
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a&amp;b&#x41;&#66;&bogus;&"),
            "a&bAB&bogus;&"
        );
    }

    #[test]
    fn dedup_and_limit() {
        let found = vec![
            ("http://a".to_string(), UrlContext::Href),
            ("http://a".to_string(), UrlContext::Href),
            ("http://a".to_string(), UrlContext::Text),
            ("http://b".to_string(), UrlContext::Text),
        ];
        let (urls, capped) = dedup_urls(found, 2);
        assert_eq!(urls.len(), 2);
        assert!(capped);
    }

    proptest! {
        #[test]
        fn scanners_never_panic_and_keep_bounds(s in "\\PC{0,300}") {
            let mut out = Vec::new();
            html_attribute_urls(&s, &mut out);
            text_urls(&s, &mut out);
            for (u, _) in &out {
                prop_assert!(u.len() <= MAX_URL_LEN);
                let _ = url_host(u);
            }
        }

        #[test]
        fn text_urls_are_substrings(s in "[a-z .:/<>\"()wh]{0,200}") {
            let mut out = Vec::new();
            text_urls(&s, &mut out);
            for (u, _) in &out {
                prop_assert!(s.contains(u.as_str()));
            }
        }
    }
}
