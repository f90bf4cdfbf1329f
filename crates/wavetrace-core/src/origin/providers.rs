//! The bundled list of mailbox providers and email service providers
//! (`data/providers.txt`; its header documents the format and sources).
//!
//! Used to keep legitimate bulk and webmail senders from being reported as relay
//! abuse, to treat a provider's internal hops as one system, and to find a provider's
//! inbound edge (the hop where mail enters the recipient's tenant).

use std::net::IpAddr;
use std::sync::OnceLock;

use crate::domain::registrable_domain;

use super::IpNetwork;

/// The list as bundled.
const PROVIDERS_TEXT: &str = include_str!("../../../../data/providers.txt");

/// What kind of provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// A mailbox provider (Gmail, Outlook.com, ...): people send from accounts there.
    Mailbox,
    /// An email service provider: organisations send bulk or transactional mail through it.
    Esp,
}

/// One provider from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Short id (`google`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Mailbox provider or email service provider.
    pub kind: ProviderKind,
    /// Registrable domains of its HELO and reverse DNS names (lower case).
    pub domains: Vec<String>,
    /// Host name suffixes of its inbound MX edge (lower case).
    pub edges: Vec<String>,
    /// Networks it sends from.
    pub networks: Vec<IpNetwork>,
}

/// All providers, parsed once. A malformed entry is skipped (the unit tests check the
/// bundled file has none).
pub fn providers() -> &'static [Provider] {
    static LIST: OnceLock<Vec<Provider>> = OnceLock::new();
    LIST.get_or_init(|| parse(PROVIDERS_TEXT).0)
}

/// Parses the list format; returns the providers and the lines that could not be read.
pub fn parse(text: &str) -> (Vec<Provider>, Vec<String>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut cur: Option<Provider> = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            bad.push(line.to_string());
            continue;
        };
        let value = value.trim();
        let words = value.split_whitespace();
        match key.trim() {
            "provider" => {
                out.extend(cur.take());
                cur = Some(Provider {
                    id: value.to_string(),
                    name: value.to_string(),
                    kind: ProviderKind::Mailbox,
                    domains: Vec::new(),
                    edges: Vec::new(),
                    networks: Vec::new(),
                });
            }
            k => {
                let Some(p) = cur.as_mut() else {
                    bad.push(line.to_string());
                    continue;
                };
                match k {
                    "name" => p.name = value.to_string(),
                    "kind" => match value {
                        "mailbox" => p.kind = ProviderKind::Mailbox,
                        "esp" => p.kind = ProviderKind::Esp,
                        _ => bad.push(line.to_string()),
                    },
                    "domains" => p.domains.extend(words.map(str::to_ascii_lowercase)),
                    "edge" => p.edges.extend(words.map(str::to_ascii_lowercase)),
                    "networks" => {
                        for w in words {
                            match w.parse::<IpNetwork>() {
                                Ok(n) => p.networks.push(n),
                                Err(_) => bad.push(w.to_string()),
                            }
                        }
                    }
                    _ => bad.push(line.to_string()),
                }
            }
        }
    }
    out.extend(cur);
    (out, bad)
}

/// The provider whose networks hold `ip`.
pub fn by_ip(ip: IpAddr) -> Option<&'static Provider> {
    providers()
        .iter()
        .find(|p| p.networks.iter().any(|n| n.contains(ip)))
}

/// The provider whose domains hold `host`'s registrable domain.
pub fn by_host(host: &str) -> Option<&'static Provider> {
    let org = registrable_domain(host)?;
    providers().iter().find(|p| p.domains.contains(&org))
}

/// Whether `host` is one of the provider's inbound MX edge hosts.
pub fn is_edge(p: &Provider, host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    p.edges.iter().any(|e| {
        h == *e
            || (h.len() > e.len()
                && h.ends_with(e.as_str())
                && h.as_bytes()[h.len() - e.len() - 1] == b'.')
    })
}

/// The provider a client belongs to by evidence the client cannot forge: its address,
/// or the reverse DNS name the receiving server recorded. A HELO name is not enough.
pub fn for_client(ip: Option<IpAddr>, rdns: Option<&str>) -> Option<&'static Provider> {
    ip.and_then(by_ip).or_else(|| rdns.and_then(by_host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_parses_cleanly() {
        let (list, bad) = parse(PROVIDERS_TEXT);
        assert!(bad.is_empty(), "unreadable lines: {bad:?}");
        assert!(list.len() >= 20);
        for p in &list {
            assert!(!p.domains.is_empty(), "{} has no domains", p.id);
            for d in &p.domains {
                assert_eq!(
                    registrable_domain(d).as_deref(),
                    Some(d.as_str()),
                    "{}: {d} is not a registrable domain",
                    p.id
                );
            }
        }
        let ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
        for id in ["google", "microsoft", "amazonses", "sendgrid"] {
            assert!(ids.contains(&id), "{id} missing");
        }
    }

    #[test]
    fn lookups() {
        let g = for_client("209.85.220.41".parse().ok(), None).map(|p| p.id.as_str());
        assert_eq!(g, Some("google"));
        let ses = for_client(None, Some("a8-30.smtp-out.amazonses.com")).map(|p| p.id.as_str());
        assert_eq!(ses, Some("amazonses"));
        assert!(for_client("192.0.2.1".parse().ok(), Some("mail.example.com")).is_none());
        let ms = by_host("DB1PEPF000509F3.mail.protection.outlook.com").expect("microsoft");
        assert!(is_edge(ms, "DB1PEPF000509F3.mail.protection.outlook.com"));
        assert!(!is_edge(ms, "GV3P280CA0002.outlook.office365.com"));
        assert!(!is_edge(ms, "evilmail.protection.outlook.com"));
    }
}
