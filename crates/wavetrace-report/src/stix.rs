//! STIX 2.1 export: one bundle for the selected campaigns.
//!
//! Per campaign: a `campaign`; its observables (`url`, `domain-name`,
//! `ipv4-addr`, `ipv6-addr`, `email-addr`, `file`) grouped by role in
//! `observed-data`, each group `related-to` the campaign; an `indicator` with
//! a STIX pattern for each value that is the attacker's own
//! ([`Role::is_indicator`]), each `indicates` the campaign; a `note` on every
//! group that is not the attacker's (abused third parties, providers, forged
//! or unverified senders, common hosts) saying so; and `email-message`
//! objects for at most [`MAX_MESSAGES`] members. Every SDO is created by the
//! producer's `identity` and marked with the TLP 2.0 marking definition the
//! OASIS CTI TC publishes.
//!
//! Ids are deterministic: observables use STIX's own scheme (UUIDv5 under
//! the SCO namespace of the RFC 8785 canonical JSON of the id-contributing
//! properties), everything else UUIDv5 under [`WAVETRACE_NAMESPACE`]; times
//! come from the data. The same set gives the same bytes.
//!
//! An `observed-data` groups many objects; its `number_observed` is the
//! least number of messages any of them was seen in (STIX counts each
//! object of the group). STIX identifies an `email-message` by sender and
//! subject only, so members sharing both are one object.
//!
//! Recipients stay out unless the set includes personal data: a redacted
//! recipient (`[recipient:HASH]`) is never an `email-addr`; the campaign's
//! description gives their count instead.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use uuid::Uuid;
use wavetrace_core::campaign::record_features::unix_time;
use wavetrace_core::parse::rfc3339_utc;
use wavetrace_core::record::MessageRecord;

use crate::indicators::{Kind, Observable, Role};
use crate::model::{CampaignExport, ExportSet, ShareOptions, Tlp};

/// STIX's namespace for deterministic cyber-observable ids (STIX 2.1, 2.9).
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// wavetrace's namespace for every other deterministic id (STIX domain and
/// relationship objects, MISP uuids).
pub const WAVETRACE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c2a8e_5d34_4b7a_9e0f_2c8d7b41a953);

/// The OASIS CTI TC's TLP 2.0 marking extension.
pub const TLP_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// When the OASIS TLP 2.0 marking definitions were created.
const TLP_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// When the producer's identity was "created": one fixed time, because the
/// identity's id comes from its name alone and STIX forbids one id with two
/// creation times (the data's earliest time would differ between exports).
const IDENTITY_CREATED: i64 = 0;

/// Most members per campaign exported as messages (earliest first).
pub const MAX_MESSAGES: usize = 500;

/// Most recipients listed per message when personal data is included.
const MAX_RECIPIENTS: usize = 100;

/// Longest template text quoted in a description.
const MAX_TEMPLATE_CHARS: usize = 4000;

/// Most waves, and values per wave, described.
const MAX_WAVES: usize = 20;
const MAX_PER_WAVE: usize = 10;

/// The OASIS TLP 2.0 marking definition's id for a marking.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The marking definition object, exactly as the OASIS CTI TC publishes it.
fn tlp_marking(tlp: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp_marking_id(tlp),
        "created": TLP_CREATED,
        "name": tlp.label(),
        "extensions": {
            TLP_EXTENSION: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.name(),
            }
        }
    })
}

/// A wavetrace id: UUIDv5 of the parts, each ended by a NUL.
pub(crate) fn wavetrace_uuid(parts: &[&str]) -> Uuid {
    let mut name = Vec::new();
    for p in parts {
        name.extend_from_slice(p.as_bytes());
        name.push(0);
    }
    Uuid::new_v5(&WAVETRACE_NAMESPACE, &name)
}

/// A wavetrace object id; the type is part of the name, so objects of
/// different types never share a UUID (STIX 2.1, 2.9).
fn object_id(object_type: &str, parts: &[&str]) -> String {
    let mut named = vec![object_type];
    named.extend_from_slice(parts);
    format!("{object_type}--{}", wavetrace_uuid(&named))
}

/// A cyber-observable's id from its id-contributing properties: UUIDv5 under
/// [`SCO_NAMESPACE`] of their RFC 8785 canonical JSON (sorted keys, no white
/// space; the properties here hold only strings and objects of strings,
/// which `serde_json` writes exactly as RFC 8785 does).
pub fn sco_id(object_type: &str, contributing: &BTreeMap<&str, Value>) -> String {
    let canonical = serde_json::to_string(&canonical(contributing)).unwrap_or_default();
    format!(
        "{object_type}--{}",
        Uuid::new_v5(&SCO_NAMESPACE, canonical.as_bytes())
    )
}

/// The properties with every object's keys sorted, whatever the map type.
fn canonical(contributing: &BTreeMap<&str, Value>) -> BTreeMap<String, Value> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::to_value(b).unwrap_or(Value::Null)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    contributing
        .iter()
        .map(|(k, v)| (k.to_string(), sorted(v)))
        .collect()
}

/// The id of the `email-addr` of an address.
pub fn email_addr_id(address: &str) -> String {
    sco_id("email-addr", &BTreeMap::from([("value", json!(address))]))
}

