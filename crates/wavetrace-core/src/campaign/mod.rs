//! Campaigns: cluster messages made from one template family, split each
//! campaign into waves, and recover the template behind it (issue 12).
//!
//! The pipeline, each stage a plain function over data:
//!
//! 1. [`normalise`]: strip quoted replies and list footers, remove invisible
//!    and confusable characters, and mask personalisation (names, addresses,
//!    numbers, dates, e-mail addresses, URLs, tracking tokens) so that the
//!    personalised copies of one template read the same.
//! 2. [`fingerprint()`]: word-trigram shingles of the masked text summarised
//!    as a MinHash signature with fixed seeds ([`minhash`]), plus exact content
//!    keys (attachment and image hashes, URL skeletons, payment identifiers,
//!    reply-to addresses) and infrastructure keys (origin IP, relay, sender).
//!    The [`Fingerprint`] is small and serialisable so the store keeps it.
//! 3. [`CampaignIndex`]: locality-sensitive hashing ([`lsh`], banding) and
//!    exact-key buckets propose candidate pairs; [`link`] verifies each
//!    candidate and records its [`Evidence`]; union-find ([`cluster`]) joins
//!    verified pairs. No pair is ever compared unless it shares a bucket.
//! 4. [`split_waves`]: bursts in arrival time relative to the campaign's own
//!    rhythm ([`wave`]).
//! 5. [`template()`]: the common text of a campaign with its varying parts as
//!    typed slots ([`mod@template`]).
//! 6. [`evaluate`]: B-cubed and pairwise scores of a clustering against a
//!    labelled truth ([`eval`]).
//!
//! Order independence: a campaign is a connected component of the graph whose
//! edges are the verified candidate pairs. Candidate generation and
//! verification look only at the two messages of a pair, so the edge set, and
//! with it the partition and every campaign id, does not depend on the order
//! in which messages are inserted (tested by shuffling).

pub mod cluster;
pub mod eval;
pub mod features;
pub mod link;
pub mod lsh;
pub mod minhash;
pub mod normalise;
pub mod record_features;
pub mod summary;
pub mod template;
pub mod wave;

#[cfg(test)]
mod evasion_tests;
#[cfg(test)]
mod property_tests;

pub use cluster::{CampaignIndex, CampaignMembers};
pub use eval::{
    evaluate, score_template, score_waves, EvalReport, LabelScore, SlotScore, WaveCase, WaveScore,
};
pub use features::{
    fingerprint, is_common_host, ContentKey, ContentKeyKind, Fingerprint, InfrastructureKey,
    InfrastructureKind, MessageFeatures,
};
pub use link::{Evidence, Link};
pub use record_features::features;
pub use summary::{summarise, CampaignSummary};
pub use template::{fill, template, varies_per_member, SlotType, Template, TemplateSegment};
pub use wave::{split_waves, WaveSpan};
