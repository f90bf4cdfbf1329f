//! Verification of candidate pairs, and the evidence a link carries.
//!
//! A candidate pair (from a shared LSH band or a shared exact key) becomes a
//! link only if [`verify`] finds content evidence:
//! - similar text: estimated Jaccard similarity of the masked shingles at
//!   least [`TEXT_LINK`], or, when one text is largely contained in the other
//!   (random filler added to one side), an estimated overlap coefficient of at
//!   least [`CONTAINMENT_LINK`] with [`CONTAINMENT_MIN_SHARED`] shingles in
//!   common (similar text needs [`MIN_SHARED_SHINGLES`]); or, with filler on both
//!   sides, at least [`SHARED_SHINGLES_LINK`] shared shingles at
//!   [`CONTAINMENT_MIN_JACCARD`];
//! - or an identical attachment, image or payment identifier;
//! - or a shared URL skeleton or reply-to address corroborated by text
//!   similarity of at least [`TEXT_CORROBORATE`] (a second such key is not
//!   enough: an actor's tracking domain and reply-to recur across its
//!   different templates).
//!
//! Infrastructure shared by the pair (origin IP, relay, sender domain, From
//! address, display name) is listed with the link to explain it but never
//! creates one. For replies and mailing-list messages only text and
//! attachment/image/payment evidence counts: a thread's or a list's shared
//! URLs and Reply-To are conversation artefacts, not a template.

use serde::{Deserialize, Serialize};

use super::features::{
    ContentKey, ContentKeyKind, Fingerprint, InfrastructureKey, InfrastructureKind,
};
use super::minhash::{compact_signature, compact_similarity};

/// Estimated Jaccard similarity at which similar text links by itself.
pub const TEXT_LINK: f64 = 0.5;

/// Estimated overlap coefficient (shared shingles over the smaller set) at
/// which a text contained in another links, with at least
/// [`CONTAINMENT_MIN_JACCARD`] Jaccard.
pub const CONTAINMENT_LINK: f64 = 0.75;

/// Fewest estimated shared shingles for a containment link: a short text
/// "contained" in a long one by a dozen common trigrams is a coincidence.
pub const CONTAINMENT_MIN_SHARED: f64 = 20.0;

/// Lowest Jaccard similarity for a containment link or a link by many shared
/// shingles.
pub const CONTAINMENT_MIN_JACCARD: f64 = 0.3;

/// Estimated shared shingles that, with at least [`CONTAINMENT_MIN_JACCARD`]
/// Jaccard, link two texts padded on both sides with random filler: forty
/// shared word trigrams are a template, not a coincidence.
pub const SHARED_SHINGLES_LINK: f64 = 40.0;

/// Estimated Jaccard similarity that corroborates a shared URL skeleton or
/// reply-to address. Below it, a shared tracking domain or help-desk address
/// joins different templates of one actor, which are related campaigns, not
/// one campaign.
pub const TEXT_CORROBORATE: f64 = 0.3;

/// Fewest estimated shared shingles for a text link: a few words in common
/// are a coincidence, not a template.
pub const MIN_SHARED_SHINGLES: f64 = 8.0;

/// One reason two messages are linked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// The masked texts are identical.
    IdenticalText {
        /// Distinct shingles of the text.
        shingles: u32,
    },
    /// The masked texts are similar.
    SimilarText {
        /// Estimated Jaccard similarity of the shingle sets (MinHash).
        similarity: f64,
        /// Estimated number of shared shingles.
        shared_shingles: u32,
        /// Estimated share of the smaller text found in the larger.
        containment: f64,
    },
    /// An exact content key both messages carry.
    SharedContent {
        /// Attachment, image, URL skeleton, payment id or reply-to.
        key: ContentKeyKind,
        /// The shared value.
        value: String,
    },
    /// Infrastructure both messages share: corroboration only.
    SharedInfrastructure {
        /// Origin IP, relay, sender domain, From address or display name.
        key: InfrastructureKind,
        /// The shared value.
        value: String,
    },
}

impl Evidence {
    /// The evidence in words, for an analyst.
    pub fn describe(&self) -> String {
        match self {
            Evidence::IdenticalText { shingles } => format!("identical text after masking ({shingles} shingles)"),
            Evidence::SimilarText { similarity, shared_shingles, containment } => format!(
                "similar text: {:.0}% of shingles shared (about {shared_shingles}), {:.0}% of the shorter text contained",
                similarity * 100.0,
                containment * 100.0
            ),
            Evidence::SharedContent { key, value } => format!("shared {}: {value}", content_key_words(*key)),
            Evidence::SharedInfrastructure { key, value } => {
                format!("also shares {} {value} (corroboration only)", infrastructure_key_words(*key))
            }
        }
    }
}

