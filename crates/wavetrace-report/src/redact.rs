//! Redaction: what is shared must not leak the victims' data again.
//!
//! Personal values are:
//! * the recipients' addresses ([`recipient_addresses`]: To, Cc, and the
//!   Received chain's `for` clauses, all there is for a Bcc'd recipient),
//!   with their percent-encoded and base64 forms, as tracking links carry
//!   them, and a local part shaped like a person's (`jane.doe47`);
//! * person-like recipient names, and a single word of one only where the
//!   message greets the recipient with it (`Dear Mariam`);
//! * the values each member put in the campaign template's personal slots
//!   ([`personal_slots`], found with [`wavetrace_core::campaign::fill`]),
//!   and the postal address that follows the recipient's name.
//!
//! The [`Collector`] gathers them from the exported campaigns and, through
//! the caller, from every stored message and personalised campaign, so
//! what is redacted does not depend on the selection. Before any exporter
//! sees the data, every string of every record and summary is rewritten
//! with each value replaced by `[personal:HASH]`, a salted SHA-256 (the
//! salt is the database's, so the same value gets the same hash in every
//! export of that database and hashes cannot be looked up in a dictionary
//! without it). Recipient mailboxes become `[recipient:HASH]` with their
//! domain kept. A record that does not survive the rewriting is left out.
//! Exporters therefore cannot forget to redact: they only ever see
//! redacted data.
//!
//! Matching ignores ASCII case, runs of white space, invisible characters
//! and lookalike letters. Names and other phrases are replaced as whole
//! words only (`Lee` in `Dear Lee,` but not in `Leeds`); addresses wherever
//! they occur (`%2cjane@…`). Values shorter than [`MIN_VALUE_CHARS`] are
//! not matched: they would erase ordinary words.

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde_json::Value;
use sha2::{Digest, Sha256};
use wavetrace_core::campaign::normalise::{clean_char, clean_characters, SALUTATIONS};
use wavetrace_core::campaign::template::classify_value;
use wavetrace_core::campaign::{
    fill, varies_per_member, CampaignSummary, SlotType, TemplateSegment,
};
use wavetrace_core::detect::personal::postal_addresses;
use wavetrace_core::record::{Mailbox, MessageRecord};

use crate::indicators::with_safest_roles;
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

/// Personal values to redact.
#[derive(Debug, Default)]
pub struct PersonalValues {
    /// Matched in any case, anywhere, even inside a word: recipient
    /// addresses and their encoded forms, which tracking links glue to
    /// encoding debris (`%2cjane@…`, `=3Djane@…`).
    pub anywhere: Vec<String>,
    /// Matched in any case: addresses, whole names, street addresses, phones.
    pub phrases: Vec<String>,
    /// Single words of a person's name (`Mariam` in `Dear Mariam,`), matched
    /// only as written with their capital letter: in any case `Will` or
    /// `Page` would erase ordinary words.
    pub name_words: Vec<String>,
}

/// Replaces personal values with salted hashes.
#[derive(Debug)]
pub struct Redactor {
    salt: Vec<u8>,
    anywhere: Option<AhoCorasick>,
    phrases: Option<AhoCorasick>,
    name_words: Option<AhoCorasick>,
    values: usize,
}

/// The distinct cleaned patterns of at least [`MIN_VALUE_CHARS`].
fn patterns(values: &[String], lower: bool) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| collapse(v))
        .map(|v| if lower { v.to_lowercase() } else { v })
        .filter(|v| v.chars().count() >= MIN_VALUE_CHARS)
        .collect()
}

fn matcher(patterns: &BTreeSet<String>, any_case: bool) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(any_case)
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .ok()
}

