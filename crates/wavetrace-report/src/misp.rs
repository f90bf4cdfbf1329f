//! MISP export: one event per campaign, in MISP's JSON event format
//! (`{"Event": {...}}`), with objects from MISP's object templates:
//! `email` for members (at most [`crate::stix::MAX_MESSAGES`]), `ip-port`
//! for the servers that handed the mail over, `domain-ip` for link hosts,
//! `url` and `file`.
//!
//! `to_ids` is true only for the attacker's own values
//! ([`Role::is_indicator`]); a victim's or provider's server, a forged or
//! unverified sender, a common host is exported with `to_ids: false` and a
//! comment saying what it is. The event is tagged with its TLP marking, and
//! its uuids (UUIDv5) and timestamps come from the data: the same set gives
//! the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::indicators::{Kind, Observable, Role};
use crate::model::{CampaignExport, ExportSet, ShareOptions, Tlp};
use crate::stix::{
    campaign_description, campaign_name, campaign_span, cut, earliest_time, host_name,
    is_pseudonym, seconds, stix_time, wavetrace_uuid, Span, MAX_MESSAGES,
};

/// A MISP object template, as PyMISP's bundled misp-objects define it.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// Template name.
    pub name: &'static str,
    /// Template uuid.
    pub uuid: &'static str,
    /// Template version.
    pub version: u32,
    /// Its meta-category.
    pub meta_category: &'static str,
    /// Its description.
    pub description: &'static str,
}

/// `email` (misp-objects `objects/email/definition.json`).
pub const EMAIL: Template = Template {
    name: "email",
    uuid: "a0c666e0-fc65-4be8-b48f-3423d788b552",
    version: 19,
    meta_category: "network",
    description: "Email object describing an email with meta-information",
};

/// `domain-ip` (misp-objects `objects/domain-ip/definition.json`).
pub const DOMAIN_IP: Template = Template {
    name: "domain-ip",
    uuid: "43b3b146-77eb-4931-b4cc-b66c60f28734",
    version: 11,
    meta_category: "network",
    description: "A domain/hostname and IP address seen as a tuple in a specific time frame.",
};

/// `ip-port` (misp-objects `objects/ip-port/definition.json`).
pub const IP_PORT: Template = Template {
    name: "ip-port",
    uuid: "9f8cea74-16fe-4968-a2b4-026676949ac6",
    version: 10,
    meta_category: "network",
    description: "An IP address (or domain or hostname) and a port seen as a tuple (or as a triple) in a specific time frame.",
};

/// `url` (misp-objects `objects/url/definition.json`).
pub const URL: Template = Template {
    name: "url",
    uuid: "60efb77b-40b5-4c46-871b-ed1ed999fce5",
    version: 10,
    meta_category: "network",
    description: "url object describes an url along with its normalized field (like extracted using faup parsing library) and its metadata.",
};

/// `file` (misp-objects `objects/file/definition.json`).
pub const FILE: Template = Template {
    name: "file",
    uuid: "688c46fb-5edb-40a3-8273-1af7923e2215",
    version: 25,
    meta_category: "file",
    description: "File object describing a file with meta-information",
};

/// Most file names listed per file object.
const MAX_FILE_NAMES: usize = 5;

/// The MISP tag of a TLP marking: `tlp:amber+strict`.
pub fn tlp_tag(tlp: Tlp) -> String {
    format!("tlp:{}", tlp.name())
}

/// MISP distribution of a TLP marking: clear to all communities, green to
/// connected communities, amber to this community, amber+strict and red to
/// the organisation only.
fn distribution(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "3",
        Tlp::Green => "2",
        Tlp::Amber => "1",
        Tlp::AmberStrict | Tlp::Red => "0",
    }
}

/// MISP threat level of a verdict: 1 high, 2 medium, 3 low, 4 undefined.
fn threat_level(verdict: Option<&str>) -> &'static str {
    match verdict {
        Some("malicious") => "1",
        Some("suspicious") => "2",
        Some("clean") => "3",
        _ => "4",
    }
}

