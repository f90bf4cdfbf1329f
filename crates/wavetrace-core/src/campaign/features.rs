//! What clustering reads from a message ([`MessageFeatures`]) and the compact
//! fingerprint it keeps ([`Fingerprint`]).
//!
//! The fingerprint is computed once per message, stored, and is all the
//! [`CampaignIndex`](super::CampaignIndex) needs: the index can be rebuilt
//! from stored fingerprints in any order.

use serde::{Deserialize, Serialize};

use super::minhash::{shingles, signature, stable_hash};
use super::normalise::{clean_characters, is_random_string, masked_words, strip_quoted};

/// Version of the fingerprint computation; a stored fingerprint of another
/// version must be recomputed before it is compared.
pub const FINGERPRINT_VERSION: u16 = 1;

/// Texts with fewer distinct shingles than this get no signature: a handful
/// of words cannot tell a template from a coincidence (rspamd does not match
/// small bodies either).
pub const MIN_SHINGLES: usize = 8;

/// SHA-256 of zero bytes: an empty attachment or image says nothing about
/// its campaign (empty parts are common and would join unrelated mail).
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Seed for exact-key and text hashes.
const KEY_SEED: u64 = 0x6b65_7973_7761_7665; // "keyswave"

/// What clustering needs from one analysed message; the caller fills it from
/// the parsed record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageFeatures {
    /// SHA-256 of the raw message, lower-case hex: the message's identity.
    pub sha256: String,
    /// When the message arrived (unix seconds), from origin tracing.
    pub arrival_time: Option<i64>,
    /// The decoded Subject.
    pub subject: String,
    /// Decoded body text; HTML already converted to text.
    pub body_text: String,
    /// URLs found in the message (text and HTML links).
    pub urls: Vec<String>,
    /// SHA-256 of each attachment that is not an inline image.
    pub attachment_sha256: Vec<String>,
    /// SHA-256 of each image (inline or attached).
    pub image_sha256: Vec<String>,
    /// Reply-To addresses.
    pub reply_to: Vec<String>,
    /// The From address.
    pub from_address: Option<String>,
    /// The From display name.
    pub from_display_name: Option<String>,
    /// True when In-Reply-To or References is present: the message answers
    /// another one.
    pub is_reply: bool,
    /// The List-Id, when the message came through a mailing list.
    pub list_id: Option<String>,
    /// The origin IP found by origin tracing.
    pub origin_ip: Option<String>,
    /// The relay (first trusted receiving or handing-off host) found by origin tracing.
    pub relay: Option<String>,
    /// The sender's domain (envelope or From).
    pub sender_domain: Option<String>,
}

/// The kind of an exact content key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKeyKind {
    /// An identical attachment (by SHA-256).
    Attachment,
    /// An identical image (by SHA-256): image-only messages with random text
    /// are linked by this.
    Image,
    /// A URL with its per-recipient parts removed: host, path with variable
    /// segments as `*`, sorted query parameter names.
    UrlSkeleton,
    /// A payment identifier: a Bitcoin or Ethereum wallet or an IBAN.
    PaymentId,
    /// A Reply-To address that differs from the From address.
    ReplyTo,
}

impl ContentKeyKind {
    /// True when a shared key of this kind links two messages by itself.
    /// URL skeletons and reply-to addresses need corroboration (weak text
    /// similarity or a second key): a popular site's URL or a help-desk
    /// address is shared by unrelated mail.
    pub fn links_alone(self) -> bool {
        matches!(
            self,
            ContentKeyKind::Attachment | ContentKeyKind::Image | ContentKeyKind::PaymentId
        )
    }
}

/// One exact content key: messages sharing it are candidates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentKey {
    /// What the key is.
    pub kind: ContentKeyKind,
    /// Its value (hash, skeleton, wallet, address), shown as evidence.
    pub value: String,
}

impl ContentKey {
    /// The bucket hash of the key, stable across runs.
    pub fn bucket(&self) -> u64 {
        stable_hash(self.value.as_bytes(), KEY_SEED ^ self.kind as u64)
    }
}

