//! URL extraction from HTML attributes and from plain text.
//!
//! Hand-written scanners rather than an HTML parser: phishing HTML is often
//! broken on purpose, and all we need is the value of a few attributes
//! (`href`, `src`, `action`, ...). Nothing here fetches or resolves a URL.

use super::html::end_of_element;
use super::prefix;
use crate::record::{FoundUrl, UrlContext};

/// URLs longer than this are cut (at a character boundary): tracking URLs
/// are long, but a 1 MB `data:` URI is an image, not evidence.
pub const MAX_URL_LEN: usize = 2048;

/// Anchor text is cut to this many characters: enough to show any domain
/// or URL a link pretends to lead to.
pub const MAX_ANCHOR_TEXT_CHARS: usize = 200;

/// Bytes of HTML read after an `<a href>` tag looking for its text: the scan
/// also stops at the next `<a` or `</a`, so hostile HTML costs linear time.
const MAX_ANCHOR_SCAN: usize = 8192;

/// Raw (undecoded) anchor text collected before decoding and collapsing.
const MAX_ANCHOR_RAW: usize = 2048;

/// A URL as found, before deduplication: the URL, where it was found, and
/// for an `<a href>` the link's visible text.
pub type RawUrl = (String, UrlContext, Option<String>);

/// Finds URLs in the attributes of an HTML document, in document order.
/// Only absolute URLs are kept (with a scheme), `cid:` references excepted.
/// An `<a href>` also gets the link's visible text (see [`anchor_text`]).
pub fn html_attribute_urls(html: &str, out: &mut Vec<RawUrl>) {
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut sheets_read_to = 0;
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
        // A style sheet is read once: a `<style>` inside one already read
        // (or after an unclosed one) starts no new search, so a flood of
        // them costs linear time.
        if tag.eq_ignore_ascii_case("style") && end >= sheets_read_to {
            let sheet_end = end_of_element(bytes, end, b"style").unwrap_or(bytes.len());
            css_urls(html.get(end..sheet_end).unwrap_or(""), out);
            sheets_read_to = sheet_end.max(end + 1);
        }
        for (name, value) in attrs {
            if name.eq_ignore_ascii_case("style") {
                if memchr::memchr(b'(', value.as_bytes()).is_some() {
                    css_urls(&decode_entities(value), out);
                }
                continue;
            }
            if let Some(context) = attribute_context(tag, name) {
                let value = decode_entities(value.trim());
                if let Some(url) = absolute_url(&value) {
                    let text = if context == UrlContext::Href && tag.eq_ignore_ascii_case("a") {
                        anchor_text(html, end)
                    } else {
                        None
                    };
                    out.push((url, context, text));
                }
            }
        }
    }
}

/// CSS `url()` values kept from one part: enough for any picture a spam
/// shows; a flood of `url(` stops here.
const MAX_CSS_URLS: usize = 256;

/// The `url(...)` values of CSS text (a style attribute or a style sheet):
/// background images are how some spam shows its one picture without an
/// `<img>`. Kept as `src`; relative ones are dropped like any other, and so
/// are fonts (`src: url(...)` in `@font-face`), imported sheets and `data:`
/// values (embedded fonts): what a page is dressed in, not what it shows.
/// A value is read within [`MAX_URL_LEN`] bytes, and the scan goes on after
/// it, so the work is linear.
fn css_urls(css: &str, out: &mut Vec<RawUrl>) {
    let bytes = css.as_bytes();
    let mut at = 0;
    let mut kept = 0;
    while let Some(found) = memchr::memchr(b'(', bytes.get(at..).unwrap_or_default()) {
        let open = at + found;
        at = open + 1;
        let is_url = open >= 3 && bytes[open - 3..open].eq_ignore_ascii_case(b"url");
        if !is_url || dresses_the_page(css, open - 3) {
            continue;
        }
        let rest = prefix(css.get(open + 1..).unwrap_or(""), MAX_URL_LEN);
        let trimmed = rest.trim_start();
        let (value, consumed) = match trimmed.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => {
                let inner = &trimmed[1..];
                let end = inner.find(char::from(q)).unwrap_or(inner.len());
                (&inner[..end], rest.len() - trimmed.len() + 1 + end)
            }
            _ => {
                let end = trimmed.find(')').unwrap_or(trimmed.len());
                (&trimmed[..end], rest.len() - trimmed.len() + end)
            }
        };
        at = open + 1 + consumed;
        let value = value.trim();
        if value
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
        {
            continue;
        }
        if let Some(url) = absolute_url(value) {
            out.push((url, UrlContext::Src, None));
            kept += 1;
            if kept == MAX_CSS_URLS {
                return;
            }
        }
    }
}

