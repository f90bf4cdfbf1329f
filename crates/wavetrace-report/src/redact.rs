//! Redaction: what is shared must not leak the victims' data again.
//!
//! Personal values are the recipients' addresses (also percent-encoded, as
//! in tracking links) and person-like display names, and the values each
//! member put in the campaign template's `name`, `street_address`, `phone`
//! and `email` slots (found with [`wavetrace_core::campaign::fill`]). Before
//! any exporter sees the data, every string of every record and summary is
//! rewritten with each personal value replaced by `[personal:HASH]`, a salted
//! SHA-256 (the salt is the database's, so the same value gets the same hash
//! in every export of that database and hashes cannot be looked up in a
//! dictionary without it). Recipient mailboxes become `[recipient:HASH]`
//! with their domain kept. Exporters therefore cannot forget to redact: they
//! only ever see redacted data.
//!
//! Matching ignores ASCII case and runs of white space, and only replaces
//! whole words (`Lee` is redacted in `Dear Lee,` but not in `Leeds`).
//! Values shorter than [`MIN_VALUE_CHARS`] are not matched: they would
//! erase ordinary words.

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde_json::Value;
use sha2::{Digest, Sha256};
use wavetrace_core::campaign::{fill, varies_per_member, SlotType, TemplateSegment};
use wavetrace_core::record::{Mailbox, MessageRecord};

use crate::model::{CampaignExport, ExportSet, Personal};

/// Shortest personal value matched in text.
pub const MIN_VALUE_CHARS: usize = 3;

/// Hex characters of the salted hash shown in place of a value.
const HASH_HEX: usize = 12;

/// Local parts that name a role, not a person: not redacted on their own.
const ROLE_LOCAL_PARTS: [&str; 16] = [
    "info",
    "admin",
    "sales",
    "support",
    "contact",
    "office",
    "noreply",
    "no-reply",
    "webmaster",
    "postmaster",
    "abuse",
    "billing",
    "hello",
    "team",
    "mail",
    "service",
];

/// Replaces personal values with salted hashes.
#[derive(Debug)]
pub struct Redactor {
    salt: Vec<u8>,
    matcher: Option<AhoCorasick>,
    values: usize,
}

impl Redactor {
    /// A redactor for the given personal values (any case, any spacing).
    pub fn new(salt: &[u8], values: impl IntoIterator<Item = String>) -> Redactor {
        let patterns: BTreeSet<String> = values
            .into_iter()
            .map(|v| collapse(&v).to_lowercase())
            .filter(|v| v.chars().count() >= MIN_VALUE_CHARS)
            .collect();
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .ok()
        };
        Redactor {
            salt: salt.to_vec(),
            matcher,
            values: patterns.len(),
        }
    }

    /// Distinct values matched.
    pub fn value_count(&self) -> usize {
        self.values
    }

    /// The salted hash shown for a value (case and spacing ignored).
    pub fn hash(&self, value: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update([0]);
        h.update(collapse(value).to_lowercase().as_bytes());
        let digest = h.finalize();
        let mut hex = String::with_capacity(HASH_HEX);
        for b in digest.iter().take(HASH_HEX / 2) {
            hex.push_str(&format!("{b:02x}"));
        }
        hex
    }

    /// The text with every personal value replaced; None when nothing was.
    pub fn text(&self, s: &str) -> Option<String> {
        let matcher = self.matcher.as_ref()?;
        let (collapsed, offsets) = collapse_with_offsets(s);
        let mut out = String::new();
        let mut copied = 0;
        for m in matcher.find_iter(&collapsed) {
            let before = collapsed[..m.start()].chars().next_back();
            let after = collapsed[m.end()..].chars().next();
            if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric)
            {
                continue;
            }
            let start = offsets[m.start()];
            let end = offsets[m.end()];
            out.push_str(&s[copied..start]);
            out.push_str(&format!("[personal:{}]", self.hash(&collapsed[m.range()])));
            copied = end;
        }
        if copied == 0 && out.is_empty() {
            return None;
        }
        out.push_str(&s[copied..]);
        Some(out)
    }

    /// Rewrites every string in a JSON value.
    fn json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(r) = self.text(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }

    /// A recipient mailbox as shared: `[recipient:HASH]`, its domain kept.
    fn recipient(&self, mailbox: &mut Mailbox) {
        if let Some(address) = mailbox.address.take() {
            mailbox.address = Some(format!("[recipient:{}]", self.hash(&address)));
        }
        mailbox.name = None;
    }

    /// The record with recipients pseudonymised and every string redacted.
    pub fn record(&self, record: &MessageRecord) -> MessageRecord {
        let mut r = record.clone();
        for m in r.to.iter_mut().chain(r.cc.iter_mut()) {
            self.recipient(m);
        }
        self.through_json(&r).unwrap_or(r)
    }

    /// Round-trips a value through JSON with every string redacted.
    fn through_json<T: serde::Serialize + serde::de::DeserializeOwned>(&self, v: &T) -> Option<T> {
        let mut json = serde_json::to_value(v).ok()?;
        self.json(&mut json);
        serde_json::from_value(json).ok()
    }
}

