//! The chain read as a path: bottom-up steps with per-hop delays, the claimed part below
//! the trust boundary, and the anomalies an analyst should see.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::registrable_domain;

use super::providers;
use super::received::rfc3339_utc;
use super::trust::{TrustReason, Walk};
use super::{is_private, is_reserved, HopForm, Origin, ReceivedHop, TrustConfig};

/// How far a lower hop's clock may run ahead of the hop above it before it is flagged
/// (servers' clocks drift; five minutes is well beyond normal skew).
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// How far in the future (relative to the caller's `now`) a timestamp may be.
pub const FUTURE_SLACK_SECONDS: i64 = 86_400;

/// Which side of the trust boundary a step is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathSide {
    /// Written by the sender side, below the boundary: a claim.
    Claimed,
    /// The boundary hop: a trusted server recording the origin.
    Boundary,
    /// Written by a trusted server above the boundary.
    Trusted,
}

/// One step of the path, bottom-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStep {
    /// Header index of the hop (0 is the topmost header).
    pub hop_index: usize,
    /// The hop's form.
    pub form: HopForm,
    /// The client's best name (reverse DNS, else HELO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ip: Option<IpAddr>,
    /// The receiving server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The hop's date-time (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Seconds since the previous dated step below (negative: the clock went backwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i64>,
    /// Claimed, boundary or trusted.
    pub side: PathSide,
    /// Why the client was trusted, for trusted clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustReason>,
}

/// A relay hop below the trust boundary, kept as what the sender side claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedHop {
    /// Header index of the hop.
    pub hop_index: usize,
    /// The claimed HELO name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// The claimed reverse DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdns: Option<String>,
    /// The claimed client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The claimed receiving server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The claimed date-time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The hop records an authenticated submission.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authenticated: bool,
    /// Always true: marks the hop as a claim in the record.
    pub claim: bool,
}

/// What looks wrong in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyCode {
    /// A hop's time is later than the time of the hop above it (written after it).
    TimestampBackwards,
    /// A hop's time is far in the future.
    FutureTimestamp,
    /// A hop's client is not the server that wrote the hop below it.
    HopsDoNotLink,
    /// A private address where a public one is expected (the origin of mail from outside).
    PrivateAddress,
    /// An address that never appears on the Internet (documentation ranges, 0/8, multicast).
    ReservedAddress,
    /// A claimed line below the boundary names the receiving organisation's or a
    /// provider's server, which the sender cannot have passed through.
    ForgedBelowBoundary,
    /// A HELO name claims a known provider that the address and reverse DNS do not confirm.
    HeloClaimsProvider,
    /// A Received header could not be parsed.
    UnparseableHop,
    /// More Received headers than are read.
    TooManyHops,
}

/// One anomaly, with the hop it concerns and the evidence in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What kind.
    pub code: AnomalyCode,
    /// Header index of the hop concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_index: Option<usize>,
    /// The evidence, for an analyst.
    pub detail: String,
}

/// The arrival time: the date written by the boundary hop, else by the nearest dated hop
/// above it (also trusted).
pub fn arrival_time(hops: &[ReceivedHop], boundary: usize) -> Option<String> {
    (0..=boundary)
        .rev()
        .find_map(|i| hops.get(i).and_then(|h| h.timestamp.clone()))
}

/// The relay hops below the boundary (none when nothing crossed it).
pub fn claimed_path(
    hops: &[ReceivedHop],
    boundary: Option<usize>,
    internal: bool,
) -> Vec<ClaimedHop> {
    let Some(b) = boundary else { return Vec::new() };
    if internal {
        return Vec::new();
    }
    hops.iter()
        .enumerate()
        .skip(b + 1)
        .filter(|(_, h)| matches!(h.form, HopForm::Relay | HopForm::Http))
        .map(|(i, h)| ClaimedHop {
            hop_index: i,
            helo: h.from_helo.clone(),
            rdns: h.from_rdns.clone(),
            ip: h.from_ip,
            by: h.by_host.clone(),
            timestamp: h.timestamp.clone(),
            authenticated: h.authenticated,
            claim: true,
        })
        .collect()
}

/// The path bottom-up with delays between consecutive dated steps.
pub fn path(hops: &[ReceivedHop], walk: &Walk) -> Vec<PathStep> {
    let mut out = Vec::with_capacity(hops.len());
    let mut prev_time: Option<i64> = None;
    for (i, h) in hops.iter().enumerate().rev() {
        let side = match walk.boundary {
            Some(b) if i == b => PathSide::Boundary,
            _ if walk.written_by_trusted.get(i).copied().unwrap_or(false) => PathSide::Trusted,
            _ => PathSide::Claimed,
        };
        let delay = match (prev_time, h.unix_time) {
            (Some(p), Some(t)) => Some(t.saturating_sub(p)),
            _ => None,
        };
        if h.unix_time.is_some() {
            prev_time = h.unix_time;
        }
        out.push(PathStep {
            hop_index: i,
            form: h.form,
            from: h.from_host().map(str::to_string),
            from_ip: h.from_ip,
            by: h.by_host.clone(),
            timestamp: h.timestamp.clone(),
            delay_seconds: delay,
            side,
            trust: walk.trusted.get(i).cloned().flatten(),
        });
    }
    out
}

