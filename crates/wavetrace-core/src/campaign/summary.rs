//! A campaign as an analyst reads it: size, time span, waves with their own
//! infrastructure, the template, who sent it and to whom, and indicators.
//! Built from the members' records; the JSON form is the contract of
//! `wavetrace campaigns --format json` (README, "Campaigns").

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::parse::rfc3339_utc;
use crate::record::{json_token, MessageRecord};

use super::record_features::unix_time;
use super::template::{varies_per_member, SlotType, TemplateSegment};
use super::{split_waves, template, CampaignMembers, Template};
use crate::detect::Label;

/// Values listed per field (the most frequent first).
const TOP: usize = 50;
/// Member texts the template is built from (earliest first).
const TEMPLATE_SAMPLE: usize = 200;

/// One campaign, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    /// First 12 hex characters of the earliest member's sha256.
    pub id: String,
    /// Earlier ids of this campaign (merged campaigns); they still resolve.
    pub aliases: Vec<String>,
    /// Number of distinct messages.
    pub size: usize,
    /// Earliest arrival (RFC 3339 UTC).
    pub first_seen: Option<String>,
    /// Latest arrival (RFC 3339 UTC).
    pub last_seen: Option<String>,
    /// Labels from detection: the union of the members', plus
    /// `personalised` when the template has name or street-address slots.
    pub labels: Vec<String>,
    /// The highest member verdict (`clean`, `suspicious`, `malicious`);
    /// None when no member was judged.
    pub verdict: Option<String>,
    /// The common text with typed slots, for campaigns of two or more.
    pub template: Option<Template>,
    /// Whether the template was built from a sample of the members.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub template_sampled: bool,
    /// Bursts in arrival time, each with its own infrastructure.
    pub waves: Vec<WaveSummary>,
    /// Every member: where it was first seen, its sha256 and Message-ID.
    pub members: Vec<MemberRef>,
    /// Subjects, most frequent first.
    pub subjects: Vec<Counted>,
    /// Recipients (To and Cc) and their domains.
    pub recipients: Recipients,
    /// From addresses.
    pub senders: Vec<Counted>,
    /// From display names.
    pub display_names: Vec<Counted>,
    /// Origin IPs (the connecting side of the first trusted hop).
    pub origins: Vec<Counted>,
    /// Origin hosts (rDNS, else HELO): the servers that handed the mail over,
    /// often an abused third party's.
    pub relays: Vec<Counted>,
    /// Origin organisations (registrable domains).
    pub origin_organisations: Vec<Counted>,
    /// Origin networks (`AS<n> <organisation>`), when `--ipdb` was given.
    #[serde(default)]
    pub asns: Vec<Counted>,
    /// Authentication outcomes among members: how many have each result.
    #[serde(default)]
    pub authentication: AuthShares,
    /// Findings among members (e.g. `relay_abuse`) and how many have each.
    pub findings: Vec<Counted>,
    /// Indicators seen in the members.
    pub indicators: Indicators,
}

/// A value and how many members had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The value.
    pub value: String,
    /// How many members had it.
    pub count: usize,
}

/// One wave: a burst of arrivals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveSummary {
    /// First arrival in the wave (RFC 3339 UTC).
    pub start: String,
    /// Last arrival in the wave (RFC 3339 UTC).
    pub end: String,
    /// Members in the wave.
    pub size: usize,
    /// Origin IPs of the wave's members.
    pub origins: Vec<String>,
    /// Origin hosts of the wave's members.
    pub relays: Vec<String>,
    /// From addresses of the wave's members.
    pub senders: Vec<String>,
}

/// A member, as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    /// Where it was first seen (the `source` contract).
    pub source: String,
    /// Its sha256.
    pub sha256: String,
    /// Its Message-ID.
    pub message_id: Option<String>,
}

/// Authentication outcomes of a campaign's members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthShares {
    /// `yes`, `no`, `unknown`.
    pub from_authenticated: Vec<Counted>,
    /// SPF results.
    pub spf: Vec<Counted>,
    /// DKIM results (every signature).
    pub dkim: Vec<Counted>,
    /// DMARC results.
    pub dmarc: Vec<Counted>,
}

/// Recipients of a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipients {
    /// Distinct recipient addresses.
    pub count: usize,
    /// Their domains.
    pub domains: Vec<Counted>,
}