/// A file name for the event: the campaign id, only `[A-Za-z0-9_-]`.
fn file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if safe.is_empty() {
        "campaign.json".to_string()
    } else {
        format!("{safe}.json")
    }
}

/// One attribute to add to an object.
struct Attr {
    relation: &'static str,
    misp_type: &'static str,
    category: &'static str,
    value: String,
    to_ids: bool,
    comment: String,
}

impl Attr {
    fn new(
        relation: &'static str,
        misp_type: &'static str,
        category: &'static str,
        value: &str,
    ) -> Attr {
        Attr {
            relation,
            misp_type,
            category,
            value: value.to_string(),
            to_ids: false,
            comment: String::new(),
        }
    }

    /// Flags the value as an indicator when its role is the attacker's,
    /// else says whose it is.
    fn role(mut self, role: Role) -> Attr {
        self.to_ids = role.is_indicator();
        if !role.is_indicator() {
            self.comment = role.note().to_string();
        }
        self
    }
}

/// The event being built for one campaign.
struct Event<'a> {
    campaign: &'a CampaignExport,
    timestamp: String,
    objects: Vec<Value>,
}

impl Event<'_> {
    fn object(&mut self, template: Template, key: &str, comment: &str, attrs: Vec<Attr>) {
        if attrs.is_empty() {
            return;
        }
        let uuid = wavetrace_uuid(&["misp-object", &self.campaign.summary.id, template.name, key])
            .to_string();
        let attributes: Vec<Value> = attrs
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                json!({
                    "uuid": wavetrace_uuid(&["misp-attribute", &uuid, &i.to_string(), a.relation, &a.value]).to_string(),
                    "object_relation": a.relation,
                    "type": a.misp_type,
                    "category": a.category,
                    "value": a.value,
                    "to_ids": a.to_ids,
                    "comment": a.comment,
                    "timestamp": self.timestamp,
                    "distribution": "5",
                    "sharing_group_id": "0",
                    "deleted": false,
                    "disable_correlation": false,
                })
            })
            .collect();
        self.objects.push(json!({
            "uuid": uuid,
            "name": template.name,
            "meta-category": template.meta_category,
            "description": template.description,
            "template_uuid": template.uuid,
            "template_version": template.version.to_string(),
            "comment": comment,
            "timestamp": self.timestamp,
            "distribution": "5",
            "sharing_group_id": "0",
            "deleted": false,
            "Attribute": attributes,
        }));
    }

    /// One `email` object per member (the first [`MAX_MESSAGES`]).
    fn emails(&mut self, roles: &BTreeMap<(Kind, String), Role>, personal_included: bool) {
        let campaign = self.campaign;
        for r in campaign.members.iter().take(MAX_MESSAGES) {
            let mut attrs = Vec::new();
            let role_of = |a: &str| {
                roles
                    .get(&(Kind::Email, a.to_string()))
                    .copied()
                    .unwrap_or(Role::Unverified)
            };
            if let Some(from) = r.from.as_ref() {
                if let Some(a) = from.address.as_deref().map(str::to_ascii_lowercase) {
                    if !a.is_empty() && !is_pseudonym(&a) {
                        attrs.push(
                            Attr::new("from", "email-src", "Payload delivery", &a)
                                .role(role_of(&a)),
                        );
                    }
                }
                if let Some(n) = from.name.as_deref().filter(|n| !n.trim().is_empty()) {
                    attrs.push(Attr::new(
                        "from-display-name",
                        "email-src-display-name",
                        "Payload delivery",
                        n,
                    ));
                }
            }
            let reply_to: BTreeSet<String> = r
                .reply_to
                .iter()
                .filter_map(|m| m.address.as_deref())
                .map(str::to_ascii_lowercase)
                .filter(|a| !a.is_empty() && !is_pseudonym(a))
                .collect();
            for a in reply_to {
                let role = role_of(&a);
                attrs.push(
                    Attr::new("reply-to", "email-reply-to", "Payload delivery", &a).role(role),
                );
            }
            if let Some(rp) = r
                .return_path
                .as_deref()
                .filter(|v| !v.is_empty() && !is_pseudonym(v))
            {
                attrs.push(Attr::new(
                    "return-path",
                    "email-src",
                    "Payload delivery",
                    rp,
                ));
            }
            if let Some(s) = r.subject.as_deref().filter(|s| !s.is_empty()) {
                attrs.push(Attr::new("subject", "email-subject", "Payload delivery", s));
            }
            if let Some(id) = r.message_id.as_deref().filter(|s| !s.is_empty()) {
                attrs.push(Attr::new(
                    "message-id",
                    "email-message-id",
                    "Payload delivery",
                    id,
                ));
            }
            if let Some(d) = seconds(r.date.as_deref()) {
                attrs.push(Attr::new("send-date", "datetime", "Other", &stix_time(d)));
            }
            if let Some(x) = r.x_mailer.as_deref().filter(|s| !s.is_empty()) {
                attrs.push(Attr::new(
                    "x-mailer",
                    "email-x-mailer",
                    "Payload delivery",
                    x,
                ));
            }
            if personal_included {
                let to: BTreeSet<String> =
                    r.to.iter()
                        .filter_map(|m| m.address.as_deref())
                        .map(str::to_ascii_lowercase)
                        .filter(|a| a.contains('@') && !is_pseudonym(a))
                        .collect();
                for a in to {
                    attrs.push(Attr::new("to", "email-dst", "Payload delivery", &a));
                }
            }
            let comment = format!(
                "Message sha256 {} of wavetrace campaign {}",
                r.sha256, campaign.summary.id
            );
            self.object(EMAIL, &r.sha256, &comment, attrs);
        }
    }

    /// One object per observable other than an address (addresses are in
    /// the `email` objects).
    fn observables(&mut self, observed: &[Observable]) {
        let campaign = self.campaign;
        let origins: BTreeSet<String> = campaign
            .members
            .iter()
            .filter_map(|r| r.origin.as_ref())
            .flat_map(|o| {
                o.ip.map(|ip| ip.to_string())
                    .into_iter()
                    .chain(o.rdns.as_deref().map(str::to_ascii_lowercase))
            })
            .collect();
        for o in observed {
            let comment = if o.role.is_indicator() {
                format!(
                    "{} Seen in {} of {} messages.",
                    o.role.note(),
                    o.count,
                    campaign.summary.size
                )
            } else {
                format!(
                    "{} ({}) Seen in {} of {} messages.",
                    o.role.note(),
                    o.role.as_str(),
                    o.count,
                    campaign.summary.size
                )
            };
            let seen = |attrs: &mut Vec<Attr>| {
                if let Some(f) = seconds(o.first_seen.as_deref()) {
                    attrs.push(Attr::new("first-seen", "datetime", "Other", &stix_time(f)));
                }
                if let Some(l) = seconds(o.last_seen.as_deref()) {
                    attrs.push(Attr::new("last-seen", "datetime", "Other", &stix_time(l)));
                }
            };
            let key = format!("{}\0{}", o.kind.as_str(), o.value);
            let origin = origins.contains(&o.value);
            let (template, mut attrs) = match o.kind {
                Kind::Email => continue,
                Kind::Url => (
                    URL,
                    vec![Attr::new("url", "url", "Network activity", &o.value).role(o.role)],
                ),
                Kind::Ipv4 | Kind::Ipv6 if origin => (
                    IP_PORT,
                    vec![Attr::new("ip-src", "ip-src", "Network activity", &o.value).role(o.role)],
                ),
                Kind::Domain if origin => (
                    IP_PORT,
                    vec![
                        Attr::new("hostname", "hostname", "Network activity", &o.value)
                            .role(o.role),
                    ],
                ),
                Kind::Ipv4 | Kind::Ipv6 => (
                    DOMAIN_IP,
                    vec![Attr::new("ip", "ip-dst", "Network activity", &o.value).role(o.role)],
                ),
                Kind::Domain => (
                    DOMAIN_IP,
                    host_name(&o.value)
                        .map(|h| Attr::new("domain", "domain", "Network activity", &h).role(o.role))
                        .into_iter()
                        .collect(),
                ),
                Kind::FileSha256 => {
                    let mut attrs =
                        vec![Attr::new("sha256", "sha256", "Payload delivery", &o.value)
                            .role(o.role)];
                    for name in self.file_names(&o.value) {
                        attrs.push(Attr::new("filename", "filename", "Payload delivery", &name));
                    }
                    (FILE, attrs)
                }
            };
            // A host that is no host name gives no object (its URLs remain).
            if attrs.is_empty() {
                continue;
            }
            if template.name != FILE.name {
                seen(&mut attrs);
            }
            self.object(template, &key, &comment, attrs);
        }
    }

    /// The names members gave a file (sorted, at most [`MAX_FILE_NAMES`]).
    fn file_names(&self, sha256: &str) -> Vec<String> {
        let names: BTreeSet<String> = self
            .campaign
            .members
            .iter()
            .flat_map(|r| &r.attachments)
            .filter(|a| a.sha256 == sha256)
            .filter_map(|a| a.filename.clone())
            .filter(|n| !n.trim().is_empty())
            .collect();
        names.into_iter().take(MAX_FILE_NAMES).collect()
    }
}

