//! Personalisation: recipient-specific data in the body (the recipient's
//! name, address, postal address near the name). A sign that a data set
//! (voter rolls, a breach, a customer list) was used to target recipients.
//! The campaign's template slots give the same evidence across members
//! (see `campaign::summary`).

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::record::{Mailbox, MessageRecord};

use super::lookalike::fold_name;

/// What recipient-specific data the message carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Personalisation {
    /// A recipient's display name (two words or more) is in the subject or body.
    pub recipient_name: bool,
    /// A recipient's address is in the subject or body.
    pub recipient_address: bool,
    /// A recipient's address is in the subject (`jane@example.org, your
    /// account...`): mail merge by address, the mark of bulk lures (577 of
    /// phishing_pot, 2 list subjects in the ham).
    #[serde(default)]
    pub recipient_address_in_subject: bool,
    /// A postal address close after the recipient's name (within 300
    /// bytes): name and home address, the voter-roll pattern.
    pub postal_address: bool,
    /// What was found, in words (the values are the recipient's own data:
    /// exports redact them).
    pub evidence: Vec<String>,
}

/// Recipients examined (To, then Cc).
const MAX_RECIPIENTS: usize = 5;
/// Text examined, from the start of the body.
const MAX_TEXT: usize = 64 * 1024;
/// Bytes after the name in which a postal address counts as the recipient's.
const ADDRESS_WINDOW: usize = 300;

/// Finds recipient data in the record's subject and body.
pub fn personalisation(record: &MessageRecord) -> Personalisation {
    let mut found = Personalisation::default();
    let text = head(&record.body.text, MAX_TEXT);
    // Folding the text costs more than the rest together: only done when
    // a recipient has a person's name to look for.
    let mut folded: Option<(String, String)> = None;
    // The text lower-cased once for every recipient's address.
    let mut lower_text: Option<String> = None;
    let recipients = record.to.iter().chain(&record.cc).take(MAX_RECIPIENTS);
    for recipient in recipients {
        if let Some(name) = person_name(recipient) {
            let (folded_subject, folded_text) = folded.get_or_insert_with(|| {
                (
                    format!(" {} ", fold_name(record.subject.as_deref().unwrap_or(""))),
                    format!(" {} ", fold_name(&without_address_lines(text))),
                )
            });
            let needle = format!(" {name} ");
            let in_subject = folded_subject.contains(&needle);
            let in_body = folded_text.contains(&needle);
            if in_subject || in_body {
                found.recipient_name = true;
                found.evidence.push(format!(
                    "the recipient's name appears in the {}",
                    if in_subject { "subject" } else { "body" }
                ));
                if let Some(address) = postal_address_after_name(text, recipient) {
                    found.postal_address = true;
                    found
                        .evidence
                        .push(format!("a postal address follows the name: {address}"));
                }
            }
        }
        if let Some(address) = recipient.address.as_deref().filter(|a| a.contains('@')) {
            let lower = address.to_ascii_lowercase();
            let in_subject = record
                .subject
                .as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().contains(&lower));
            found.recipient_address_in_subject |= in_subject;
            let in_text = in_subject
                || lower_text
                    .get_or_insert_with(|| text.to_ascii_lowercase())
                    .contains(&lower);
            if in_text {
                found.recipient_address = true;
                found
                    .evidence
                    .push("the recipient's address appears in the message".to_string());
            }
        }
        if found.recipient_name && found.recipient_address {
            break;
        }
    }
    found.evidence.dedup();
    found
}

/// The postal addresses that follow a recipient's name in the body (the
/// values behind the `postal_address` evidence): exports redact them.
pub fn postal_addresses(record: &MessageRecord) -> Vec<String> {
    let text = head(&record.body.text, MAX_TEXT);
    record
        .to
        .iter()
        .chain(&record.cc)
        .take(MAX_RECIPIENTS)
        .filter(|r| person_name(r).is_some())
        .filter_map(|r| postal_address_after_name(text, r))
        .collect()
}