/// Whether the `url(` at `at` is a font source or an `@import`: the
/// declaration before it (back to `;`, `{` or `}`, at most 64 bytes) starts
/// with `src` or `@import`.
fn dresses_the_page(css: &str, at: usize) -> bool {
    let before = &css.as_bytes()[at.saturating_sub(64)..at];
    let start = before
        .iter()
        .rposition(|b| matches!(b, b';' | b'{' | b'}'))
        .map_or(0, |p| p + 1);
    let declaration = before[start..].trim_ascii_start();
    declaration
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"src"))
        || declaration
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"@import"))
}

/// The visible text of the link whose start tag ends at `from`: the HTML up
/// to the next `</a` or `<a` (a new link closes an unclosed one), inner tags
/// removed (block tags such as `<br>` or `<div>` count as a space, inline
/// ones join their neighbours as a browser shows them), entities decoded,
/// whitespace collapsed, cut to [`MAX_ANCHOR_TEXT_CHARS`]. None when empty.
/// Reads at most [`MAX_ANCHOR_SCAN`] bytes.
pub fn anchor_text(html: &str, from: usize) -> Option<String> {
    let bytes = html.as_bytes();
    let mut limit = from.saturating_add(MAX_ANCHOR_SCAN).min(bytes.len());
    while !html.is_char_boundary(limit) {
        limit -= 1;
    }
    let mut raw = String::new();
    let mut pos = from;
    let mut seg_start = from;
    while pos < limit && raw.len() < MAX_ANCHOR_RAW {
        let Some(off) = memchr::memchr(b'<', &bytes[pos..limit]) else {
            pos = limit;
            break;
        };
        let lt = pos + off;
        raw.push_str(html.get(seg_start..lt).unwrap_or(""));
        let rest = &bytes[lt + 1..limit];
        if starts_with_tag_name(rest, b"a") || starts_with_tag_name(rest, b"/a") {
            seg_start = lt;
            pos = lt;
            break;
        }
        if is_block_tag(rest) {
            raw.push(' ');
        }
        match memchr::memchr(b'>', rest) {
            Some(gt) => {
                pos = lt + 1 + gt + 1;
                seg_start = pos;
            }
            None => {
                seg_start = limit;
                pos = limit;
            }
        }
    }
    if seg_start < pos {
        raw.push_str(html.get(seg_start..pos).unwrap_or(""));
    }
    let mut cut_at = raw.len().min(MAX_ANCHOR_RAW);
    while !raw.is_char_boundary(cut_at) {
        cut_at -= 1;
    }
    raw.truncate(cut_at);
    let decoded = decode_entities(&raw);
    let mut text = String::with_capacity(decoded.len().min(4 * MAX_ANCHOR_TEXT_CHARS));
    let mut chars = 0;
    for word in decoded.split_whitespace() {
        if !text.is_empty() && chars < MAX_ANCHOR_TEXT_CHARS {
            text.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == MAX_ANCHOR_TEXT_CHARS {
                break;
            }
            text.push(c);
            chars += 1;
        }
        if chars == MAX_ANCHOR_TEXT_CHARS {
            break;
        }
    }
    let text = text.trim_end().to_string();
    (!text.is_empty()).then_some(text)
}

/// Does `rest` (what follows a `<`) start with the tag name `name`, case
/// insensitively, followed by a non-name character?
fn starts_with_tag_name(rest: &[u8], name: &[u8]) -> bool {
    rest.len() >= name.len()
        && rest[..name.len()].eq_ignore_ascii_case(name)
        && rest
            .get(name.len())
            .is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// Tags a browser renders as a line or cell break: words on either side do
/// not join.
fn is_block_tag(rest: &[u8]) -> bool {
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    const BLOCK: &[&[u8]] = &[
        b"br", b"p", b"div", b"td", b"th", b"tr", b"li", b"table", b"h1", b"h2", b"h3", b"h4",
        b"h5", b"h6", b"hr",
    ];
    BLOCK.iter().any(|name| starts_with_tag_name(rest, name))
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
pub(super) fn scan_attributes(html: &str, mut pos: usize) -> (usize, Vec<(&str, &str)>) {
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
        } else {
            // A bare attribute (`<p hidden>`).
            attrs.push((name, ""));
        }
    }
}

