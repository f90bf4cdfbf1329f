//! Link and attachment signals: what a message's URLs and files reveal
//! before anyone clicks or opens them.
//!
//! Everything here is an offline string or byte transform on the record:
//! rewritten ("safe") links are unwrapped by their published formats, never
//! fetched; shorteners and risky file types come from bundled lists
//! (`data/url_shorteners.txt`, `data/risky_attachments.toml`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::{registrable_domain, same_organisation};
use crate::parse::urls::{url_host, MAX_URL_LEN};
use crate::record::{Attachment, FoundUrl, UrlContext};

/// The bundled shortener list.
const SHORTENERS_TEXT: &str = include_str!("../../../../data/url_shorteners.txt");
/// The bundled risky attachment types.
const RISKY_TEXT: &str = include_str!("../../../../data/risky_attachments.toml");

/// Rewriters wrapped inside rewriters are unwrapped this deep at most.
const MAX_UNWRAP_DEPTH: usize = 3;
/// `data:` URIs are quoted this far in [`LinkSignals::data_html`].
const DATA_URI_QUOTE_CHARS: usize = 100;
/// Archive entries reported per attachment.
const MAX_ARCHIVED_REPORTS: usize = 5;

/// What a message's URLs show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkSignals {
    /// Rewritten (safe-link) URLs unwrapped offline to the original, so URL
    /// evidence is not hidden behind the rewriter's domain.
    pub unwrapped: Vec<UnwrappedUrl>,
    /// Links whose visible text shows a domain (or URL) other than the
    /// target's registrable domain.
    pub deceptive: Vec<DeceptiveLink>,
    /// URLs (after unwrapping) through a known URL shortener: the reader
    /// cannot see where they lead.
    pub shorteners: Vec<String>,
    /// URLs (after unwrapping) whose host is an IP address, including
    /// obfuscated IPv4 forms browsers accept (`http://3232235777/`,
    /// `http://0xC0A80001/`, `http://0300.0250.1/`): legitimate mail names
    /// its servers.
    pub ip_literal: Vec<String>,
    /// Number of `data:` URIs in attributes (`href`, `src`, form actions).
    pub data_uris: usize,
    /// The first 100 characters of each `data:text/html` or
    /// `data:application/...` URI in an attribute: a page or file carried
    /// inside the link itself, out of reach of URL filters.
    pub data_html: Vec<String>,
    /// Registrable domains of all URL hosts after unwrapping, deduplicated in
    /// order of appearance (for rules and lookalike checks).
    pub domains: Vec<String>,
    /// Hosts of links (not images) on free hosting platforms
    /// (`data/free_hosting_domains.txt`: `*.pages.dev`, `*.web.app`), where
    /// anyone puts up a landing page in minutes; developers' project pages
    /// (`github.io`, `gitlab.io`, `appspot.com`) are not counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub free_hosting: Vec<String>,
    /// Hosts of images (`src`) on free image hosts (`data/image_hosts.txt`:
    /// imgur, ibb.co): the picture a spam is made of, kept where anyone can
    /// upload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_hosts: Vec<String>,
}

/// A rewritten URL and the original it wraps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnwrappedUrl {
    /// Which rewriter (outermost when nested), e.g. `microsoft-safe-links`.
    pub rewriter: String,
    /// The URL as found in the message.
    pub url: String,
    /// The original URL, all rewriters removed.
    pub original: String,
    /// The original URL's host.
    pub original_host: Option<String>,
}

/// A link whose visible text names another domain than the one it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeceptiveLink {
    /// The visible text.
    pub shown: String,
    /// Registrable domain of the host the text shows.
    pub shown_domain: String,
    /// The link target (unwrapped when rewritten).
    pub target: String,
    /// Registrable domain of the target host (the host itself for an IP
    /// address or a name under an unknown suffix).
    pub target_domain: String,
}

/// Computes the link signals of a message's URLs.
pub fn link_signals(urls: &[FoundUrl]) -> LinkSignals {
    let mut signals = LinkSignals::default();
    let mut seen_unwrapped = HashSet::new();
    let mut seen_short = HashSet::new();
    let mut seen_ip = HashSet::new();
    let mut seen_domains = HashSet::new();
    let mut registrable: HashMap<String, Option<String>> = HashMap::new();
    for found in urls {
        if found.found_in != UrlContext::Text && has_scheme(&found.url, "data") {
            signals.data_uris += 1;
            if is_active_data_uri(&found.url) {
                signals
                    .data_html
                    .push(found.url.chars().take(DATA_URI_QUOTE_CHARS).collect());
            }
            continue;
        }
        let (target, host): (Cow<'_, str>, Option<String>) = match unwrap_rewritten(&found.url) {
            Some((rewriter, original)) => {
                let host = url_host(&original);
                if seen_unwrapped.insert(found.url.clone()) {
                    signals.unwrapped.push(UnwrappedUrl {
                        rewriter: rewriter.to_string(),
                        url: found.url.clone(),
                        original: original.clone(),
                        original_host: host.clone(),
                    });
                }
                (Cow::Owned(original), host)
            }
            None => (Cow::Borrowed(found.url.as_str()), found.host.clone()),
        };
        let Some(host) = host else { continue };
        if found.found_in == UrlContext::Src
            && is_image_host(&host)
            && !signals.image_hosts.contains(&host)
        {
            signals.image_hosts.push(host.clone());
        }
        if found.found_in != UrlContext::Src
            && crate::detect::sender::is_free_hosting(&host)
            && !PROJECT_PAGES
                .iter()
                .any(|page| crate::domain::is_under(&host, page))
            && !signals.free_hosting.contains(&host)
        {
            signals.free_hosting.push(host.clone());
        }
        let ip = is_ip_literal(&host);
        if ip && seen_ip.insert(target.to_string()) {
            signals.ip_literal.push(target.to_string());
        }
        if !ip && is_shortener(&host) && seen_short.insert(target.to_string()) {
            signals.shorteners.push(target.to_string());
        }
        let target_reg = registrable
            .entry(host.clone())
            .or_insert_with(|| registrable_domain(&host))
            .clone();
        if let Some(domain) = &target_reg {
            if seen_domains.insert(domain.clone()) {
                signals.domains.push(domain.clone());
            }
        }
        if found.found_in == UrlContext::Href {
            if let Some(link) = deceptive_link(found, &target, &host, target_reg, ip) {
                if !signals.deceptive.contains(&link) {
                    signals.deceptive.push(link);
                }
            }
        }
    }
    signals
}

/// The deceptive-link test for one `<a href>`: the text must itself be a
/// URL or domain name, and name another organisation than the target.
fn deceptive_link(
    found: &FoundUrl,
    target: &str,
    target_host: &str,
    target_reg: Option<String>,
    target_is_ip: bool,
) -> Option<DeceptiveLink> {
    let text = found.text.as_deref()?;
    let shown_domain = shown_domain(text)?;
    if is_opaque_rewriter(target_host) {
        return None; // the real target is unknown, not different
    }
    let target_domain = match target_reg {
        Some(d) => {
            if d == shown_domain || same_organisation(&d, &shown_domain) {
                return None;
            }
            d
        }
        None if target_is_ip => target_host.to_string(),
        // A name under an unknown suffix (intranet, invented): not comparable.
        None => return None,
    };
    Some(DeceptiveLink {
        shown: text.to_string(),
        shown_domain,
        target: target.to_string(),
        target_domain,
    })
}