/// The MISP event of one campaign.
fn event(c: &CampaignExport, set: &ExportSet, options: &ShareOptions, earliest: i64) -> Value {
    let span: Span = campaign_span(c, earliest);
    let observed = c.observables.clone();
    let roles: BTreeMap<(Kind, String), Role> = observed
        .iter()
        .map(|o| ((o.kind, o.value.clone()), o.role))
        .collect();
    let mut e = Event {
        campaign: c,
        timestamp: span.last.to_string(),
        objects: Vec::new(),
    };
    e.emails(&roles, set.personal.included);
    e.observables(&observed);
    let exported = c.members.len().min(MAX_MESSAGES);
    let messages = format!(
        "Messages: the first {exported} of {} members are exported as email objects.",
        c.members.len()
    );
    let description = campaign_description(c, set.personal.included, &observed, &messages);
    let event_uuid = wavetrace_uuid(&["misp-event", &c.summary.id]).to_string();
    let mut tags = vec![json!({ "name": tlp_tag(options.tlp) })];
    for l in &c.summary.labels {
        tags.push(json!({ "name": format!("wavetrace:label=\"{}\"", l.replace('"', "'")) }));
    }
    let mut event = Map::new();
    event.insert("uuid".into(), json!(event_uuid));
    event.insert("info".into(), json!(campaign_name(c)));
    let time = stix_time(span.first);
    event.insert("date".into(), json!(time.get(..10).unwrap_or(&time)));
    event.insert(
        "threat_level_id".into(),
        json!(threat_level(c.summary.verdict.as_deref())),
    );
    event.insert("analysis".into(), json!("1"));
    event.insert("distribution".into(), json!(distribution(options.tlp)));
    event.insert("published".into(), json!(false));
    event.insert("timestamp".into(), json!(e.timestamp));
    event.insert(
        "Orgc".into(),
        json!({
            "name": options.identity,
            "uuid": wavetrace_uuid(&["misp-organisation", &options.identity]).to_string(),
        }),
    );
    event.insert("Tag".into(), json!(tags));
    event.insert(
        "Attribute".into(),
        json!([{
            "uuid": wavetrace_uuid(&["misp-attribute", &event_uuid, "description"]).to_string(),
            "type": "comment",
            "category": "Other",
            "value": cut(&description, 60_000),
            "to_ids": false,
            "comment": "wavetrace campaign summary",
            "timestamp": e.timestamp,
            "distribution": "5",
            "sharing_group_id": "0",
            "deleted": false,
            "disable_correlation": true,
        }]),
    );
    event.insert("Object".into(), Value::Array(e.objects));
    json!({ "Event": event })
}