/// The field's words for a content key kind.
fn content_key_words(kind: ContentKeyKind) -> &'static str {
    match kind {
        ContentKeyKind::Attachment => "attachment",
        ContentKeyKind::Image => "image",
        ContentKeyKind::UrlSkeleton => "URL skeleton",
        ContentKeyKind::PaymentId => "payment identifier",
        ContentKeyKind::ReplyTo => "reply-to address",
    }
}

/// The field's words for an infrastructure key kind.
fn infrastructure_key_words(kind: InfrastructureKind) -> &'static str {
    match kind {
        InfrastructureKind::OriginIp => "origin IP",
        InfrastructureKind::Relay => "relay",
        InfrastructureKind::SenderDomain => "sender domain",
        InfrastructureKind::FromAddress => "From address",
        InfrastructureKind::DisplayName => "display name",
    }
}

/// A verified link between two messages (by SHA-256) with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The message already in the index.
    pub a: String,
    /// The message being inserted.
    pub b: String,
    /// Why they belong together; content evidence first, then corroboration.
    pub evidence: Vec<Evidence>,
}

/// Items present in both sorted slices.
fn sorted_intersection<'a, T: Ord>(a: &'a [T], b: &[T]) -> Vec<&'a T> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(&a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// What verification reads of one message: its fingerprint with the
/// signature in the compact form the index keeps
/// ([`compact_signature`]).
#[derive(Debug, Clone, Copy)]
pub struct Comparable<'a> {
    /// Low 16 bits of each MinHash position; empty when the text is too short.
    pub signature: &'a [u16],
    /// Distinct shingles of the masked text.
    pub shingle_count: u32,
    /// Hash of the masked text.
    pub text_hash: u64,
    /// Exact content keys, sorted.
    pub content_keys: &'a [ContentKey],
    /// Infrastructure keys, sorted.
    pub infrastructure: &'a [InfrastructureKey],
    /// The message is a reply.
    pub is_reply: bool,
    /// The message came through a mailing list.
    pub from_list: bool,
}

impl<'a> Comparable<'a> {
    /// The comparable view of a fingerprint, given its compact signature.
    pub fn of(fp: &'a Fingerprint, compact: &'a [u16]) -> Self {
        Comparable {
            signature: compact,
            shingle_count: fp.shingle_count,
            text_hash: fp.text_hash,
            content_keys: &fp.content_keys,
            infrastructure: &fp.infrastructure,
            is_reply: fp.is_reply,
            from_list: fp.from_list,
        }
    }
}

/// Decides whether two fingerprints belong to one campaign; `Some` with the
/// evidence (content first, infrastructure after) when they do. Symmetric in
/// its two arguments, which the order independence of clustering rests on.
pub fn verify(a: &Fingerprint, b: &Fingerprint) -> Option<Vec<Evidence>> {
    let (sa, sb) = (
        compact_signature(&a.signature),
        compact_signature(&b.signature),
    );
    verify_comparable(&Comparable::of(a, &sa), &Comparable::of(b, &sb))
}

/// [`verify`] on the index's compact form.
pub fn verify_comparable(a: &Comparable<'_>, b: &Comparable<'_>) -> Option<Vec<Evidence>> {
    let mut evidence = Vec::new();
    let mut text_similarity = 0.0;
    if !a.signature.is_empty() && !b.signature.is_empty() {
        if a.text_hash == b.text_hash && a.shingle_count == b.shingle_count {
            text_similarity = 1.0;
            evidence.push(Evidence::IdenticalText {
                shingles: a.shingle_count,
            });
        } else {
            text_similarity = compact_similarity(a.signature, b.signature);
            let (na, nb) = (f64::from(a.shingle_count), f64::from(b.shingle_count));
            let shared = text_similarity / (1.0 + text_similarity) * (na + nb);
            let containment = if na.min(nb) > 0.0 {
                (shared / na.min(nb)).min(1.0)
            } else {
                0.0
            };
            let similar = text_similarity >= TEXT_LINK && shared >= MIN_SHARED_SHINGLES
                || text_similarity >= CONTAINMENT_MIN_JACCARD
                    && (containment >= CONTAINMENT_LINK && shared >= CONTAINMENT_MIN_SHARED
                        || shared >= SHARED_SHINGLES_LINK);
            if similar {
                evidence.push(Evidence::SimilarText {
                    similarity: text_similarity,
                    shared_shingles: shared.round() as u32,
                    containment,
                });
            }
        }
    }
    let text_links = !evidence.is_empty();

    let conversational = a.is_reply || a.from_list || b.is_reply || b.from_list;
    let shared_keys: Vec<_> = sorted_intersection(a.content_keys, b.content_keys)
        .into_iter()
        .filter(|k| !conversational || k.kind.links_alone())
        .collect();
    let alone = shared_keys.iter().any(|k| k.kind.links_alone());
    // Two corroboration-only keys together are still not enough: one actor's
    // tracking domain and reply-to address recur across its different
    // templates, which are related campaigns, not one.
    let corroborated = !shared_keys.is_empty() && text_similarity >= TEXT_CORROBORATE;
    if !(text_links || alone || corroborated) {
        return None;
    }
    for k in shared_keys {
        evidence.push(Evidence::SharedContent {
            key: k.kind,
            value: k.value.clone(),
        });
    }
    for k in sorted_intersection(a.infrastructure, b.infrastructure) {
        evidence.push(Evidence::SharedInfrastructure {
            key: k.kind,
            value: k.value.clone(),
        });
    }
    Some(evidence)
}