/// Indicators of a campaign, most frequent first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicators {
    /// URL hosts.
    pub domains: Vec<Counted>,
    /// URLs.
    pub urls: Vec<Counted>,
    /// Origin IPs that are neither a known provider's nor an abused third
    /// party's (`relay_abuse`): the sender's own.
    pub ips: Vec<Counted>,
    /// Attachment sha256s.
    pub attachment_sha256: Vec<Counted>,
}

/// Counts values, then lists the most frequent first (ties by value).
#[derive(Default)]
struct Tally(HashMap<String, usize>);

impl Tally {
    fn add(&mut self, value: impl Into<String>) {
        *self.0.entry(value.into()).or_default() += 1;
    }

    fn top(self) -> Vec<Counted> {
        let mut v: Vec<Counted> = self
            .0
            .into_iter()
            .map(|(value, count)| Counted { value, count })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        v.truncate(TOP);
        v
    }
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = values.collect();
    v.sort();
    v.dedup();
    v.truncate(TOP);
    v
}

/// A campaign's labels and verdict: the union of its members' labels and
/// the highest member verdict. A template slot that holds names or street
/// addresses whose values vary per member ([`varies_per_member`]) adds
/// `personalised`: each member was filled in from a data set, even when no
/// single message shows it. (A slot typed `name` that barely varies is
/// wording, not a recipient.)
fn judgement(
    members: &[&MessageRecord],
    template: Option<&Template>,
) -> (Vec<String>, Option<String>) {
    let mut labels: Vec<Label> = members
        .iter()
        .flat_map(|r| r.labels.iter().copied())
        .collect();
    let personal_slots = template.is_some_and(|t| {
        t.segments.iter().any(|s| {
            matches!(
                s,
                TemplateSegment::Slot {
                    slot_type: SlotType::Name | SlotType::StreetAddress,
                    distinct_values,
                    ..
                } if varies_per_member(*distinct_values, members.len().min(TEMPLATE_SAMPLE))
            )
        })
    });
    if personal_slots {
        labels.push(Label::Personalised);
    }
    labels.sort();
    labels.dedup();
    let verdict = members.iter().filter_map(|r| r.verdict).max();
    (
        labels.iter().map(|l| l.as_str().to_string()).collect(),
        verdict.map(|v| v.as_str().to_string()),
    )
}

