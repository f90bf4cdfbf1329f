//! Infrastructure context: how the origin relates to the identities the message claims,
//! and the relay-abuse finding.
//!
//! Campaigns are sent through the mail servers of unrelated organisations (an open or
//! compromised relay at a bank, a publisher, a school) while showing a spoofed sender.
//! The origin's organisation is then none of the identities the message claims (From
//! domain, envelope sender, DKIM signer) and not a known mailbox or email service
//! provider. That server is a victim's infrastructure, not the attacker's, and the
//! finding says so.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::registrable_domain;

use super::providers::{self, ProviderKind};
use super::{ClaimedHop, Origin, TraceInput};

/// Which name an organisation was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The reverse DNS name recorded by the trusted receiving server.
    Rdns,
    /// The HELO name the client claimed (weaker: forgeable).
    Helo,
}

/// How the origin relates to what the message claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Same organisation as the From domain (RFC 5322 3.6.2).
    FromDomain,
    /// Same organisation as the envelope sender (RFC 5321 4.4 Return-Path).
    EnvelopeSender,
    /// Same organisation as a DKIM signing domain (`d=`).
    DkimDomain,
    /// A known mailbox or email service provider.
    Provider,
    /// The message carries mailing-list headers (List-Id, List-Post, Mailing-List,
    /// X-BeenThere, X-Mailman-Version): the origin is a list server re-sending a
    /// subscriber's post (RFC 2919, RFC 2369). A sender can add such headers, so the
    /// relation is shown rather than trusted blindly.
    MailingList,
    /// The origin server itself recorded, in the line it wrote below the boundary, that
    /// it accepted the message from its own organisation or from an authenticated user:
    /// a smarthost or submission server relaying for its user (RFC 6409).
    OwnUser,
    /// None of these.
    None,
}

/// A conclusion drawn from the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingCode {
    /// Sent through an unrelated organisation's server.
    RelayAbuse,
    /// A detection rule fired (see `rule`).
    Rule,
}

/// A finding with its evidence, in words an analyst can defend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub code: FindingCode,
    /// One sentence.
    pub summary: String,
    /// Each fact the finding rests on.
    pub evidence: Vec<String>,
    /// The abused server, described as a victim's infrastructure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim_infrastructure: Option<VictimInfrastructure>,
    /// For `code: rule`: which rule fired, its severity, score, labels and tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<crate::detect::RuleHit>,
}

/// The third-party server a message was sent through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimInfrastructure {
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Its reverse DNS name.
    pub rdns: String,
    /// Its organisation (registrable domain).
    pub org_domain: String,
    /// Always "victim": the organisation's server was abused, it did not send the campaign.
    pub role: String,
}

/// Fills the origin's organisation, provider and relation to the claimed identities.
pub fn relate(origin: &mut Origin, input: &TraceInput, claimed: &[ClaimedHop]) {
    let (org, source) = match origin.rdns.as_deref().and_then(registrable_domain) {
        Some(o) => (Some(o), Some(NameSource::Rdns)),
        None => match origin.helo.as_deref().and_then(registrable_domain) {
            Some(o) => (Some(o), Some(NameSource::Helo)),
            None => (None, None),
        },
    };
    origin.org_domain = org;
    origin.org_domain_source = source;
    origin.provider =
        providers::for_client(origin.ip, origin.rdns.as_deref()).map(|p| p.name.clone());

    let mut rel = Vec::new();
    if let Some(org) = origin.org_domain.as_deref() {
        let same = |d: Option<&str>| d.and_then(registrable_domain).is_some_and(|x| x == org);
        if same(input.from_domain) {
            rel.push(Relation::FromDomain);
        }
        if same(input.envelope_sender_domain) {
            rel.push(Relation::EnvelopeSender);
        }
        if input.dkim_domains.iter().take(50).any(|d| same(Some(d))) {
            rel.push(Relation::DkimDomain);
        }
    }
    if origin.provider.is_some() {
        rel.push(Relation::Provider);
    }
    if input.headers.iter().take(500).any(|(n, _)| {
        super::LIST_HEADERS
            .iter()
            .any(|l| n.trim().eq_ignore_ascii_case(l))
    }) {
        rel.push(Relation::MailingList);
    }
    // The line directly below the boundary was written by the origin server itself.
    if let Some(below) = claimed
        .first()
        .filter(|c| c.hop_index == origin.hop_index + 1)
    {
        let own_network = match (origin.org_domain.as_deref(), below.rdns.as_deref()) {
            (Some(org), Some(r)) => registrable_domain(r).as_deref() == Some(org),
            _ => false,
        };
        if below.authenticated || own_network {
            rel.push(Relation::OwnUser);
        }
    }
    if rel.is_empty() {
        rel.push(Relation::None);
    }
    origin.relation = rel;
}

