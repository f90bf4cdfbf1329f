//! The incremental campaign index: candidate generation (LSH bands and exact
//! keys), verification, union-find, stable campaign ids and aliases.
//!
//! A campaign is a connected component of the graph of verified links. When a
//! message is inserted it is compared with the members of every bucket it
//! falls into, except those already in its campaign (a link inside one
//! component changes nothing). Because candidate generation and verification
//! depend only on the two messages of a pair, the components, and so the
//! campaigns and their ids, are the same whatever the insertion order; only
//! which links are reported as evidence can differ.
//!
//! Messages whose fingerprints are identical in everything verification reads
//! ([`Fingerprint::comparison_key`]) link to exactly the same messages, so
//! only the first of them enters the buckets; the others join it directly.
//! That keeps buckets small for campaigns of identical copies.
//!
//! Cost: one insert does [`BANDS`](super::lsh::BANDS) plus one-per-key bucket look-ups and one
//! union-find step per bucket member; verification (128 comparisons) runs
//! only for members of other campaigns. No pair outside a shared bucket is
//! ever compared. The worst case is a campaign of `n` distinct (not
//! identical) members sharing a band: `O(n)` cheap steps per insert.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::features::{ContentKey, Fingerprint, InfrastructureKey};
use super::link::{verify_comparable, Comparable, Evidence, Link};
use super::lsh::{band_keys, Buckets};
use super::minhash::{compact_signature, SIGNATURE_LEN};

/// Number of hex characters of a campaign id.
pub const CAMPAIGN_ID_LEN: usize = 12;

/// One message held by the index: what verification reads, without the
/// signature (kept compact in [`CampaignIndex`]'s flat signature array).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    sha256: String,
    arrival_time: Option<i64>,
    shingle_count: u32,
    text_hash: u64,
    has_text: bool,
    is_reply: bool,
    from_list: bool,
    content_keys: Box<[ContentKey]>,
    infrastructure: Box<[InfrastructureKey]>,
}

/// One campaign as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignMembers {
    /// First 12 hex characters of the earliest member's SHA-256 (earliest by
    /// arrival time, ties and unknown times broken by SHA-256).
    pub id: String,
    /// Ids this campaign was published under before (see
    /// [`CampaignIndex::publish_ids`]) that are no longer its id: merged
    /// campaigns, or an id replaced when an earlier member arrived.
    pub aliases: Vec<String>,
    /// Member SHA-256s, earliest first.
    pub members: Vec<String>,
    /// Arrival times of the members in the same order.
    pub arrival_times: Vec<Option<i64>>,
}

impl CampaignMembers {
    /// Number of members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Earliest known arrival time.
    pub fn first_seen(&self) -> Option<i64> {
        self.arrival_times.iter().flatten().min().copied()
    }

    /// Latest known arrival time.
    pub fn last_seen(&self) -> Option<i64> {
        self.arrival_times.iter().flatten().max().copied()
    }
}

/// The campaign id of a SHA-256: its first 12 characters.
pub fn campaign_id(sha256: &str) -> String {
    sha256
        .get(..CAMPAIGN_ID_LEN)
        .unwrap_or(sha256)
        .to_ascii_lowercase()
}

/// Incremental, order-independent clustering state. Serialisable, so the
/// store may persist it; it can also be rebuilt by inserting the stored
/// fingerprints in any order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CampaignIndex {
    members: Vec<Member>,
    /// Compact signatures ([`compact_signature`]), [`SIGNATURE_LEN`] per
    /// member, zeros for members without text.
    signatures: Vec<u16>,
    by_sha256: HashMap<String, u32>,
    /// Union-find parent of each member.
    parent: Vec<u32>,
    /// Component size, valid at roots.
    size: Vec<u32>,
    /// Earliest member of the component, valid at roots.
    earliest: Vec<u32>,
    /// LSH band buckets.
    bands: Buckets,
    /// Exact content-key buckets.
    keys: Buckets,
    /// First member seen with each comparison key.
    representatives: HashMap<u64, u32>,
    /// Members whose id was published (the earliest member of a campaign at
    /// publication); their ids resolve as aliases later.
    published: Vec<u32>,
}

