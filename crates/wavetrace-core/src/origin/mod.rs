//! Origin tracing: where a message really came from, and whose servers carried it.
//!
//! Every server that accepts a message prepends a Received header (RFC 5321 section 4.4;
//! trace fields, RFC 5322 section 3.6.7), so the headers read from the bottom up are the
//! message's path. Only the lines written by servers we trust are facts; everything
//! below the first hop that crossed into trusted hands was written by the sender side
//! and is a claim. [`trace`] parses the chain ([`received`]), finds that trust boundary
//! ([`trust`]), reads the path with its delays and anomalies ([`chain`]), and relates the
//! origin to the identities the message claims ([`infra`]), which is where relay abuse
//! (a spoofed sender sent through an unrelated organisation's server) shows.
//!
//! Pure: no DNS, no clock (the caller passes `now`), no I/O. Bounded: at most
//! [`MAX_HOPS`] headers are read, each cut at [`received::MAX_HEADER_LEN`].

pub mod chain;
pub mod infra;
pub mod ipdb;
pub mod providers;
pub mod received;
pub mod trust;

#[cfg(test)]
pub(crate) mod testdata;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use chain::{Anomaly, AnomalyCode, ClaimedHop, PathSide, PathStep};
pub use infra::{Finding, FindingCode, Relation, VictimInfrastructure};
pub use received::{parse_received, HopForm, ParseNote, ReceivedHop};
pub use trust::TrustReason;

/// Most Received headers read per message; the rest are ignored and an anomaly says so.
/// Real chains have 2 to 15; an attacker can add thousands.
pub const MAX_HOPS: usize = 100;

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, a bare address for a
/// single host), optionally negated with a leading `!` to exclude part of a wider
/// network listed after it (first match wins, as in SpamAssassin's `trusted_networks`).
/// SpamAssassin's short forms (`127/8`, `1.2/16`) are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpNetwork {
    /// The network address (host bits are ignored when matching).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
    /// `!` networks exclude instead of include.
    pub negated: bool,
}

/// Why a configuration value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A network that is not `address[/prefix]`.
    #[error("invalid network {value:?}: {reason}")]
    BadNetwork {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl IpNetwork {
    /// Whether `ip` is inside this network (ignoring `negated`). IPv4-mapped IPv6
    /// addresses match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let bits = u32::from(self.prefix.min(32));
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                (u32::from(n) & mask) == (u32::from(a) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let bits = u32::from(self.prefix.min(128));
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                (u128::from(n) & mask) == (u128::from(a) & mask)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| ConfigError::BadNetwork {
            value: s.to_string(),
            reason,
        };
        let t = s.trim();
        let (negated, t) = match t.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, t),
        };
        let (a, p) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = match a.parse::<IpAddr>() {
            Ok(ip) => ip.to_canonical(),
            Err(_) => {
                // SpamAssassin short IPv4 forms: `127`, `1.2`, `10.1.2`
                let parts: Vec<&str> = a.split('.').collect();
                if parts.is_empty() || parts.len() > 4 {
                    return Err(bad("not an IP address"));
                }
                let mut oct = [0u8; 4];
                for (i, x) in parts.iter().enumerate() {
                    oct[i] = x.parse().map_err(|_| bad("not an IP address"))?;
                }
                if p.is_none() {
                    // `1.2` alone means 1.2.0.0/16
                    let prefix = (parts.len() * 8) as u8;
                    return Ok(IpNetwork {
                        addr: IpAddr::from(oct),
                        prefix,
                        negated,
                    });
                }
                IpAddr::from(oct)
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| bad("prefix is not a number"))?,
            None => max,
        };
        if prefix > max {
            return Err(bad("prefix too long"));
        }
        Ok(IpNetwork {
            addr,
            prefix,
            negated,
        })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}/{}",
            if self.negated { "!" } else { "" },
            self.addr,
            self.prefix
        )
    }
}

/// Reads a list of networks in order; first match decides ([`IpNetwork`]).
/// `Some(true)` trusted, `Some(false)` excluded by a `!` entry, `None` not listed.
pub fn network_verdict(nets: &[IpNetwork], ip: IpAddr) -> Option<bool> {
    nets.iter().find(|n| n.contains(ip)).map(|n| !n.negated)
}