/// True for a redaction placeholder (or a value holding one): never an
/// address to share.
pub(crate) fn is_pseudonym(value: &str) -> bool {
    value.contains("[recipient:") || value.contains("[personal:")
}

/// An address worth an `email-addr`: no placeholder, and of the shape STIX
/// tools accept (the official validator takes `[A-Za-z0-9_.+-]` before the
/// `@` and an ASCII host name after it). RFC 5322 allows more (`#`, `&`,
/// quoted strings): such addresses are left out of the bundle and counted.
fn shareable_address(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !is_pseudonym(value)
        && !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'))
        && domain.is_ascii()
        && host_name(domain).is_some_and(|h| h.eq_ignore_ascii_case(domain))
}

/// Characters a DNS resolver ignores (UTS 46 maps them to nothing): a
/// host written with them is the host without them.
const IGNORED_IN_HOSTS: [char; 7] = [
    '\u{00ad}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{180b}',
];

/// A host as a STIX `domain-name` value: ignorable characters dropped,
/// lower case; None when it still is no host name (labels of letters,
/// digits and inner hyphens, at most 63 characters each, 253 in all).
pub fn host_name(raw: &str) -> Option<String> {
    let host: String = raw
        .chars()
        .filter(|c| !IGNORED_IN_HOSTS.contains(c))
        .collect::<String>()
        .to_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let label_ok = |l: &str| {
        let n = l.chars().count();
        (1..=63).contains(&n)
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || c == '-'
                    || (!c.is_ascii()
                        && c.is_alphanumeric()
                        && !c.is_uppercase()
                        && !('\u{ff00}'..='\u{ffef}').contains(&c))
            })
    };
    (host.len() <= 253 && host.contains('.') && host.split('.').all(label_ok))
        .then(|| host.to_string())
}

/// A URL as an RFC 3986 URI (STIX requires one): every character a URI may
/// not hold, non-ASCII ones included, percent-encoded as UTF-8, so a
/// look-alike host or a hidden zero-width character stays visible. None
/// without a scheme.
pub fn uri(raw: &str) -> Option<String> {
    let colon = raw.find(':')?;
    let scheme = &raw[..colon];
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let rest = colon + 1;
    let authority = raw[rest..].starts_with("//").then(|| {
        let start = rest + 2;
        let end = raw[start..]
            .find(['/', '?', '#'])
            .map_or(raw.len(), |i| start + i);
        (start, end, raw[start..end].rfind('@').map(|i| start + i))
    });
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len() + 8);
    out.push_str(&raw[..rest]);
    let mut fragment = false;
    for (i, c) in raw[rest..].char_indices().map(|(i, c)| (i + rest, c)) {
        let in_authority = authority.is_some_and(|(s, e, _)| i >= s && i < e);
        let keep = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '_' | '~' => true,
            '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '=' | ':' => true,
            '/' | '?' => !in_authority,
            '@' => !in_authority || authority.is_some_and(|(_, _, at)| at == Some(i)),
            '[' | ']' => in_authority,
            '#' => {
                let first = !fragment;
                fragment = true;
                first
            }
            '%' => {
                bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            _ => false,
        };
        if keep {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

/// An observable's value as STIX holds it; None when STIX cannot (a URL
/// without a scheme, a host that is no host name, a redacted address).
pub fn stix_value(kind: Kind, raw: &str) -> Option<String> {
    match kind {
        Kind::Url => uri(raw),
        Kind::Domain => host_name(raw),
        Kind::Ipv4 => raw
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|ip| ip.to_string()),
        Kind::Ipv6 => raw
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| ip.to_string()),
        Kind::Email => shareable_address(raw).then(|| raw.to_string()),
        Kind::FileSha256 => (raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| raw.to_ascii_lowercase()),
    }
}

/// The STIX object of an observable (None when STIX cannot hold the value).
fn observable_sco(kind: Kind, raw: &str) -> Option<(String, Value)> {
    let value = stix_value(kind, raw)?;
    let (object_type, contributing): (&str, BTreeMap<&str, Value>) = match kind {
        Kind::Url => ("url", BTreeMap::from([("value", json!(value))])),
        Kind::Domain => ("domain-name", BTreeMap::from([("value", json!(value))])),
        Kind::Ipv4 => ("ipv4-addr", BTreeMap::from([("value", json!(value))])),
        Kind::Ipv6 => ("ipv6-addr", BTreeMap::from([("value", json!(value))])),
        Kind::Email => ("email-addr", BTreeMap::from([("value", json!(value))])),
        Kind::FileSha256 => (
            "file",
            BTreeMap::from([("hashes", json!({ "SHA-256": value }))]),
        ),
    };
    let id = sco_id(object_type, &contributing);
    let mut object = Map::new();
    object.insert("type".into(), json!(object_type));
    object.insert("spec_version".into(), json!("2.1"));
    object.insert("id".into(), json!(id));
    for (k, v) in contributing {
        object.insert(k.to_string(), v);
    }
    Some((id, Value::Object(object)))
}

