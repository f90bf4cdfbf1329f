//! Campaigns: clustering the stored fingerprints after a scan, and the
//! `campaigns`, `campaign` and `eval` commands.
//!
//! After every scan (and `reanalyse`) the clustering is recomputed from all
//! stored fingerprints, inserted in a canonical order (arrival, sha256).
//! Clustering depends only on the set of messages, so a later scan joins
//! new messages to existing campaigns and the result does not depend on the
//! order of the input. Ids are stable: a campaign's id is its earliest
//! member's; when campaigns merge, the other ids become aliases. Summaries
//! are recomputed only for campaigns whose membership changed.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use wavetrace_core::campaign::{
    self, CampaignIndex, CampaignMembers, CampaignSummary, Fingerprint, Link,
};
use wavetrace_core::record::MessageRecord;
use wavetrace_store::{CampaignLink, CampaignRow, Store};

/// The campaign filters shared by `campaigns`, `report` and `export`.
#[derive(Debug, clap::Args)]
pub struct CampaignFilterArgs {
    /// Smallest campaign.
    #[arg(long, default_value_t = 2)]
    pub min_size: u64,
    /// Single messages too (same as --min-size 1).
    #[arg(long)]
    pub all: bool,
    /// Only campaigns with this label (labels come from detection).
    #[arg(long)]
    pub label: Option<String>,
    /// Only campaigns whose verdict is at least this.
    #[arg(long, value_enum)]
    pub verdict: Option<crate::VerdictArg>,
    /// Campaigns seen at or after (RFC 3339 or YYYY-MM-DD, on last_seen).
    #[arg(long, value_parser = crate::parse_time)]
    pub since: Option<String>,
    /// Campaigns that started before (RFC 3339 or YYYY-MM-DD, on first_seen).
    #[arg(long, value_parser = crate::parse_time)]
    pub until: Option<String>,
}

impl CampaignFilterArgs {
    /// What the store filters itself: size and dates.
    pub fn store_filter(&self, recent_first: bool) -> wavetrace_store::CampaignFilter {
        wavetrace_store::CampaignFilter {
            min_size: if self.all { 1 } else { self.min_size.max(1) },
            since: self.since.clone(),
            until: self.until.clone(),
            recent_first,
        }
    }

    /// Whether a label or verdict filter is given (applied to summaries,
    /// after the store's filter, so a store-side limit would cut too early).
    pub fn by_judgement(&self) -> bool {
        self.label.is_some() || self.verdict.is_some()
    }

    /// Whether a campaign has the label and at least the verdict asked for.
    pub fn judged_as_asked(&self, c: &CampaignSummary) -> bool {
        self.label
            .as_ref()
            .is_none_or(|label| c.labels.iter().any(|l| l == label))
            && self
                .verdict
                .map(crate::VerdictArg::verdict)
                .is_none_or(|min| {
                    c.verdict
                        .as_deref()
                        .and_then(wavetrace_core::detect::Verdict::from_token)
                        .is_some_and(|v| v >= min)
                })
    }

    /// Whether a campaign lies in the date range (for campaigns chosen by
    /// id, which the store's filter did not see).
    pub fn in_range(&self, c: &CampaignSummary) -> bool {
        self.since
            .as_deref()
            .is_none_or(|t| c.last_seen.as_deref().is_some_and(|l| l >= t))
            && self
                .until
                .as_deref()
                .is_none_or(|t| c.first_seen.as_deref().is_some_and(|f| f < t))
    }
}

/// Campaigns summarised per batch (bounds the records held in memory).
const SUMMARY_CHUNK: usize = 512;

/// Links kept per member to explain its membership.
const LINKS_PER_MEMBER: usize = 2;

/// What a recluster did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ClusterSummary {
    /// Messages clustered.
    pub messages: usize,
    /// Campaigns, singletons included.
    pub campaigns: usize,
    /// Campaigns of two or more messages.
    pub campaigns_of_two_or_more: usize,
    /// Size of the largest campaign.
    pub largest: usize,
    /// Campaigns whose summary was recomputed (membership changed).
    pub recomputed: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Recomputes the clustering of everything in the store. With