/// File-name extensions that are also top-level domains: a bare `notes.zip`
/// or `README.md` as link text names a file, not a site.
const FILE_LIKE_TLDS: &[&str] = &["zip", "mov", "md", "py", "sh", "rs", "pm", "ps"];

/// The registrable domain that a link's visible text shows, when the whole
/// text is a URL (`https://paypal.com/login`) or a host name
/// (`www.paypal.com`, `paypal.com/signin`). Words ("Click here"), sentences
/// and e-mail addresses show none.
fn shown_domain(text: &str) -> Option<String> {
    let cleaned: Cow<'_, str> = if text.chars().any(is_invisible) {
        Cow::Owned(text.chars().filter(|&c| !is_invisible(c)).collect())
    } else {
        Cow::Borrowed(text)
    };
    let t = cleaned
        .trim()
        .trim_matches(|c| matches!(c, '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']'))
        .trim_end_matches(['.', ',', ';', ':', '!', '?']);
    if t.is_empty() || t.len() > 300 || t.chars().any(char::is_whitespace) || t.contains('@') {
        return None;
    }
    let has_scheme = t.contains("://");
    let host = if has_scheme {
        let scheme = t.split("://").next().unwrap_or("");
        if !["http", "https", "ftp"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s))
        {
            return None;
        }
        url_host(t)?
    } else {
        let authority = t.split(['/', '?', '#']).next()?;
        let host = authority.split(':').next()?;
        host.trim_end_matches('.').to_lowercase()
    };
    if !host.contains('.') || is_ip_literal(&host) {
        return None;
    }
    if !has_scheme && !host.starts_with("www.") {
        let tld = host.rsplit('.').next().unwrap_or("");
        if FILE_LIKE_TLDS.contains(&tld) {
            return None;
        }
    }
    registrable_domain(&host)
}

/// Zero-width and other invisible format characters that phishers put into
/// link text to break naive matching.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    url.len() > scheme.len()
        && url.as_bytes().get(scheme.len()) == Some(&b':')
        && url[..scheme.len()].eq_ignore_ascii_case(scheme)
}

/// `data:text/html`, `data:application/...` (and the XHTML type): content
/// a browser renders or saves, as opposed to an inline image.
fn is_active_data_uri(url: &str) -> bool {
    let media = url
        .get(5..)
        .unwrap_or("")
        .split([';', ','])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "text/html" || media.starts_with("application/")
}

/// Whether `host` is `suffix` or a subdomain of it.
fn host_under(host: &str, suffix: &str) -> bool {
    host == suffix
        || (host.len() > suffix.len()
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
}

/// Rewriters whose links are opaque tokens: the original cannot be
/// recovered offline (Mimecast URL Protect keeps it server-side).
fn is_opaque_rewriter(host: &str) -> bool {
    (host_under(host, "mimecast.com") && host.starts_with("protect"))
        || host_under(host, "mimecastprotect.com")
}

// ---------------------------------------------------------------- rewriters

/// Unwraps a rewritten ("safe link") URL offline to the URL it protects,
/// through up to three nested rewriters (a Safe Link wrapping a Proofpoint
/// link). Returns the outermost rewriter's name and the original, cut to
/// [`MAX_URL_LEN`]; None when `url` is not a recognised rewriter link or its
/// payload is not an absolute URL. Mimecast links are opaque and stay
/// wrapped. A Proofpoint v3 link whose replacement bytes run short is
/// unwrapped as far as it goes and named `proofpoint-v3-partial`.
pub fn unwrap_rewritten(url: &str) -> Option<(&'static str, String)> {
    let (rewriter, mut current) = unwrap_once(url)?;
    for _ in 1..MAX_UNWRAP_DEPTH {
        match unwrap_once(&current) {
            Some((_, inner)) => current = inner,
            None => break,
        }
    }
    Some((rewriter, current))
}

/// One level of unwrapping.
fn unwrap_once(url: &str) -> Option<(&'static str, String)> {
    let url = url.trim();
    let host = url_host(url)?;
    if !may_be_rewriter(&host) {
        return None;
    }
    let (path, query) = path_and_query(url);
    let (rewriter, original) = if host_under(&host, "safelinks.protection.outlook.com")
        || host_under(&host, "safelinks.protection.office365.us")
    {
        ("microsoft-safe-links", decoded_param(query, "url")?)
    } else if host == "urldefense.proofpoint.com" {
        if path.starts_with("/v1/url") {
            ("proofpoint-v1", decoded_param(query, "u")?)
        } else if path.starts_with("/v2/url") {
            let u = query_param(query, "u")?;
            let translated: String = u
                .chars()
                .map(|c| match c {
                    '-' => '%',
                    '_' => '/',
                    c => c,
                })
                .collect();
            ("proofpoint-v2", percent_decode(&translated))
        } else {
            return None;
        }
    } else if host == "urldefense.com" && path.starts_with("/v3/__") {
        proofpoint_v3(url)?
    } else if host == "linkprotect.cudasvc.com" && path.starts_with("/url") {
        ("barracuda", decoded_param(query, "a")?)
    } else if path == "/url" && is_google_host(&host) {
        let value = decoded_param(query, "q").or_else(|| decoded_param(query, "url"))?;
        ("google-redirect", value)
    } else if host_under(&host, "trendmicro.com") && path.starts_with("/wis/clicktime/v1/query") {
        ("trend-micro", decoded_param(query, "url")?)
    } else if host_under(&host, "protection.sophos.com") {
        let encoded = decoded_param(query, "u")?;
        let bytes = base64_decode(&encoded)?;
        ("sophos", String::from_utf8_lossy(&bytes).into_owned())
    } else if host == "secure-web.cisco.com" {
        let last = path.rsplit('/').next()?;
        ("cisco", percent_decode(last))
    } else if host == "clicktime.symantec.com" {
        ("symantec-clicktime", decoded_param(query, "u")?)
    } else {
        return None;
    };
    let original = original.trim();
    if !is_absolute_web_url(original) {
        return None;
    }
    Some((rewriter, cut(original).to_string()))
}

/// A cheap first test on the host before any parsing: every rewriter
/// handled here has one of these words in its host name.
fn may_be_rewriter(host: &str) -> bool {
    const WORDS: &[&str] = &[
        "safelinks",
        "urldefense",
        "cudasvc",
        "google",
        "trendmicro",
        "sophos",
        "cisco",
        "symantec",
    ];
    WORDS.iter().any(|w| host.contains(w))
}

/// Google's own hosts only (`google.com`, `www.google.co.uk`): an open
/// redirector on a look-alike host must not hide its domain.
fn is_google_host(host: &str) -> bool {
    let Some(domain) = registrable_domain(host) else {
        return false;
    };
    let first = domain.split('.').next().unwrap_or("");
    first == "google" && (host == domain || host.strip_prefix("www.") == Some(domain.as_str()))
}

/// An http(s) or ftp URL with a host: what a rewriter protects.
fn is_absolute_web_url(url: &str) -> bool {
    (has_scheme(url, "http") || has_scheme(url, "https") || has_scheme(url, "ftp"))
        && url_host(url).is_some()
}

/// The path and the query of a URL (`""` when absent); the fragment dropped.
fn path_and_query(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(url, |p| &url[p + 3..]);
    let rest = after_scheme
        .find(['/', '?', '#'])
        .map_or("", |p| &after_scheme[p..]);
    let rest = rest.split('#').next().unwrap_or("");
    match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    }
}

