//! Which observed values are the attacker's, and which belong to someone the
//! campaign abused. Every exporter asks here, so a victim's server never
//! becomes an indicator to block in one format and not in another.
//!
//! Roles:
//! * `attacker`: the sender's own infrastructure and lures: URLs, link hosts,
//!   origin IPs that are neither a provider's nor an abused third party's,
//!   attachment hashes, From addresses the sender demonstrably controls
//!   (authenticated) and Reply-To addresses elsewhere than From;
//! * `abused-third-party`: servers origin tracing found abused (relay abuse):
//!   a victim's, never to block;
//! * `provider`: a mailbox or email service provider's shared servers;
//! * `spoofed`: a From address that failed authentication: the named party
//!   is impersonated, not the sender;
//! * `unverified`: a From address whose authentication is unknown;
//! * `common`: a host that says nothing about the sender (shorteners' and
//!   large platforms' domains, protected entities' own domains);
//! * `redacted`: a value that held personal data, now replaced by a hash
//!   (a tracking URL with the recipient's address in it): it matches
//!   nothing and is not the attacker's.
//!
//! A value keeps its safest role across the whole export
//! ([`with_safest_roles`]): a server abused in one campaign is not an
//! indicator in another.
//!
//! Only `attacker` values become indicators; the rest are exported as
//! observed data with a note saying what they are.

use std::collections::BTreeMap;

use serde::Serialize;
use wavetrace_core::auth::FromAuthenticated;
use wavetrace_core::campaign::is_common_host;
use wavetrace_core::detect::entities::ProtectedEntities;
use wavetrace_core::record::MessageRecord;

use crate::model::CampaignExport;

/// What kind of value an observable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A URL.
    Url,
    /// A host or domain name.
    Domain,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An e-mail address.
    Email,
    /// A file's SHA-256.
    FileSha256,
}

impl Kind {
    /// The name used in CSV and notes.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Url => "url",
            Kind::Domain => "domain",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Email => "email",
            Kind::FileSha256 => "file-sha256",
        }
    }
}

/// Whose a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The sender's own: an indicator.
    Attacker,
    /// A victim's server, abused to send the campaign.
    AbusedThirdParty,
    /// A mailbox or email service provider's shared server.
    Provider,
    /// An address the sender forged.
    Spoofed,
    /// An address whose authentication is unknown.
    Unverified,
    /// A host that says nothing about the sender.
    Common,
    /// A value with personal data redacted out of it: it matches nothing.
    Redacted,
}

impl Role {
    /// The name used in CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attacker => "attacker",
            Role::AbusedThirdParty => "abused-third-party",
            Role::Provider => "provider",
            Role::Spoofed => "spoofed",
            Role::Unverified => "unverified",
            Role::Common => "common",
            Role::Redacted => "redacted",
        }
    }

    /// Whether values of this role may be shared as indicators to block.
    pub fn is_indicator(self) -> bool {
        self == Role::Attacker
    }

    /// One sentence for the reader of an export.
    pub fn note(self) -> &'static str {
        match self {
            Role::Attacker => "The campaign's own infrastructure or lure.",
            Role::AbusedThirdParty => {
                "A third party's server abused to send the campaign: a victim's infrastructure, not the attacker's. Do not block."
            }
            Role::Provider => {
                "A shared mailbox or email service provider's server: it also carries legitimate mail. Do not block."
            }
            Role::Spoofed => {
                "A sender address that failed authentication: forged, its owner is impersonated. Do not block the owner."
            }
            Role::Unverified => {
                "A sender address whose authentication could not be checked: it may be forged."
            }
            Role::Common => {
                "A host of a shortener, a large platform or a protected organisation: it says nothing about the sender."
            }
            Role::Redacted => {
                "A value with personal data replaced by a salted hash: kept for the record, it matches nothing."
            }
        }
    }
}

/// One observed value of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observable {
    /// What it is.
    pub kind: Kind,
    /// The value (lower-cased for domains and addresses).
    pub value: String,
    /// Whose it is.
    pub role: Role,
    /// Members it was seen in.
    pub count: usize,
    /// Earliest arrival among them (RFC 3339 UTC).
    pub first_seen: Option<String>,
    /// Latest arrival among them (RFC 3339 UTC).
    pub last_seen: Option<String>,
}

/// Most values of one kind listed per campaign (the most frequent first).
pub const MAX_PER_KIND: usize = 200;

