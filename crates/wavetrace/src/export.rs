//! `wavetrace report` and `wavetrace export`: select campaigns from the
//! store, redact them (unless `--include-personal`), and write the files
//! the `wavetrace-report` crate renders. The I/O edge only: what is written
//! is decided there.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use wavetrace_core::campaign::CampaignSummary;
use wavetrace_report::{CampaignExport, ExportSet, ShareOptions, Tlp};
use wavetrace_store::{CampaignFilter, MessageFilter, Store};

use crate::campaigns::{parse_summary, CampaignFilterArgs};
use crate::NotFound;

/// Which campaigns a report or export covers (all given filters hold).
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// This campaign (id or alias); repeat for several. Other filters still apply, the size filter does not.
    #[arg(long = "campaign", value_name = "ID")]
    campaigns: Vec<String>,
    #[command(flatten)]
    filter: CampaignFilterArgs,
    /// At most this many campaigns (largest first).
    #[arg(long)]
    limit: Option<u64>,
}

/// How what is written may be shared.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Traffic Light Protocol marking: clear, green, amber, amber+strict, red.
    #[arg(long, default_value = "amber", value_parser = parse_tlp)]
    tlp: Tlp,
    /// Keep recipients' addresses and personal slot values (names, street addresses, phones) instead of salted hashes.
    #[arg(long)]
    include_personal: bool,
    /// The producer named in the files (STIX identity, MISP organisation, report footer).
    #[arg(long, default_value = "wavetrace")]
    identity: String,
}

fn parse_tlp(s: &str) -> Result<Tlp, String> {
    Tlp::parse(s)
        .ok_or_else(|| format!("not a TLP marking: {s:?} (clear, green, amber, amber+strict, red)"))
}

/// `wavetrace report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the HTML report here (one self-contained file).
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    share: ShareArgs,
}

/// `wavetrace export`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("format").required(true).multiple(true))]
pub struct ExportArgs {
    /// Write a STIX 2.1 bundle (JSON) here.
    #[arg(long, value_name = "FILE", group = "format")]
    stix: Option<PathBuf>,
    /// Write one MISP event (JSON) per campaign into this directory.
    #[arg(long, value_name = "DIR", group = "format")]
    misp: Option<PathBuf>,
    /// Write messages.csv, campaigns.csv and indicators.csv into this directory.
    #[arg(long, value_name = "DIR", group = "format")]
    csv: Option<PathBuf>,
    /// Write one purge list per campaign (CSV, recipients named) into this directory.
    #[arg(long, value_name = "DIR", group = "format")]
    purge: Option<PathBuf>,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    share: ShareArgs,
}

/// The selected campaigns' summaries, largest first.
fn select(store: &Store, args: &SelectArgs) -> anyhow::Result<Vec<CampaignSummary>> {
    let mut summaries: Vec<CampaignSummary> = if args.campaigns.is_empty() {
        store
            .campaigns(&args.filter.store_filter(false), None)?
            .iter()
            .map(|j| parse_summary(j))
            .collect::<anyhow::Result<_>>()?
    } else {
        let mut chosen: Vec<CampaignSummary> = Vec::new();
        for id in &args.campaigns {
            let summary = store
                .resolve_campaign(id)?
                .map(|id| store.campaign(&id))
                .transpose()?
                .flatten()
                .ok_or_else(|| NotFound(format!("no campaign matches {id:?}")))?;
            let summary = parse_summary(&summary.0)?;
            if !chosen.iter().any(|c| c.id == summary.id) {
                chosen.push(summary);
            }
        }
        chosen.retain(|c| args.filter.in_range(c));
        chosen
    };
    summaries.retain(|c| args.filter.judged_as_asked(c));
    if let Some(limit) = args.limit {
        summaries.truncate(limit as usize);
    }
    Ok(summaries)
}

/// A campaign with its members' records, as stored, in the summary's order.
fn load(store: &Store, summary: CampaignSummary) -> anyhow::Result<CampaignExport> {
    let shas: Vec<String> = summary.members.iter().map(|m| m.sha256.clone()).collect();
    let mut members = store.records(&shas)?;
    let order: std::collections::HashMap<&str, usize> = shas
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    members.sort_by_key(|r| order.get(r.sha256.as_str()).copied());
    Ok(CampaignExport {
        summary,
        members,
        observables: Vec::new(),
    })
}