/// Where the receiving organisation's trust ends, as configured (`wavetrace.toml`,
/// command line). The default infers everything from the chain, as SpamAssassin does
/// with no configuration: private and loopback addresses, hops inside one organisation,
/// and the internals of well-known providers (see [`trust`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustConfig {
    /// Host names of the receiving organisation's own servers. Matched against the
    /// reverse DNS name the server recorded; an entry starting with `.` matches the
    /// domain and every name under it. A HELO name counts only when a lower hop was
    /// written by that same host, since anyone can claim any HELO.
    pub trusted_hosts: Vec<String>,
    /// Networks of the receiving organisation's own servers (first match wins; `!` excludes).
    pub trusted_networks: Vec<IpNetwork>,
    /// The authserv-ids (RFC 8601 section 2.5) of the receiving organisation's
    /// Authentication-Results; a host of that name is treated as a trusted host.
    pub authserv_ids: Vec<String>,
    /// Trusted mail submission agents (SpamAssassin's `msa_networks`): the client a
    /// listed MSA accepted a message from is trusted as well (it authenticated there).
    pub msa_networks: Vec<IpNetwork>,
}

/// What [`trace`] reads: the message's trace headers and the identities it claims.
#[derive(Debug, Clone, Copy)]
pub struct TraceInput<'a> {
    /// Received header values in header order (topmost, i.e. newest, first).
    pub received: &'a [String],
    /// All headers as (name, value), for X-Originating-IP and similar client headers.
    pub headers: &'a [(String, String)],
    /// The RFC 5322 From address's domain.
    pub from_domain: Option<&'a str>,
    /// The envelope sender's domain (Return-Path, RFC 5321 4.4).
    pub envelope_sender_domain: Option<&'a str>,
    /// The `d=` domains of the message's DKIM-Signature headers.
    pub dkim_domains: &'a [String],
    /// The current time in Unix seconds, to spot timestamps far in the future.
    pub now: i64,
}

/// The result of [`trace`]; serialised into the record (`origin`, `claimed_path`,
/// `path`, `trace_anomalies`, `findings`, and `received[i]` from `hops`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginTrace {
    /// One parsed hop per input header, in header order (at most [`MAX_HOPS`]).
    pub hops: Vec<ReceivedHop>,
    /// The path bottom-up (oldest first), with per-hop delays and which side of the
    /// trust boundary each hop is on.
    pub path: Vec<PathStep>,
    /// Header index of the hop at the trust boundary: the first trusted hop, the one
    /// whose receiving server is trusted and which recorded the origin.
    pub trust_boundary: Option<usize>,
    /// The connecting side of the boundary hop: the origin no sender can forge.
    pub origin: Option<Origin>,
    /// Relay hops below the boundary: written by the sender side, kept as claims.
    pub claimed_path: Vec<ClaimedHop>,
    /// What looks wrong in the chain.
    pub anomalies: Vec<Anomaly>,
    /// Conclusions with their evidence (relay abuse).
    pub findings: Vec<Finding>,
    /// RFC 3339 UTC date-time written by the boundary hop: when the message arrived.
    pub arrival_time: Option<String>,
}

/// Where the message came from: the client of the trust-boundary hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The client's IP address, as recorded by the trusted server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO name the client claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// The reverse DNS name the trusted server recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdns: Option<String>,
    /// Header index of the hop that recorded it (the trust boundary).
    pub hop_index: usize,
    /// When it arrived (RFC 3339 UTC), written by that hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_time: Option<String>,
    /// The trusted server that received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    /// The registrable domain of the origin host (from `rdns`, else from `helo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_domain: Option<String>,
    /// Which name `org_domain` came from: `rdns` (recorded by the receiver) or `helo` (a claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_domain_source: Option<infra::NameSource>,
    /// How the origin relates to the identities the message claims.
    pub relation: Vec<Relation>,
    /// The known mailbox or email service provider the origin belongs to, by address or rDNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The whole chain stayed inside the trust boundary: this is the lowest trusted client.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// The client authenticated at the boundary hop (a submission, not a relay).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authenticated: bool,
    /// The end client's address from a webmail or submission header (X-Originating-IP, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<ClientIp>,
    /// ASN, AS organisation and country of `ip` from `--ipdb` databases
    /// (offline; the data's date is in the record's `analysis.ipdb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<ipdb::IpInfo>,
}

/// An end client's address written by a webmail or submission server in its own header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientIp {
    /// The address.
    pub ip: IpAddr,
    /// The header it came from.
    pub header: String,
    /// It is inside the configured trusted networks (or behind a trusted MSA).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trusted: bool,
}