/// The campaign's observables, by kind then most frequent first, at most
/// [`MAX_PER_KIND`] per kind.
pub fn observables(campaign: &CampaignExport) -> Vec<Observable> {
    let entities = ProtectedEntities::builtin();
    let mut seen: BTreeMap<(Kind, String), Seen> = BTreeMap::new();
    for r in &campaign.members {
        let mut add = |kind: Kind, value: String, role: Role| {
            let entry = seen.entry((kind, value)).or_insert(Seen {
                role,
                members: Vec::new(),
                first_seen: None,
                last_seen: None,
            });
            // A value seen in two roles keeps the safer one: a server
            // abused once is never an indicator.
            entry.role = entry.role.max(role);
            if entry.members.last() != Some(&r.sha256) {
                entry.members.push(r.sha256.clone());
                entry.see(r.arrival_time.as_deref());
            }
        };
        for u in &r.urls {
            let host = u.host.as_deref().map(str::to_ascii_lowercase);
            let common = host
                .as_deref()
                .is_some_and(|h| is_common_host(h) || entities.is_protected_domain(h));
            // A URL on a shortener or platform is still the lure itself.
            let url_role = if host
                .as_deref()
                .is_some_and(|h| !is_common_host(h) && entities.is_protected_domain(h))
            {
                Role::Common
            } else {
                Role::Attacker
            };
            add(Kind::Url, u.url.clone(), url_role);
            if let Some(h) = host {
                let role = if common { Role::Common } else { Role::Attacker };
                let kind = match h.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(_)) => Kind::Ipv4,
                    Ok(std::net::IpAddr::V6(_)) => Kind::Ipv6,
                    Err(_) => Kind::Domain,
                };
                add(kind, h.trim_matches(['[', ']']).to_string(), role);
            }
        }
        if let Some(o) = &r.origin {
            let role = origin_role(r);
            if let (Some(ip), Some(role)) = (o.ip, role) {
                let kind = if ip.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 };
                add(kind, ip.to_string(), role);
            }
            if let (Some(host), Some(role)) = (o.rdns.as_ref(), role) {
                // A host named by the receiver's reverse lookup; a HELO name
                // is only the sender's claim and is not listed.
                add(Kind::Domain, host.to_ascii_lowercase(), role);
            }
        }
        for a in r.attachments.iter().filter(|a| a.size > 0) {
            add(Kind::FileSha256, a.sha256.clone(), Role::Attacker);
        }
        let from = r
            .from
            .as_ref()
            .and_then(|f| f.address.as_ref())
            .map(|a| a.to_ascii_lowercase());
        if let Some(from) = &from {
            let role = match r.auth.as_ref().map(|a| a.from_authenticated) {
                Some(FromAuthenticated::Yes) => Role::Attacker,
                Some(FromAuthenticated::No) => Role::Spoofed,
                _ => Role::Unverified,
            };
            add(Kind::Email, from.clone(), role);
        }
        for m in &r.reply_to {
            if let Some(a) = &m.address {
                let a = a.to_ascii_lowercase();
                if Some(&a) != from.as_ref() {
                    add(Kind::Email, a, Role::Attacker);
                }
            }
        }
    }
    let mut out: Vec<Observable> = seen
        .into_iter()
        .filter(|((_, value), _)| !value.is_empty() && !value.starts_with("[recipient:"))
        .map(|((kind, value), s)| Observable {
            role: if is_redacted(&value) {
                Role::Redacted
            } else {
                s.role
            },
            kind,
            value,
            count: s.members.len(),
            first_seen: s.first_seen.map(|(_, t)| t),
            last_seen: s.last_seen.map(|(_, t)| t),
        })
        .collect();
    out.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(b.count.cmp(&a.count))
            .then_with(|| a.value.cmp(&b.value))
    });
    let mut per_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    out.retain(|o| {
        let n = per_kind.entry(o.kind).or_insert(0);
        *n += 1;
        *n <= MAX_PER_KIND
    });
    out
}

/// Whether a value had personal data replaced by a hash.
fn is_redacted(value: &str) -> bool {
    value.contains("[personal:") || value.contains("[recipient:")
}