/// Summarises a campaign from its members' records (in any order; members
/// without a record are skipped).
pub fn summarise(members: &CampaignMembers, records: &[MessageRecord]) -> CampaignSummary {
    let by_sha: HashMap<&str, &MessageRecord> =
        records.iter().map(|r| (r.sha256.as_str(), r)).collect();
    let ordered: Vec<&MessageRecord> = members
        .members
        .iter()
        .filter_map(|s| by_sha.get(s.as_str()).copied())
        .collect();

    let (mut subjects, mut senders, mut names, mut origins, mut relays, mut orgs, mut findings) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    let (mut rcpt_domains, mut hosts, mut urls, mut attachments, mut own_ips) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    let mut recipients = std::collections::HashSet::new();
    let (mut asns, mut from_auth, mut spf, mut dkim, mut dmarc) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    for r in &ordered {
        if let Some(n) = r.origin.as_ref().and_then(|o| o.network.as_ref()) {
            if let Some(asn) = n.asn {
                asns.add(
                    format!("AS{asn} {}", n.as_org.as_deref().unwrap_or(""))
                        .trim()
                        .to_string(),
                );
            }
        }
        if let Some(a) = &r.auth {
            from_auth.add(json_token(&a.from_authenticated));
            if let Some(v) = &a.spf {
                spf.add(json_token(&v.result));
            }
            for v in &a.dkim {
                dkim.add(json_token(&v.result));
            }
            if let Some(v) = &a.dmarc {
                dmarc.add(json_token(&v.result));
            }
        }
        if let Some(s) = &r.subject {
            subjects.add(s.trim());
        }
        if let Some(f) = &r.from {
            if let Some(a) = &f.address {
                senders.add(a.to_ascii_lowercase());
            }
            if let Some(n) = &f.name {
                names.add(n.as_str());
            }
        }
        for m in r.to.iter().chain(&r.cc) {
            if let Some(a) = &m.address {
                if recipients.insert(a.to_ascii_lowercase()) {
                    if let Some(d) = &m.domain {
                        rcpt_domains.add(d.as_str());
                    }
                }
            }
        }
        if let Some(o) = &r.origin {
            if let Some(ip) = o.ip {
                origins.add(ip.to_string());
                // A provider's server or an abused third party's is not the
                // sender's own infrastructure: never an indicator.
                let abused = r.findings.iter().any(|f| f.victim_infrastructure.is_some());
                if o.provider.is_none() && !abused && !o.internal {
                    own_ips.add(ip.to_string());
                }
            }
            if let Some(h) = o.rdns.as_ref().or(o.helo.as_ref()) {
                relays.add(h.to_ascii_lowercase());
            }
            if let Some(org) = &o.org_domain {
                orgs.add(org.as_str());
            }
        }
        for f in &r.findings {
            findings.add(json_token(&f.code));
        }
        let mut seen_hosts = std::collections::HashSet::new();
        for u in &r.urls {
            if let Some(h) = &u.host {
                if seen_hosts.insert(h.as_str()) {
                    hosts.add(h.as_str());
                }
            }
            urls.add(u.url.as_str());
        }
        for a in r.attachments.iter().filter(|a| a.size > 0) {
            attachments.add(a.sha256.as_str());
        }
    }

    let times: Vec<(i64, &MessageRecord)> = ordered
        .iter()
        .filter_map(|r| {
            r.arrival_time
                .as_deref()
                .and_then(unix_time)
                .map(|t| (t, *r))
        })
        .collect();
    let mut sorted_times: Vec<i64> = times.iter().map(|(t, _)| *t).collect();
    sorted_times.sort_unstable();
    let waves = split_waves(&sorted_times)
        .into_iter()
        .map(|w| {
            let in_wave: Vec<&MessageRecord> = times
                .iter()
                .filter(|(t, _)| w.contains(*t))
                .map(|(_, r)| *r)
                .collect();
            WaveSummary {
                start: rfc3339_utc(w.start),
                end: rfc3339_utc(w.end),
                size: w.size,
                origins: distinct(
                    in_wave
                        .iter()
                        .filter_map(|r| r.origin.as_ref()?.ip.map(|ip| ip.to_string())),
                ),
                relays: distinct(in_wave.iter().filter_map(|r| {
                    let o = r.origin.as_ref()?;
                    o.rdns
                        .as_ref()
                        .or(o.helo.as_ref())
                        .map(|h| h.to_ascii_lowercase())
                })),
                senders: distinct(in_wave.iter().filter_map(|r| {
                    r.from
                        .as_ref()?
                        .address
                        .as_ref()
                        .map(|a| a.to_ascii_lowercase())
                })),
            }
        })
        .collect();

    let (template, template_sampled) = if ordered.len() >= 2 {
        let texts: Vec<&str> = ordered
            .iter()
            .take(TEMPLATE_SAMPLE)
            .map(|r| r.body.text.as_str())
            .collect();
        (Some(template(&texts)), ordered.len() > TEMPLATE_SAMPLE)
    } else {
        (None, false)
    };

    let (labels, verdict) = judgement(&ordered, template.as_ref());
    CampaignSummary {
        id: members.id.clone(),
        aliases: members.aliases.clone(),
        size: members.size(),
        first_seen: members.first_seen().map(rfc3339_utc),
        last_seen: members.last_seen().map(rfc3339_utc),
        labels,
        verdict,
        template,
        template_sampled,
        waves,
        members: ordered
            .iter()
            .map(|r| MemberRef {
                source: r.source.clone(),
                sha256: r.sha256.clone(),
                message_id: r.message_id.clone(),
            })
            .collect(),
        subjects: subjects.top(),
        recipients: Recipients {
            count: recipients.len(),
            domains: rcpt_domains.top(),
        },
        senders: senders.top(),
        display_names: names.top(),
        origins: origins.top(),
        relays: relays.top(),
        origin_organisations: orgs.top(),
        asns: asns.top(),
        authentication: AuthShares {
            from_authenticated: from_auth.top(),
            spf: spf.top(),
            dkim: dkim.top(),
            dmarc: dmarc.top(),
        },
        findings: findings.top(),
        indicators: Indicators {
            domains: hosts.top(),
            urls: urls.top(),
            ips: own_ips.top(),
            attachment_sha256: attachments.top(),
        },
    }
}
