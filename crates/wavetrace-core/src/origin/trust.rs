//! The trust boundary: which Received lines are facts and which are claims.
//!
//! The topmost relay hop was written by the receiving organisation's own server, so its
//! record of the connecting client is a fact. If that client is itself one of the
//! organisation's servers (or a provider's internal server, for mail received by that
//! provider), the next hop down was written by a trusted server too, and so on; the
//! walk stops at the first hop whose client is outside: that client is the origin
//! and every line below it was written by the sender side (RFC 5321 4.4 trace lines
//! are added by each server and never verified by the next).
//!
//! A client is trusted, in this order:
//! 1. by configuration: an address in `trusted_networks` (first match, `!` excludes; an
//!    excluded address is never trusted by inference either), a reverse DNS name in
//!    `trusted_hosts` or `authserv_ids`, or a HELO name in them when a lower hop was
//!    written by that host (then the walk continues at that hop: hops in between, such
//!    as a content filter on localhost, are passed over);
//! 2. after a trusted MSA (`msa_networks`): the client it accepted the message from;
//! 3. by inference, as SpamAssassin does without configuration: a private, loopback,
//!    link-local or shared address; a provider's internal hop (the receiving host and
//!    the client's address or reverse DNS belong to the same known provider, and the
//!    receiving host is not that provider's inbound edge); a client whose reverse DNS
//!    name is in the receiving host's registrable domain (one organisation); a client in
//!    the same /24 (IPv4) or /48 (IPv6) as the receiving host's own recorded address.
//!
//! A HELO name alone never makes a client trusted by inference: any sender can claim any
//! HELO. Non-relay lines (local delivery, fetchmail, content filters, list expansion,
//! unparseable lines) carry no client and are passed over.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::registrable_domain;

use super::providers;
use super::{is_private, network_verdict, HopForm, ReceivedHop, TrustConfig};

/// Why a hop's client was trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum TrustReason {
    /// The address is in the configured trusted networks.
    ConfiguredNetwork,
    /// The host name is a configured trusted host or authserv-id.
    ConfiguredHost,
    /// The client submitted to a trusted mail submission agent.
    Msa,
    /// A private, loopback, link-local or shared address.
    PrivateAddress,
    /// Both sides belong to the named provider, and this is not its inbound edge.
    ProviderInternal(String),
    /// The client's reverse DNS name is in the receiving host's registrable domain.
    SameOrganisation(String),
    /// The client is in the receiving host's own network.
    SameNetwork,
}

/// The result of the walk, one entry per hop.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Header index of the boundary hop (whose client is the origin).
    pub boundary: Option<usize>,
    /// The boundary hop's client is itself trusted: nothing crossed the boundary.
    pub internal_origin: bool,
    /// Per hop: why its client was trusted (None: not trusted, or not reached).
    pub trusted: Vec<Option<TrustReason>>,
    /// Per hop: written by a trusted server (at or above the boundary).
    pub written_by_trusted: Vec<bool>,
    /// The last trusted client was an MSA: whatever it accepted is trusted too.
    pub msa_pending: bool,
}

/// Walks the chain top-down and finds the trust boundary (see the module documentation).
pub fn walk(hops: &[ReceivedHop], config: &TrustConfig) -> Walk {
    let n = hops.len();
    let mut w = Walk {
        trusted: vec![None; n],
        written_by_trusted: vec![false; n],
        ..Walk::default()
    };
    let mut last_trusted: Option<usize> = None;
    let mut i = 0;
    while i < n {
        let hop = &hops[i];
        w.written_by_trusted[i] = true;
        match hop.form {
            HopForm::Relay | HopForm::Http => {}
            _ => {
                i += 1;
                continue;
            }
        }
        let (reason, jump) = client_trust(hops, i, config, w.msa_pending);
        w.msa_pending = false;
        match reason {
            Some(r) => {
                if r == TrustReason::ConfiguredNetwork
                    || r == TrustReason::Msa
                    || r == TrustReason::PrivateAddress
                {
                    if let Some(ip) = hop.from_ip {
                        w.msa_pending = network_verdict(&config.msa_networks, ip) == Some(true)
                            && network_verdict(&config.trusted_networks, ip) == Some(true);
                    }
                }
                w.trusted[i] = Some(r);
                if hop.from_ip.is_some() || last_trusted.is_none() {
                    // an internal origin is the lowest trusted client with an address
                    last_trusted = Some(i);
                }
                match jump {
                    Some(j) => {
                        for k in i + 1..j {
                            w.written_by_trusted[k] = true;
                        }
                        i = j;
                    }
                    None => i += 1,
                }
            }
            None => {
                w.boundary = Some(i);
                return w;
            }
        }
    }
    if let Some(k) = last_trusted {
        w.boundary = Some(k);
        w.internal_origin = true;
        for (idx, x) in w.written_by_trusted.iter_mut().enumerate() {
            *x = idx <= k;
        }
    }
    w
}