/// A STIX pattern string literal: `'`, with `\` and `'` escaped.
pub fn pattern_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The STIX pattern matching an observable's STIX value ([`stix_value`]).
pub fn pattern(kind: Kind, value: &str) -> String {
    let literal = pattern_literal(value);
    match kind {
        Kind::Url => format!("[url:value = {literal}]"),
        Kind::Domain => format!("[domain-name:value = {literal}]"),
        Kind::Ipv4 => format!("[ipv4-addr:value = {literal}]"),
        Kind::Ipv6 => format!("[ipv6-addr:value = {literal}]"),
        Kind::Email => format!("[email-addr:value = {literal}]"),
        Kind::FileSha256 => format!("[file:hashes.'SHA-256' = {literal}]"),
    }
}

/// Seconds since the epoch of an RFC 3339 time.
pub(crate) fn seconds(time: Option<&str>) -> Option<i64> {
    time.and_then(unix_time)
}

/// A STIX timestamp: UTC with millisecond precision.
pub fn stix_time(t: i64) -> String {
    let s = rfc3339_utc(t);
    match s.strip_suffix('Z') {
        Some(base) => format!("{base}.000Z"),
        None => s,
    }
}

/// The set's earliest time: the time of objects without one of their own.
pub(crate) fn earliest_time(set: &ExportSet) -> i64 {
    set.campaigns
        .iter()
        .filter_map(|c| seconds(c.summary.first_seen.as_deref()))
        .min()
        .unwrap_or(0)
}

/// A time span, `first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl Span {
    fn of(first: Option<i64>, last: Option<i64>, fallback: Span) -> Span {
        let first = first.unwrap_or(fallback.first);
        Span {
            first,
            last: last.unwrap_or(fallback.last).max(first),
        }
    }

    fn widen(self, other: Span) -> Span {
        Span {
            first: self.first.min(other.first),
            last: self.last.max(other.last),
        }
    }
}

/// A campaign's span (first and last seen), else the set's earliest time.
pub(crate) fn campaign_span(c: &CampaignExport, earliest: i64) -> Span {
    Span::of(
        seconds(c.summary.first_seen.as_deref()),
        seconds(c.summary.last_seen.as_deref()),
        Span {
            first: earliest,
            last: earliest,
        },
    )
}