#[cfg(test)]
mod tests {
    use super::super::features::{fingerprint, MessageFeatures};
    use super::*;

    fn message(body: &str) -> MessageFeatures {
        MessageFeatures {
            body_text: body.into(),
            ..MessageFeatures::default()
        }
    }

    const BODY: &str = "Your mailbox storage is almost full and incoming messages will be held until you confirm \
        your account on our secure portal below. Failure to confirm within two days will suspend delivery \
        permanently and remove your archived folders from the server.";

    #[test]
    fn infrastructure_alone_never_links() {
        let mut a =
            message("completely different words about gardening tomatoes in the summer heat today");
        let mut b = message(
            "quarterly budget meeting moved to thursday afternoon in the large room upstairs",
        );
        for m in [&mut a, &mut b] {
            m.origin_ip = Some("192.0.2.7".into());
            m.relay = Some("mx.provider.example".into());
            m.sender_domain = Some("provider.example".into());
        }
        assert_eq!(verify(&fingerprint(&a), &fingerprint(&b)), None);
    }

    #[test]
    fn similar_text_links_with_infrastructure_listed() {
        let mut a = message(BODY);
        let mut b = message(&BODY.replace("two days", "48 hours"));
        a.relay = Some("relay.example".into());
        b.relay = Some("relay.example".into());
        let evidence = verify(&fingerprint(&a), &fingerprint(&b)).unwrap_or_default();
        assert!(
            matches!(evidence.first(), Some(Evidence::SimilarText { .. })),
            "{evidence:?}"
        );
        assert!(matches!(
            evidence.last(),
            Some(Evidence::SharedInfrastructure {
                key: InfrastructureKind::Relay,
                ..
            })
        ));
    }

    #[test]
    fn url_skeleton_needs_corroboration_but_image_does_not() {
        let mut a =
            message("totally unrelated first text about one thing and another thing entirely here");
        let mut b = message(
            "second message speaks of weather boats fishing and the harbour in winter time",
        );
        a.urls = vec!["https://shop.example/p/12345?u=1".into()];
        b.urls = vec!["https://shop.example/p/99999?u=2".into()];
        assert_eq!(verify(&fingerprint(&a), &fingerprint(&b)), None);
        a.image_sha256 = vec!["c".repeat(64)];
        b.image_sha256 = vec!["c".repeat(64)];
        let evidence = verify(&fingerprint(&a), &fingerprint(&b)).unwrap_or_default();
        assert_eq!(evidence.len(), 2, "{evidence:?}");
    }

    #[test]
    fn list_reply_to_does_not_link_list_posts() {
        let mut a =
            message("I think the patch is fine but the second hunk needs a comment explaining why");
        let mut b = message(
            "Has anyone tried building with the new compiler release on arm64 machines yet",
        );
        for m in [&mut a, &mut b] {
            m.list_id = Some("<dev.lists.example>".into());
            m.reply_to = vec!["dev@lists.example".into()];
            m.urls = vec!["https://lists.example/listinfo/dev".into()];
        }
        assert_eq!(verify(&fingerprint(&a), &fingerprint(&b)), None);
    }

    #[test]
    fn verify_is_symmetric() {
        let a = fingerprint(&message(BODY));
        let b = fingerprint(&message(&format!(
            "{BODY} extra words appended at the very end of it"
        )));
        assert_eq!(verify(&a, &b).is_some(), verify(&b, &a).is_some());
    }

    #[test]
    fn evidence_describes_itself() {
        let e = Evidence::SharedContent {
            key: ContentKeyKind::Image,
            value: "ab".into(),
        };
        assert_eq!(e.describe(), "shared image: ab");
    }
}