/// Finds the anomalies (see [`AnomalyCode`]).
pub fn anomalies(
    hops: &[ReceivedHop],
    walk: &Walk,
    origin: Option<&Origin>,
    config: &TrustConfig,
    now: i64,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let mut push = |code, hop_index: Option<usize>, detail: String| {
        out.push(Anomaly {
            code,
            hop_index,
            detail,
        })
    };

    for (i, h) in hops.iter().enumerate() {
        if h.form == HopForm::Unparseable {
            push(
                AnomalyCode::UnparseableHop,
                Some(i),
                h.error
                    .clone()
                    .unwrap_or_else(|| "not a Received line".to_string()),
            );
        }
        if let Some(t) = h.unix_time {
            if t > now.saturating_add(FUTURE_SLACK_SECONDS) {
                push(
                    AnomalyCode::FutureTimestamp,
                    Some(i),
                    format!(
                        "dated {}, after the analysis time {}",
                        rfc3339_utc(t),
                        rfc3339_utc(now)
                    ),
                );
            }
        }
        if let Some(ip) = h.from_ip {
            if h.form == HopForm::Relay && is_reserved(ip) {
                push(
                    AnomalyCode::ReservedAddress,
                    Some(i),
                    format!("client address {ip} is reserved and never seen on the Internet"),
                );
            }
        }
    }

    // Timestamps going backwards, and hops that do not link, between consecutive dated relays.
    let relays: Vec<usize> = (0..hops.len())
        .filter(|&i| matches!(hops[i].form, HopForm::Relay | HopForm::Http))
        .collect();
    for pair in relays.windows(2) {
        let (upper, lower) = (pair[0], pair[1]);
        let (u, l) = (&hops[upper], &hops[lower]);
        if let (Some(tu), Some(tl)) = (u.unix_time, l.unix_time) {
            if tl > tu + CLOCK_SKEW_SECONDS {
                push(
                    AnomalyCode::TimestampBackwards,
                    Some(lower),
                    format!("hop {lower} is dated {} but the hop above it, written later, {} ({} s earlier)", rfc3339_utc(tl), rfc3339_utc(tu), tl - tu),
                );
            }
        }
        if !links(u, l) {
            push(
                AnomalyCode::HopsDoNotLink,
                Some(lower),
                format!(
                    "hop {upper} received from {} but hop {lower} was written by {}",
                    u.from_host().unwrap_or("?"),
                    l.by_host.as_deref().unwrap_or("?")
                ),
            );
        }
    }

    if let (Some(o), Some(b)) = (origin, walk.boundary) {
        if let Some(ip) = o.ip {
            if !o.internal && is_private(ip) {
                push(AnomalyCode::PrivateAddress, Some(b), format!("the origin {ip} is a private address, but it is outside the trust boundary"));
            }
        }
        if let Some(h) = o.helo.as_deref() {
            if let Some(p) = providers::by_host(h) {
                if o.provider.as_deref() != Some(p.name.as_str()) && !o.internal {
                    push(
                        AnomalyCode::HeloClaimsProvider,
                        Some(b),
                        format!("HELO {h} claims {}, but neither the address nor the reverse DNS belongs to it", p.name),
                    );
                }
            }
        }
        if !o.internal {
            let receiver_org = hops
                .get(b)
                .and_then(|h| h.by_host.as_deref())
                .and_then(registrable_domain);
            let origin_provider = o.provider.as_deref();
            for (i, h) in hops.iter().enumerate().skip(b + 1) {
                let Some(by) = h.by_host.as_deref() else {
                    continue;
                };
                let own = config
                    .trusted_hosts
                    .iter()
                    .any(|t| t.trim_start_matches('.').eq_ignore_ascii_case(by))
                    || (receiver_org.is_some()
                        && registrable_domain(by) == receiver_org
                        && providers::by_host(by).is_none());
                if own {
                    push(
                        AnomalyCode::ForgedBelowBoundary,
                        Some(i),
                        format!("a claimed line says it was received by {by}, the receiving organisation's own server, below the boundary"),
                    );
                    continue;
                }
                if let Some(p) = providers::by_host(by) {
                    if providers::is_edge(p, by) && origin_provider != Some(p.name.as_str()) {
                        push(
                            AnomalyCode::ForgedBelowBoundary,
                            Some(i),
                            format!("a claimed line says it was received by {} ({by}), but the origin is not {}", p.name, p.name),
                        );
                    }
                }
            }
        }
    }
    out
}

/// Whether the upper hop's client is the server that wrote the lower hop. Unknown
/// (missing names, local names, private clients) counts as linked: only a clear
/// mismatch between two public names is an anomaly.
fn links(upper: &ReceivedHop, lower: &ReceivedHop) -> bool {
    let Some(by) = lower.by_host.as_deref() else {
        return true;
    };
    if upper.from_ip.is_some_and(is_private) || !by.contains('.') {
        return true;
    }
    if let Ok(ip) = by.parse::<IpAddr>() {
        return upper.from_ip.is_none_or(|u| u == ip.to_canonical());
    }
    let names = [upper.from_helo.as_deref(), upper.from_rdns.as_deref()];
    if names
        .iter()
        .all(|n| n.is_none_or(|n| !n.contains('.') || n.starts_with('[')))
    {
        return true;
    }
    let by_org = registrable_domain(by);
    let by_provider = providers::by_host(by).map(|p| p.id.as_str());
    names.iter().flatten().any(|n| {
        n.eq_ignore_ascii_case(by)
            || (by_org.is_some() && registrable_domain(n) == by_org)
            || (by_provider.is_some()
                && providers::by_host(n).map(|p| p.id.as_str()) == by_provider)
    }) || by_org.is_none()
}