/// The text without lines that name someone with an address (`Cc: Jane
/// Doe <jane@x>`, `Signed-off-by: ...`, quoted headers): a name there is
/// routing, not personalisation (253 linux-sparse patches carried the
/// recipient's name in their `Cc:` trailers).
fn without_address_lines(text: &str) -> String {
    text.lines()
        .filter(|line| !(line.contains('@') && line.contains('<')))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The recipient's display name, folded, when it looks like a person's
/// (two words or more of two letters or more, not an address).
fn person_name(mailbox: &Mailbox) -> Option<String> {
    let name = mailbox.name.as_deref()?;
    if name.contains('@') {
        return None;
    }
    let folded = fold_name(name);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let full_words = words.iter().filter(|w| w.len() >= 2).count();
    // Initials stay in the phrase ("Jane Q. Voter" is written "Jane Q. Voter").
    (full_words >= 2 && words.iter().all(|w| w.chars().all(char::is_alphabetic)))
        .then(|| words.join(" "))
}

/// A street address in the window after the recipient's name as written.
fn postal_address_after_name(text: &str, recipient: &Mailbox) -> Option<String> {
    let name = recipient.name.as_deref()?;
    let last = name.split_whitespace().last()?;
    let lower = text.to_lowercase();
    let at = lower.find(&last.to_lowercase())?;
    let start = at + last.len();
    let mut end = (start + ADDRESS_WINDOW).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let window = text.get(start..end)?;
    street_address()
        .find(window)
        .map(|m| m.as_str().to_string())
}

/// Street addresses as written in the six languages the lexicons cover:
/// `1234 Oak Street`, `Hauptstraße 12`, `Kerkstraat 5`, `12 rue de la Paix`,
/// `Calle Mayor 5`, `Rua Augusta, 120`.
fn street_address() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][\w'.-]*\s+){1,3}",
            r"(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Lane|Ln|Boulevard|Blvd|Court|Ct|Way",
            r"|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Trl)\b\.?",
            r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|weg|gasse|platz|allee|straat|laan|plein|gracht|kade)\s+\d{1,4}[a-z]?\b",
            r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|allée|impasse|chemin|place)\s+\w+",
            r"|\b(?:Calle|Avenida|Avda\.?|Rua|Travessa|Praça|Plaza|Paseo)\s+[A-Z][\w ]{2,40}?,?\s+(?:n[º°o]\.?\s*)?\d{1,5}\b",
        ))
        .unwrap_or_else(|_| Regex::new("$^").expect("an empty-match regex compiles"))
    })
}

fn head(text: &str, max: usize) -> &str {
    crate::parse::prefix(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{analyse, AnalysisConfig, Sighting};

    fn record(raw: &str) -> MessageRecord {
        analyse(
            raw.as_bytes(),
            &Sighting::default(),
            &AnalysisConfig::default(),
        )
        .unwrap()
    }

    #[test]
    fn street_address_pattern_compiles_and_reads_each_language() {
        for (text, hit) in [
            ("lives at 1234 Oak Street, Tallahassee", true),
            ("Hauptstraße 12, Berlin", true),
            ("Kerkstraat 5 Utrecht", true),
            ("12 rue de la Paix", true),
            ("Calle Mayor 5", true),
            ("Rua Augusta, 120", true),
            ("we have 300 happy customers", false),
        ] {
            assert_eq!(street_address().is_match(text), hit, "{text}");
        }
    }

    #[test]
    fn name_and_home_address_of_the_recipient() {
        let r = record(
            "From: a@b.example\nTo: \"Jane Q Doe\" <jane@voter.example>\nSubject: x\n\n\
             Jane Q Doe\n1234 Oak Street, Tallahassee FL\nWe know who you voted for.\n",
        );
        let p = personalisation(&r);
        assert!(p.recipient_name && p.postal_address, "{p:?}");
        assert!(!p.recipient_address);
    }

    #[test]
    fn names_in_address_lines_are_routing() {
        let r = record(
            "From: a@b.example\nTo: \"Jane Doe\" <jane@x.example>\nSubject: [PATCH] fix\n\n\
             Fix the thing.\n\nCc: Jane Doe <jane@x.example>\nSigned-off-by: Bob <bob@b.example>\n",
        );
        assert!(!personalisation(&r).recipient_name);
    }

    #[test]
    fn a_generic_greeting_is_not_personal() {
        let r = record(
            "From: a@b.example\nTo: \"Jane Doe\" <jane@x.example>\nSubject: x\n\n\
             Dear customer, 1 Main Street is our office.\n",
        );
        assert_eq!(personalisation(&r), Personalisation::default());
    }

    #[test]
    fn the_recipient_address_in_the_body() {
        let r = record(
            "From: a@b.example\nTo: jane@x.example\nSubject: Mailbox jane@x.example full\n\nhi\n",
        );
        assert!(personalisation(&r).recipient_address);
    }
}
