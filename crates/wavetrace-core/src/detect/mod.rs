//! Stage 5: detection. A record in; signals, fired rules and a verdict out.
//!
//! Two layers, so that judgement stays editable and explainable:
//!
//! 1. **Signals** ([`Signals`]), measured in code: content classifiers
//!    ([`content`], lexicons in `data/lexicons`), impersonation and
//!    lookalike domains against the protected entities ([`entities`],
//!    [`lookalike`]), links and attachments ([`links`]), the sender's
//!    identity ([`sender`]), personalisation ([`personal`]). They are
//!    written into the record under `signals`.
//! 2. **Rules** ([`rules`]), conditions over the record's JSON (signals,
//!    authentication, origin, everything), in TOML files: the shipped set in
//!    `data/rules` and the user's own. Each fired rule adds its score, its
//!    labels and a `findings` entry with its evidence; the score against
//!    the thresholds ([`verdict`]) gives the verdict.
//!
//! Receivers' spam verdicts ([`receiver`]) are read by the parser and kept
//! as claims, never used: the rule loader refuses conditions on them, on
//! dates and on the mail client.

pub mod content;
pub mod entities;
pub mod links;
pub mod lookalike;
pub mod personal;
pub mod receiver;
pub mod rules;
pub mod sender;
pub mod text;
pub mod verdict;

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use verdict::{Label, Thresholds, Verdict};

use crate::origin::infra::{Finding, FindingCode};
use crate::record::MessageRecord;
use content::{ClassScore, Classifiers};
use entities::{Entity, LookalikeMatch, ProtectedEntities};
use links::{AttachmentSignals, LinkSignals};
use personal::Personalisation;
use rules::{LabelSet, RuleError, RuleFile, RuleSet, Severity};
use sender::SenderSignals;

/// Everything detection measured about one message: the inputs of the rules
/// (`signals.*` paths in conditions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// ISO 639-1 language of the text, when detection was reliable.
    pub language: Option<String>,
    /// Content classifier scores (0 to 1) and the phrases that triggered
    /// them, by classifier (`intimidation`, `extortion`, `data_possession`,
    /// `election`, `credential_phishing`, `payment_fraud`, `advance_fee`,
    /// `urgency`, `spam`); classifiers that found nothing are absent.
    pub content: BTreeMap<String, ClassScore>,
    /// Crypto-currency wallet addresses in the text (checksums verified).
    pub crypto_addresses: Vec<String>,
    /// The sender's identity: free mail, Reply-To, display-name claims.
    pub sender: SenderSignals,
    /// Display names naming a protected entity.
    pub impersonation: Vec<Impersonation>,
    /// A protected entity named in the subject while the From domain is not
    /// one of its own (`Start the day with a bonus from Amazon Prime` from a
    /// concert site): a brand lure, when the content is a pitch too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_entity: Option<String>,
    /// A protected entity named in the opening words of the body (the
    /// letterhead: `PayPal, Inc. Sale Receipt`, `Nubank: compra em análise`)
    /// while the From domain is not one of its own: a brand lure, when the
    /// content is a pitch too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_entity: Option<String>,
    /// Domains imitating a protected entity's, by where they were found.
    pub lookalikes: Vec<LookalikeHit>,
    /// Links: unwrapped rewriters, deceptive text, shorteners, IP literals.
    pub links: LinkSignals,
    /// Risky attachments.
    pub attachments: AttachmentSignals,
    /// Recipient-specific data in the message.
    pub personalisation: Personalisation,
    /// Words written with lookalike letters of another alphabet, invisible
    /// characters.
    #[serde(default)]
    pub obfuscation: text::Obfuscation,
}

/// A display name that names a protected entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impersonation {
    /// The protected entity's canonical name.
    pub entity: String,
    /// Its kind (`brand`, `bank`, `election-authority`, ...).
    pub kind: String,
    /// The name variant found in the display name.
    pub variant: String,
    /// The From domain.
    pub from_domain: Option<String>,
    /// Whether the From domain is one of the entity's own. When it is, the
    /// question is whether the domain authenticated (`auth.from_authenticated`).
    pub legitimate_domain: bool,
    /// The entity is an institution type known only by its titles and
    /// domain suffixes (`Board of Elections` under `.gov`), not a named
    /// organisation with its own domains: many real offices use other
    /// domains, so the match is weaker evidence.
    #[serde(default)]
    pub generic: bool,
}