/// Every campaign's observables, each value with the safest role it has in
/// any of them: a server abused in one campaign, or a sender address forged
/// in one, is never an indicator in another.
pub fn with_safest_roles(campaigns: &[CampaignExport]) -> Vec<Vec<Observable>> {
    let mut per_campaign: Vec<Vec<Observable>> = campaigns.iter().map(observables).collect();
    let mut safest: BTreeMap<(Kind, &str), Role> = BTreeMap::new();
    for o in per_campaign.iter().flatten() {
        let role = safest.entry((o.kind, o.value.as_str())).or_insert(o.role);
        *role = (*role).max(o.role);
    }
    let roles: Vec<Role> = per_campaign
        .iter()
        .flatten()
        .map(|o| {
            safest
                .get(&(o.kind, o.value.as_str()))
                .copied()
                .unwrap_or(o.role)
        })
        .collect();
    for (o, role) in per_campaign.iter_mut().flatten().zip(roles) {
        o.role = role;
    }
    per_campaign
}

/// The role of a record's origin server; None for mail that stayed inside
/// the receiving organisation.
fn origin_role(r: &MessageRecord) -> Option<Role> {
    let o = r.origin.as_ref()?;
    if o.internal {
        return None;
    }
    if r.findings.iter().any(|f| f.victim_infrastructure.is_some()) {
        Some(Role::AbusedThirdParty)
    } else if o.provider.is_some() {
        Some(Role::Provider)
    } else {
        Some(Role::Attacker)
    }
}

/// Members and times a value was seen at.
struct Seen {
    role: Role,
    members: Vec<String>,
    first_seen: Option<(i64, String)>,
    last_seen: Option<(i64, String)>,
}

impl Seen {
    fn see(&mut self, arrival: Option<&str>) {
        let Some(t) = arrival.and_then(wavetrace_core::campaign::record_features::unix_time) else {
            return;
        };
        if self.first_seen.as_ref().is_none_or(|(f, _)| t < *f) {
            self.first_seen = arrival.map(|a| (t, a.to_string()));
        }
        if self.last_seen.as_ref().is_none_or(|(l, _)| t > *l) {
            self.last_seen = arrival.map(|a| (t, a.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_campaigns;

    #[test]
    fn abused_relays_are_never_indicators() {
        let campaigns = sample_campaigns();
        let phish = &campaigns[0];
        let obs = observables(phish);
        assert!(!obs.is_empty());
        let abused: Vec<&Observable> = obs
            .iter()
            .filter(|o| o.role == Role::AbusedThirdParty)
            .collect();
        let relay_abuse = phish
            .members
            .iter()
            .any(|r| r.findings.iter().any(|f| f.victim_infrastructure.is_some()));
        assert_eq!(!abused.is_empty(), relay_abuse);
        for o in &obs {
            if matches!(o.role, Role::AbusedThirdParty | Role::Provider) {
                assert!(!o.role.is_indicator());
            }
            assert!(o.count >= 1 && o.count <= phish.members.len());
        }
        assert!(obs
            .iter()
            .any(|o| o.kind == Kind::Url && o.role == Role::Attacker));
    }

    #[test]
    fn a_server_abused_in_one_campaign_is_no_indicator_in_another() {
        use wavetrace_core::origin::infra::{Finding, FindingCode, VictimInfrastructure};
        let mut campaigns = sample_campaigns();
        // Both sample campaigns came through 198.51.100.10; say the county
        // notices' server was found abused.
        let ip: std::net::IpAddr = "198.51.100.10".parse().expect("ip");
        for r in &mut campaigns[1].members {
            r.findings.push(Finding {
                code: FindingCode::RelayAbuse,
                summary: "sent through an unrelated organisation's server".into(),
                evidence: Vec::new(),
                victim_infrastructure: Some(VictimInfrastructure {
                    ip: Some(ip),
                    rdns: "mx.mail.harrowcounty.example".into(),
                    org_domain: "harrowcounty.example".into(),
                    role: "victim".into(),
                }),
                rule: None,
            });
        }
        let role_in = |obs: &[Observable]| {
            obs.iter()
                .find(|o| o.value == "198.51.100.10")
                .map(|o| o.role)
        };
        assert_eq!(role_in(&observables(&campaigns[0])), Some(Role::Attacker));
        let safest = with_safest_roles(&campaigns);
        assert_eq!(role_in(&safest[0]), Some(Role::AbusedThirdParty));
        assert_eq!(role_in(&safest[1]), Some(Role::AbusedThirdParty));
    }
}