/// The kind of an infrastructure key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfrastructureKind {
    /// The origin IP.
    OriginIp,
    /// The relay.
    Relay,
    /// The sender's domain.
    SenderDomain,
    /// The From address.
    FromAddress,
    /// The From display name.
    DisplayName,
}

/// One infrastructure key: corroborates and explains a link, never creates
/// one (shared provider networks would chain unrelated mail).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InfrastructureKey {
    /// What the key is.
    pub kind: InfrastructureKind,
    /// Its value, lower-cased.
    pub value: String,
}

/// The compact, stored fingerprint of one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// [`FINGERPRINT_VERSION`] at computation.
    pub version: u16,
    /// MinHash signature of the masked text's shingles (fixed seeds); empty
    /// when the text has fewer than [`MIN_SHINGLES`] shingles.
    pub signature: Vec<u32>,
    /// Number of distinct shingles of the masked text.
    pub shingle_count: u32,
    /// Hash of the whole masked word stream: equal for exact duplicates
    /// after masking.
    pub text_hash: u64,
    /// Exact content keys, sorted and de-duplicated.
    pub content_keys: Vec<ContentKey>,
    /// Infrastructure keys, sorted and de-duplicated.
    pub infrastructure: Vec<InfrastructureKey>,
    /// The message is a reply (In-Reply-To/References).
    pub is_reply: bool,
    /// The message came through a mailing list (List-Id).
    pub from_list: bool,
}

impl Fingerprint {
    /// True when the text is long enough to compare.
    pub fn has_text(&self) -> bool {
        !self.signature.is_empty()
    }

    /// A hash of everything verification reads: two fingerprints with the
    /// same value link to exactly the same messages, so the index keeps only
    /// one of them in its buckets.
    pub fn comparison_key(&self) -> u64 {
        let mut bytes = Vec::with_capacity(64 + self.content_keys.len() * 72);
        bytes.extend_from_slice(&self.text_hash.to_le_bytes());
        bytes.extend_from_slice(&self.shingle_count.to_le_bytes());
        bytes.push(
            u8::from(self.is_reply)
                | u8::from(self.from_list) << 1
                | u8::from(self.has_text()) << 2,
        );
        for key in &self.content_keys {
            bytes.push(key.kind as u8);
            bytes.extend_from_slice(key.value.as_bytes());
            bytes.push(0);
        }
        stable_hash(&bytes, KEY_SEED)
    }
}

/// Whether `host` (lower case) is, or lies under, one of [`common_hosts`]:
/// a shortener or large platform, never evidence of who sent a message.
pub fn is_common_host(host: &str) -> bool {
    let host = host.strip_prefix("www.").unwrap_or(host);
    common_hosts()
        .iter()
        .any(|c| crate::domain::is_under(host, c))
}