/// A lookalike domain and where it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookalikeHit {
    /// `from`, `reply_to`, `return_path`, `sender`, `message_id` or `url`.
    pub field: String,
    /// The host as found.
    pub host: String,
    /// What it imitates and how.
    #[serde(flatten)]
    pub found: LookalikeMatch,
}

/// Which rule fired, in a `findings` entry with `code: rule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    /// The rule's id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// The score it added.
    pub score: i32,
    /// The labels it gave.
    pub labels: Vec<Label>,
    /// Its tags (MITRE ATT&CK ids and the like).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Which rule set judged a record (`analysis.rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesProvenance {
    /// Digest of the rules' semantic content: equal digests judge alike.
    pub digest: String,
    /// Number of enabled rules.
    pub count: usize,
    /// Where the rules came from (`builtin:impersonation.toml`, the user's files).
    pub sources: Vec<String>,
}

/// Top-level fields a rule may not read: receivers' verdicts measure
/// another filter, provenance says nothing about the message.
pub const FORBIDDEN_RULE_FIELDS: &[&str] = &["receiver_verdicts", "analysis"];

/// Field names a rule may not read wherever they are (`date`,
/// `received.timestamp`, `auth.dkim.signed_at`): when a message was written
/// or sent, and the age of the mail client, say nothing about its intent.
pub const FORBIDDEN_RULE_SEGMENTS: &[&str] = &[
    "date",
    "date_raw",
    "arrival_time",
    "arrival_time_source",
    "timestamp",
    "signed_at",
    "expires_at",
    "verified_at",
    "x_mailer",
    "user_agent",
];

/// Every field path of the record (`data/record_fields.txt`).
const RECORD_FIELDS: &str = include_str!("../../../../data/record_fields.txt");

/// Is `path` a field of the record's JSON?
pub fn is_record_field(path: &str) -> bool {
    static FIELDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    FIELDS
        .get_or_init(|| {
            RECORD_FIELDS
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect()
        })
        .contains(path)
}

/// What is wrong with a condition's field path, if anything: refused (see
/// [`FORBIDDEN_RULE_FIELDS`], [`FORBIDDEN_RULE_SEGMENTS`]) or not a field
/// of the record (a typo would silently disable the rule).
pub fn rule_path_problem(path: &str) -> Option<String> {
    let mut segments = path.split('.');
    let first = segments.next().unwrap_or(path);
    if FORBIDDEN_RULE_FIELDS.contains(&first) {
        return Some(format!(
            "field `{path}` is refused: receivers' spam verdicts and provenance are not evidence"
        ));
    }
    if path
        .split('.')
        .any(|s| FORBIDDEN_RULE_SEGMENTS.contains(&s))
    {
        return Some(format!(
            "field `{path}` is refused: dates and the mail client are not evidence of intent"
        ));
    }
    (!is_record_field(path)).then(|| {
        format!("unknown field `{path}` (the record's fields are listed in data/record_fields.txt)")
    })
}

/// The shipped rule files, compiled in: (origin, text).
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "builtin:sender.toml",
        include_str!("../../../../data/rules/sender.toml"),
    ),
    (
        "builtin:content.toml",
        include_str!("../../../../data/rules/content.toml"),
    ),
    (
        "builtin:links.toml",
        include_str!("../../../../data/rules/links.toml"),
    ),
];

/// The label set rules are checked against.
pub fn label_set() -> LabelSet {
    let names: Vec<&str> = Label::ALL.iter().map(|l| l.as_str()).collect();
    LabelSet::new(&names)
}