/// The raw value of the first `name=` parameter of a query string.
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A parameter percent-decoded; decoded twice when the first pass left an
/// encoded URL (`https%3A%2F%2F`), as some rewriters double-encode.
fn decoded_param(query: &str, name: &str) -> Option<String> {
    let once = percent_decode(query_param(query, name)?);
    if !once.contains("://") && once.contains('%') {
        Some(percent_decode(&once))
    } else {
        Some(once)
    }
}

/// Decodes `%XX` escapes (invalid ones kept as they are); the bytes are read
/// as UTF-8, invalid sequences replaced.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64 in either alphabet (standard or URL-safe), padding optional;
/// whitespace ignored; None on any other character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b if b.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Proofpoint URL Defense v3: `https://urldefense.com/v3/__<url>__;<b64>!!<tag>$`.
/// Characters Proofpoint replaced in `<url>` stand as `*` (one character)
/// or `**X` (a run of 2..65 characters, X indexing
/// `A-Za-z0-9-_`); the replaced characters, in order, are the URL-safe
/// base64 `<b64>` read as UTF-8. This is the algorithm of Proofpoint's
/// published decoder (urldecoder.py).
fn proofpoint_v3(url: &str) -> Option<(&'static str, String)> {
    let start = url.find("/v3/__")? + "/v3/__".len();
    let rest = url.get(start..)?;
    let (encoded_url, tail) = match rest.find("__;") {
        Some(p) => (&rest[..p], &rest[p + 3..]),
        None => (&rest[..rest.find("__!!")?], ""),
    };
    let replacement_b64 = tail.split('!').next().unwrap_or("");
    let replacements = String::from_utf8_lossy(&base64_decode(replacement_b64)?).into_owned();
    let mut replacements = replacements.chars();
    let decoded = percent_decode(encoded_url);
    let mut out = String::with_capacity(decoded.len());
    let mut complete = true;
    let mut chars = decoded.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '*' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'*') {
            chars.next();
            let run = chars.next().and_then(v3_run_length);
            match run {
                Some(n) => {
                    for _ in 0..n {
                        match replacements.next() {
                            Some(r) => out.push(r),
                            None => complete = false,
                        }
                    }
                }
                None => {
                    complete = false;
                    out.push_str("**");
                }
            }
        } else {
            match replacements.next() {
                Some(r) => out.push(r),
                None => {
                    complete = false;
                    out.push('*');
                }
            }
        }
        if out.len() > MAX_URL_LEN {
            break;
        }
    }
    let name = if complete {
        "proofpoint-v3"
    } else {
        "proofpoint-v3-partial"
    };
    Some((name, out))
}

/// Run lengths of Proofpoint v3 `**X` tokens: `A` is 2, `B` 3, ... `_` 65.
fn v3_run_length(c: char) -> Option<usize> {
    const RUN_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    RUN_CHARS.find(c).map(|i| i + 2)
}

fn cut(value: &str) -> &str {
    crate::parse::prefix(value, MAX_URL_LEN)
}

// ------------------------------------------------------- shorteners and IPs

fn shorteners() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| parse_name_list(SHORTENERS_TEXT))
}

/// One lower-case name per line, `#` comments.
fn parse_name_list(text: &str) -> HashSet<&str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Free hosting that developers link to in everyday mail (project pages,
/// `syzkaller.appspot.com` in kernel list mail): not counted as landing pages.
const PROJECT_PAGES: [&str; 3] = ["github.io", "gitlab.io", "appspot.com"];

const IMAGE_HOSTS_TEXT: &str = include_str!("../../../../data/image_hosts.txt");

/// A host that is a free image host or under one.
pub fn is_image_host(host: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    listed_or_under(SET.get_or_init(|| parse_name_list(IMAGE_HOSTS_TEXT)), host)
}

/// A host that is a listed shortener or a subdomain of one.
pub fn is_shortener(host: &str) -> bool {
    listed_or_under(shorteners(), host)
}

/// Whether `host` or one of its parents is in `set`. Checked label by
/// label, because some listed names are themselves subdomains
/// (`go.9nl.com`) and others are whole registrable domains (`t.co`).
fn listed_or_under(set: &HashSet<&str>, host: &str) -> bool {
    let mut name = host.trim_end_matches('.');
    loop {
        if set.contains(name) {
            return true;
        }
        match name.split_once('.') {
            Some((_, parent)) if parent.contains('.') => name = parent,
            _ => return false,
        }
    }
}

/// Whether a URL host is an IP address: IPv6, dotted-quad IPv4, or any
/// other IPv4 form the WHATWG URL standard accepts (1 to 4 parts, each
/// decimal, `0x` hex or `0`-prefixed octal, the last filling the remaining
/// bytes), which is how `http://3232235777/` reaches 192.168.1.1.
pub fn is_ip_literal(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<std::net::IpAddr>().is_ok() || whatwg_ipv4(host).is_some()
}

/// The WHATWG IPv4 parser (URL standard, "IPv4 parser").
fn whatwg_ipv4(host: &str) -> Option<u32> {
    if host.is_empty() {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        numbers.push(ipv4_number(part)?);
    }
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    let remaining_bits = 8 * (5 - numbers.len() as u32);
    if *last >= 1u64 << remaining_bits {
        return None;
    }
    let mut value = *last;
    for (i, &n) in init.iter().enumerate() {
        value += n << (8 * (3 - i as u32));
    }
    u32::try_from(value).ok()
}

fn ipv4_number(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if part.is_empty() {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&n| n <= u64::from(u32::MAX))
}

// -------------------------------------------------------------- attachments

/// Why an attachment is risky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// A program (`.exe`, `.scr`, `.msi`, `.jar`, ...).
    Executable,
    /// A script run by a double click (`.js`, `.vbs`, `.hta`, `.ps1`, ...).
    Script,
    /// An Office document format that carries macros, or OneNote.
    MacroOffice,
    /// An HTML file: a local phishing page or HTML smuggling.
    HtmlAttachment,
    /// An SVG image, which may carry script and links.
    SvgAttachment,
    /// A disk image (`.iso`, `.img`, `.vhd`): contents escape Mark-of-the-Web.
    DiskImage,
    /// A password-protected archive or PDF: scanners cannot look inside.
    EncryptedArchive,
    /// An archive holding a program, script, shortcut or disk image.
    ArchivedExecutable,
    /// A name that hides its real extension (`invoice.pdf.exe`, padding
    /// spaces, right-to-left override).
    DoubleExtension,
    /// Content that is a program while the name or declared type says
    /// otherwise.
    TypeMismatch,
    /// A shortcut (`.lnk`, `.url`, ...) that runs or opens something else.
    Shortcut,
}

/// One risky attachment and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskyAttachment {
    /// The attachment's file name, when it has one.
    pub filename: Option<String>,
    /// The kind of risk.
    pub reason: RiskKind,
    /// What was seen, in words.
    pub detail: String,
}