/// An observable's span, else its campaign's.
fn observable_span(o: &Observable, campaign: Span) -> Span {
    Span::of(
        seconds(o.first_seen.as_deref()),
        seconds(o.last_seen.as_deref()),
        campaign,
    )
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// The campaign's name: its most frequent subject.
pub(crate) fn campaign_name(c: &CampaignExport) -> String {
    match c.summary.subjects.first() {
        Some(s) if !s.value.trim().is_empty() => format!(
            "wavetrace campaign {}: {}",
            c.summary.id,
            cut(s.value.trim(), 200)
        ),
        _ => format!("wavetrace campaign {}", c.summary.id),
    }
}

/// What an analyst reads about a campaign: size, time, verdict, labels,
/// waves with their relays and origins, recipients (counted, or said to be
/// listed), observables by role, and the template. `messages` says how the
/// members were exported.
pub(crate) fn campaign_description(
    c: &CampaignExport,
    personal_included: bool,
    observables: &[Observable],
    messages: &str,
) -> String {
    let s = &c.summary;
    let mut out = format!(
        "wavetrace campaign {}: {} messages, first seen {}, last seen {}; verdict {}; labels: {}.",
        s.id,
        s.size,
        s.first_seen.as_deref().unwrap_or("unknown"),
        s.last_seen.as_deref().unwrap_or("unknown"),
        s.verdict.as_deref().unwrap_or("none"),
        if s.labels.is_empty() {
            "none".to_string()
        } else {
            s.labels.join(", ")
        },
    );
    out.push_str(&format!("\nWaves: {}.", s.waves.len()));
    for (i, w) in s.waves.iter().take(MAX_WAVES).enumerate() {
        out.push_str(&format!(
            "\n- wave {}: {} to {}, {} messages; relays: {}; origins: {}",
            i + 1,
            w.start,
            w.end,
            w.size,
            listed(&w.relays),
            listed(&w.origins),
        ));
    }
    if s.waves.len() > MAX_WAVES {
        out.push_str(&format!("\n- and {} more waves", s.waves.len() - MAX_WAVES));
    }
    let domains: Vec<String> = s
        .recipients
        .domains
        .iter()
        .take(MAX_PER_WAVE)
        .map(|d| format!("{} ({})", d.value, d.count))
        .collect();
    out.push_str(&format!(
        "\nRecipients: {} distinct, {}; domains: {}.",
        s.recipients.count,
        if personal_included {
            "included (personal data was not redacted)"
        } else {
            "recipients redacted (salted hashes), not listed"
        },
        if domains.is_empty() {
            "none".to_string()
        } else {
            domains.join(", ")
        },
    ));
    let mut roles: BTreeMap<Role, usize> = BTreeMap::new();
    for o in observables {
        *roles.entry(o.role).or_default() += 1;
    }
    let roles: Vec<String> = roles
        .iter()
        .map(|(r, n)| format!("{n} {}", r.as_str()))
        .collect();
    out.push_str(&format!(
        "\nObservables: {} ({}); only the attacker's are indicators.",
        observables.len(),
        if roles.is_empty() {
            "none".to_string()
        } else {
            roles.join(", ")
        },
    ));
    out.push('\n');
    out.push_str(messages);
    if let Some(t) = &s.template {
        out.push_str(&format!("\nTemplate: {}", cut(&t.text, MAX_TEMPLATE_CHARS)));
    }
    out
}

fn listed(values: &[String]) -> String {
    if values.is_empty() {
        return "none".to_string();
    }
    let mut out = values
        .iter()
        .take(MAX_PER_WAVE)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > MAX_PER_WAVE {
        out.push_str(&format!(" and {} more", values.len() - MAX_PER_WAVE));
    }
    out
}

/// Members of a campaign sharing an `email-message` id.
#[derive(Default)]
struct MessageGroup {
    from_ref: Option<String>,
    subject: Option<String>,
    multipart: bool,
    date: Option<i64>,
    message_ids: BTreeSet<String>,
    reply_to: BTreeSet<String>,
    to: BTreeSet<String>,
    members: usize,
    arrival: Option<Span>,
}

/// The bundle being built: domain objects in order, observables by id (the
/// same value in two campaigns is one object).
struct Builder {
    identity: String,
    marking: &'static str,
    personal_included: bool,
    domain_objects: Vec<Value>,
    observables: BTreeMap<String, Value>,
}

impl Builder {
    /// The common properties of a domain object created by the producer.
    fn sdo(&self, object_type: &str, id: &str, span: Span) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), json!(object_type));
        m.insert("spec_version".into(), json!("2.1"));
        m.insert("id".into(), json!(id));
        m.insert("created".into(), json!(stix_time(span.first)));
        m.insert("modified".into(), json!(stix_time(span.last)));
        m.insert("created_by_ref".into(), json!(self.identity));
        m.insert("object_marking_refs".into(), json!([self.marking]));
        m
    }

    fn push(&mut self, object: Map<String, Value>) {
        self.domain_objects.push(Value::Object(object));
    }

    fn add_observable(&mut self, id: String, mut object: Value) {
        if let Value::Object(m) = &mut object {
            m.insert("object_marking_refs".into(), json!([self.marking]));
        }
        self.observables.entry(id).or_insert(object);
    }

    fn email_addr(&mut self, address: &str) -> String {
        let id = email_addr_id(address);
        self.add_observable(
            id.clone(),
            json!({"type": "email-addr", "spec_version": "2.1", "id": id, "value": address}),
        );
        id
    }

    fn relationship(&mut self, relationship_type: &str, source: &str, target: &str, span: Span) {
        let id = object_id("relationship", &[relationship_type, source, target]);
        let mut r = self.sdo("relationship", &id, span);
        r.insert("relationship_type".into(), json!(relationship_type));
        r.insert("source_ref".into(), json!(source));
        r.insert("target_ref".into(), json!(target));
        self.push(r);
    }

    fn observed_data(
        &mut self,
        id: &str,
        span: Span,
        number_observed: usize,
        refs: Vec<String>,
    ) -> Map<String, Value> {
        let mut o = self.sdo("observed-data", id, span);
        o.insert("first_observed".into(), json!(stix_time(span.first)));
        o.insert("last_observed".into(), json!(stix_time(span.last)));
        o.insert("number_observed".into(), json!(number_observed.max(1)));
        o.insert("object_refs".into(), json!(refs));
        o
    }

    fn campaign(&mut self, c: &CampaignExport, earliest: i64) {
        let span = campaign_span(c, earliest);
        let campaign_id = object_id("campaign", &[&c.summary.id]);
        let observed = c.observables.clone();
        let mut by_role: BTreeMap<Role, Vec<(&Observable, String)>> = BTreeMap::new();
        for o in &observed {
            if let Some((id, object)) = observable_sco(o.kind, &o.value) {
                self.add_observable(id.clone(), object);
                by_role.entry(o.role).or_default().push((o, id));
            }
        }
        let exported: usize = by_role.values().map(Vec::len).sum();
        let (messages_id, mut messages_text, message_span) = self.messages(c, span);
        if exported < observed.len() {
            messages_text.push_str(&format!(
                "\n{} observables STIX cannot hold (URLs without a scheme, hosts that are no host names, addresses of a shape STIX tools reject) are left out.",
                observed.len() - exported
            ));
        }
        let mut campaign = self.sdo("campaign", &campaign_id, span);
        campaign.insert("name".into(), json!(campaign_name(c)));
        campaign.insert(
            "description".into(),
            json!(campaign_description(
                c,
                self.personal_included,
                &observed,
                &messages_text
            )),
        );
        campaign.insert("first_seen".into(), json!(stix_time(span.first)));
        campaign.insert("last_seen".into(), json!(stix_time(span.last)));
        if !c.summary.aliases.is_empty() {
            campaign.insert("aliases".into(), json!(c.summary.aliases));
        }
        if !c.summary.labels.is_empty() {
            campaign.insert("labels".into(), json!(c.summary.labels));
        }
        self.push(campaign);

        for (role, members) in &by_role {
            let group_span = members
                .iter()
                .map(|(o, _)| observable_span(o, span))
                .reduce(Span::widen)
                .unwrap_or(span);
            let id = object_id(
                "observed-data",
                &["observables", &c.summary.id, role.as_str()],
            );
            let number = members.iter().map(|(o, _)| o.count).min().unwrap_or(1);
            let mut refs: Vec<String> = Vec::new();
            for (_, r) in members {
                if !refs.contains(r) {
                    refs.push(r.clone());
                }
            }
            let od = self.observed_data(&id, group_span, number, refs);
            self.push(od);
            self.relationship("related-to", &id, &campaign_id, group_span);
            if !role.is_indicator() {
                let note_id = object_id("note", &["observables", &c.summary.id, role.as_str()]);
                let mut note = self.sdo("note", &note_id, group_span);
                note.insert(
                    "abstract".into(),
                    json!(format!(
                        "{} {} value(s) of wavetrace campaign {}: observed, not indicators",
                        members.len(),
                        role.as_str(),
                        c.summary.id
                    )),
                );
                note.insert("content".into(), json!(role.note()));
                note.insert("object_refs".into(), json!([id]));
                self.push(note);
            }
        }
        if let Some(id) = messages_id {
            self.relationship("related-to", &id, &campaign_id, message_span);
        }
        for (o, _) in by_role.get(&Role::Attacker).into_iter().flatten() {
            let Some(value) = stix_value(o.kind, &o.value) else {
                continue;
            };
            let o_span = observable_span(o, span);
            let id = object_id("indicator", &[&c.summary.id, o.kind.as_str(), &o.value]);
            let mut indicator = self.sdo("indicator", &id, o_span);
            indicator.insert(
                "name".into(),
                json!(format!("{} {}", o.kind.as_str(), cut(&o.value, 200))),
            );
            let written = if value == o.value {
                String::new()
            } else {
                format!(" As written: {}", o.value)
            };
            indicator.insert(
                "description".into(),
                json!(format!(
                    "{} Seen in {} of {} messages of wavetrace campaign {}.{written}",
                    o.role.note(),
                    o.count,
                    c.summary.size,
                    c.summary.id
                )),
            );
            indicator.insert("indicator_types".into(), json!(["malicious-activity"]));
            indicator.insert("pattern".into(), json!(pattern(o.kind, &value)));
            indicator.insert("pattern_type".into(), json!("stix"));
            indicator.insert("pattern_version".into(), json!("2.1"));
            indicator.insert("valid_from".into(), json!(stix_time(o_span.first)));
            self.push(indicator);
            self.relationship("indicates", &id, &campaign_id, o_span);
        }
    }

    /// The members' `email-message` objects and their `observed-data`;
    /// returns its id, the description's sentence about messages, and its
    /// span.
    fn messages(&mut self, c: &CampaignExport, span: Span) -> (Option<String>, String, Span) {
        let exported = c.members.len().min(MAX_MESSAGES);
        let mut groups: BTreeMap<String, MessageGroup> = BTreeMap::new();
        for r in c.members.iter().take(MAX_MESSAGES) {
            let (id, from_ref) = self.message_id(r);
            let g = groups.entry(id).or_default();
            g.from_ref = from_ref;
            g.subject.clone_from(&r.subject);
            g.multipart |= r.mime.part_count > 1;
            let date = seconds(r.date.as_deref());
            g.date = match (g.date, date) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            g.message_ids.extend(r.message_id.iter().cloned());
            g.reply_to.extend(
                r.reply_to
                    .iter()
                    .filter_map(|m| m.address.as_deref())
                    .map(str::to_ascii_lowercase)
                    .filter(|a| shareable_address(a)),
            );
            if self.personal_included {
                g.to.extend(
                    r.to.iter()
                        .chain(&r.cc)
                        .filter_map(|m| m.address.as_deref())
                        .map(str::to_ascii_lowercase)
                        .filter(|a| shareable_address(a)),
                );
            }
            g.members += 1;
            if let Some(t) = seconds(r.arrival_time.as_deref()) {
                let at = Span { first: t, last: t };
                g.arrival = Some(g.arrival.map_or(at, |s| s.widen(at)));
            }
        }
        let text = format!(
            "Messages: the first {exported} of {} members are exported as {} email-message objects (STIX identifies a message by its sender and subject, so members sharing both are one object).",
            c.members.len(),
            groups.len(),
        );
        if groups.is_empty() {
            return (None, text, span);
        }
        let mut refs: Vec<String> = Vec::new();
        let mut addresses: BTreeSet<String> = BTreeSet::new();
        let mut message_span: Option<Span> = None;
        let mut number = usize::MAX;
        for (id, g) in groups {
            let mut m = Map::new();
            m.insert("type".into(), json!("email-message"));
            m.insert("spec_version".into(), json!("2.1"));
            m.insert("id".into(), json!(id));
            m.insert("is_multipart".into(), json!(g.multipart));
            if let Some(d) = g.date {
                m.insert("date".into(), json!(stix_time(d)));
            }
            if let Some(f) = &g.from_ref {
                m.insert("from_ref".into(), json!(f));
                addresses.insert(f.clone());
            }
            if let Some(s) = &g.subject {
                m.insert("subject".into(), json!(s));
            }
            if g.message_ids.len() == 1 {
                m.insert("message_id".into(), json!(g.message_ids.first()));
            }
            if !g.to.is_empty() {
                let to: Vec<String> =
                    g.to.iter()
                        .take(MAX_RECIPIENTS)
                        .map(|a| self.email_addr(a))
                        .collect();
                addresses.extend(to.iter().cloned());
                m.insert("to_refs".into(), json!(to));
            }
            // STIX: one header value is a string, several a list.
            let reply_to = match g.reply_to.len() {
                0 => None,
                1 => g.reply_to.first().map(|r| json!(r)),
                _ => Some(json!(g.reply_to.iter().collect::<Vec<_>>())),
            };
            if let Some(reply_to) = reply_to {
                m.insert(
                    "additional_header_fields".into(),
                    json!({ "Reply-To": reply_to }),
                );
            }
            self.add_observable(id.clone(), Value::Object(m));
            refs.push(id);
            number = number.min(g.members);
            if let Some(a) = g.arrival {
                message_span = Some(message_span.map_or(a, |s| s.widen(a)));
            }
        }
        refs.extend(addresses);
        let message_span = message_span.unwrap_or(span);
        let id = object_id("observed-data", &["messages", &c.summary.id]);
        let od = self.observed_data(&id, message_span, number, refs);
        self.push(od);
        (Some(id), text, message_span)
    }

    /// A member's `email-message` id (STIX's: from its sender's
    /// `email-addr` id and subject) and its sender's id.
    fn message_id(&mut self, r: &MessageRecord) -> (String, Option<String>) {
        let from = r
            .from
            .as_ref()
            .and_then(|f| f.address.as_deref())
            .map(str::to_ascii_lowercase)
            .filter(|a| shareable_address(a));
        let from_ref = from.map(|a| self.email_addr(&a));
        let mut contributing: BTreeMap<&str, Value> = BTreeMap::new();
        if let Some(f) = &from_ref {
            contributing.insert("from_ref", json!(f));
        }
        if let Some(s) = &r.subject {
            contributing.insert("subject", json!(s));
        }
        let id = if contributing.is_empty() {
            // No id-contributing property: STIX falls back to a random id;
            // a wavetrace id of the message keeps the bundle reproducible.
            object_id("email-message", &[&r.sha256])
        } else {
            sco_id("email-message", &contributing)
        };
        (id, from_ref)
    }
}