/// Words in reverse DNS names of dynamic or residential addresses: such a host is a
/// compromised end device or a direct-to-MX sender, not an organisation's mail server.
const DYNAMIC_WORDS: &[&str] = &[
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "dyn",
    "dynamic",
    "dynamicip",
    "pool",
    "dhcp",
    "ppp",
    "pppoe",
    "cable",
    "dial",
    "dialup",
    "dialin",
    "broadband",
    "cust",
    "customer",
    "client",
    "clients",
    "residential",
    "home",
    "user",
    "users",
    "nat",
    "mobile",
    "cpe",
    "ip",
    "host",
    "hosts",
    "static",
    "fttx",
    "ftth",
    "rev",
    "unassigned",
];

/// Whether a reverse DNS name looks generated for an address pool (it contains two or
/// more of the address's numbers, or a dynamic-pool word) rather than named for a server.
pub fn looks_dynamic(rdns: &str, ip: Option<IpAddr>) -> bool {
    let lower = rdns.to_ascii_lowercase();
    let org = registrable_domain(&lower).unwrap_or_default();
    let host_part = lower.strip_suffix(org.as_str()).unwrap_or(&lower);
    let tokens: Vec<&str> = host_part
        .split(['.', '-', '_'])
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.iter().any(|t| {
        let word = t.trim_end_matches(|c: char| c.is_ascii_digit());
        DYNAMIC_WORDS.contains(&word)
    }) {
        return true;
    }
    if let Some(IpAddr::V4(v4)) = ip.map(|i| i.to_canonical()) {
        let octets: Vec<String> = v4.octets().iter().map(|o| o.to_string()).collect();
        let hits = octets
            .iter()
            .filter(|o| {
                tokens
                    .iter()
                    .any(|t| t.trim_start_matches(|c: char| c.is_ascii_alphabetic()) == o.as_str())
            })
            .count();
        if hits >= 2 {
            return true;
        }
        // hex-encoded address (p5483b7c0.dip.t-dialin.net)
        let hex = format!("{:08x}", u32::from(v4));
        if host_part.contains(&hex) {
            return true;
        }
    }
    false
}

/// The relay-abuse finding, when the evidence supports it:
/// - the origin crossed the trust boundary (it is not internal) and has an address;
/// - the receiving server recorded a reverse DNS name for it, under a known suffix,
///   that does not look like a dynamic pool: a named server of some organisation
///   (a HELO name alone is a claim and never enough);
/// - the message claims a From domain, and the origin's organisation is none of the
///   From domain, the envelope sender's domain or a DKIM signing domain;
/// - the origin is not a known mailbox or email service provider (by address or rDNS).
pub fn relay_abuse(origin: &Origin, input: &TraceInput, claimed: &[ClaimedHop]) -> Option<Finding> {
    if origin.internal || origin.provider.is_some() || origin.authenticated {
        return None;
    }
    let ip = origin.ip?;
    let rdns = origin.rdns.as_deref()?;
    if origin.org_domain_source != Some(NameSource::Rdns) || looks_dynamic(rdns, Some(ip)) {
        return None;
    }
    let org = origin.org_domain.as_deref()?;
    let from = input.from_domain?;
    if !origin.relation.contains(&Relation::None) {
        return None;
    }
    let mut evidence = vec![format!(
        "the trusted server {} recorded the connection from {ip}, reverse DNS {rdns} (organisation {org})",
        origin.received_by.as_deref().unwrap_or("that received the message")
    )];
    if let Some(h) = origin.helo.as_deref() {
        if registrable_domain(h).as_deref() == Some(org) {
            evidence.push(format!("its HELO name {h} agrees with its reverse DNS"));
        } else {
            evidence.push(format!("its HELO name was {h}"));
        }
    }
    evidence.push(format!(
        "the From domain {from} is a different organisation"
    ));
    match input.envelope_sender_domain {
        Some(e) => evidence.push(format!(
            "the envelope sender domain {e} is a different organisation"
        )),
        None => evidence.push("no envelope sender domain".to_string()),
    }
    if input.dkim_domains.is_empty() {
        evidence.push("no DKIM signature ties the message to the origin".to_string());
    } else {
        evidence.push(format!(
            "DKIM signing domains ({}) are different organisations",
            input.dkim_domains.join(", ")
        ));
    }
    evidence.push(format!(
        "{org} is not a known mailbox provider or email service provider"
    ));
    if !claimed.is_empty() {
        evidence.push(format!(
            "{} hop(s) below it are the sender side's claims",
            claimed.len()
        ));
    }
    let kind_note = providers::by_host(from).map(|p| match p.kind {
        ProviderKind::Mailbox => format!(" (the From domain is a {} address)", p.name),
        ProviderKind::Esp => String::new(),
    });
    Some(Finding {
        code: FindingCode::RelayAbuse,
        summary: format!(
            "Sent through an unrelated organisation's server: {rdns} ({ip}) of {org} relayed a message claiming to be from {from}{}; the server is most likely the abused infrastructure of a third party (a victim), not the attacker's own.",
            kind_note.unwrap_or_default()
        ),
        evidence,
        victim_infrastructure: Some(VictimInfrastructure { ip: Some(ip), rdns: rdns.to_string(), org_domain: org.to_string(), role: "victim".to_string() }),
        rule: None,
    })
}