/// Headers in which webmail and submission servers write the end client's address.
/// `X-Sender-IP` (Office 365) is not one: it repeats the connecting address.
const CLIENT_IP_HEADERS: &[&str] = &[
    "x-originating-ip",
    "x-ms-exchange-organization-originalclientipaddress",
    "x-yahoo-post-ip",
    "x-aol-ip",
    "x-source-ip",
    "x-client-ip",
    "x-forwarded-for",
    "x-real-ip",
];

/// Mailing-list headers: a list server relays on behalf of its members.
pub(crate) const LIST_HEADERS: [&str; 6] = [
    "list-id",
    "list-post",
    "mailing-list",
    "x-mailing-list",
    "x-beenthere",
    "x-mailman-version",
];

/// Whether [`trace`] reads a header of this name (client-address and
/// mailing-list headers): callers pass only those in [`TraceInput::headers`].
pub fn is_trace_header(name: &str) -> bool {
    let name = name.trim();
    CLIENT_IP_HEADERS
        .iter()
        .chain(LIST_HEADERS.iter())
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Traces a message's origin from its Received headers. Pure and total: any input gives
/// a result (unparseable hops are kept and flagged), never a panic.
pub fn trace(input: &TraceInput, config: &TrustConfig) -> OriginTrace {
    let mut out = OriginTrace::default();
    let take = input.received.len().min(MAX_HOPS);
    out.hops = input
        .received
        .iter()
        .take(take)
        .map(|r| parse_received(r))
        .collect();
    let walk = trust::walk(&out.hops, config);
    out.trust_boundary = walk.boundary;
    out.arrival_time = walk
        .boundary
        .and_then(|b| chain::arrival_time(&out.hops, b));

    out.claimed_path = chain::claimed_path(&out.hops, walk.boundary, walk.internal_origin);
    if let Some(b) = walk.boundary {
        let hop = &out.hops[b];
        let client_ip = client_ip(input.headers, config, &walk);
        let mut origin = Origin {
            ip: hop.from_ip,
            helo: hop.from_helo.clone(),
            rdns: hop.from_rdns.clone(),
            hop_index: b,
            arrival_time: out.arrival_time.clone(),
            received_by: hop.by_host.clone(),
            org_domain: None,
            org_domain_source: None,
            relation: Vec::new(),
            provider: None,
            internal: walk.internal_origin,
            authenticated: hop.authenticated,
            client_ip,
            network: None,
        };
        infra::relate(&mut origin, input, &out.claimed_path);
        out.origin = Some(origin);
    }
    out.path = chain::path(&out.hops, &walk);
    out.anomalies = chain::anomalies(&out.hops, &walk, out.origin.as_ref(), config, input.now);
    if input.received.len() > MAX_HOPS {
        out.anomalies.push(Anomaly {
            code: AnomalyCode::TooManyHops,
            hop_index: Some(MAX_HOPS),
            detail: format!(
                "{} Received headers; only the first {MAX_HOPS} were read",
                input.received.len()
            ),
        });
    }
    if let Some(o) = &out.origin {
        out.findings
            .extend(infra::relay_abuse(o, input, &out.claimed_path));
    }
    out
}

/// The first client-address header with a readable address (bounded: the first 500 headers).
fn client_ip(
    headers: &[(String, String)],
    config: &TrustConfig,
    walk: &trust::Walk,
) -> Option<ClientIp> {
    headers.iter().take(500).find_map(|(name, value)| {
        let lname = name.trim();
        let h = CLIENT_IP_HEADERS
            .iter()
            .find(|h| lname.eq_ignore_ascii_case(h))?;
        let first = value.split(',').next().unwrap_or("").trim();
        let first = first.trim_start_matches('[').trim_end_matches(']');
        let ip = first.parse::<IpAddr>().ok()?.to_canonical();
        let trusted = walk.internal_origin
            && (network_verdict(&config.trusted_networks, ip) == Some(true) || walk.msa_pending);
        Some(ClientIp {
            ip,
            header: (*h).to_string(),
            trusted,
        })
    })
}

/// Private, loopback, link-local, shared (CGNAT) and unique-local addresses: inside some
/// organisation's own network, never a public origin.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_loopback() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Addresses that never appear on the public Internet: unspecified, `0.0.0.0/8`,
/// documentation ranges (RFC 5737, RFC 3849), multicast, `240.0.0.0/4`, broadcast.
pub fn is_reserved(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 0
                || o[0] >= 224
                || (o[0] == 192 && o[1] == 0 && o[2] == 2)
                || (o[0] == 198 && o[1] == 51 && o[2] == 100)
                || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_unspecified() || a.is_multicast() || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests;