/// The STIX 2.1 bundle of the set's campaigns, as pretty JSON.
pub fn bundle(set: &ExportSet, options: &ShareOptions) -> String {
    let earliest = earliest_time(set);
    let identity = object_id("identity", &[&options.identity]);
    let mut b = Builder {
        identity: identity.clone(),
        marking: tlp_marking_id(options.tlp),
        personal_included: set.personal.included,
        domain_objects: Vec::new(),
        observables: BTreeMap::new(),
    };
    let mut producer = b.sdo(
        "identity",
        &identity,
        Span {
            first: IDENTITY_CREATED,
            last: IDENTITY_CREATED,
        },
    );
    producer.insert("name".into(), json!(options.identity));
    producer.insert("identity_class".into(), json!("organization"));
    b.push(producer);
    for c in &set.campaigns {
        b.campaign(c, earliest);
    }
    let mut objects = vec![tlp_marking(options.tlp)];
    objects.append(&mut b.domain_objects);
    objects.extend(b.observables.into_values());
    let content = serde_json::to_string(&objects).unwrap_or_default();
    let bundle = json!({
        "type": "bundle",
        "id": object_id("bundle", &[&content]),
        "objects": objects,
    });
    serde_json::to_string_pretty(&bundle).unwrap_or_default()
}