/// `resummarise_all` every summary is rebuilt, not only those whose
/// membership changed: after `reanalyse`, members' verdicts and labels may
/// have changed while the membership did not.
pub fn recluster(store: &mut Store, resummarise_all: bool) -> anyhow::Result<ClusterSummary> {
    let started = std::time::Instant::now();
    let mut entries: Vec<(Option<i64>, String, Fingerprint)> = Vec::new();
    let mut bad = 0usize;
    store.for_each_fingerprint(|(sha, arrival, json)| match serde_json::from_str(&json) {
        Ok(fp) => entries.push((arrival, sha, fp)),
        Err(_) => bad += 1,
    })?;
    if bad > 0 {
        anyhow::bail!("{bad} stored fingerprints do not parse: run `wavetrace reanalyse`");
    }
    // Canonical order: unknown times last, then sha256.
    entries.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
    let mut index = CampaignIndex::new();
    let mut links_of: HashMap<String, Vec<Link>> = HashMap::new();
    for (arrival, sha, fp) in &entries {
        for link in index.insert(sha, fp, *arrival) {
            let kept = links_of.entry(link.b.clone()).or_default();
            if kept.len() < LINKS_PER_MEMBER {
                kept.push(link);
            }
        }
    }
    let campaigns = index.campaigns();
    let stored = store.campaign_state()?;
    let (old, old_aliases) = (stored.campaigns, stored.aliases);

    // Every id ever published (old ids and aliases) maps to the campaign
    // that now holds the member it was made from.
    let owner: HashMap<&str, &str> = campaigns
        .iter()
        .flat_map(|c| {
            c.members
                .iter()
                .map(move |m| (&m[..12.min(m.len())], c.id.as_str()))
        })
        .collect();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let published: HashSet<&str> = old
        .keys()
        .map(String::as_str)
        .chain(old_aliases.iter().map(|(a, _)| a.as_str()))
        .collect();
    for id in published {
        if let Some(&now) = owner.get(id) {
            if now != id {
                aliases.push((id.to_string(), now.to_string()));
            }
        }
    }
    aliases.sort();
    let mut alias_lists: HashMap<&str, Vec<String>> = HashMap::new();
    for (alias, id) in &aliases {
        alias_lists
            .entry(id.as_str())
            .or_default()
            .push(alias.clone());
    }

    let mut rows = Vec::with_capacity(campaigns.len());
    let mut summary = ClusterSummary {
        messages: entries.len(),
        campaigns: campaigns.len(),
        ..Default::default()
    };
    // Which summaries can be kept (same members, same aliases) and which
    // must be recomputed.
    let mut campaigns = campaigns;
    let mut hashes = Vec::with_capacity(campaigns.len());
    let mut stale = Vec::new();
    for (i, c) in campaigns.iter_mut().enumerate() {
        c.aliases = alias_lists.remove(c.id.as_str()).unwrap_or_default();
        let hash = members_hash(c);
        summary.largest = summary.largest.max(c.size());
        if c.size() > 1 {
            summary.campaigns_of_two_or_more += 1;
        }
        if resummarise_all || old.get(&c.id).is_none_or(|old_hash| *old_hash != hash) {
            stale.push(i);
        }
        hashes.push(hash);
    }
    summary.recomputed = stale.len();
    // Records are read here (one connection), parsed and summarised in
    // parallel, a bounded number of campaigns at a time.
    let mut fresh = Vec::with_capacity(stale.len());
    for chunk in stale.chunks(SUMMARY_CHUNK) {
        let mut record_json: Vec<Vec<String>> = Vec::with_capacity(chunk.len());
        for &i in chunk {
            record_json.push(store.record_jsons(&campaigns[i].members)?);
        }
        let summaries: Vec<String> = chunk
            .par_iter()
            .zip(record_json.par_iter())
            .map(|(&i, jsons)| {
                let records = jsons
                    .iter()
                    .map(|j| serde_json::from_str::<MessageRecord>(j))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(serde_json::to_string(&campaign::summarise(
                    &campaigns[i],
                    &records,
                ))?)
            })
            .collect::<anyhow::Result<_>>()?;
        fresh.extend(summaries);
    }

    // Only changed campaigns are written; unchanged rows stay as they are.
    let new_ids: HashSet<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
    let removed: Vec<String> = old
        .keys()
        .filter(|id| !new_ids.contains(id.as_str()))
        .cloned()
        .collect();
    let mut fresh: HashMap<usize, String> = stale.into_iter().zip(fresh).collect();
    for (i, (c, hash)) in campaigns.into_iter().zip(hashes).enumerate() {
        let Some(json) = fresh.remove(&i) else {
            continue;
        };
        let links = c
            .members
            .iter()
            .flat_map(|m| links_of.remove(m).unwrap_or_default())
            .map(|l| {
                Ok(CampaignLink {
                    evidence: serde_json::to_string(&l.evidence)?,
                    a: l.a,
                    b: l.b,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        rows.push(CampaignRow {
            first_seen: c.first_seen().map(wavetrace_core::parse::rfc3339_utc),
            last_seen: c.last_seen().map(wavetrace_core::parse::rfc3339_utc),
            size: c.size() as u64,
            members_hash: hash,
            summary: json,
            members: c.members,
            links,
            id: c.id,
        });
    }
    store
        .update_campaigns(&rows, &removed, &aliases)
        .context("writing campaigns")?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// A digest of a campaign's members and aliases: unchanged digest,
/// unchanged summary.
fn members_hash(c: &CampaignMembers) -> String {
    let mut h = Sha256::new();
    for m in &c.members {
        h.update(m.as_bytes());
    }
    for a in &c.aliases {
        h.update(b"alias");
        h.update(a.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a stored summary.
pub fn parse_summary(json: &str) -> anyhow::Result<CampaignSummary> {
    serde_json::from_str(json).context("stored campaign summary")
}

/// `wavetrace campaign ID` as text: the summary, the template, the waves,
/// and each member with the evidence that links it.
pub fn render(summary: &CampaignSummary, links: &[CampaignLink]) -> String {
    use crate::{clip, one_line};
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "campaign    {}{}",
        summary.id,
        if summary.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", summary.aliases.join(", "))
        }
    );
    if let Some(verdict) = &summary.verdict {
        let _ = writeln!(
            s,
            "verdict     {verdict} (the highest of its members){}",
            if summary.labels.is_empty() {
                String::new()
            } else {
                format!(": {}", summary.labels.join(", "))
            }
        );
    }
    let _ = writeln!(
        s,
        "size        {} messages, {} wave(s)",
        summary.size,
        summary.waves.len()
    );
    let _ = writeln!(
        s,
        "seen        {} .. {}",
        summary.first_seen.as_deref().unwrap_or("-"),
        summary.last_seen.as_deref().unwrap_or("-")
    );
    let list = |v: &[campaign::summary::Counted]| {
        v.iter()
            .take(5)
            .map(|c| format!("{} ({})", one_line(&c.value), c.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "subjects    {}", clip(&list(&summary.subjects), 200));
    let _ = writeln!(s, "senders     {}", clip(&list(&summary.senders), 200));
    let _ = writeln!(
        s,
        "names       {}",
        clip(&list(&summary.display_names), 200)
    );
    let _ = writeln!(
        s,
        "recipients  {} ({})",
        summary.recipients.count,
        clip(&list(&summary.recipients.domains), 150)
    );
    let _ = writeln!(s, "origins     {}", clip(&list(&summary.origins), 200));
    let _ = writeln!(s, "relays      {}", clip(&list(&summary.relays), 200));
    if !summary.findings.is_empty() {
        let _ = writeln!(s, "findings    {}", list(&summary.findings));
    }
    if let Some(t) = &summary.template {
        let _ = writeln!(
            s,
            "\ntemplate{}",
            if summary.template_sampled {
                " (from the first 200 members)"
            } else {
                ""
            }
        );
        for line in clip(&t.text, 1500).lines() {
            let _ = writeln!(s, "  {}", one_line(line));
        }
        let slots: Vec<String> = t
            .segments
            .iter()
            .filter_map(|seg| match seg {
                campaign::TemplateSegment::Slot {
                    slot,
                    slot_type,
                    distinct_values,
                } => Some(format!(
                    "{{{slot}}} {} x{distinct_values}",
                    slot_type.as_str()
                )),
                _ => None,
            })
            .collect();
        if !slots.is_empty() {
            let _ = writeln!(s, "  slots: {}", clip(&slots.join(", "), 400));
        }
    }
    let _ = writeln!(s, "\nwaves");
    for (i, w) in summary.waves.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {} {} .. {}  {} msgs  relays: {}  origins: {}  senders: {}",
            i + 1,
            w.start,
            w.end,
            w.size,
            clip(&one_line(&w.relays.join(" ")), 80),
            clip(&w.origins.join(" "), 60),
            clip(&one_line(&w.senders.join(" ")), 80)
        );
    }
    let mut why: HashMap<&str, Vec<String>> = HashMap::new();
    for CampaignLink { a, b, evidence } in links {
        let words: Vec<String> = serde_json::from_str::<Vec<campaign::Evidence>>(evidence)
            .map(|e| e.iter().map(campaign::Evidence::describe).collect())
            .unwrap_or_default();
        // `a` was in the index when `b` arrived: b is explained by a.
        let text = format!("linked to {}: {}", &a[..12.min(a.len())], words.join("; "));
        why.entry(b.as_str()).or_default().push(text);
    }
    let _ = writeln!(s, "\nmembers (why each belongs)");
    for m in summary.members.iter().take(100) {
        let _ = writeln!(
            s,
            "  {} {}",
            &m.sha256[..12.min(m.sha256.len())],
            one_line(&m.source)
        );
        match why.get(m.sha256.as_str()) {
            Some(reasons) => {
                for r in reasons {
                    let _ = writeln!(s, "      {}", clip(&one_line(r), 220));
                }
            }
            None if summary.size > 1 => {
                let _ = writeln!(
                    s,
                    "      (the earliest member: the others were linked to it or to each other)"
                );
            }
            None => {}
        }
    }
    if summary.members.len() > 100 {
        let _ = writeln!(
            s,
            "  ... {} more (--format json)",
            summary.members.len() - 100
        );
    }
    s
}