/// Decodes the character references that matter inside URLs and styles
/// (RFC-less, as browsers do): `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`,
/// `&nbsp;`, `&colon;`, `&semi;`, `&#NN;`, `&#xHH;`.
pub fn decode_entities(value: &str) -> String {
    if memchr::memchr(b'&', value.as_bytes()).is_none() {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // A reference is short: look for its `;` within 11 bytes, so a run
        // of `&` without one stays linear.
        let semi = after.bytes().take(11).position(|b| b == b';');
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
        "nbsp" => Some('\u{a0}'),
        "colon" => Some(':'),
        "semi" => Some(';'),
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
    let scheme = scheme(value)?;
    if scheme.eq_ignore_ascii_case("cid") {
        return None;
    }
    Some(cut(value).to_string())
}

/// The URL's scheme (RFC 3986 3.1: a letter, then letters, digits, `+`,
/// `-` or `.`, before a `:`), when it has one.
pub(super) fn scheme(value: &str) -> Option<&str> {
    let scheme = &value[..value.find(':')?];
    let valid = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(scheme)
}

fn cut(value: &str) -> &str {
    crate::parse::prefix(value, MAX_URL_LEN)
}

/// Finds URLs in plain text: `http://`, `https://`, `ftp://` and bare
/// `www.` hosts, ended by whitespace, quotes or angle brackets, with trailing
/// sentence punctuation trimmed.
pub fn text_urls(text: &str, out: &mut Vec<RawUrl>) {
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
            out.push((cut(url).to_string(), UrlContext::Text, None));
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
    } else if url.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")) {
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

/// Turns raw URLs into records: duplicates of the same URL in the same
/// context dropped (the first anchor text seen is kept), order kept, at most
/// `limit` kept. Returns the records and whether the limit cut anything.
pub fn dedup_urls(found: Vec<RawUrl>, limit: usize) -> (Vec<FoundUrl>, bool) {
    let mut seen: std::collections::HashMap<(String, UrlContext), usize> =
        std::collections::HashMap::with_capacity(found.len());
    let mut out: Vec<FoundUrl> = Vec::new();
    let mut capped = false;
    for (url, found_in, text) in found {
        if let Some(&index) = seen.get(&(url.clone(), found_in)) {
            if let Some(earlier) = out.get_mut(index) {
                if earlier.text.is_none() {
                    earlier.text = text;
                }
            }
            continue;
        }
        if out.len() == limit {
            capped = true;
            break;
        }
        seen.insert((url.clone(), found_in), out.len());
        let host = url_host(&url);
        out.push(FoundUrl {
            url,
            host,
            found_in,
            text,
        });
    }
    (out, capped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn html(s: &str) -> Vec<(String, UrlContext)> {
        html_with_text(s)
            .into_iter()
            .map(|(u, c, _)| (u, c))
            .collect()
    }

    fn html_with_text(s: &str) -> Vec<RawUrl> {
        let mut out = Vec::new();
        html_attribute_urls(s, &mut out);
        out
    }

    fn link_text(s: &str) -> Option<String> {
        html_with_text(s).into_iter().next().and_then(|(_, _, t)| t)
    }

    fn text(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        text_urls(s, &mut out);
        out.into_iter().map(|(u, _, _)| u).collect()
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
    fn css_background_images_are_found() {
        let found = html(
            r#"<style>@import url("https://fonts.example/css"); .bg { background: URL( 'https://i.imgur.com/a.png' ) }
               @font-face { font-family: x; src: url(https://fonts.example/x.woff2) format("woff2"), url(data:font/woff;base64,AAAA) }</style>
               <div style="background: url(&quot;https://imgur.com/ENRQ6Hw.png&quot;) no-repeat; width:1px">x</div>
               <div style="background-image:url(/relative.png)">y</div><p>see url(https://text.example/) here</p>
               <div style="background:url(data:image/png;base64,iVBORw0KGgo=)">z</div>"#,
        );
        assert_eq!(
            found,
            vec![
                ("https://i.imgur.com/a.png".to_string(), UrlContext::Src),
                ("https://imgur.com/ENRQ6Hw.png".to_string(), UrlContext::Src),
            ]
        );
        // An unclosed `url(` or style sheet ends with the text.
        assert_eq!(
            html(r#"<style>a{background:url(https://x.example/a"#).len(),
            1
        );
        assert!(html(r#"<p style="background:url(">x</p>"#).is_empty());
        // Style sheets inside style sheets, or unclosed, are read once.
        let flood = "<style>".repeat(200_000) + "a{background:url(https://x.example/a)}</style>";
        assert_eq!(html(&flood).len(), 1);
        assert!(html(&"<style>".repeat(200_000)).is_empty());
        // A flood of unclosed `url(` values is read in linear time and
        // keeps a bounded number of them.
        let flood = format!("<style>{}</style>", "a{background:url(a:".repeat(200_000));
        assert_eq!(html(&flood).len(), MAX_CSS_URLS);
        // So is a style of `&` with no `;` (character references are short).
        let flood = format!(r#"<p style="url({})">x</p>"#, "&".repeat(400_000));
        assert!(html(&flood).is_empty());
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
        // a multi-byte character across byte 4 (this used to panic)
        assert_eq!(url_host("a%\u{1743}x"), None);
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
            ("http://a".to_string(), UrlContext::Href, None),
            (
                "http://a".to_string(),
                UrlContext::Href,
                Some("A".to_string()),
            ),
            ("http://a".to_string(), UrlContext::Text, None),
            ("http://b".to_string(), UrlContext::Text, None),
        ];
        let (urls, capped) = dedup_urls(found, 2);
        assert_eq!(urls.len(), 2);
        assert!(capped);
        assert_eq!(urls[0].text.as_deref(), Some("A"));
        assert_eq!(urls[1].text, None);
    }

    #[test]
    fn anchor_texts() {
        assert_eq!(
            link_text(r#"<a href="https://evil.example/x"> www.paypal.com </a>"#).as_deref(),
            Some("www.paypal.com")
        );
        // inline tags join, block tags separate, entities decoded, whitespace collapsed
        assert_eq!(
            link_text("<A HREF=http://e.example/><b>pay</b><span>pal</span>&#46;com<br>now\n\t&amp;&nbsp;here</A>")
                .as_deref(),
            Some("paypal.com now & here")
        );
        // an unclosed link ends at the next link
        let found =
            html_with_text("<a href=http://a.example/>first<a href=http://b.example/>second</a>");
        assert_eq!(found[0].2.as_deref(), Some("first"));
        assert_eq!(found[1].2.as_deref(), Some("second"));
        // no text, image-only links, and non-anchor hrefs carry none
        assert_eq!(
            link_text("<a href=http://a.example/><img src=x.png></a>"),
            None
        );
        assert_eq!(link_text("<a href=http://a.example/>   </a>"), None);
        assert_eq!(link_text("<link href=http://a.example/s.css>text"), None);
        // an <abbr> inside is not a new link
        assert_eq!(
            link_text("<a href=http://a.example/><abbr>x</abbr>y</a>").as_deref(),
            Some("xy")
        );
        // the text is capped at a character boundary
        let long = format!("<a href=http://a.example/>{}</a>", "é".repeat(500));
        let text = link_text(&long).unwrap_or_default();
        assert_eq!(text.chars().count(), MAX_ANCHOR_TEXT_CHARS);
        // the scan is bounded
        let huge = format!("<a href=http://a.example/>{}", "x ".repeat(100_000));
        assert!(link_text(&huge).is_some_and(|t| t.chars().count() <= MAX_ANCHOR_TEXT_CHARS));
    }

    proptest! {
        #[test]
        fn scanners_never_panic_and_keep_bounds(s in "\\PC{0,300}") {
            let mut out = Vec::new();
            html_attribute_urls(&s, &mut out);
            text_urls(&s, &mut out);
            for (u, _, t) in &out {
                prop_assert!(u.len() <= MAX_URL_LEN);
                let _ = url_host(u);
                if let Some(t) = t {
                    prop_assert!(!t.is_empty() && t.chars().count() <= MAX_ANCHOR_TEXT_CHARS);
                }
            }
        }

        #[test]
        fn anchor_text_never_panics(s in "(<a href=http://x.y/>|</a>|<b>|<br>|&amp;|&#[0-9]{1,8};|\\PC|[ <>&;/a]){0,200}", from in 0usize..400) {
            if let Some(t) = anchor_text(&s, from.min(s.len())) {
                prop_assert!(!t.is_empty() && t.chars().count() <= MAX_ANCHOR_TEXT_CHARS);
            }
        }

        #[test]
        fn text_urls_are_substrings(s in "[a-z .:/<>\"()wh]{0,200}") {
            let mut out = Vec::new();
            text_urls(&s, &mut out);
            for (u, _, _) in &out {
                prop_assert!(s.contains(u.as_str()));
            }
        }
    }
}
