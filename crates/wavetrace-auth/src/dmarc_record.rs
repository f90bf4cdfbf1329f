//! DMARC policy discovery details that mail-auth does not expose: where the
//! record was found, its `pct=` (reported, never applied), and the
//! organisational domain by both methods.
//!
//! mail-auth decides the verdict with the DMARCbis DNS tree walk. RFC 7489
//! 3.2 defined the organisational domain with the public suffix list; the two
//! can differ (private registries, PSDs), and an analyst comparing with older
//! tools needs both, so the PSL answer is reported beside the walk's.

use mail_auth::MessageAuthenticator;
use publicsuffix::Psl;

use crate::verdict::{AlignmentMode, DmarcPolicy};

/// The tags of a DMARC record that wavetrace reports (RFC 7489 6.3, DMARCbis).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmarcTags {
    /// `p=`.
    pub p: Option<DmarcPolicy>,
    /// `sp=`.
    pub sp: Option<DmarcPolicy>,
    /// `np=` (DMARCbis): policy for non-existent subdomains.
    pub np: Option<DmarcPolicy>,
    /// `pct=` (RFC 7489; removed by DMARCbis): reported, not applied.
    pub pct: Option<u8>,
    /// `adkim=`.
    pub adkim: Option<AlignmentMode>,
    /// `aspf=`.
    pub aspf: Option<AlignmentMode>,
    /// `psd=` (DMARCbis): `Some(true)` for `y`, `Some(false)` for `n`.
    pub psd: Option<bool>,
    /// `t=y` (DMARCbis): test mode.
    pub t: bool,
}

/// What the walk found for one From domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmarcDiscovery {
    /// The record that applies (the author domain's, else the nearest ancestor's).
    pub record: Option<DmarcTags>,
    /// Where it was found.
    pub record_domain: Option<String>,
    /// The organisational domain by the DNS tree walk (DMARCbis 4.10.2).
    pub org_domain: Option<String>,
    /// The organisational domain by the public suffix list (RFC 7489 3.2).
    pub org_domain_psl: Option<String>,
}

/// Parses a DMARC record's tags; `None` when it does not start with `v=DMARC1`.
pub fn parse_tags(record: &str) -> Option<DmarcTags> {
    let mut parts = record.split(';').map(str::trim);
    let version = parts.next()?;
    let (k, v) = version.split_once('=')?;
    if !k.trim().eq_ignore_ascii_case("v") || !v.trim().eq_ignore_ascii_case("DMARC1") {
        return None;
    }
    let policy = |v: &str| match v.to_ascii_lowercase().as_str() {
        "none" => Some(DmarcPolicy::None),
        "quarantine" => Some(DmarcPolicy::Quarantine),
        "reject" => Some(DmarcPolicy::Reject),
        _ => None,
    };
    let alignment = |v: &str| match v.to_ascii_lowercase().as_str() {
        "r" => Some(AlignmentMode::Relaxed),
        "s" => Some(AlignmentMode::Strict),
        _ => None,
    };
    let mut tags = DmarcTags::default();
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "p" => tags.p = policy(value),
            "sp" => tags.sp = policy(value),
            "np" => tags.np = policy(value),
            "pct" => tags.pct = value.parse::<u8>().ok().filter(|p| *p <= 100),
            "adkim" => tags.adkim = alignment(value),
            "aspf" => tags.aspf = alignment(value),
            "psd" => {
                tags.psd = match value.to_ascii_lowercase().as_str() {
                    "y" => Some(true),
                    "n" => Some(false),
                    _ => None,
                }
            }
            "t" => tags.t = value.eq_ignore_ascii_case("y"),
            _ => {}
        }
    }
    Some(tags)
}

/// The registrable domain by the public suffix list, only under a known suffix.
pub fn psl_org_domain(psl: Option<&publicsuffix::List>, domain: &str) -> Option<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let found = psl?.domain(domain.as_bytes())?;
    if !found.suffix().is_known() {
        return None;
    }
    Some(String::from_utf8_lossy(found.as_bytes()).into_owned())
}

/// The names the DMARCbis tree walk queries (4.10.1): the author domain and
/// its ancestors, at most 8, skipping to the last 7 labels for long names.
fn walk_names(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let mut names = vec![labels.join(".")];
    let start = if labels.len() > 8 {
        labels.len() - 7
    } else {
        1
    };
    for i in start..labels.len() {
        names.push(labels[i..].join("."));
    }
    names
}

/// Walks `_dmarc.` names above the From domain through the verifier's
/// resolver (so snapshot and record modes see the same questions).
pub(crate) async fn discover(
    authenticator: &MessageAuthenticator,
    from: &str,
    psl: Option<&publicsuffix::List>,
) -> DmarcDiscovery {
    let mut found: Vec<(String, DmarcTags)> = Vec::new();
    for name in walk_names(from) {
        let Ok(records) = authenticator.txt_records(format!("_dmarc.{name}.")).await else {
            continue;
        };
        let tags = records
            .iter()
            .filter_map(|r| parse_tags(&String::from_utf8_lossy(r)))
            .collect::<Vec<_>>();
        // RFC 7489 6.6.3: more than one record means none.
        if let [tags] = tags.as_slice() {
            found.push((name, tags.clone()));
        }
    }
    let record = found.first().cloned();
    let mut org_domain = None;
    for (index, (name, tags)) in found.iter().enumerate() {
        match tags.psd {
            Some(false) => {
                org_domain = Some(name.clone());
                break;
            }
            Some(true) => {
                org_domain = index
                    .checked_sub(1)
                    .and_then(|i| found.get(i))
                    .map(|(n, _)| n.clone())
                    .or_else(|| child_of(from, name));
                break;
            }
            None => {}
        }
    }
    if org_domain.is_none() {
        org_domain = found.last().map(|(n, _)| n.clone());
    }
    DmarcDiscovery {
        record_domain: record.as_ref().map(|(n, _)| n.clone()),
        record: record.map(|(_, t)| t),
        org_domain,
        org_domain_psl: psl_org_domain(psl, from),
    }
}

/// The ancestor of `domain` one label below `parent`.
fn child_of(domain: &str, parent: &str) -> Option<String> {
    let prefix = domain.strip_suffix(parent)?.strip_suffix('.')?;
    let label = prefix.rsplit('.').next()?;
    Some(format!("{label}.{parent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_walk() {
        let tags = parse_tags("v=DMARC1; p=reject; pct=0; sp=none; adkim=s; t=y").expect("dmarc");
        assert_eq!(tags.p, Some(DmarcPolicy::Reject));
        assert_eq!(tags.pct, Some(0));
        assert_eq!(tags.adkim, Some(AlignmentMode::Strict));
        assert!(tags.t);
        assert!(parse_tags("v=spf1 -all").is_none());
        assert_eq!(
            walk_names("a.b.example.com"),
            ["a.b.example.com", "b.example.com", "example.com", "com"]
        );
        assert_eq!(
            child_of("a.b.example.com", "example.com").as_deref(),
            Some("b.example.com")
        );
    }
}