/// Collapses runs of white space to one space and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with white-space runs collapsed to one space, and for each byte of
/// the result (and one past its end) the byte offset in `s` it came from.
fn collapse_with_offsets(s: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(s.len());
    let mut offsets = Vec::with_capacity(s.len() + 1);
    let mut in_space = false;
    for (at, c) in s.char_indices() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
                offsets.push(at);
            }
            in_space = true;
            continue;
        }
        in_space = false;
        for i in 0..c.len_utf8() {
            offsets.push(at + i);
        }
        out.push(c);
    }
    offsets.push(s.len());
    (out, offsets)
}

/// A display name that looks like a person's: two to four words, each
/// starting with a capital letter, letters, hyphens and apostrophes only.
fn person_like(name: &str) -> bool {
    let words: Vec<&str> = name.split_whitespace().collect();
    (2..=4).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '.' | ','))
        })
}

/// The personal values of one recipient mailbox.
fn mailbox_values(mailbox: &Mailbox, out: &mut Vec<String>) {
    if let Some(address) = &mailbox.address {
        let address = address.to_lowercase();
        out.push(address.replace('@', "%40"));
        if let Some((local, _)) = address.split_once('@') {
            if local.len() >= 5 && !ROLE_LOCAL_PARTS.contains(&local) {
                out.push(local.to_string());
            }
        }
        out.push(address);
    }
    if let Some(name) = mailbox.name.as_deref().filter(|n| person_like(n)) {
        name_values(name, out);
    }
}

/// A person's name, its URL-encoded forms, and each of its words.
fn name_values(name: &str, out: &mut Vec<String>) {
    let name = collapse(name.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace()));
    for word in name.split([' ', ',']) {
        out.push(word.trim_matches(['.', ',', '\'']).to_string());
    }
    out.push(name.replace(' ', "+"));
    out.push(name.replace(' ', "%20"));
    out.push(name);
}

/// The personal values in a campaign: its recipients and what its members
/// put in personal template slots.
fn campaign_values(campaign: &CampaignExport) -> Vec<String> {
    let mut out = Vec::new();
    // Slots filled per recipient; a slot with a few wording variants (a
    // sign-off typed `name`) holds no one's data.
    let personal_slots: BTreeSet<&str> = campaign
        .summary
        .template
        .iter()
        .flat_map(|t| &t.segments)
        .filter_map(|s| match s {
            TemplateSegment::Slot {
                slot,
                slot_type:
                    SlotType::Name | SlotType::StreetAddress | SlotType::Phone | SlotType::Email,
                distinct_values,
            } if varies_per_member(*distinct_values, campaign.members.len()) => Some(slot.as_str()),
            _ => None,
        })
        .collect();
    for r in &campaign.members {
        for m in r.to.iter().chain(&r.cc) {
            mailbox_values(m, &mut out);
        }
        if let Some(t) = &campaign.summary.template {
            for (slot, slot_type, value) in fill(t, &r.body.text) {
                if !personal_slots.contains(slot.as_str()) {
                    continue;
                }
                match slot_type {
                    SlotType::Name => name_values(&value, &mut out),
                    _ => out.push(value.trim_end_matches(['.', ',', ';', ':']).to_string()),
                }
            }
        }
    }
    out
}