/// Hosts whose URLs say nothing about who sent a message (shorteners, large
/// platforms); their skeletons are not content keys. One host a line.
fn common_hosts() -> &'static [&'static str] {
    static HOSTS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    HOSTS.get_or_init(|| {
        include_str!("common_hosts.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Computes the fingerprint of a message. Pure and fast (tens of
/// microseconds for a 3 KB body).
pub fn fingerprint(m: &MessageFeatures) -> Fingerprint {
    let stripped = strip_quoted(&m.body_text);
    let cleaned = clean_characters(&stripped);
    let words = masked_words(&cleaned);
    let word_texts: Vec<&str> = words.iter().map(|w| w.as_str()).collect();
    let shingle_set = shingles(&word_texts);
    let text_hash = stable_hash(word_texts.join(" ").as_bytes(), KEY_SEED);
    let signature = if shingle_set.len() >= MIN_SHINGLES {
        signature(&shingle_set)
    } else {
        Vec::new()
    };

    let mut content_keys: Vec<ContentKey> = Vec::new();
    let mut add = |kind: ContentKeyKind, value: String| {
        if !value.is_empty() && value != EMPTY_SHA256 {
            content_keys.push(ContentKey { kind, value });
        }
    };
    for h in &m.attachment_sha256 {
        add(ContentKeyKind::Attachment, h.trim().to_ascii_lowercase());
    }
    for h in &m.image_sha256 {
        add(ContentKeyKind::Image, h.trim().to_ascii_lowercase());
    }
    let text_urls = cleaned
        .split_whitespace()
        .filter(|c| c.contains("://"))
        .map(|c| c.to_string());
    for url in m.urls.iter().cloned().chain(text_urls) {
        if let Some(skeleton) = url_skeleton(&url) {
            add(ContentKeyKind::UrlSkeleton, skeleton);
        }
    }
    for id in payment_ids(&cleaned) {
        add(ContentKeyKind::PaymentId, id);
    }
    let from = m
        .from_address
        .as_deref()
        .map(|a| a.trim().to_ascii_lowercase());
    for r in &m.reply_to {
        let r = r.trim().to_ascii_lowercase();
        if from.as_deref() != Some(r.as_str()) {
            add(ContentKeyKind::ReplyTo, r);
        }
    }
    content_keys.sort();
    content_keys.dedup();

    let mut infrastructure = Vec::new();
    let infra = [
        (InfrastructureKind::OriginIp, &m.origin_ip),
        (InfrastructureKind::Relay, &m.relay),
        (InfrastructureKind::SenderDomain, &m.sender_domain),
        (InfrastructureKind::FromAddress, &m.from_address),
        (InfrastructureKind::DisplayName, &m.from_display_name),
    ];
    for (kind, value) in infra {
        if let Some(v) = value {
            let v = v.trim().to_lowercase();
            if !v.is_empty() {
                infrastructure.push(InfrastructureKey { kind, value: v });
            }
        }
    }
    infrastructure.sort();
    infrastructure.dedup();

    Fingerprint {
        version: FINGERPRINT_VERSION,
        signature,
        shingle_count: u32::try_from(shingle_set.len()).unwrap_or(u32::MAX),
        text_hash,
        content_keys,
        infrastructure,
        is_reply: m.is_reply,
        from_list: m.list_id.is_some(),
    }
}

/// True when a URL path segment or value varies per recipient: it has digits
/// and four or more characters, is 16 or more characters long, or is random.
fn is_variable_segment(segment: &str) -> bool {
    let digits = segment.chars().filter(char::is_ascii_digit).count();
    (digits > 0 && segment.len() >= 4) || segment.len() >= 16 || is_random_string(segment)
}

/// The skeleton of a URL: lower-case host without `www.` and port, the path
/// with per-recipient segments replaced by `*`, and the sorted names of the
/// query parameters without values. `None` for what is not an http(s) URL
/// or whose host is a common platform.
///
/// Why: a per-recipient URL (`https://x.example/v/8f3k2?id=jane`) must
/// match its siblings (`x.example/v/*?id`) while staying specific to the
/// campaign's site.
pub fn url_skeleton(url: &str) -> Option<String> {
    let url = url
        .trim()
        .trim_matches(|c| matches!(c, '<' | '>' | '"' | '\'' | '(' | ')' | ',' | '.'));
    let lower_scheme = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower_scheme.starts_with("https://") {
        url.get(8..)?
    } else if lower_scheme.starts_with("http://") {
        url.get(7..)?
    } else {
        return None;
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (authority_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match authority_path.split_once('/') {
        Some((a, p)) => (a, p),
        None => (authority_path, ""),
    };
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = host_port
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let tld_ok = host
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    let ipv4_ok = host.split('.').count() == 4 && host.split('.').all(|o| o.parse::<u8>().is_ok());
    if !(tld_ok || ipv4_ok) || is_common_host(&host) {
        return None;
    }
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if is_variable_segment(s) { "*" } else { s })
        .collect();
    let mut names: Vec<String> = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    names.sort();
    names.dedup();
    let mut skeleton = format!("{host}/{}", segments.join("/").to_ascii_lowercase());
    if !names.is_empty() {
        skeleton.push('?');
        skeleton.push_str(&names.join("&"));
    }
    Some(skeleton)
}

/// Base58 characters used by Bitcoin legacy addresses.
fn is_base58(c: char) -> bool {
    c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l')
}

/// Payment identifiers in a text: Bitcoin (legacy and bech32) and Ethereum
/// wallets and IBANs, as written. Why: extortion and advance-fee campaigns
/// reword every copy but must be paid somewhere.
pub fn payment_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in text
        .split_whitespace()
        .filter(|c| (15..=70).contains(&c.len()))
    {
        let c = chunk.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let len = c.len();
        if !(15..=62).contains(&len) {
            continue;
        }
        let lower = c.to_ascii_lowercase();
        let has_digit = c.chars().any(|x| x.is_ascii_digit());
        let has_alpha = c.chars().any(|x| x.is_ascii_alphabetic());
        let bech32 = lower.starts_with("bc1")
            && (42..=62).contains(&len)
            && c.chars().all(|x| x.is_ascii_alphanumeric());
        let legacy = (c.starts_with('1') || c.starts_with('3'))
            && (26..=35).contains(&len)
            && c.chars().all(is_base58)
            && has_alpha;
        let ethereum = lower.starts_with("0x")
            && len == 42
            && c.get(2..)
                .is_some_and(|h| h.chars().all(|x| x.is_ascii_hexdigit()));
        let iban = (15..=34).contains(&len)
            && c.chars().take(2).all(|x| x.is_ascii_uppercase())
            && c.chars().skip(2).take(2).all(|x| x.is_ascii_digit())
            && c.chars()
                .all(|x| x.is_ascii_uppercase() || x.is_ascii_digit())
            && has_digit;
        if bech32 || ethereum {
            out.push(lower);
        } else if legacy || iban {
            out.push(c.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_skeleton_masks_per_recipient_parts() {
        assert_eq!(
            url_skeleton("https://www.Vote-Check.example/verify/8f3k2p/?uid=jane&t=99#x")
                .as_deref(),
            Some("vote-check.example/verify/*?t&uid")
        );
        assert_eq!(
            url_skeleton("http://user@vote-check.example:8080/verify/1x9q7z?t=1&uid=bob")
                .as_deref(),
            Some("vote-check.example/verify/*?t&uid")
        );
        assert_eq!(url_skeleton("mailto:a@b.c"), None);
        assert_eq!(url_skeleton("https://bit.ly/3xYz"), None);
        assert_eq!(url_skeleton("https://"), None);
        assert_eq!(url_skeleton("http://1.2.3/x"), None);
        assert_eq!(
            url_skeleton("http://192.0.2.1/x").as_deref(),
            Some("192.0.2.1/x")
        );
        assert_eq!(url_skeleton("https://d15k2d.cloudfront.net/logo.png"), None);
    }

    #[test]
    fn payment_ids_are_found() {
        let text = "pay to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh or 1BoatSLRHtKNngkdXEeobR76b53LETtpyT, eth 0x52908400098527886E0F7030069857D2E4169EE7; iban DE89370400440532013000.";
        assert_eq!(
            payment_ids(text),
            [
                "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
                "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                "0x52908400098527886e0f7030069857d2e4169ee7",
                "DE89370400440532013000"
            ]
        );
        assert!(payment_ids("the year 1999 and ABCDEFGHIJKLMNOP").is_empty());
    }

    #[test]
    fn short_text_has_no_signature_but_keeps_keys() {
        let m = MessageFeatures {
            sha256: "a".repeat(64),
            body_text: "see attached".into(),
            attachment_sha256: vec!["AB".repeat(32), EMPTY_SHA256.to_string()],
            image_sha256: vec![EMPTY_SHA256.to_uppercase()],
            reply_to: vec!["x@y.example".into()],
            from_address: Some("X@y.example".into()),
            ..MessageFeatures::default()
        };
        let fp = fingerprint(&m);
        assert!(!fp.has_text());
        assert_eq!(
            fp.content_keys,
            vec![ContentKey {
                kind: ContentKeyKind::Attachment,
                value: "ab".repeat(32)
            }]
        );
    }

    #[test]
    fn fingerprint_round_trips_through_json() {
        let m = MessageFeatures {
            body_text: "one two three four five six seven eight nine ten eleven twelve".into(),
            origin_ip: Some("192.0.2.1".into()),
            ..MessageFeatures::default()
        };
        let fp = fingerprint(&m);
        assert_eq!(fp.signature.len(), super::super::minhash::SIGNATURE_LEN);
        let json = serde_json::to_string(&fp).unwrap_or_default();
        let back: Option<Fingerprint> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(fp));
    }
}