impl CampaignIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of messages in the index.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the index holds no message.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds one message and returns the links it made, each with evidence.
    /// A SHA-256 already in the index is ignored (re-scanning is harmless).
    pub fn insert(
        &mut self,
        sha256: &str,
        fp: &Fingerprint,
        arrival_time: Option<i64>,
    ) -> Vec<Link> {
        let sha256 = sha256.trim().to_ascii_lowercase();
        if self.by_sha256.contains_key(&sha256) {
            return Vec::new();
        }
        let Ok(node) = u32::try_from(self.members.len()) else {
            return Vec::new();
        };
        let compact = compact_signature(&fp.signature);
        let has_text = compact.len() == SIGNATURE_LEN;
        self.members.push(Member {
            sha256: sha256.clone(),
            arrival_time,
            shingle_count: fp.shingle_count,
            text_hash: fp.text_hash,
            has_text,
            is_reply: fp.is_reply,
            from_list: fp.from_list,
            content_keys: fp.content_keys.clone().into_boxed_slice(),
            infrastructure: fp.infrastructure.clone().into_boxed_slice(),
        });
        if has_text {
            self.signatures.extend_from_slice(&compact);
        } else {
            self.signatures
                .extend(std::iter::repeat_n(0, SIGNATURE_LEN));
        }
        let incoming = Comparable::of(fp, if has_text { &compact } else { &[] });
        self.by_sha256.insert(sha256, node);
        self.parent.push(node);
        self.size.push(1);
        self.earliest.push(node);

        let mut links = Vec::new();
        let comparison_key = fp.comparison_key();
        if let Some(&rep) = self.representatives.get(&comparison_key) {
            if let Some(evidence) = self.verify_pair(rep, &incoming) {
                self.union(rep, node);
                links.push(self.link(rep, node, evidence));
                return links;
            }
        } else {
            self.representatives.insert(comparison_key, node);
        }

        let band_keys = band_keys(&fp.signature);
        let key_buckets: Vec<u64> = fp.content_keys.iter().map(|k| k.bucket()).collect();
        let mut seen: HashSet<u32> = HashSet::new();
        for (is_band, key) in band_keys
            .iter()
            .map(|k| (true, *k))
            .chain(key_buckets.iter().map(|k| (false, *k)))
        {
            let candidates: Vec<u32> = if is_band {
                self.bands.members(key).collect()
            } else {
                self.keys.members(key).collect()
            };
            for other in candidates {
                if self.find(other) == self.find(node) || !seen.insert(other) {
                    continue;
                }
                if let Some(evidence) = self.verify_pair(other, &incoming) {
                    self.union(other, node);
                    links.push(self.link(other, node, evidence));
                }
            }
        }
        for key in band_keys {
            self.bands.insert(key, node);
        }
        for key in key_buckets {
            self.keys.insert(key, node);
        }
        links
    }

    /// Verifies a stored member against a fingerprint.
    fn verify_pair(&self, other: u32, incoming: &Comparable<'_>) -> Option<Vec<Evidence>> {
        let member = self.members.get(other as usize)?;
        let start = other as usize * SIGNATURE_LEN;
        let signature = if member.has_text {
            self.signatures.get(start..start + SIGNATURE_LEN)?
        } else {
            &[]
        };
        let stored = Comparable {
            signature,
            shingle_count: member.shingle_count,
            text_hash: member.text_hash,
            content_keys: &member.content_keys,
            infrastructure: &member.infrastructure,
            is_reply: member.is_reply,
            from_list: member.from_list,
        };
        verify_comparable(&stored, incoming)
    }

    /// Builds the link record between two members.
    fn link(&self, a: u32, b: u32, evidence: Vec<Evidence>) -> Link {
        Link {
            a: self.sha256_of(a).to_string(),
            b: self.sha256_of(b).to_string(),
            evidence,
        }
    }

    /// The SHA-256 of a member ("" for a number out of range).
    fn sha256_of(&self, node: u32) -> &str {
        self.members
            .get(node as usize)
            .map_or("", |m| m.sha256.as_str())
    }

    /// The root of a member's component, with path halving.
    fn find(&mut self, mut node: u32) -> u32 {
        while let Some(&parent) = self.parent.get(node as usize) {
            if parent == node {
                break;
            }
            let grandparent = self.parent.get(parent as usize).copied().unwrap_or(parent);
            if let Some(p) = self.parent.get_mut(node as usize) {
                *p = grandparent;
            }
            node = grandparent;
        }
        node
    }

    /// The root without modifying the structure (for `&self` queries).
    fn find_readonly(&self, mut node: u32) -> u32 {
        while let Some(&parent) = self.parent.get(node as usize) {
            if parent == node {
                break;
            }
            node = parent;
        }
        node
    }

    /// Sort key of a member for "earliest": known times first, then SHA-256.
    fn age_key(&self, node: u32) -> (i64, &str) {
        self.members.get(node as usize).map_or((i64::MAX, ""), |m| {
            (m.arrival_time.unwrap_or(i64::MAX), m.sha256.as_str())
        })
    }

    /// Joins two components (union by size), keeping the earliest member.
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (size_a, size_b) = (self.size[ra as usize], self.size[rb as usize]);
        let (root, child) = if size_a >= size_b { (ra, rb) } else { (rb, ra) };
        let (ea, eb) = (self.earliest[ra as usize], self.earliest[rb as usize]);
        let earliest = if self.age_key(ea) <= self.age_key(eb) {
            ea
        } else {
            eb
        };
        self.parent[child as usize] = root;
        self.size[root as usize] = size_a + size_b;
        self.earliest[root as usize] = earliest;
    }

    /// The id of the campaign holding a message, by SHA-256.
    pub fn campaign_of(&self, sha256: &str) -> Option<String> {
        let node = *self.by_sha256.get(&sha256.trim().to_ascii_lowercase())?;
        let root = self.find_readonly(node);
        Some(campaign_id(self.sha256_of(self.earliest[root as usize])))
    }

    /// Records the current id of every campaign as published, so that if it
    /// later stops being the id (a merge with an older campaign, or an
    /// earlier member arriving) it is still reported as an alias. Call it
    /// after each scan, once ids have been shown or stored.
    pub fn publish_ids(&mut self) {
        let known: HashSet<u32> = self.published.iter().copied().collect();
        let mut fresh: Vec<u32> = (0..self.parent.len() as u32)
            .filter(|&n| self.parent[n as usize] == n)
            .map(|root| self.earliest[root as usize])
            .filter(|e| !known.contains(e))
            .collect();
        fresh.sort_unstable();
        self.published.extend(fresh);
    }

    /// The current id for an id or alias, if any campaign has it.
    pub fn resolve(&self, id_or_alias: &str) -> Option<String> {
        let wanted = id_or_alias.trim().to_ascii_lowercase();
        let root = (0..self.parent.len() as u32)
            .filter(|&n| self.parent[n as usize] == n)
            .find(|&root| campaign_id(self.sha256_of(self.earliest[root as usize])) == wanted)
            .or_else(|| {
                self.published
                    .iter()
                    .find(|&&n| campaign_id(self.sha256_of(n)) == wanted)
                    .map(|&n| self.find_readonly(n))
            })?;
        Some(campaign_id(self.sha256_of(self.earliest[root as usize])))
    }

    /// Every campaign (singletons included), largest first, then by id.
    pub fn campaigns(&self) -> Vec<CampaignMembers> {
        let mut by_root: HashMap<u32, Vec<u32>> = HashMap::new();
        for node in 0..self.members.len() as u32 {
            by_root
                .entry(self.find_readonly(node))
                .or_default()
                .push(node);
        }
        let mut aliases: HashMap<u32, Vec<String>> = HashMap::new();
        for &n in &self.published {
            let root = self.find_readonly(n);
            if self.earliest.get(root as usize) != Some(&n) {
                aliases
                    .entry(root)
                    .or_default()
                    .push(campaign_id(self.sha256_of(n)));
            }
        }
        let mut out: Vec<CampaignMembers> = by_root
            .into_iter()
            .map(|(root, mut nodes)| {
                nodes.sort_by(|&a, &b| self.age_key(a).cmp(&self.age_key(b)));
                let mut alias_list = aliases.remove(&root).unwrap_or_default();
                alias_list.sort();
                alias_list.dedup();
                CampaignMembers {
                    id: campaign_id(self.sha256_of(self.earliest[root as usize])),
                    aliases: alias_list,
                    members: nodes
                        .iter()
                        .map(|&n| self.sha256_of(n).to_string())
                        .collect(),
                    arrival_times: nodes
                        .iter()
                        .map(|&n| self.members[n as usize].arrival_time)
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| b.size().cmp(&a.size()).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Bucket memberships held (band and key), for capacity reporting.
    pub fn bucket_entries(&self) -> usize {
        self.bands.len() + self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::features::{fingerprint, MessageFeatures};
    use super::super::minhash::splitmix64;
    use super::*;

    const TEMPLATE: &str = "Your parcel could not be delivered because the customs fee of {amount} was not paid. \
        To arrange a new delivery date please confirm your address and pay the fee at {url} within three days, \
        otherwise the parcel will be returned to the sender and the fee will not be refunded.";

    fn campaign_message(i: u64) -> MessageFeatures {
        MessageFeatures {
            sha256: format!("{:016x}{:048x}", splitmix64(&mut (i + 1)), i),
            arrival_time: Some(1_600_000_000 + i as i64 * 60),
            body_text: TEMPLATE
                .replace("{amount}", &format!("${}.{:02}", i % 7 + 1, i % 100))
                .replace("{url}", &format!("https://parcel-fee.example/p/{i:08}")),
            ..MessageFeatures::default()
        }
    }

    fn unrelated_message(i: u64) -> MessageFeatures {
        let mut state = i * 7919;
        let words: Vec<String> = (0..60)
            .map(|_| format!("w{}", splitmix64(&mut state) % 5000))
            .collect();
        MessageFeatures {
            sha256: format!("{:016x}{:048x}", splitmix64(&mut (i + 1000)), i + 1000),
            arrival_time: Some(1_600_000_000 + i as i64 * 97),
            body_text: words.join(" "),
            ..MessageFeatures::default()
        }
    }

    fn corpus() -> Vec<MessageFeatures> {
        (0..40)
            .map(campaign_message)
            .chain((0..60).map(unrelated_message))
            .collect()
    }

    fn partition(messages: &[MessageFeatures]) -> Vec<(String, Vec<String>)> {
        let mut index = CampaignIndex::new();
        for m in messages {
            index.insert(&m.sha256, &fingerprint(m), m.arrival_time);
        }
        let mut out: Vec<(String, Vec<String>)> = index
            .campaigns()
            .into_iter()
            .map(|c| {
                let mut members = c.members;
                members.sort();
                (c.id, members)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn campaign_is_found_and_unrelated_stay_apart() {
        let parts = partition(&corpus());
        assert_eq!(parts.len(), 61);
        let big = parts.iter().find(|(_, m)| m.len() == 40);
        let first = campaign_message(0);
        assert_eq!(big.map(|(id, _)| id.as_str()), Some(&first.sha256[..12]));
    }

    #[test]
    fn result_does_not_depend_on_input_order() {
        let messages = corpus();
        let reference = partition(&messages);
        for seed in 1..6u64 {
            let mut shuffled = messages.clone();
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
                shuffled.swap(i, j);
            }
            assert_eq!(partition(&shuffled), reference, "seed {seed}");
        }
    }

    #[test]
    fn merge_keeps_older_id_and_alias_resolves() {
        // Two halves of a chain joined later by a bridging message.
        let a = campaign_message(5);
        let b = campaign_message(9);
        let mut index = CampaignIndex::new();
        let mut lone_a = a.clone();
        lone_a.body_text =
            "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu".into();
        let mut lone_b = b.clone();
        lone_b.body_text =
            "one two three four five six seven eight nine ten eleven twelve thirteen".into();
        let image = "d".repeat(64);
        lone_a.image_sha256 = vec![image.clone()];
        index.insert(&lone_a.sha256, &fingerprint(&lone_a), lone_a.arrival_time);
        lone_b.attachment_sha256 = vec!["e".repeat(64)];
        index.insert(&lone_b.sha256, &fingerprint(&lone_b), lone_b.arrival_time);
        index.publish_ids();
        let mut bridge = campaign_message(20);
        bridge.image_sha256 = vec![image];
        bridge.attachment_sha256 = vec!["e".repeat(64)];
        let links = index.insert(&bridge.sha256, &fingerprint(&bridge), bridge.arrival_time);
        assert_eq!(links.len(), 2);
        let campaigns = index.campaigns();
        assert_eq!(campaigns.len(), 1);
        assert_eq!(campaigns[0].id, campaign_id(&a.sha256));
        assert_eq!(campaigns[0].aliases, vec![campaign_id(&b.sha256)]);
        assert_eq!(
            index.resolve(&campaign_id(&b.sha256)),
            Some(campaign_id(&a.sha256))
        );
        assert_eq!(
            index.campaign_of(&bridge.sha256),
            Some(campaign_id(&a.sha256))
        );
        assert_eq!(index.resolve("ffffffffffff"), None);
    }

    #[test]
    fn two_chronological_halves_give_the_batch_result_and_ids() {
        let mut messages = corpus();
        messages.sort_by_key(|m| (m.arrival_time, m.sha256.clone()));
        let (first, second) = messages.split_at(messages.len() / 2);
        let mut index = CampaignIndex::new();
        for m in first {
            index.insert(&m.sha256, &fingerprint(m), m.arrival_time);
        }
        let ids_before: Vec<String> = first
            .iter()
            .filter_map(|m| index.campaign_of(&m.sha256))
            .collect();
        index.publish_ids();
        for m in second {
            index.insert(&m.sha256, &fingerprint(m), m.arrival_time);
        }
        let ids_after: Vec<String> = first
            .iter()
            .filter_map(|m| index.campaign_of(&m.sha256))
            .collect();
        assert_eq!(ids_before, ids_after);
        let mut incremental: Vec<(String, Vec<String>)> = index
            .campaigns()
            .into_iter()
            .map(|c| {
                let mut m = c.members;
                m.sort();
                (c.id, m)
            })
            .collect();
        incremental.sort();
        assert_eq!(incremental, partition(&corpus()));
    }

    #[test]
    fn reinsert_is_ignored_and_identical_copies_collapse() {
        let mut index = CampaignIndex::new();
        let m = campaign_message(1);
        let fp = fingerprint(&m);
        index.insert(&m.sha256, &fp, m.arrival_time);
        assert!(index.insert(&m.sha256, &fp, m.arrival_time).is_empty());
        let mut copy = m.clone();
        copy.sha256 = "f".repeat(64);
        let links = index.insert(&copy.sha256, &fingerprint(&copy), None);
        assert!(matches!(
            links[0].evidence[0],
            Evidence::IdenticalText { .. }
        ));
        assert_eq!(index.len(), 2);
        assert_eq!(index.campaigns().len(), 1);
        assert_eq!(
            index.bucket_entries(),
            super::super::lsh::BANDS + fp.content_keys.len()
        );
    }

    #[test]
    fn messages_without_text_or_keys_stay_singletons() {
        let mut index = CampaignIndex::new();
        for i in 0..3 {
            let m = MessageFeatures {
                sha256: format!("{i:064}"),
                ..MessageFeatures::default()
            };
            assert!(index.insert(&m.sha256, &fingerprint(&m), None).is_empty());
        }
        assert_eq!(index.campaigns().len(), 3);
    }

    #[test]
    fn index_round_trips_through_json() {
        let mut index = CampaignIndex::new();
        for m in corpus().iter().take(10) {
            index.insert(&m.sha256, &fingerprint(m), m.arrival_time);
        }
        let json = serde_json::to_string(&index).unwrap_or_default();
        let back: Option<CampaignIndex> = serde_json::from_str(&json).ok();
        assert_eq!(back.map(|b| b.campaigns()), Some(index.campaigns()));
    }
}