/// The export set as shared: with `include_personal`, the data as stored;
/// otherwise every record and summary redacted (see the module docs).
pub fn prepare(
    campaigns: Vec<CampaignExport>,
    database_messages: u64,
    salt: &[u8],
    include_personal: bool,
) -> ExportSet {
    if include_personal {
        return ExportSet {
            campaigns,
            database_messages,
            personal: Personal {
                included: true,
                ..Personal::default()
            },
        };
    }
    let recipients: BTreeSet<String> = campaigns
        .iter()
        .flat_map(|c| &c.members)
        .flat_map(|r| r.to.iter().chain(&r.cc))
        .filter_map(|m| m.address.as_ref().map(|a| a.to_lowercase()))
        .collect();
    let redactor = Redactor::new(salt, campaigns.iter().flat_map(campaign_values));
    let campaigns = campaigns
        .iter()
        .map(|c| CampaignExport {
            summary: redactor
                .through_json(&c.summary)
                .unwrap_or_else(|| c.summary.clone()),
            members: c.members.iter().map(|r| redactor.record(r)).collect(),
        })
        .collect();
    ExportSet {
        campaigns,
        database_messages,
        personal: Personal {
            included: false,
            values_redacted: redactor.value_count(),
            recipients_redacted: recipients.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        let mut values = Vec::new();
        mailbox_values(
            &Mailbox {
                name: Some("Jane  Lee".into()),
                address: Some("Jane.Lee47@Example.org".into()),
                domain: Some("example.org".into()),
            },
            &mut values,
        );
        values.push("12 Elm Street".into());
        Redactor::new(b"salt", values)
    }

    #[test]
    fn values_are_replaced_by_salted_hashes() {
        let r = redactor();
        let out = r
            .text("Dear Jane Lee, we know 12 Elm\n  Street. Write to jane.lee47@example.org")
            .unwrap_or_default();
        assert!(!out.to_lowercase().contains("jane"), "{out}");
        assert!(!out.contains("Elm"), "{out}");
        assert!(out.starts_with("Dear [personal:"), "{out}");
        assert_eq!(out.matches("[personal:").count(), 3, "{out}");
        // The same value hashes the same whatever its case or spacing.
        assert_eq!(r.hash("Jane Lee"), r.hash("jane   lee"));
        assert_ne!(
            Redactor::new(b"other", Vec::new()).hash("jane lee"),
            r.hash("jane lee")
        );
    }

    #[test]
    fn only_whole_words_and_encoded_forms() {
        let r = redactor();
        assert_eq!(r.text("Leeds is nice"), None);
        let link = r.text("https://x.example/?u=jane.lee47%40example.org&n=Jane+Lee");
        let link = link.unwrap_or_default();
        assert!(!link.to_lowercase().contains("jane"), "{link}");
        assert_eq!(r.text("nothing personal"), None);
    }

    #[test]
    fn names_must_look_like_a_persons() {
        assert!(person_like("Jane Lee"));
        assert!(person_like("Mary-Ann O'Neil"));
        assert!(!person_like("Customer Service Team at the Bank"));
        assert!(!person_like("jane"));
        assert!(!person_like("undisclosed-recipients"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_redacted_without_panic(
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            value in "[A-Za-z]{3,8}( [A-Za-z]{3,8}){0,2}",
            spacing in "[ \t\n]{1,3}",
        ) {
            let r = Redactor::new(b"p", [value.clone()]);
            let _ = r.text(&before);
            let spaced = value.replace(' ', &spacing);
            let text = format!("{before} {spaced} {after}");
            let out = r.text(&text).unwrap_or_else(|| text.clone());
            // The value never survives as a word of its own.
            let (c, _) = collapse_with_offsets(&out);
            let lower = c.to_lowercase();
            let needle = value.to_lowercase();
            let whole_word = lower.match_indices(&needle).any(|(at, m)| {
                !lower[..at].chars().next_back().is_some_and(char::is_alphanumeric)
                    && !lower[at + m.len()..].chars().next().is_some_and(char::is_alphanumeric)
            });
            proptest::prop_assert!(!whole_word, "{out:?}");
        }
    }

    #[test]
    fn offsets_survive_multibyte_text() {
        let r = Redactor::new(b"s", ["José Núñez".to_string()]);
        let out = r.text("¡Hola José\tNúñez!").unwrap_or_default();
        assert!(
            out.starts_with("¡Hola [personal:") && out.ends_with("]!"),
            "{out}"
        );
    }
}