/// Whether the client of hop `i` is trusted, and, for a configured host matched by HELO,
/// the lower hop that host wrote (where the walk continues).
fn client_trust(
    hops: &[ReceivedHop],
    i: usize,
    config: &TrustConfig,
    msa_pending: bool,
) -> (Option<TrustReason>, Option<usize>) {
    let hop = &hops[i];
    let ip = hop.from_ip;
    if let Some(ip) = ip {
        if ip.is_loopback() {
            // the host talking to itself: trusted whatever the configuration says
            return (Some(TrustReason::PrivateAddress), None);
        }
        match network_verdict(&config.trusted_networks, ip) {
            Some(true) => return (Some(TrustReason::ConfiguredNetwork), None),
            Some(false) => return (None, None),
            None => {}
        }
    }
    if let Some(r) = hop.from_rdns.as_deref() {
        if host_listed(config, r) {
            return (Some(TrustReason::ConfiguredHost), None);
        }
    }
    if let Some(h) = hop.from_helo.as_deref() {
        if host_listed(config, h) {
            // a HELO claim counts only if a lower hop was written by that host
            if let Some(j) = (i + 1..hops.len()).find(|&j| {
                hops[j]
                    .by_host
                    .as_deref()
                    .is_some_and(|b| b.eq_ignore_ascii_case(h))
            }) {
                return (Some(TrustReason::ConfiguredHost), Some(j));
            }
        }
    }
    if msa_pending {
        return (Some(TrustReason::Msa), None);
    }
    let Some(ip) = ip else {
        // A relay line without an address: only a local name continues the walk.
        let local = hop
            .from_host()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost") || h.starts_with("localhost."));
        return (local.then_some(TrustReason::PrivateAddress), None);
    };
    if is_private(ip) {
        return (Some(TrustReason::PrivateAddress), None);
    }
    let by = hop.by_host.as_deref().unwrap_or("");
    if let Some(p) = providers::by_host(by) {
        let client_is_p = p.networks.iter().any(|n| n.contains(ip))
            || hop
                .from_rdns
                .as_deref()
                .and_then(providers::by_host)
                .is_some_and(|q| q.id == p.id);
        if client_is_p && !providers::is_edge(p, by) {
            return (Some(TrustReason::ProviderInternal(p.id.clone())), None);
        }
    }
    if let (Some(r), Some(org)) = (hop.from_rdns.as_deref(), registrable_domain(by)) {
        if registrable_domain(r).as_deref() == Some(org.as_str())
            && providers::by_host(by).is_none()
        {
            return (Some(TrustReason::SameOrganisation(org)), None);
        }
    }
    if let Some(b) = hop.by_ip {
        if !is_private(b) && same_network(b, ip) {
            return (Some(TrustReason::SameNetwork), None);
        }
    }
    (None, None)
}

/// A configured trusted host or authserv-id; `.example.com` matches names under it.
fn host_listed(config: &TrustConfig, name: &str) -> bool {
    let name = name.trim_end_matches('.');
    config
        .trusted_hosts
        .iter()
        .chain(config.authserv_ids.iter())
        .any(|h| {
            let h = h.trim();
            if let Some(suffix) = h.strip_prefix('.') {
                name.eq_ignore_ascii_case(suffix)
                    || (name.len() > suffix.len()
                        && name
                            .get(name.len() - suffix.len()..)
                            .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
                        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
            } else {
                name.eq_ignore_ascii_case(h)
            }
        })
}

/// Same /24 (IPv4) or /48 (IPv6).
fn same_network(a: IpAddr, b: IpAddr) -> bool {
    match (a.to_canonical(), b.to_canonical()) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x.octets()[..3] == y.octets()[..3],
        (IpAddr::V6(x), IpAddr::V6(y)) => x.segments()[..3] == y.segments()[..3],
        _ => false,
    }
}