/// What a message's attachments show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSignals {
    /// Each risk found, by attachment in order (an attachment may have several).
    pub risky: Vec<RiskyAttachment>,
}

/// `data/risky_attachments.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskyFile {
    executable: Vec<String>,
    script: Vec<String>,
    macro_office: Vec<String>,
    html_attachment: Vec<String>,
    svg_attachment: Vec<String>,
    disk_image: Vec<String>,
    shortcut: Vec<String>,
    decoy: Vec<String>,
    executable_types: Vec<String>,
}

/// The risky-type table, indexed.
#[derive(Debug, Default)]
struct RiskTable {
    by_extension: HashMap<String, RiskKind>,
    decoys: HashSet<String>,
    executable_types: HashSet<String>,
}

fn parse_risk_table(text: &str) -> Result<RiskTable, toml::de::Error> {
    let file: RiskyFile = toml::from_str(text)?;
    let mut table = RiskTable::default();
    let lists = [
        (file.executable, RiskKind::Executable),
        (file.script, RiskKind::Script),
        (file.macro_office, RiskKind::MacroOffice),
        (file.html_attachment, RiskKind::HtmlAttachment),
        (file.svg_attachment, RiskKind::SvgAttachment),
        (file.disk_image, RiskKind::DiskImage),
        (file.shortcut, RiskKind::Shortcut),
    ];
    for (extensions, kind) in lists {
        for ext in extensions {
            table.by_extension.insert(ext.to_ascii_lowercase(), kind);
        }
    }
    table.decoys = file
        .decoy
        .into_iter()
        .map(|e| e.to_ascii_lowercase())
        .collect();
    table.executable_types = file
        .executable_types
        .into_iter()
        .map(|e| e.to_ascii_lowercase())
        .collect();
    Ok(table)
}

fn risk_table() -> &'static RiskTable {
    static TABLE: OnceLock<RiskTable> = OnceLock::new();
    // The bundled file is checked by a unit test; an unreadable one (a bad
    // edit) leaves the table empty rather than failing every analysis.
    TABLE.get_or_init(|| parse_risk_table(RISKY_TEXT).unwrap_or_default())
}

/// Bidirectional controls: a right-to-left override turns `invoice<U+202E>fdp.exe`
/// into what reads as `invoiceexe.pdf`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What a file name says: its last extension, the one before it, and
/// whether it hides something (bidi controls, padding before the extension).
struct NameParts {
    extension: Option<String>,
    previous_extension: Option<String>,
    bidi: bool,
    padded: bool,
}

fn name_parts(name: &str) -> NameParts {
    let bidi = name.chars().any(is_bidi_control);
    let cleaned: String = name
        .chars()
        .filter(|&c| !is_bidi_control(c) && !is_invisible(c))
        .collect();
    // Windows drops trailing dots and spaces: `x.exe. .` runs as `x.exe`.
    let trimmed = cleaned.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let base = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    let mut parts = NameParts {
        extension: None,
        previous_extension: None,
        bidi,
        padded: false,
    };
    let Some((stem, ext)) = base.rsplit_once('.') else {
        return parts;
    };
    let ext = ext.trim();
    if stem.trim().is_empty() || ext.is_empty() || ext.chars().any(char::is_whitespace) {
        return parts; // `.bashrc`, `a. b`
    }
    parts.extension = Some(ext.to_ascii_lowercase());
    parts.padded = stem.chars().rev().take_while(|c| c.is_whitespace()).count() >= 3;
    parts.previous_extension = stem
        .trim_end()
        .rsplit_once('.')
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 10 && !e.chars().any(char::is_whitespace));
    parts
}

/// Kinds a disguised name is trying to make look harmless.
fn is_runnable(kind: RiskKind) -> bool {
    matches!(
        kind,
        RiskKind::Executable
            | RiskKind::Script
            | RiskKind::Shortcut
            | RiskKind::DiskImage
            | RiskKind::HtmlAttachment
            | RiskKind::SvgAttachment
            | RiskKind::MacroOffice
    )
}

/// Computes the attachment signals of a message.
pub fn attachment_signals(attachments: &[Attachment]) -> AttachmentSignals {
    let table = risk_table();
    let mut risky = Vec::new();
    for attachment in attachments {
        let mut found: Vec<(RiskKind, String)> = Vec::new();
        let mut add = |kind: RiskKind, detail: String| {
            if !found.iter().any(|(k, _)| *k == kind) {
                found.push((kind, detail));
            }
        };
        let parts = attachment.filename.as_deref().map(name_parts);
        let name_kind = parts
            .as_ref()
            .and_then(|p| p.extension.as_deref())
            .and_then(|e| table.by_extension.get(e).copied());
        if let (Some(p), Some(ext)) = (&parts, parts.as_ref().and_then(|p| p.extension.as_deref()))
        {
            if p.bidi {
                add(
                    RiskKind::DoubleExtension,
                    format!("bidirectional control characters hide the real extension .{ext}"),
                );
            }
            if name_kind.is_some_and(is_runnable) {
                if let Some(prev) = p
                    .previous_extension
                    .as_deref()
                    .filter(|prev| table.decoys.contains(*prev))
                {
                    add(
                        RiskKind::DoubleExtension,
                        format!("looks like .{prev}, is .{ext}"),
                    );
                } else if p.padded {
                    add(
                        RiskKind::DoubleExtension,
                        format!("padding pushes the real extension .{ext} out of view"),
                    );
                }
            }
        }
        if let Some(kind) = name_kind {
            let ext = parts
                .as_ref()
                .and_then(|p| p.extension.as_deref())
                .unwrap_or("");
            add(kind, format!(".{ext} file"));
        }
        content_risks(attachment, name_kind, table, &mut add);
        if attachment.encrypted {
            let what = attachment.sniffed_type.as_deref().unwrap_or("archive");
            add(
                RiskKind::EncryptedArchive,
                format!("password-protected ({what})"),
            );
        }
        let mut archived = 0;
        for entry in &attachment.archive_entries {
            if archived == MAX_ARCHIVED_REPORTS {
                break;
            }
            let entry_parts = name_parts(entry);
            let kind = entry_parts
                .extension
                .as_deref()
                .and_then(|e| table.by_extension.get(e).copied());
            let runnable = kind.filter(|&k| {
                matches!(
                    k,
                    RiskKind::Executable
                        | RiskKind::Script
                        | RiskKind::Shortcut
                        | RiskKind::DiskImage
                        | RiskKind::MacroOffice
                )
            });
            if runnable.is_some() || entry_parts.bidi {
                archived += 1;
                if !found
                    .iter()
                    .any(|(k, d)| *k == RiskKind::ArchivedExecutable && d.ends_with(entry.as_str()))
                {
                    found.push((RiskKind::ArchivedExecutable, format!("contains {entry}")));
                }
            }
        }
        risky.extend(found.into_iter().map(|(reason, detail)| RiskyAttachment {
            filename: attachment.filename.clone(),
            reason,
            detail,
        }));
    }
    AttachmentSignals { risky }
}