/// The selection, redacted unless `--include-personal`; loaded one campaign
/// at a time (the collector drops each body once its personal values are
/// taken).
fn prepared(
    store: &mut Store,
    summaries: &[CampaignSummary],
    share: &ShareArgs,
) -> anyhow::Result<ExportSet> {
    let mut collector = wavetrace_report::redact::Collector::default();
    let mut selected = std::collections::HashSet::new();
    for summary in summaries.iter().cloned() {
        selected.insert(summary.id.clone());
        collector.add(load(store, summary)?);
    }
    if !share.include_personal {
        // Every stored message's recipients and every personalised
        // campaign's slot values, not only the selection's: what is
        // redacted must not depend on what is exported (a victim's
        // hijacked account may send one of the exported campaigns).
        store.for_each_record(&MessageFilter::default(), None, |r| {
            collector.add_recipients_of(&r);
            Ok(())
        })?;
        let all = CampaignFilter {
            min_size: 2,
            ..CampaignFilter::default()
        };
        for json in store.campaigns(&all, None)? {
            let summary = parse_summary(&json)?;
            if !selected.contains(&summary.id)
                && !wavetrace_report::redact::personal_slots(&summary).is_empty()
            {
                collector.add_values_of(&load(store, summary)?);
            }
        }
    }
    let salt = store.export_salt()?;
    let total = store.message_count()?;
    Ok(collector.finish(total, salt.as_bytes(), share.include_personal))
}

fn options(share: &ShareArgs) -> ShareOptions {
    ShareOptions {
        tlp: share.tlp,
        identity: share.identity.clone(),
    }
}

/// Writes `bytes` to `path`, saying which file failed.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// One line on stderr: what was selected and how it was redacted.
fn say_selection(set: &ExportSet, tlp: Tlp) -> anyhow::Result<()> {
    let messages: usize = set.campaigns.iter().map(|c| c.members.len()).sum();
    let personal = if set.personal.included {
        "personal data INCLUDED (--include-personal)".to_string()
    } else {
        format!(
            "{} recipients and {} personal values redacted (salted hashes)",
            set.personal.recipients_redacted, set.personal.values_redacted
        )
    };
    writeln!(
        std::io::stderr(),
        "{} campaigns, {messages} messages; {}; {personal}",
        set.campaigns.len(),
        tlp.label()
    )?;
    Ok(())
}

/// `wavetrace report --html FILE`.
pub fn report(db: &Path, args: &ReportArgs) -> anyhow::Result<()> {
    let mut store = crate::open_existing(db)?;
    let summaries = select(&store, &args.select)?;
    let set = prepared(&mut store, &summaries, &args.share)?;
    say_selection(&set, args.share.tlp)?;
    let html = wavetrace_report::html::report(&set, &options(&args.share));
    write_file(&args.html, html.as_bytes())?;
    writeln!(std::io::stderr(), "wrote {}", args.html.display())?;
    Ok(())
}

/// `wavetrace export`.
pub fn export(db: &Path, args: &ExportArgs) -> anyhow::Result<()> {
    let mut store = crate::open_existing(db)?;
    let summaries = select(&store, &args.select)?;
    let set = prepared(&mut store, &summaries, &args.share)?;
    say_selection(&set, args.share.tlp)?;
    let options = options(&args.share);
    let mut err = std::io::stderr();
    if let Some(path) = &args.stix {
        write_file(
            path,
            wavetrace_report::stix::bundle(&set, &options).as_bytes(),
        )?;
        writeln!(err, "wrote {}", path.display())?;
    }
    if let Some(dir) = &args.misp {
        create_dir(dir)?;
        let events = wavetrace_report::misp::events(&set, &options);
        for (name, json) in &events {
            write_file(&dir.join(name), json.as_bytes())?;
        }
        writeln!(
            err,
            "wrote {} MISP events to {}",
            events.len(),
            dir.display()
        )?;
    }
    if let Some(dir) = &args.csv {
        create_dir(dir)?;
        write_file(
            &dir.join("messages.csv"),
            &wavetrace_report::csv::messages(&set),
        )?;
        write_file(
            &dir.join("campaigns.csv"),
            &wavetrace_report::csv::campaigns(&set),
        )?;
        write_file(
            &dir.join("indicators.csv"),
            &wavetrace_report::csv::indicators(&set),
        )?;
        writeln!(
            err,
            "wrote messages.csv, campaigns.csv, indicators.csv to {}",
            dir.display()
        )?;
    }
    if let Some(dir) = &args.purge {
        // The purge lists exist to name recipients: made from the data as
        // stored, whatever --include-personal says.
        create_dir(dir)?;
        for summary in summaries.iter().cloned() {
            let c = load(&store, summary)?;
            write_file(
                &dir.join(format!("purge-{}.csv", c.summary.id)),
                &wavetrace_report::csv::purge(&c),
            )?;
        }
        write_file(&dir.join("README.txt"), PURGE_README.as_bytes())?;
        writeln!(
            err,
            "wrote {} purge lists to {}: they NAME RECIPIENTS (personal data); share them only with the mail administrators who remove the messages",
            summaries.len(),
            dir.display()
        )?;
    }
    Ok(())
}

/// Written beside the purge lists.
const PURGE_README: &str = "\
These purge lists were written by `wavetrace export --purge`.

They NAME RECIPIENTS: each row is one message and one recipient (campaign_id,
message_id, arrival_time, date, from_address, return_path, subject,
recipient, sha256), so a mail administrator can find and remove every copy.
That is personal data: unlike wavetrace's other exports they are not
redacted. Share them only with the people who remove the messages, and
delete them afterwards.
";