/// The sample with a victim's and a provider's server: members sent from
/// 198.51.100.10 through relay abuse, from 198.51.100.11 by a provider.
#[cfg(test)]
pub(crate) fn sample_with_victims() -> Vec<CampaignExport> {
    use wavetrace_core::origin::infra::{Finding, FindingCode, VictimInfrastructure};
    let mut campaigns = crate::testdata::sample_campaigns();
    for r in campaigns.iter_mut().flat_map(|c| c.members.iter_mut()) {
        let Some(o) = r.origin.as_mut() else { continue };
        match o.ip.map(|ip| ip.to_string()).as_deref() {
            Some("198.51.100.10") => r.findings.push(Finding {
                code: FindingCode::RelayAbuse,
                summary: "relayed through a third party".into(),
                evidence: Vec::new(),
                victim_infrastructure: Some(VictimInfrastructure {
                    ip: o.ip,
                    rdns: o.rdns.clone().unwrap_or_default(),
                    org_domain: "bulkrelay.example".into(),
                    role: "victim".into(),
                }),
                rule: None,
            }),
            Some("198.51.100.11") => o.provider = Some("Example Mail".into()),
            _ => {}
        }
    }
    campaigns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::prepare;
    use crate::testdata::{sample_campaigns, SALT};

    fn sample_bundle(options: &ShareOptions) -> Value {
        let set = prepare(sample_with_victims(), 200, SALT, false);
        serde_json::from_str(&bundle(&set, options)).unwrap()
    }

    fn objects(b: &Value) -> &Vec<Value> {
        b["objects"].as_array().unwrap()
    }

    #[test]
    fn sco_ids_match_the_stix2_library() {
        // Expected ids computed with the OASIS `stix2` Python library 3.0.2
        // (e.g. `stix2.EmailAddress(value="john@example.com").id`).
        let value = |v: &str| BTreeMap::from([("value", json!(v))]);
        assert_eq!(
            email_addr_id("john@example.com"),
            "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934"
        );
        assert_eq!(
            sco_id("domain-name", &value("example.com")),
            "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"
        );
        assert_eq!(
            sco_id("domain-name", &value("bücher.example")),
            "domain-name--dbf3aff2-b3cd-57d2-9616-0ddfde9d01ad"
        );
        assert_eq!(
            sco_id("ipv4-addr", &value("198.51.100.10")),
            "ipv4-addr--40495fb2-6385-5166-bb8f-bf50ce06f444"
        );
        assert_eq!(
            sco_id("ipv6-addr", &value("2001:db8::1")),
            "ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26"
        );
        assert_eq!(
            sco_id("url", &value("https://example.com/a?b='c'\\d\"e")),
            "url--afe43bf8-cc3b-5534-af58-5189f3570984"
        );
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            observable_sco(Kind::FileSha256, sha).unwrap().0,
            "file--22f8ff52-8f62-5f03-a53a-6f50f54fd74c"
        );
        let from = email_addr_id("notice@voter-verify.example");
        assert_eq!(from, "email-addr--8b3648f3-2497-5319-b195-e5c58b471afe");
        let message = |subject: &str| {
            sco_id(
                "email-message",
                &BTreeMap::from([("from_ref", json!(from)), ("subject", json!(subject))]),
            )
        };
        assert_eq!(
            message("Important: confirm your voter registration"),
            "email-message--ebb9c323-13f3-50a1-9995-c17393e76995"
        );
        assert_eq!(
            message("Ünïcode \u{1} tab\t"),
            "email-message--56fac538-75f2-51fb-9ee6-341bf3ad8983"
        );
    }

    #[test]
    fn pattern_literals_escape_quote_and_backslash() {
        assert_eq!(pattern_literal(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(
            pattern(Kind::Url, r"http://x.example/'; DROP\"),
            r"[url:value = 'http://x.example/\'; DROP\\']"
        );
        assert_eq!(
            pattern(Kind::FileSha256, "ab"),
            "[file:hashes.'SHA-256' = 'ab']"
        );
    }

    #[test]
    fn urls_become_uris_and_hosts_host_names() {
        assert_eq!(
            uri("https://vоte.example/a b?q=1#x#y").as_deref(),
            Some("https://v%D0%BEte.example/a%20b?q=1#x%23y")
        );
        assert_eq!(
            uri("http://u@x@h.example:80/p%zz%41[1]").as_deref(),
            Some("http://u%40x@h.example:80/p%25zz%41%5B1%5D")
        );
        assert_eq!(
            uri("http://[2001:db8::1]/").as_deref(),
            Some("http://[2001:db8::1]/")
        );
        assert_eq!(uri("www.example.com/a"), None);
        assert_eq!(uri("1http://x"), None);
        assert_eq!(
            host_name("regi\u{200b}stration.EXAMPLE.").as_deref(),
            Some("registration.example")
        );
        assert_eq!(host_name("vоte.example").as_deref(), Some("vоte.example"));
        for bad in [
            "-x.example",
            "a..example",
            "a_b.example",
            "localhost",
            "ｘ.example",
        ] {
            assert_eq!(host_name(bad), None, "{bad}");
        }
        assert_eq!(
            stix_value(Kind::Ipv4, "198.51.100.1").as_deref(),
            Some("198.51.100.1")
        );
        assert_eq!(stix_value(Kind::Ipv4, "198.51.100"), None);
        assert_eq!(stix_value(Kind::Email, "[recipient:abc]@x.example"), None);
    }

    #[test]
    fn times_have_milliseconds() {
        assert_eq!(stix_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            stix_time(seconds(Some("2020-09-28T17:01:32Z")).unwrap()),
            "2020-09-28T17:01:32.000Z"
        );
    }

    #[test]
    fn deterministic() {
        let options = ShareOptions::default();
        let set = prepare(sample_campaigns(), 200, SALT, false);
        let a = bundle(&set, &options);
        assert_eq!(a, bundle(&set, &options));
        // Members in another order give the same observables and messages.
        let mut reordered = set.clone();
        for c in &mut reordered.campaigns {
            c.members.reverse();
        }
        assert_eq!(a, bundle(&reordered, &options));
    }

    #[test]
    fn shape() {
        let b = sample_bundle(&ShareOptions {
            tlp: Tlp::AmberStrict,
            identity: "Example CERT".into(),
        });
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut examples: BTreeMap<String, Value> = BTreeMap::new();
        for o in objects(&b) {
            let t = o["type"].as_str().unwrap().to_string();
            *counts.entry(t.clone()).or_default() += 1;
            examples.entry(t).or_insert_with(|| o.clone());
        }
        if let Some(Value::String(d)) = examples
            .get_mut("campaign")
            .and_then(|c| c.get_mut("description"))
        {
            *d = d.lines().take(8).collect::<Vec<_>>().join("\n");
        }
        if let Some(Value::Array(refs)) = examples
            .get_mut("observed-data")
            .and_then(|c| c.get_mut("object_refs"))
        {
            refs.truncate(3);
        }
        insta::assert_json_snapshot!("counts", counts);
        insta::assert_json_snapshot!("examples", examples);
        let notes: Vec<&Value> = objects(&b)
            .iter()
            .filter(|o| o["type"] == "note")
            .map(|o| &o["abstract"])
            .collect();
        insta::assert_json_snapshot!("notes", notes);
    }

    #[test]
    fn every_domain_object_is_created_by_the_producer_and_marked() {
        let b = sample_bundle(&ShareOptions::default());
        let identity = objects(&b)
            .iter()
            .find(|o| o["type"] == "identity")
            .unwrap()["id"]
            .clone();
        let marking = tlp_marking_id(Tlp::Amber);
        assert!(objects(&b).iter().any(|o| o["id"] == marking));
        for o in objects(&b) {
            let t = o["type"].as_str().unwrap();
            if matches!(t, "marking-definition") {
                continue;
            }
            assert_eq!(o["object_marking_refs"], json!([marking]), "{t}");
            let sco = matches!(
                t,
                "url"
                    | "domain-name"
                    | "ipv4-addr"
                    | "ipv6-addr"
                    | "email-addr"
                    | "file"
                    | "email-message"
            );
            if !sco {
                assert_eq!(o["created_by_ref"], identity, "{t}");
                assert!(o["created"].as_str().unwrap().ends_with(".000Z"));
                assert!(o["created"].as_str() <= o["modified"].as_str());
            }
        }
        // Every reference resolves inside the bundle.
        let ids: BTreeSet<&str> = objects(&b)
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), objects(&b).len(), "ids are unique");
        for o in objects(&b) {
            for (k, v) in o.as_object().unwrap() {
                let refs: Vec<&Value> = if k.ends_with("_refs") {
                    v.as_array().unwrap().iter().collect()
                } else if k.ends_with("_ref") {
                    vec![v]
                } else {
                    continue;
                };
                for r in refs {
                    assert!(ids.contains(r.as_str().unwrap()), "{k} {r}");
                }
            }
        }
    }

    #[test]
    fn recipients_and_victims_never_leak() {
        let campaigns = sample_with_victims();
        let recipients: BTreeSet<String> = campaigns
            .iter()
            .flat_map(|c| &c.members)
            .flat_map(|r| r.to.iter().chain(&r.cc))
            .filter_map(|m| m.address.as_deref().map(str::to_ascii_lowercase))
            .collect();
        assert!(!recipients.is_empty());
        let set = prepare(campaigns, 200, SALT, false);
        let text = bundle(&set, &ShareOptions::default());
        let lower = text.to_ascii_lowercase();
        for a in &recipients {
            assert!(!lower.contains(a.as_str()), "{a} leaked");
        }
        let b: Value = serde_json::from_str(&text).unwrap();
        for o in objects(&b).iter().filter(|o| o["type"] == "email-addr") {
            let v = o["value"].as_str().unwrap();
            assert!(!is_pseudonym(v), "{v}");
        }
        let patterns: Vec<&str> = objects(&b)
            .iter()
            .filter(|o| o["type"] == "indicator")
            .map(|o| o["pattern"].as_str().unwrap())
            .collect();
        assert!(!patterns.is_empty());
        let mut victims = 0;
        for c in &set.campaigns {
            for o in c.observables.iter().cloned() {
                let Some(value) = stix_value(o.kind, &o.value) else {
                    continue;
                };
                if o.role.is_indicator() {
                    assert!(patterns.contains(&pattern(o.kind, &value).as_str()));
                } else {
                    victims +=
                        usize::from(matches!(o.role, Role::AbusedThirdParty | Role::Provider));
                    let literal = pattern_literal(&value);
                    assert!(
                        !patterns.iter().any(|p| p.contains(&literal)),
                        "{} {} in a pattern",
                        o.role.as_str(),
                        o.value
                    );
                }
            }
        }
        assert!(victims > 0, "the sample has abused or provider servers");
    }

    #[test]
    fn recipients_listed_only_when_personal_data_is_included() {
        let set = prepare(sample_campaigns(), 200, SALT, true);
        let b: Value = serde_json::from_str(&bundle(&set, &ShareOptions::default())).unwrap();
        let to_refs = objects(&b)
            .iter()
            .filter(|o| o["type"] == "email-message")
            .filter_map(|o| o["to_refs"].as_array())
            .map(Vec::len)
            .sum::<usize>();
        assert!(to_refs > 0);
    }

    /// Writes the sample's exports (with victims, personal data redacted)
    /// for `scripts/check_exports.py`: `$TMPDIR/wavetrace-exports/bundle.json`
    /// and `misp/*.json`.
    #[test]
    fn dump_for_external_validators() {
        let dir = std::env::temp_dir().join("wavetrace-exports");
        let misp_dir = dir.join("misp");
        std::fs::create_dir_all(&misp_dir).unwrap();
        let set = prepare(sample_with_victims(), 200, SALT, false);
        let options = ShareOptions {
            tlp: Tlp::AmberStrict,
            identity: "Example CERT".into(),
        };
        std::fs::write(dir.join("bundle.json"), bundle(&set, &options)).unwrap();
        for (name, json) in crate::misp::events(&set, &options) {
            std::fs::write(misp_dir.join(name), json).unwrap();
        }
        assert!(std::fs::metadata(dir.join("bundle.json")).unwrap().len() > 0);
    }
}