/// One MISP event per campaign: `(file name, pretty JSON)`, the file named
/// `<campaign id>.json`.
pub fn events(set: &ExportSet, options: &ShareOptions) -> Vec<(String, String)> {
    let earliest = earliest_time(set);
    set.campaigns
        .iter()
        .map(|c| {
            (
                file_name(&c.summary.id),
                serde_json::to_string_pretty(&event(c, set, options, earliest)).unwrap_or_default(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::prepare;
    use crate::stix::sample_with_victims;
    use crate::testdata::{sample_campaigns, SALT};

    fn sample_events(personal: bool) -> Vec<(String, Value)> {
        let set = prepare(sample_with_victims(), 200, SALT, personal);
        events(&set, &ShareOptions::default())
            .into_iter()
            .map(|(n, j)| (n, serde_json::from_str(&j).unwrap()))
            .collect()
    }

    fn attributes(e: &Value) -> impl Iterator<Item = (&Value, &Value)> {
        e["Event"]["Object"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| {
                o["Attribute"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |a| (o, a))
            })
    }

    #[test]
    fn shape() {
        let evs = sample_events(false);
        assert_eq!(evs.len(), 2);
        let (name, e) = &evs[0];
        assert_eq!(name, "d063f7d11277.json");
        let mut head = e["Event"].clone();
        let objects = head["Object"].as_array().unwrap().clone();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut examples: BTreeMap<String, Value> = BTreeMap::new();
        for o in &objects {
            let n = o["name"].as_str().unwrap().to_string();
            *counts.entry(n.clone()).or_default() += 1;
            examples.entry(n).or_insert_with(|| o.clone());
        }
        head["Object"] = json!(counts);
        if let Some(Value::String(v)) = head["Attribute"][0].get_mut("value") {
            *v = v.lines().take(4).collect::<Vec<_>>().join("\n");
        }
        insta::assert_json_snapshot!("event_head", head);
        insta::assert_json_snapshot!("objects", examples);
    }

    #[test]
    fn deterministic() {
        let set = prepare(sample_campaigns(), 200, SALT, false);
        let options = ShareOptions {
            tlp: Tlp::Red,
            identity: "Example CERT".into(),
        };
        let a = events(&set, &options);
        assert_eq!(a, events(&set, &options));
        let mut reordered = set.clone();
        for c in &mut reordered.campaigns {
            c.members.reverse();
        }
        let ids = |evs: &[(String, String)]| -> BTreeSet<String> {
            evs.iter()
                .flat_map(|(_, j)| {
                    let v: Value = serde_json::from_str(j).unwrap();
                    attributes(&v)
                        .map(|(_, a)| a["uuid"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        assert_eq!(ids(&a), ids(&events(&reordered, &options)));
        assert!(a[0].1.contains("\"tlp:red\""));
    }

    #[test]
    fn only_attacker_values_are_to_ids() {
        let set = prepare(sample_with_victims(), 200, SALT, false);
        let evs = sample_events(false);
        let mut victims = 0;
        for (c, (_, e)) in set.campaigns.iter().zip(&evs) {
            let flagged: BTreeSet<&str> = attributes(e)
                .filter(|(_, a)| a["to_ids"] == json!(true))
                .map(|(_, a)| a["value"].as_str().unwrap())
                .collect();
            for o in c.observables.iter().cloned() {
                if !o.role.is_indicator() {
                    victims +=
                        usize::from(matches!(o.role, Role::AbusedThirdParty | Role::Provider));
                    assert!(!flagged.contains(o.value.as_str()), "{} flagged", o.value);
                }
            }
            for (_, a) in attributes(e) {
                let value = a["value"].as_str().unwrap();
                if a["to_ids"] == json!(false)
                    && a["comment"].as_str().unwrap().contains("Do not block")
                {
                    assert!(!flagged.contains(value));
                }
            }
        }
        assert!(victims > 0);
    }

    #[test]
    fn recipients_only_when_personal_data_is_included() {
        let redacted = sample_events(false);
        for (_, e) in &redacted {
            assert!(attributes(e).all(|(_, a)| a["object_relation"] != "to"));
            assert!(!serde_json::to_string(e).unwrap().contains("[recipient:"));
        }
        let included = sample_events(true);
        assert!(included
            .iter()
            .any(|(_, e)| attributes(e).any(|(_, a)| a["object_relation"] == "to")));
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("d063f7d11277"), "d063f7d11277.json");
        assert_eq!(file_name("../../etc/passwd"), "etcpasswd.json");
        assert_eq!(file_name("/"), "campaign.json");
    }
}