/// Risks the content shows (sniffed type) or the declared type claims,
/// whatever the name says.
fn content_risks(
    attachment: &Attachment,
    name_kind: Option<RiskKind>,
    table: &RiskTable,
    add: &mut impl FnMut(RiskKind, String),
) {
    let sniffed = attachment.sniffed_type.as_deref().unwrap_or("");
    let declared = attachment.declared_type.as_str();
    let program_type = [sniffed, declared]
        .into_iter()
        .find(|t| !t.is_empty() && table.executable_types.contains(*t));
    if let Some(ty) = program_type {
        match (name_kind, &attachment.filename) {
            (Some(RiskKind::Executable), _) => {}
            (_, Some(name)) => add(
                RiskKind::TypeMismatch,
                format!("named {name:?}, content type {ty}"),
            ),
            (_, None) => add(RiskKind::Executable, format!("content type {ty}")),
        }
    }
    let by_content = match sniffed {
        "application/x-ms-shortcut" => Some(RiskKind::Shortcut),
        "application/onenote" => Some(RiskKind::MacroOffice),
        "application/x-iso9660-image" => Some(RiskKind::DiskImage),
        "image/svg+xml" => Some(RiskKind::SvgAttachment),
        "text/html" => Some(RiskKind::HtmlAttachment),
        _ => None,
    };
    if let Some(kind) = by_content {
        if name_kind != Some(kind) {
            add(kind, format!("content is {sniffed}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Percent-encodes everything but unreserved characters, as rewriters do.
    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    fn unwrap(url: &str) -> Option<(&'static str, String)> {
        unwrap_rewritten(url)
    }

    fn href(url: &str, text: Option<&str>) -> FoundUrl {
        FoundUrl {
            url: url.to_string(),
            host: url_host(url),
            found_in: UrlContext::Href,
            text: text.map(str::to_string),
        }
    }

    fn found(url: &str, found_in: UrlContext) -> FoundUrl {
        FoundUrl {
            found_in,
            ..href(url, None)
        }
    }

    #[test]
    fn free_hosting_links_and_image_hosts() {
        let s = link_signals(&[
            href("https://cloud-upgrade-4411.pages.dev/start", None),
            found("https://x.web.app/logo.png", UrlContext::Src),
            href("https://someone.github.io/project", None),
            found("https://syzkaller.appspot.com/bug?id=1", UrlContext::Text),
            found("https://i.ibb.co/Xk2v/offer.png", UrlContext::Src),
            href("https://imgur.com/gallery/abc", None),
            found("https://img.example.com/offer.png", UrlContext::Src),
        ]);
        assert_eq!(s.free_hosting, ["cloud-upgrade-4411.pages.dev"]);
        assert_eq!(s.image_hosts, ["i.ibb.co"]);
        assert!(is_image_host("i.imgur.com") && !is_image_host("notimgur.com"));
    }

    #[test]
    fn microsoft_safe_links() {
        let original = "https://www.example.com/login?id=5&x=a b";
        let wrapped = format!(
            "https://nam12.safelinks.protection.outlook.com/?url={}&data=05%7C01%7Cuser%40contoso.com%7C1234%7C72f988bf86f141af91ab2d7cd011db47%7C1%7C0%7C638000000000000000%7CUnknown&sdata=abcd%2Bef%3D&reserved=0",
            encode(original)
        );
        assert_eq!(
            unwrap(&wrapped),
            Some(("microsoft-safe-links", original.to_string()))
        );
        let gov = format!(
            "https://gcc02.safelinks.protection.office365.us/?url={}&data=x",
            encode("http://evil.example.org/")
        );
        assert_eq!(
            unwrap(&gov).map(|(_, o)| o).as_deref(),
            Some("http://evil.example.org/")
        );
        // a look-alike host is not a rewriter
        let fake = format!(
            "https://safelinks.protection.outlook.com.evil.example/?url={}",
            encode(original)
        );
        assert_eq!(unwrap(&fake), None);
        // a payload that is not a web URL is not unwrapped
        assert_eq!(
            unwrap(
                "https://eur03.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)&data=x"
            ),
            None
        );
    }

    #[test]
    fn proofpoint_v1_v2_v3() {
        assert_eq!(
            unwrap("https://urldefense.proofpoint.com/v1/url?u=http://www.bank.example/account&k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A&r=abc&m=def&s=ghi"),
            Some(("proofpoint-v1", "http://www.bank.example/account".to_string()))
        );
        assert_eq!(
            unwrap("https://urldefense.proofpoint.com/v2/url?u=https-3A__www.example.com_path_to_page-3Fa-3D1-26b-3D2&d=DwMFaQ&c=euGZstcaTDllvimEN8b7jXrwqOf-v5A_CdpgnVfiiMM&r=abc&m=def&s=ghi&e="),
            Some(("proofpoint-v2", "https://www.example.com/path/to/page?a=1&b=2".to_string()))
        );
        // Proofpoint's own decoder example: `*` stands for `+` (base64 "Kw").
        assert_eq!(
            unwrap("https://urldefense.com/v3/__https://google.com:443/search?q=a*test&gs=ps__;Kw!-612Flbf0JvQ3kNJkRi5Jg!Ue6tQudNKaShHg93trcdjqDP8se2ySE65jyCIe2K1D_uNjZ1Lnf6YLQERujngZv9UWf66ujQIQ$"),
            Some(("proofpoint-v3", "https://google.com:443/search?q=a+test&gs=ps".to_string()))
        );
        // `**A` is a run of two replaced characters ("&&").
        assert_eq!(
            unwrap("https://urldefense.com/v3/__https://example.com/a**Ab__;JiY!!AbC!xyz$"),
            Some(("proofpoint-v3", "https://example.com/a&&b".to_string()))
        );
        // no replaced characters
        assert_eq!(
            unwrap("https://urldefense.com/v3/__https://example.com/plain__;!!AbC!xyz$"),
            Some(("proofpoint-v3", "https://example.com/plain".to_string()))
        );
        // replacement bytes run short: unwrapped as far as possible, marked
        assert_eq!(
            unwrap("https://urldefense.com/v3/__https://example.com/a*b*c__;Kw!!AbC$"),
            Some((
                "proofpoint-v3-partial",
                "https://example.com/a+b*c".to_string()
            ))
        );
        assert_eq!(unwrap("https://urldefense.proofpoint.com/v9/url?u=x"), None);
    }

    #[test]
    fn other_rewriters() {
        let cases = [
            (
                "https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fwww.example.org%2finvoice&c=E,1,AbCdEf&typo=1",
                "barracuda",
                "https://www.example.org/invoice",
            ),
            (
                "https://www.google.com/url?q=https://evil.example.net/x&sa=D&source=editors&ust=1&usg=AOvVaw",
                "google-redirect",
                "https://evil.example.net/x",
            ),
            (
                "https://www.google.co.uk/url?sa=t&url=https%3A%2F%2Fevil.example.net%2F&usg=x",
                "google-redirect",
                "https://evil.example.net/",
            ),
            (
                "https://imsva91-ctp.trendmicro.com:443/wis/clicktime/v1/query?url=https%3a%2f%2fwww.example.com%2fpay&umid=2C8C1D5E-1B2A&auth=8d3ccd473d52f326e51c0f75cb32c9541898e5d5-1234",
                "trend-micro",
                "https://www.example.com/pay",
            ),
            (
                "https://eu-central-1.protection.sophos.com?d=example.com&u=aHR0cHM6Ly93d3cuZXhhbXBsZS5jb20vbG9naW4%3D&i=NWY4ZA==&t=abc&h=def&s=x",
                "sophos",
                "https://www.example.com/login",
            ),
            (
                "https://secure-web.cisco.com/1Hh3J8w-xyz_ABCdef/https%3A%2F%2Fwww.example.com%2Fportal%3Fid%3D7",
                "cisco",
                "https://www.example.com/portal?id=7",
            ),
            (
                "https://clicktime.symantec.com/3Jx9Qk2sNdnT7kzV?u=https%3A%2F%2Fwww.example.com%2Fdocs",
                "symantec-clicktime",
                "https://www.example.com/docs",
            ),
        ];
        for (wrapped, rewriter, original) in cases {
            assert_eq!(
                unwrap(wrapped),
                Some((rewriter, original.to_string())),
                "{wrapped}"
            );
        }
        // Mimecast keeps the original server-side: nothing to unwrap offline.
        assert_eq!(
            unwrap("https://protect-eu.mimecast.com/s/AbCdEfGhIjKl?domain=example.com"),
            None
        );
        // an open redirector on a host that only looks like Google's
        assert_eq!(
            unwrap("https://www.google.com.evil.example/url?q=https://x.example.com/"),
            None
        );
        assert_eq!(
            unwrap("https://www.example.com/url?q=https://x.example.com/"),
            None
        );
        assert_eq!(unwrap("not a url"), None);
    }

    #[test]
    fn nested_rewriters_unwrap_to_the_original() {
        let proofpoint = "https://urldefense.proofpoint.com/v2/url?u=https-3A__evil.example.net_login&d=DwMFaQ&c=abc&r=def&m=ghi&s=jkl&e=";
        let safe = format!(
            "https://nam02.safelinks.protection.outlook.com/?url={}&data=05%7C01&reserved=0",
            encode(proofpoint)
        );
        assert_eq!(
            unwrap(&safe),
            Some((
                "microsoft-safe-links",
                "https://evil.example.net/login".to_string()
            ))
        );
        // depth is bounded: four Google redirects deep keeps the third level
        let mut url = "https://evil.example.net/".to_string();
        for _ in 0..4 {
            url = format!("https://www.google.com/url?q={}", encode(&url));
        }
        let (_, inner) = unwrap(&url).unwrap_or_default();
        assert!(
            inner.starts_with("https://www.google.com/url?q="),
            "{inner}"
        );
        // output length is bounded
        let long = format!(
            "https://linkprotect.cudasvc.com/url?a=https://x.example.com/{}",
            "a".repeat(5000)
        );
        assert!(unwrap(&long).is_some_and(|(_, o)| o.len() <= MAX_URL_LEN));
    }

    #[test]
    fn signals_unwrap_before_judging() {
        let safe = format!(
            "https://nam02.safelinks.protection.outlook.com/?url={}&data=x",
            encode("https://bit.ly/3xYzAbC")
        );
        let signals = link_signals(&[href(&safe, Some("Open document"))]);
        assert_eq!(signals.unwrapped.len(), 1);
        assert_eq!(
            signals.unwrapped[0].original_host.as_deref(),
            Some("bit.ly")
        );
        assert_eq!(signals.shorteners, vec!["https://bit.ly/3xYzAbC"]);
        assert_eq!(signals.domains, vec!["bit.ly"]);
        assert!(signals.deceptive.is_empty());
    }

    #[test]
    fn shorteners_list() {
        for host in [
            "bit.ly",
            "www.bit.ly",
            "t.co",
            "tinyurl.com",
            "is.gd",
            "go.9nl.com",
            "cutt.ly",
            "s.id",
        ] {
            assert!(is_shortener(host), "{host}");
        }
        for host in [
            "bitly.example.com",
            "9nl.com",
            "example.co",
            "co",
            "",
            "amzn.to",
            "sendgrid.net",
        ] {
            assert!(!is_shortener(host), "{host}");
        }
        let signals = link_signals(&[
            href("https://bit.ly/abc", None),
            found("https://bit.ly/abc", UrlContext::Text),
            href("https://www.example.com/", None),
        ]);
        assert_eq!(signals.shorteners, vec!["https://bit.ly/abc"]);
    }

    #[test]
    fn ip_literals() {
        for host in [
            "192.168.1.1",
            "2001:db8::1",
            "[2001:db8::1]",
            "3232235777",
            "0xC0A80001",
            "0xc0a80001",
            "0300.0250.1",
            "0xc0.0xa8.1.1",
            "192.168.257",
            "127.1",
        ] {
            assert!(is_ip_literal(host), "{host}");
        }
        for host in [
            "example.com",
            "1e100.net",
            "123.example",
            "1.2.3.4.5",
            "256.1.1.1",
            "4294967296",
            "09.1.1.1",
            "0xg1",
            "",
            "1..1",
        ] {
            assert!(!is_ip_literal(host), "{host}");
        }
        assert_eq!(whatwg_ipv4("3232235777"), Some(0xC0A8_0101));
        assert_eq!(whatwg_ipv4("0300.0250.1"), Some(0xC0A8_0001));
        let signals = link_signals(&[
            href("http://3232235777/login", None),
            href("http://[2001:db8::1]:8080/x", None),
            href("https://www.example.com/", None),
        ]);
        assert_eq!(
            signals.ip_literal,
            vec!["http://3232235777/login", "http://[2001:db8::1]:8080/x"]
        );
        assert_eq!(signals.domains, vec!["example.com"]);
    }

    #[test]
    fn data_uris() {
        let signals = link_signals(&[
            href(
                "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
                None,
            ),
            found("data:image/png;base64,iVBORw0KGgo=", UrlContext::Src),
            found(
                "DATA:application/octet-stream;base64,TVqQAAMAAAAEAAAA",
                UrlContext::Form,
            ),
            found("data:text/html,<b>x</b>", UrlContext::Text),
        ]);
        assert_eq!(signals.data_uris, 3);
        assert_eq!(signals.data_html.len(), 2);
        assert!(signals.data_html[0].starts_with("data:text/html;base64,"));
        let long = format!("data:text/html,{}", "x".repeat(500));
        let signals = link_signals(&[href(&long, None)]);
        assert_eq!(signals.data_html[0].chars().count(), 100);
    }

    fn deceptive(url: &str, text: &str) -> Vec<DeceptiveLink> {
        link_signals(&[href(url, Some(text))]).deceptive
    }

    #[test]
    fn deceptive_links_positive() {
        let d = deceptive("https://evil.example.net/login", "www.paypal.com");
        assert_eq!(
            d,
            vec![DeceptiveLink {
                shown: "www.paypal.com".into(),
                shown_domain: "paypal.com".into(),
                target: "https://evil.example.net/login".into(),
                target_domain: "example.net".into(),
            }]
        );
        assert_eq!(
            deceptive(
                "http://paypal-login.example.org/",
                "https://paypal.com/signin"
            )[0]
            .shown_domain,
            "paypal.com"
        );
        assert_eq!(
            deceptive("http://evil.example.org/", "PayPal.com.")[0].shown_domain,
            "paypal.com"
        );
        // zero-width characters do not hide the shown domain
        assert_eq!(
            deceptive("http://evil.example.org/", "pay\u{200B}pal.com").len(),
            1
        );
        // the target is judged after unwrapping its rewriter
        let safe = format!(
            "https://nam02.safelinks.protection.outlook.com/?url={}&data=x",
            encode("https://paypal-secure.example.org/")
        );
        let d = deceptive(&safe, "https://www.paypal.com/");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].target, "https://paypal-secure.example.org/");
        assert_eq!(d[0].target_domain, "example.org");
        // an IP target
        assert_eq!(
            deceptive("http://192.0.2.7/login", "www.mybank.com")[0].target_domain,
            "192.0.2.7"
        );
    }

    #[test]
    fn deceptive_links_negative() {
        // same registrable domain (subdomain, parent, www)
        assert!(deceptive("https://www.paypal.com/signin", "paypal.com").is_empty());
        assert!(deceptive("https://links.example.com/track?id=1", "example.com").is_empty());
        assert!(deceptive("https://example.com/", "https://www.example.com/a").is_empty());
        assert!(deceptive("https://mail.google.com/", "google.com").is_empty());
        // text that is not a domain or URL
        for text in [
            "Click here",
            "Visit www.paypal.com today",
            "john@paypal.com",
            "notes.zip",
            "1.2.3",
            "e.g.",
            "v1.2",
            "paypal",
        ] {
            assert!(
                deceptive("https://evil.example.net/", text).is_empty(),
                "{text}"
            );
        }
        // no text, or not an href
        assert!(link_signals(&[href("https://evil.example.net/", None)])
            .deceptive
            .is_empty());
        let src = FoundUrl {
            found_in: UrlContext::Src,
            ..href("https://evil.example.net/", Some("paypal.com"))
        };
        assert!(link_signals(&[src]).deceptive.is_empty());
        // an opaque rewriter's target is unknown, not different
        assert!(deceptive(
            "https://protect-eu.mimecast.com/s/AbCdEf?domain=paypal.com",
            "paypal.com"
        )
        .is_empty());
        // a target without a known suffix is not comparable
        assert!(deceptive("http://intranet.corp/x", "www.paypal.com").is_empty());
        assert!(deceptive("mailto:x@example.net", "www.paypal.com").is_empty());
    }

    fn attachment(name: Option<&str>, declared: &str, sniffed: Option<&str>) -> Attachment {
        Attachment {
            filename: name.map(str::to_string),
            declared_type: declared.to_string(),
            sniffed_type: sniffed.map(str::to_string),
            size: 10,
            sha256: String::new(),
            inline: false,
            encrypted: false,
            archive_entries: Vec::new(),
        }
    }

    fn kinds(a: Attachment) -> Vec<RiskKind> {
        attachment_signals(&[a])
            .risky
            .into_iter()
            .map(|r| r.reason)
            .collect()
    }

    fn named(name: &str) -> Vec<RiskKind> {
        kinds(attachment(Some(name), "application/octet-stream", None))
    }

    #[test]
    fn risky_table_loads() {
        let table = parse_risk_table(RISKY_TEXT).map_err(|e| e.to_string());
        let table = table.unwrap_or_else(|e| panic!("data/risky_attachments.toml: {e}"));
        assert_eq!(table.by_extension.get("exe"), Some(&RiskKind::Executable));
        assert_eq!(table.by_extension.get("one"), Some(&RiskKind::MacroOffice));
        assert!(table.by_extension.len() > 80);
        assert!(table.decoys.contains("pdf"));
        assert!(table.executable_types.contains("application/x-msdownload"));
        assert!(parse_risk_table("executable = []\nbogus = 1").is_err());
        let shorteners = parse_name_list(SHORTENERS_TEXT);
        assert!(shorteners.len() > 900);
        assert!(shorteners
            .iter()
            .all(|s| s.contains('.') && *s == s.to_ascii_lowercase()));
    }

    #[test]
    fn risky_kinds_by_name() {
        use RiskKind::*;
        assert_eq!(named("setup.EXE"), vec![Executable]);
        assert_eq!(named("setup.exe. . ."), vec![Executable]);
        assert_eq!(named("run.JS"), vec![Script]);
        assert_eq!(named("payload.hta"), vec![Script]);
        assert_eq!(named("invoice.docm"), vec![MacroOffice]);
        assert_eq!(named("notes.one"), vec![MacroOffice]);
        assert_eq!(named("secure-message.html"), vec![HtmlAttachment]);
        assert_eq!(named("logo.svg"), vec![SvgAttachment]);
        assert_eq!(named("disk.iso"), vec![DiskImage]);
        assert_eq!(named("statement.vhdx"), vec![DiskImage]);
        assert_eq!(named("open.lnk"), vec![Shortcut]);
        assert_eq!(named("invoice.pdf.exe"), vec![DoubleExtension, Executable]);
        assert_eq!(
            named("scan.pdf      .exe"),
            vec![DoubleExtension, Executable]
        );
        assert_eq!(
            named("scan            .exe"),
            vec![DoubleExtension, Executable]
        );
        assert_eq!(
            named("invoice\u{202E}fdp.exe"),
            vec![DoubleExtension, Executable]
        );
        assert_eq!(named("setup-1.2.exe"), vec![Executable]);
        for harmless in [
            "report.pdf",
            "photo.JPG",
            "data.tar.gz",
            "budget.xlsx",
            "README",
            ".bashrc",
            "letter.doc",
        ] {
            assert!(named(harmless).is_empty(), "{harmless}");
        }
    }

    #[test]
    fn risky_kinds_by_content() {
        use RiskKind::*;
        assert_eq!(
            kinds(attachment(
                Some("report.pdf"),
                "application/pdf",
                Some("application/x-msdownload")
            )),
            vec![TypeMismatch]
        );
        assert_eq!(
            kinds(attachment(
                Some("report.pdf"),
                "application/x-msdownload",
                Some("application/pdf")
            )),
            vec![TypeMismatch]
        );
        assert_eq!(
            kinds(attachment(
                None,
                "application/octet-stream",
                Some("application/x-executable")
            )),
            vec![Executable]
        );
        assert_eq!(
            kinds(attachment(
                Some("tool.exe"),
                "application/octet-stream",
                Some("application/x-msdownload")
            )),
            vec![Executable]
        );
        assert_eq!(
            kinds(attachment(
                Some("fax.pdf"),
                "application/pdf",
                Some("text/html")
            )),
            vec![HtmlAttachment]
        );
        assert_eq!(
            kinds(attachment(
                Some("doc.dat"),
                "application/octet-stream",
                Some("application/x-ms-shortcut")
            )),
            vec![Shortcut]
        );
        assert!(kinds(attachment(Some("a.png"), "image/png", Some("image/png"))).is_empty());
    }

    #[test]
    fn risky_archives() {
        use RiskKind::*;
        let mut zip = attachment(
            Some("invoice.zip"),
            "application/zip",
            Some("application/zip"),
        );
        zip.archive_entries = vec!["readme.txt".into(), "docs/invoice.pdf.exe".into()];
        let signals = attachment_signals(std::slice::from_ref(&zip));
        assert_eq!(signals.risky.len(), 1);
        assert_eq!(signals.risky[0].reason, ArchivedExecutable);
        assert_eq!(signals.risky[0].detail, "contains docs/invoice.pdf.exe");
        zip.archive_entries = vec!["a.txt".into(), "b.pdf".into()];
        assert!(kinds(zip.clone()).is_empty());
        zip.encrypted = true;
        assert_eq!(kinds(zip.clone()), vec![EncryptedArchive]);
        zip.archive_entries = (0..20).map(|i| format!("f{i}.js")).collect();
        let risky = attachment_signals(&[zip]).risky;
        assert_eq!(
            risky
                .iter()
                .filter(|r| r.reason == ArchivedExecutable)
                .count(),
            MAX_ARCHIVED_REPORTS
        );
    }

    #[test]
    fn risky_from_a_parsed_zip() {
        // the parser's ZIP reader and the detector together
        let mut zip = Vec::new();
        let name = b"Invoice.pdf.js";
        zip.extend_from_slice(
            b"PK\x03\x04\x14\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        );
        zip.extend_from_slice(&2u32.to_le_bytes());
        zip.extend_from_slice(&2u32.to_le_bytes());
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(name);
        zip.extend_from_slice(b"xx");
        let sniffed = crate::parse::sniff::sniff_content_type(&zip);
        let info = crate::parse::sniff::inspect_container(&zip, sniffed);
        let mut a = attachment(Some("Invoice.zip"), "application/zip", sniffed);
        a.encrypted = info.encrypted;
        a.archive_entries = info.entries;
        assert_eq!(
            kinds(a),
            vec![RiskKind::EncryptedArchive, RiskKind::ArchivedExecutable]
        );
    }

    /// Share of messages with each signal in the ham and phishing corpora,
    /// and the cost per call. A measurement, not a check:
    /// `WAVETRACE_CORPORA=/path/to/target/corpora cargo test -j 1 -p wavetrace-core --lib
    /// detect::links::tests::corpus_rates -- --ignored --nocapture`
    #[test]
    #[ignore = "measurement over the unpacked corpora (minutes)"]
    fn corpus_rates() {
        use crate::parse::{analyse, AnalysisConfig, Sighting};
        let Some(dir) =
            crate::origin::testdata::need(crate::origin::testdata::unpacked(), "corpus_rates")
        else {
            return;
        };
        let sets = [
            "spamassassin_public_corpus/easy-ham-1",
            "spamassassin_public_corpus/easy-ham-2",
            "spamassassin_public_corpus/hard-ham-1",
            "phishing_pot",
        ];
        for set in sets {
            let mut files: Vec<_> = std::fs::read_dir(dir.join(set))
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            let (mut n, mut deceptive, mut short, mut risky, mut ip, mut unwrapped, mut data_html) =
                (0, 0, 0, 0, 0, 0, 0);
            let mut kinds: HashMap<String, usize> = HashMap::new();
            let mut examples = Vec::new();
            let mut nanos = 0u128;
            let mut url_count = 0usize;
            for path in files {
                let Ok(raw) = std::fs::read(&path) else {
                    continue;
                };
                let raw = if raw.starts_with(b"From ") {
                    let nl = memchr::memchr(b'\n', &raw).map_or(raw.len(), |p| p + 1);
                    raw[nl..].to_vec()
                } else {
                    raw
                };
                let Ok(record) = analyse(&raw, &Sighting::default(), &AnalysisConfig::default())
                else {
                    continue;
                };
                n += 1;
                url_count += record.urls.len();
                let started = std::time::Instant::now();
                let links = link_signals(&record.urls);
                let files = attachment_signals(&record.attachments);
                nanos += started.elapsed().as_nanos();
                deceptive += usize::from(!links.deceptive.is_empty());
                short += usize::from(!links.shorteners.is_empty());
                ip += usize::from(!links.ip_literal.is_empty());
                unwrapped += usize::from(!links.unwrapped.is_empty());
                data_html += usize::from(!links.data_html.is_empty());
                risky += usize::from(!files.risky.is_empty());
                let mut seen = HashSet::new();
                for r in &files.risky {
                    if seen.insert(r.reason) {
                        *kinds.entry(format!("{:?}", r.reason)).or_default() += 1;
                    }
                }
                if !set.contains("ham") {
                    for d in links.deceptive.iter().take(1) {
                        examples.push(format!(
                            "{:?} -> {}",
                            d.shown,
                            d.target.chars().take(100).collect::<String>()
                        ));
                    }
                    for r in files.risky.iter().take(2) {
                        examples.push(format!("{:?} {:?} {}", r.filename, r.reason, r.detail));
                    }
                }
                if set.contains("ham") {
                    for d in links.deceptive.iter().take(1) {
                        examples.push(format!("{}: {:?} -> {}", path.display(), d.shown, d.target));
                    }
                    for r in files.risky.iter().take(1) {
                        examples.push(format!(
                            "{}: {:?} {:?} {}",
                            path.display(),
                            r.filename,
                            r.reason,
                            r.detail
                        ));
                    }
                }
            }
            let pct = |k: usize| 100.0 * k as f64 / n.max(1) as f64;
            println!(
                "{set}: {n} messages; deceptive {deceptive} ({:.2}%), shortener {short} ({:.2}%), risky attachment {risky} ({:.2}%), ip literal {ip} ({:.2}%), unwrapped {unwrapped}, data:html {data_html}; {:.1} us/message, {:.1} URLs/message",
                pct(deceptive), pct(short), pct(risky), pct(ip), nanos as f64 / 1000.0 / n.max(1) as f64,
                url_count as f64 / n.max(1) as f64
            );
            let mut kinds: Vec<_> = kinds.into_iter().collect();
            kinds.sort();
            println!("  risky kinds (messages): {kinds:?}");
            for e in examples.iter().take(150) {
                println!("  {e}");
            }
        }
    }

    proptest! {
        #[test]
        fn unwrap_never_panics(s in "\\PC{0,300}") {
            if let Some((_, original)) = unwrap_rewritten(&s) {
                prop_assert!(original.len() <= MAX_URL_LEN);
            }
        }

        #[test]
        fn unwrap_rewriter_shapes_never_panic(
            prefix in prop::sample::select(vec![
                "https://nam02.safelinks.protection.outlook.com/?url=",
                "https://urldefense.proofpoint.com/v2/url?u=",
                "https://urldefense.proofpoint.com/v1/url?u=",
                "https://urldefense.com/v3/__",
                "https://linkprotect.cudasvc.com/url?a=",
                "https://eu-central-1.protection.sophos.com?u=",
                "https://secure-web.cisco.com/x/",
                "https://www.google.com/url?q=",
            ]),
            rest in "[a-zA-Z0-9%*_;!:/.?&=$+-]{0,120}",
        ) {
            let url = format!("{prefix}{rest}");
            let _ = unwrap_rewritten(&url);
            let _ = link_signals(&[href(&url, Some(&rest))]);
        }

        #[test]
        fn signals_never_panic(url in "\\PC{0,120}", text in "\\PC{0,60}", name in "\\PC{0,40}") {
            let _ = link_signals(&[href(&url, Some(&text))]);
            let _ = is_ip_literal(&url);
            let mut a = attachment(Some(&name), "application/octet-stream", None);
            a.archive_entries = vec![text.clone()];
            let _ = attachment_signals(&[a]);
        }
    }
}