/// Parses the shipped rule files.
pub fn builtin_rule_files() -> Result<Vec<RuleFile>, Vec<RuleError>> {
    let labels = label_set();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (origin, text) in BUILTIN_RULES {
        match rules::parse_rule_file(text, origin, &labels) {
            Ok(file) => files.push(file),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// The judge: protected entities, classifiers, rules and thresholds,
/// compiled once and shared by every worker.
pub struct Detector {
    entities: ProtectedEntities,
    classifiers: &'static Classifiers,
    rules: RuleSet,
    thresholds: Thresholds,
    provenance: RulesProvenance,
    /// Top-level record fields the rules read.
    read_fields: HashSet<String>,
}

impl Detector {
    /// A detector from rule files (the shipped ones and the user's), the
    /// organisation's own protected entities (added to the shipped list)
    /// and thresholds. Fails with every rule error, located.
    pub fn new(
        rule_files: Vec<RuleFile>,
        extra_entities: Vec<Entity>,
        thresholds: Thresholds,
    ) -> Result<Detector, Vec<RuleError>> {
        let sources = rule_files.iter().map(|f| f.origin.clone()).collect();
        let rules = RuleSet::new(rule_files)?;
        let forbidden = rules.check_paths(&rule_path_problem);
        if !forbidden.is_empty() {
            return Err(forbidden);
        }
        let provenance = RulesProvenance {
            digest: rules.digest(),
            count: rules.rules().len(),
            sources,
        };
        Ok(Detector {
            entities: ProtectedEntities::with_builtin(extra_entities),
            classifiers: Classifiers::builtin(),
            read_fields: rules.top_level_fields(),
            rules,
            thresholds,
            provenance,
        })
    }

    /// The shipped rules, entities and thresholds.
    pub fn builtin() -> Result<Detector, Vec<RuleError>> {
        Detector::new(builtin_rule_files()?, Vec::new(), Thresholds::builtin())
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// What this detector records in `analysis.rules`.
    pub fn provenance(&self) -> &RulesProvenance {
        &self.provenance
    }

    /// Measures the signals of a record.
    pub fn signals(&self, record: &MessageRecord) -> Signals {
        let content = self
            .classifiers
            .classify(record.subject.as_deref(), &record.body.text);
        let links = links::link_signals(&record.urls);
        Signals {
            language: content.language,
            content: content.classes,
            crypto_addresses: content.crypto_addresses,
            sender: sender::sender_signals(record),
            impersonation: self.impersonation(record),
            subject_entity: record
                .subject
                .as_deref()
                .and_then(|subject| self.foreign_entity(subject, record)),
            body_entity: self.foreign_entity(opening_words(&record.body.text), record),
            lookalikes: self.lookalikes(record, &links),
            attachments: links::attachment_signals(&record.attachments),
            links,
            personalisation: personal::personalisation(record),
            obfuscation: text::obfuscation(record.subject.as_deref(), &record.body.text),
        }
    }

    /// Judges a record in place: signals, rule findings, score, verdict,
    /// labels, provenance. Earlier rule findings (a re-judged record) are
    /// replaced; origin tracing's findings stay.
    pub fn judge(&self, record: &mut MessageRecord) {
        record.findings.retain(|f| f.code != FindingCode::Rule);
        record.signals = Some(self.signals(record));
        record.score = None;
        record.verdict = None;
        record.labels.clear();
        let json = self.rule_input(record);
        let fired = self.rules.evaluate(&json);
        let mut score = 0;
        let mut labels: Vec<Label> = Vec::new();
        for hit in fired {
            let Some(rule) = self.rules.rules().get(hit.rule) else {
                continue;
            };
            let rule_labels: Vec<Label> = rule
                .labels
                .iter()
                .filter_map(|l| Label::from_token(l))
                .collect();
            labels.extend(&rule_labels);
            score += rule.score;
            record.findings.push(Finding {
                code: FindingCode::Rule,
                summary: rule.description.clone(),
                evidence: hit.evidence,
                victim_infrastructure: None,
                rule: Some(RuleHit {
                    id: rule.id.clone(),
                    severity: rule.severity,
                    score: rule.score,
                    labels: rule_labels,
                    tags: rule.tags.clone(),
                }),
            });
        }
        labels.sort();
        labels.dedup();
        // Plain spam stays suspicious however much weak evidence piles up:
        // malicious needs one high or critical rule (phishing, impersonation,
        // a threat, fraud, a risky attachment).
        let strong = record
            .findings
            .iter()
            .filter_map(|f| f.rule.as_ref())
            .any(|hit| hit.severity >= Severity::High && hit.score > 0);
        let verdict = match self.thresholds.verdict(score) {
            Verdict::Malicious if !strong => Verdict::Suspicious,
            v => v,
        };
        record.score = Some(score);
        record.verdict = Some(verdict);
        record.labels = labels;
        record.analysis.rules = Some(self.provenance.clone());
    }

    /// The record as the rules read it. The trace fields that no rule of
    /// this set reads (the Received headers, the path, the claimed hops,
    /// trace anomalies, receivers' verdicts, defects) are lent out while
    /// converting and put back: on relayed mail they are most of the
    /// conversion's cost.
    fn rule_input(&self, record: &mut MessageRecord) -> serde_json::Value {
        let unread = |name: &str| !self.read_fields.contains(name);
        let received = lend(unread("received"), &mut record.received);
        let path = lend(unread("path"), &mut record.path);
        let claimed_path = lend(unread("claimed_path"), &mut record.claimed_path);
        let anomalies = lend(unread("trace_anomalies"), &mut record.trace_anomalies);
        let receiver_verdicts = lend(unread("receiver_verdicts"), &mut record.receiver_verdicts);
        let defects = lend(unread("defects"), &mut record.defects);
        let json = serde_json::to_value(&*record).unwrap_or(serde_json::Value::Null);
        give_back(received, &mut record.received);
        give_back(path, &mut record.path);
        give_back(claimed_path, &mut record.claimed_path);
        give_back(anomalies, &mut record.trace_anomalies);
        give_back(receiver_verdicts, &mut record.receiver_verdicts);
        give_back(defects, &mut record.defects);
        json
    }

    /// Display names that name a protected entity.
    fn impersonation(&self, record: &MessageRecord) -> Vec<Impersonation> {
        let Some(from) = record.from.as_ref() else {
            return Vec::new();
        };
        let Some(found) =
            sender::shown_name(from).and_then(|n| self.entities.match_display_name(n))
        else {
            return Vec::new();
        };
        let entity = self.entities.entity(&found.entity);
        let legitimate = from
            .domain
            .as_deref()
            .zip(entity)
            .is_some_and(|(d, entity)| self.entities.is_legitimate(entity, d));
        // A mailbox at a provider's free mail domain (`x@outlook.com`) is
        // anyone's, not the provider's own voice.
        let legitimate = legitimate && !from.domain.as_deref().is_some_and(sender::is_freemail);
        let generic = entity.is_some_and(|e| e.domains.is_empty());
        vec![Impersonation {
            entity: found.entity,
            kind: found.kind,
            variant: found.variant,
            from_domain: from.domain.clone(),
            legitimate_domain: legitimate,
            generic,
        }]
    }

    /// The protected entity `text` names, when the From domain is not one
    /// of its own.
    fn foreign_entity(&self, text: &str, record: &MessageRecord) -> Option<String> {
        let found = self.entities.match_display_name(text)?;
        let entity = self.entities.entity(&found.entity)?;
        let from_domain = record.from.as_ref().and_then(|f| f.domain.as_deref());
        (!from_domain.is_some_and(|d| self.entities.is_legitimate(entity, d)))
            .then_some(found.entity)
    }

    /// Lookalike domains in the sender fields and the links (after
    /// rewriters were unwrapped); each host judged once per field.
    fn lookalikes(&self, record: &MessageRecord, links: &LinkSignals) -> Vec<LookalikeHit> {
        const MAX_HOSTS: usize = 200;
        let mut hosts: Vec<(&'static str, String)> = Vec::new();
        let mut add = |field: &'static str, host: Option<&str>| {
            if let Some(host) = host.filter(|h| !h.is_empty()) {
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                if hosts.len() < MAX_HOSTS && !hosts.iter().any(|(f, h)| *f == field && *h == host)
                {
                    hosts.push((field, host));
                }
            }
        };
        add(
            "from",
            record.from.as_ref().and_then(|f| f.domain.as_deref()),
        );
        for m in &record.reply_to {
            add("reply_to", m.domain.as_deref());
        }
        add(
            "return_path",
            record
                .return_path
                .as_deref()
                .and_then(|r| r.rsplit_once('@'))
                .map(|(_, d)| d),
        );
        add(
            "sender",
            record.sender.as_ref().and_then(|s| s.domain.as_deref()),
        );
        add(
            "message_id",
            record
                .message_id
                .as_deref()
                .and_then(|m| m.rsplit_once('@'))
                .map(|(_, d)| d),
        );
        for u in &links.unwrapped {
            add("url", u.original_host.as_deref());
        }
        for u in &record.urls {
            add("url", u.host.as_deref());
        }
        hosts
            .into_iter()
            .filter_map(|(field, host)| {
                self.entities.lookalike(&host).map(|found| LookalikeHit {
                    field: field.to_string(),
                    host,
                    found,
                })
            })
            .collect()
    }
}

/// How many words of the body are its opening (a lure's letterhead and
/// greeting), where a brand's name claims to speak for the message.
const OPENING_WORDS: usize = 24;

/// `field`'s value, taken out of the record, when `unread`.
fn lend<T: Default>(unread: bool, field: &mut T) -> Option<T> {
    unread.then(|| std::mem::take(field))
}

/// Puts a lent value back.
fn give_back<T>(lent: Option<T>, field: &mut T) {
    if let Some(value) = lent {
        *field = value;
    }
}

/// The first [`OPENING_WORDS`] words of `text`, at most 1 KB.
fn opening_words(text: &str) -> &str {
    let text = crate::parse::prefix(text, 1024);
    let mut words = 0;
    let mut in_word = false;
    for (at, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            in_word = true;
            words += 1;
            if words > OPENING_WORDS {
                return text.get(..at).unwrap_or(text);
            }
        }
    }
    text
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("provenance", &self.provenance)
            .field("thresholds", &self.thresholds)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opening_is_the_first_words() {
        let text = (1..=30)
            .map(|n| format!("w{n}"))
            .collect::<Vec<_>>()
            .join(" \n ");
        let opening = opening_words(&text);
        assert!(opening.trim_end().ends_with("w24"), "{opening}");
        assert_eq!(opening_words("  PayPal, Inc.  "), "  PayPal, Inc.  ");
        assert_eq!(opening_words(&"é".repeat(2000)).len(), 1024);
    }

    #[test]
    fn fields_lent_out_for_the_rules_come_back_and_rules_that_read_them_see_them() {
        let raw = "Received: from a.example by b.example; Tue, 20 Oct 2020 18:02:55 +0000\r\n\
                   Received: from c.example by a.example; Tue, 20 Oct 2020 18:02:50 +0000\r\n\
                   From: a@a.example\r\nTo: jane@corp.example\r\nSubject: Hi\r\n\
                   Message-ID: <1@a.example>\r\n\r\nHello\r\n";
        let parsed = || {
            crate::parse::analyse(raw.as_bytes(), &Default::default(), &Default::default())
                .expect("a message")
        };
        let builtin = Detector::builtin().expect("the shipped rules");
        assert!(!builtin.read_fields.contains("received"));
        let mut record = parsed();
        let before = record.received.clone();
        builtin.judge(&mut record);
        assert_eq!(record.received, before);
        assert_eq!(record.received.len(), 2);

        let user_rule = r#"
[[rule]]
id = "two-hops"
description = "Two Received headers"
severity = "info"
score = 0
labels = []
when = '''count(received) >= 2'''
"#;
        let file = rules::parse_rule_file(user_rule, "user.toml", &label_set()).expect("a rule");
        let detector =
            Detector::new(vec![file], Vec::new(), Thresholds::builtin()).expect("a detector");
        let mut record = parsed();
        detector.judge(&mut record);
        let fired: Vec<&str> = record
            .findings
            .iter()
            .filter_map(|f| f.rule.as_ref())
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(fired, ["two-hops"]);
        assert_eq!(record.received.len(), 2);
    }

    #[test]
    fn a_brand_in_the_body_opening_from_another_sender() {
        let detector = Detector::builtin().expect("the shipped rules");
        let judge = |from: &str, body: &str| {
            let raw = format!(
                "From: {from}\r\nTo: jane@corp.example\r\nSubject: Receipt\r\n\
                 Message-ID: <1@x.example>\r\n\r\n{body}\r\n"
            );
            let mut record =
                crate::parse::analyse(raw.as_bytes(), &Default::default(), &Default::default())
                    .expect("a message");
            detector.judge(&mut record);
            record.signals.and_then(|s| s.body_entity)
        };
        let receipt = "PayPal, Inc. Sale Receipt. We have processed your payment of $483.75.";
        assert_eq!(
            judge("sales.8841@mailbox.example", receipt).as_deref(),
            Some("PayPal")
        );
        assert_eq!(judge("service@paypal.com", receipt), None);
        let late = format!("{} PayPal", "word ".repeat(40));
        assert_eq!(judge("sales.8841@mailbox.example", &late), None);
    }
}