impl Redactor {
    /// A redactor for the given personal values.
    pub fn new(salt: &[u8], values: &PersonalValues) -> Redactor {
        let anywhere = patterns(&values.anywhere, true);
        let phrases = patterns(&values.phrases, true);
        let words = patterns(&values.name_words, false);
        Redactor {
            salt: salt.to_vec(),
            anywhere: matcher(&anywhere, true),
            phrases: matcher(&phrases, true),
            name_words: matcher(&words, false),
            values: anywhere.len() + phrases.len() + words.len(),
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
        if self.anywhere.is_none() && self.phrases.is_none() && self.name_words.is_none() {
            return None;
        }
        let (collapsed, offsets) = collapse_with_offsets(s);
        let whole_word = |m: &aho_corasick::Match| {
            let before = collapsed[..m.start()].chars().next_back();
            let after = collapsed[m.end()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        };
        let mut found: Vec<(usize, usize)> = self
            .anywhere
            .iter()
            .flat_map(|m| m.find_iter(&collapsed))
            .chain(
                [&self.phrases, &self.name_words]
                    .into_iter()
                    .flatten()
                    .flat_map(|m| m.find_iter(&collapsed))
                    .filter(whole_word),
            )
            .map(|m| (m.start(), m.end()))
            .collect();
        if found.is_empty() {
            return None;
        }
        // Earliest first, the longer of two at the same place; overlaps dropped.
        found.sort_by_key(|&(start, end)| (start, std::cmp::Reverse(end)));
        let mut out = String::new();
        let (mut copied, mut covered) = (0, 0);
        for (start, end) in found {
            if start < covered {
                continue;
            }
            out.push_str(&s[copied..offsets[start]]);
            out.push_str(&format!("[personal:{}]", self.hash(&collapsed[start..end])));
            copied = offsets[end];
            covered = end;
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

    /// The record with recipients pseudonymised and every string redacted;
    /// None (never the unredacted record) if it does not round-trip.
    pub fn record(&self, record: &MessageRecord) -> Option<MessageRecord> {
        let mut r = record.clone();
        for m in r.to.iter_mut().chain(r.cc.iter_mut()) {
            self.recipient(m);
        }
        self.through_json(&r)
    }

    /// Round-trips a value through JSON with every string redacted.
    fn through_json<T: serde::Serialize + serde::de::DeserializeOwned>(&self, v: &T) -> Option<T> {
        let mut json = serde_json::to_value(v).ok()?;
        self.json(&mut json);
        serde_json::from_value(json).ok()
    }
}

/// Lookalike letters folded, invisible characters dropped, runs of white
/// space collapsed to one space, trimmed.
fn collapse(s: &str) -> String {
    clean_characters(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` cleaned as [`collapse`] does (but not trimmed), and for each byte
/// of the result (and one past its end) the byte offset in `s` of the
/// character it came from.
fn collapse_with_offsets(s: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(s.len());
    let mut offsets = Vec::with_capacity(s.len() + 1);
    let mut in_space = false;
    for (at, original) in s.char_indices() {
        // Lookalike letters folded and invisible characters dropped, as the
        // values were when the template was built: `Jоhn` (Cyrillic `о`)
        // or `Jo\u{200B}hn` is still John.
        let Some(c) = clean_char(original) else {
            continue;
        };
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
                offsets.push(at);
            }
            in_space = true;
            continue;
        }
        in_space = false;
        for _ in 0..c.len_utf8() {
            offsets.push(at);
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

/// The personal values of one recipient mailbox. `greeted` is the
/// message's cleaned, lower-cased text: a single word of the recipient's
/// name is personal only where the message greets them with it (`Dear
/// Mariam`); taken everywhere, list names such as `Irish Linux Users Group`
/// would erase `Linux` from every report.
fn mailbox_values(mailbox: &Mailbox, greeted: &str, out: &mut PersonalValues) {
    if let Some(address) = &mailbox.address {
        address_values(address, out);
    }
    if let Some(name) = mailbox.name.as_deref().filter(|n| person_like(n)) {
        let before = out.name_words.len();
        name_values(name, out);
        let words = out.name_words.split_off(before);
        out.name_words.extend(words.into_iter().filter(|w| {
            let w = collapse(w).to_lowercase();
            SALUTATIONS
                .iter()
                .any(|s| greeted.contains(&format!("{s} {w}")))
        }));
    }
}

/// A recipient address and the forms it takes in tracking links: percent-
/// encoded, base64 (standard and URL-safe, unpadded), and a local part
/// shaped like a person's (`jane.doe47`; `business` or `linux` alone would
/// erase ordinary words).
fn address_values(address: &str, out: &mut PersonalValues) {
    let lower = address.trim().to_lowercase();
    if !lower.contains('@') {
        return;
    }
    out.anywhere.push(lower.replace('@', "%40"));
    out.anywhere
        .push(lower.replace('@', "%40").replace('.', "%2e"));
    for form in [address.trim(), lower.as_str()] {
        let b64 = crate::html::base64(form.as_bytes());
        let b64 = b64.trim_end_matches('=');
        out.anywhere.push(b64.to_string());
        out.anywhere.push(b64.replace('+', "-").replace('/', "_"));
    }
    if let Some((local, _)) = lower.split_once('@') {
        let personal_shape =
            local.contains(['.', '_']) || local.contains(|c: char| c.is_ascii_digit());
        if local.len() >= 5 && personal_shape && !ROLE_LOCAL_PARTS.contains(&local) {
            out.phrases.push(local.to_string());
        }
    }
    out.anywhere.push(lower);
}

/// Every recipient address of a record: To, Cc, and the envelope
/// recipients the Received chain names (`for <…>`), which are all there is
/// when the recipient was Bcc'd (`To: undisclosed-recipients:;`).
/// Lower-cased, each once, in that order.
pub fn recipient_addresses(record: &MessageRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let headers = record
        .to
        .iter()
        .chain(&record.cc)
        .filter_map(|m| m.address.clone());
    let envelope = record
        .received
        .iter()
        .filter_map(|h| h.hop.envelope_for.clone());
    for a in headers.chain(envelope) {
        let a = a
            .trim()
            .trim_start_matches('<')
            .trim_end_matches(['>', ';'])
            .trim()
            .to_lowercase();
        if a.contains('@') && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The record's subject and body start, cleaned as values are, lower-cased,
/// one space between words.
fn greeting_text(record: &MessageRecord) -> String {
    let body = wavetrace_core::parse::prefix(&record.body.text, GREETING_TEXT);
    collapse(&format!(
        "{} {body}",
        record.subject.as_deref().unwrap_or("")
    ))
    .to_lowercase()
}

/// Text searched for greetings, from the start of the body.
const GREETING_TEXT: usize = 4096;

/// A person's name, its URL-encoded forms, and each of its capitalised words.
fn name_values(name: &str, out: &mut PersonalValues) {
    let name = collapse(name.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace()));
    for word in name.split([' ', ',']) {
        let word = word.trim_matches(['.', ',', '\'']);
        if word.chars().next().is_some_and(char::is_uppercase) {
            // As written, and in capitals (`MARIAM, your account…`).
            out.name_words.push(word.to_uppercase());
            out.name_words.push(word.to_string());
        }
    }
    out.phrases.push(name.replace(' ', "+"));
    out.phrases.push(name.replace(' ', "%20"));
    out.phrases.push(name);
}

/// Whether a template segment is text ending with a salutation (`Dear`).
fn ends_with_salutation(segment: &TemplateSegment) -> bool {
    let TemplateSegment::Text { text } = segment else {
        return false;
    };
    text.split_whitespace()
        .next_back()
        .map(|w| w.trim_end_matches(['.', ',', ':']).to_lowercase())
        .is_some_and(|w| SALUTATIONS.contains(&w.as_str()))
}

/// The personal values in a campaign: its recipients and what its members
/// put in personal template slots.
fn campaign_values(campaign: &CampaignExport, out: &mut PersonalValues) {
    let personal_slots = personal_slots(&campaign.summary);
    for r in &campaign.members {
        let greeted = greeting_text(r);
        for m in r.to.iter().chain(&r.cc) {
            mailbox_values(m, &greeted, out);
        }
        for a in recipient_addresses(r) {
            address_values(&a, out);
        }
        out.phrases.extend(postal_addresses(r));
        let Some(t) = &campaign.summary.template else {
            continue;
        };
        for (slot, slot_type, value) in fill(t, &r.body.text) {
            // A value is taken only when it is of the slot's type: a slot
            // mostly of names may still catch a stray word.
            if !personal_slots.contains(slot.as_str()) || classify_value(&value) != slot_type {
                continue;
            }
            match slot_type {
                SlotType::Name => name_values(&value, out),
                _ => out
                    .phrases
                    .push(value.trim_end_matches(['.', ',', ';', ':']).to_string()),
            }
        }
    }
}

/// The template slots of a campaign that hold each recipient's data:
/// typed street address, phone or email, or a name after a salutation,
/// and varying per member. A slot with a few wording variants (a sign-off
/// typed `name`) holds no one's data.
pub fn personal_slots(summary: &CampaignSummary) -> BTreeSet<&str> {
    let segments: &[TemplateSegment] = summary.template.as_ref().map_or(&[], |t| &t.segments);
    segments
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            TemplateSegment::Slot {
                slot,
                slot_type,
                distinct_values,
            } if varies_per_member(*distinct_values, summary.size) => {
                let personal = match slot_type {
                    // Two capitalised words vary in much legitimate mail
                    // (headlines, products): a name slot is a person's
                    // only after a salutation.
                    SlotType::Name => i
                        .checked_sub(1)
                        .and_then(|p| segments.get(p))
                        .is_some_and(ends_with_salutation),
                    SlotType::StreetAddress | SlotType::Phone | SlotType::Email => true,
                    _ => false,
                };
                personal.then_some(slot.as_str())
            }
            _ => None,
        })
        .collect()
}

/// Builds the export set one campaign at a time, so the caller never holds
/// every member's full record: each campaign's personal values are taken
/// while its body texts are there, then the bodies are dropped (no exporter
/// shows a body: it is hostile, personal, and most of a record's size).
#[derive(Debug, Default)]
pub struct Collector {
    campaigns: Vec<CampaignExport>,
    values: PersonalValues,
    recipients: BTreeSet<String>,
}

impl Collector {
    /// Adds a campaign (summary and member records, as stored).
    pub fn add(&mut self, mut campaign: CampaignExport) {
        campaign_values(&campaign, &mut self.values);
        for r in &mut campaign.members {
            self.recipients.extend(recipient_addresses(r));
            r.body.text = String::new();
        }
        self.campaigns.push(campaign);
    }

    /// Takes the personal values of a campaign that is not exported (its
    /// recipients and personal slot values), for the same reason as
    /// [`Collector::add_recipients_of`]. Only campaigns with
    /// [`personal_slots`] need it: the rest add nothing a pass over every
    /// message's recipients does not.
    pub fn add_values_of(&mut self, campaign: &CampaignExport) {
        campaign_values(campaign, &mut self.values);
    }

    /// Takes the recipients (addresses, person-like names) of a message
    /// that is not exported: what is redacted must not depend on the
    /// selection (a victim of one campaign may send, or be named in, one
    /// that is exported). Give it every stored message.
    pub fn add_recipients_of(&mut self, record: &MessageRecord) {
        for a in recipient_addresses(record) {
            address_values(&a, &mut self.values);
        }
        for m in record.to.iter().chain(&record.cc) {
            if let Some(name) = m.name.as_deref().filter(|n| person_like(n)) {
                let before = self.values.name_words.len();
                name_values(name, &mut self.values);
                self.values.name_words.truncate(before);
            }
        }
    }

    /// The export set as shared: with `include_personal`, the data as
    /// stored (bodies dropped); otherwise every record and summary redacted
    /// (see the module docs).
    pub fn finish(self, database_messages: u64, salt: &[u8], include_personal: bool) -> ExportSet {
        let mut set = self.redacted(database_messages, salt, include_personal);
        let observables = with_safest_roles(&set.campaigns);
        for (c, o) in set.campaigns.iter_mut().zip(observables) {
            c.observables = o;
        }
        set
    }

    fn redacted(self, database_messages: u64, salt: &[u8], include_personal: bool) -> ExportSet {
        if include_personal {
            return ExportSet {
                campaigns: self.campaigns,
                database_messages,
                personal: Personal {
                    included: true,
                    ..Personal::default()
                },
            };
        }
        let redactor = Redactor::new(salt, &self.values);
        // Fails closed: a summary or record that does not round-trip
        // through JSON is left out, never shared unredacted.
        let campaigns: Vec<CampaignExport> = self
            .campaigns
            .into_iter()
            .filter_map(|c| {
                Some(CampaignExport {
                    summary: redactor.through_json(&c.summary)?,
                    members: c
                        .members
                        .iter()
                        .filter_map(|r| redactor.record(r))
                        .collect(),
                    observables: Vec::new(),
                })
            })
            .collect();
        ExportSet {
            campaigns,
            database_messages,
            personal: Personal {
                included: false,
                values_redacted: redactor.value_count(),
                recipients_redacted: self.recipients.len(),
            },
        }
    }
}

/// [`Collector`] over campaigns already in memory.
pub fn prepare(
    campaigns: Vec<CampaignExport>,
    database_messages: u64,
    salt: &[u8],
    include_personal: bool,
) -> ExportSet {
    let mut collector = Collector::default();
    for c in campaigns {
        collector.add(c);
    }
    collector.finish(database_messages, salt, include_personal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        let mut values = PersonalValues::default();
        mailbox_values(
            &Mailbox {
                name: Some("Jane  Lee".into()),
                address: Some("Jane.Lee47@Example.org".into()),
                domain: Some("example.org".into()),
            },
            "dear jane lee, hello lee",
            &mut values,
        );
        values.phrases.push("12 Elm Street".into());
        Redactor::new(b"salt", &values)
    }

    fn phrases(values: &[&str]) -> PersonalValues {
        PersonalValues {
            phrases: values.iter().map(|v| v.to_string()).collect(),
            ..PersonalValues::default()
        }
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
            Redactor::new(b"other", &PersonalValues::default()).hash("jane lee"),
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
    fn lookalike_letters_and_invisible_characters_do_not_hide_a_value() {
        let r = redactor();
        // Cyrillic `е` in Lee and Street, a zero-width space in Jane.
        let out = r
            .text("Dear Ja\u{200B}ne L\u{0435}e of 12 Elm Str\u{0435}et.")
            .unwrap_or_default();
        assert_eq!(out.matches("[personal:").count(), 2, "{out}");
        assert!(
            out.starts_with("Dear [personal:") && out.ends_with("]."),
            "{out}"
        );
    }

    #[test]
    fn addresses_are_found_inside_encodings() {
        let r = redactor();
        for link in [
            "https://x.example/u?x=a%2cjane.lee47@example.org",
            "https://x.example/u?e=3Djane.lee47@example.org&",
            "https://x.example/u?e=jane.lee47%40example%2eorg",
            "https://x.example/u?t=amFuZS5sZWU0N0BleGFtcGxlLm9yZw",
            "https://x.example/u?t=SmFuZS5MZWU0N0BFeGFtcGxlLm9yZw==",
        ] {
            let out = r.text(link).unwrap_or_default();
            assert!(out.contains("[personal:"), "{link}: {out}");
            assert!(!out.to_lowercase().contains("jane"), "{out}");
            assert!(!out.contains("amFuZS5sZWU0N0"), "{out}");
        }
        let out = r.text("JANE, your parcel").unwrap_or_default();
        assert!(out.starts_with("[personal:"), "{out}");
    }

    #[test]
    fn single_name_words_only_as_written() {
        let r = redactor();
        let out = r.text("Dear Jane, a lee shore").unwrap_or_default();
        assert!(
            out.starts_with("Dear [personal:") && out.ends_with(", a lee shore"),
            "{out}"
        );
        assert_eq!(r.text("jane street"), None);
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
            let r = Redactor::new(b"p", &phrases(&[&value]));
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
        let r = Redactor::new(b"s", &phrases(&["José Núñez"]));
        let out = r.text("¡Hola José\tNúñez!").unwrap_or_default();
        assert!(
            out.starts_with("¡Hola [personal:") && out.ends_with("]!"),
            "{out}"
        );
    }
}
