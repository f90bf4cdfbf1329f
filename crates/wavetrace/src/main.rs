//! The `wavetrace` command: parses arguments into one config per command
//! and hands them to the pipeline. Exit codes (README, "Exit codes"):
//! 0 success, 1 operational error or not found, 2 usage error, 3 a
//! validation failure.

/// `println!` that returns the write's error instead of panicking: a
/// reader that leaves (`wavetrace rules list | head`) ends the command
/// quietly through `is_broken_pipe`, as it does for streamed records.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns the write's error (see `outln!`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod campaigns;
mod config;
mod detection;
mod eval;
mod export;
mod inputs;
mod pipeline;
mod reanalyse;
mod scan;
mod show;

/// mimalloc: analysis allocates many small strings and maps per message;
/// with glibc's allocator, allocation was a tenth of the analysis time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use wavetrace_store::{Lookup, MessageFilter, Store};

/// Detect, cluster and trace malicious email campaigns.
#[derive(Debug, Parser)]
#[command(name = "wavetrace", version, about)]
struct Cli {
    /// The database (SQLite).
    #[arg(long, global = true, default_value = "wavetrace.db")]
    db: PathBuf,
    /// The configuration file (default: ./wavetrace.toml when it exists).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read mail (files, directories, mbox, Maildir, gzip, `-` for stdin) into the database.
    Scan(ScanArgs),
    /// List stored messages.
    Messages(MessagesArgs),
    /// Show one message (sha256 prefix of 8+ hex characters, or Message-ID).
    Show(ShowArgs),
    /// Recompute every stored record from the stored raw bytes.
    Reanalyse(ReanalyseArgs),
    /// List campaigns (largest first, or most recent with --sort recent).
    Campaigns(CampaignsArgs),
    /// Show one campaign (id or alias): summary, template, waves, and why each member belongs.
    Campaign(CampaignArgs),
    /// Score the stored clustering against a ground-truth file.
    Eval(EvalArgs),
    /// Detection rules: `check` validates, `test` runs each rule's examples (exit 3 on failure), `list` shows them.
    Rules(RulesArgs),
    /// Write an HTML report of campaigns (self-contained, offline, recipients redacted unless --include-personal).
    Report(export::ReportArgs),
    /// Export campaigns as STIX 2.1, MISP events, CSV, or purge lists for mail administrators.
    Export(export::ExportArgs),
}

#[derive(Debug, Args)]
struct RulesArgs {
    #[command(subcommand)]
    action: RulesAction,
}

#[derive(Debug, Subcommand)]
enum RulesAction {
    /// Validate the rule set (shipped rules, wavetrace.toml's, and PATHs): exit 3 with every error located.
    Check(RulesSetArgs),
    /// Run every rule's embedded examples through the analysis: exit 3 when one fails.
    Test(RulesTestArgs),
    /// List the rules in evaluation order.
    List(RulesSetArgs),
}

#[derive(Debug, Args)]
struct RulesSetArgs {
    /// Rule files or directories added to the shipped rules.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    detect: detection::DetectArgs,
}

#[derive(Debug, Args)]
struct RulesTestArgs {
    #[command(flatten)]
    set: RulesSetArgs,
    /// Only this rule's examples.
    #[arg(long)]
    rule: Option<String>,
}

#[derive(Debug, Args)]
struct CampaignsArgs {
    #[command(flatten)]
    filter: campaigns::CampaignFilterArgs,
    #[arg(long, value_enum, default_value_t = CampaignSort::Size)]
    sort: CampaignSort,
    /// At most this many (the table shows 50 unless given; JSON has no implicit limit).
    #[arg(long)]
    limit: Option<u64>,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CampaignSort {
    Size,
    Recent,
}

#[derive(Debug, Args)]
struct CampaignArgs {
    /// Campaign id (12 hex characters) or one of its aliases.
    id: String,
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    format: ShowFormat,
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// Ground truth: one line per message, `source-or-sha256<TAB>label`; label `-` is background.
    #[arg(long)]
    truth: PathBuf,
    /// True waves: `label<TAB>start` (unix seconds), one line per wave.
    #[arg(long)]
    waves: Option<PathBuf>,
    /// Exit 3 when the B-cubed F1 is below this.
    #[arg(long)]
    min_f1: Option<f64>,
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    format: ShowFormat,
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Files, directories, mbox files, Maildirs, gzip files; `-` for one message on stdin.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Analyse the originals attached to forwarded reports (message/rfc822 parts) instead of the reports.
    #[arg(long)]
    unwrap_attached: bool,
    /// Largest message analysed, after decompression (bytes; K, M, G suffixes).
    #[arg(long, default_value = "50M", value_parser = parse_size)]
    max_message_size: u64,
    /// Largest gzip decompression ratio accepted (output / input).
    #[arg(long, default_value_t = 200)]
    max_gzip_ratio: u64,
    /// `summary` prints only the summary (stderr); `ndjson` also streams one record per message to stdout.
    #[arg(long, value_enum, default_value_t = ScanFormat::Summary)]
    format: ScanFormat,
    /// How the end-of-scan summary is written to stderr.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    summary_format: SummaryFormat,
    /// List every rejected input and malformed message with the reason.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    pipeline: pipeline::PipelineArgs,
}

#[derive(Debug, Args)]
struct ReanalyseArgs {
    #[command(flatten)]
    pipeline: pipeline::PipelineArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScanFormat {
    Summary,
    Ndjson,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SummaryFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Table,
    Json,
    Ndjson,
}

#[derive(Debug, Args)]
struct MessagesArgs {
    /// From domain (exact).
    #[arg(long)]
    from_domain: Option<String>,
    /// A URL host equal to this domain or under it.
    #[arg(long)]
    url_domain: Option<String>,
    /// An IP address in the Received chain.
    #[arg(long)]
    ip: Option<String>,
    /// An attachment's sha256.
    #[arg(long)]
    attachment_sha256: Option<String>,
    /// Arrival time at or after (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, value_parser = parse_time)]
    since: Option<String>,
    /// Arrival time before (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, value_parser = parse_time)]
    until: Option<String>,
    /// Verdict at least this (`suspicious` includes malicious).
    #[arg(long, value_enum)]
    verdict: Option<VerdictArg>,
    /// Carries this detection label (e.g. `credential-phishing`).
    #[arg(long)]
    label: Option<String>,
    /// At most this many (the table shows 50 unless given; JSON has no implicit limit).
    #[arg(long)]
    limit: Option<u64>,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum VerdictArg {
    Clean,
    Suspicious,
    Malicious,
}

impl VerdictArg {
    pub(crate) fn verdict(self) -> wavetrace_core::detect::Verdict {
        use wavetrace_core::detect::Verdict;
        match self {
            VerdictArg::Clean => Verdict::Clean,
            VerdictArg::Suspicious => Verdict::Suspicious,
            VerdictArg::Malicious => Verdict::Malicious,
        }
    }
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// sha256 prefix (8+ hex characters) or Message-ID (with or without <>).
    id: String,
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    format: ShowFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShowFormat {
    Text,
    Json,
}

/// An error that maps to exit code 1 with a message already printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct NotFound(String);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        // `wavetrace messages | head`: the reader left; not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<NotFound>().is_none() {
                eprintln!("wavetrace: error: {e:#}");
            } else {
                eprintln!("wavetrace: {e}");
            }
            ExitCode::from(1)
        }
    }
}

/// Whether an error is a closed stdout (EPIPE), however it was wrapped.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind);
        let store = match cause.downcast_ref::<wavetrace_store::StoreError>() {
            Some(wavetrace_store::StoreError::Json(j)) => j.io_error_kind(),
            Some(wavetrace_store::StoreError::Raw(io)) => Some(io.kind()),
            _ => None,
        };
        [io, json, store].contains(&Some(std::io::ErrorKind::BrokenPipe))
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => {
            let cfg = scan::ScanConfig {
                paths: args.paths,
                db: cli.db.clone(),
                unwrap_attached: args.unwrap_attached,
                read: inputs::ReadOptions {
                    max_message_size: usize::try_from(args.max_message_size).unwrap_or(usize::MAX),
                    max_gzip_ratio: args.max_gzip_ratio.max(1),
                },
                pipeline: args.pipeline.build(cli.config.as_deref())?,
                ndjson: matches!(args.format, ScanFormat::Ndjson),
                verbose: args.verbose,
                progress: std::io::stderr().is_terminal(),
            };
            let summary = scan::run(&cfg)?;
            match args.summary_format {
                SummaryFormat::Text => eprint!("{}", scan::render_summary(&summary, &cli.db)),
                SummaryFormat::Json => eprintln!("{}", serde_json::to_string(&summary)?),
            }
        }
        Command::Messages(args) => messages(&cli.db, args)?,
        Command::Show(args) => {
            let store = open_existing(&cli.db)?;
            match store.lookup(&args.id)? {
                Lookup::Found(record) => match args.format {
                    ShowFormat::Json => outln!("{}", serde_json::to_string_pretty(&record)?)?,
                    ShowFormat::Text => out!("{}", show::render(&record))?,
                },
                Lookup::NotFound => {
                    return Err(NotFound(format!("no message matches {:?}", args.id)).into())
                }
                Lookup::Ambiguous(candidates) => {
                    let mut msg = format!("{:?} is ambiguous; candidates:", args.id);
                    for c in candidates {
                        msg.push_str(&format!("\n  {c}"));
                    }
                    return Err(NotFound(msg).into());
                }
            }
        }
        Command::Reanalyse(args) => {
            let pipeline = args.pipeline.build(cli.config.as_deref())?;
            let mut store = open_existing(&cli.db)?;
            let n = reanalyse::run(&mut store, &pipeline)?;
            let clustering = campaigns::recluster(&mut store, true)?;
            eprintln!(
                "re-analysed {n} messages in {}; {} campaigns of two or more",
                cli.db.display(),
                clustering.campaigns_of_two_or_more
            );
        }
        Command::Campaigns(args) => list_campaigns(&cli.db, args)?,
        Command::Campaign(args) => {
            let store = open_existing(&cli.db)?;
            let Some(id) = store.resolve_campaign(&args.id)? else {
                return Err(NotFound(format!("no campaign matches {:?}", args.id)).into());
            };
            let Some((summary, links)) = store.campaign(&id)? else {
                return Err(NotFound(format!("no campaign matches {:?}", args.id)).into());
            };
            match args.format {
                ShowFormat::Json => {
                    let mut value: serde_json::Value = serde_json::from_str(&summary)?;
                    let links: Vec<serde_json::Value> = links
                        .iter()
                        .map(|l| Ok(serde_json::json!({"a": l.a, "b": l.b, "evidence": serde_json::from_str::<serde_json::Value>(&l.evidence)?})))
                        .collect::<anyhow::Result<_>>()?;
                    value["links"] = serde_json::Value::Array(links);
                    outln!("{}", serde_json::to_string_pretty(&value)?)?;
                }
                ShowFormat::Text => out!(
                    "{}",
                    campaigns::render(&campaigns::parse_summary(&summary)?, &links)
                )?,
            }
        }
        Command::Rules(args) => {
            let config = cli.config.as_deref();
            let with_paths = |set: RulesSetArgs| {
                let mut detect = set.detect;
                detect.rules.extend(set.paths);
                detect
            };
            return match args.action {
                RulesAction::Check(set) => detection::check(config, &with_paths(set)),
                RulesAction::List(set) => detection::list(config, &with_paths(set)),
                RulesAction::Test(t) => {
                    detection::test(config, &with_paths(t.set), t.rule.as_deref())
                }
            };
        }
        Command::Report(args) => export::report(&cli.db, &args)?,
        Command::Export(args) => export::export(&cli.db, &args)?,
        Command::Eval(args) => {
            return eval::run(
                &cli.db,
                &args.truth,
                args.waves.as_deref(),
                args.min_f1,
                matches!(args.format, ShowFormat::Json),
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn open_existing(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        anyhow::bail!(
            "{}: no such database (run `wavetrace scan` first, or give --db)",
            db.display()
        );
    }
    Store::open_existing(db).with_context(|| format!("opening {}", db.display()))
}

fn list_campaigns(db: &Path, args: CampaignsArgs) -> anyhow::Result<()> {
    let store = open_existing(db)?;
    let filter = args
        .filter
        .store_filter(matches!(args.sort, CampaignSort::Recent));
    let by_judgement = args.filter.by_judgement();
    let limit = match (args.format, args.limit) {
        (_, Some(l)) => Some(l),
        (ListFormat::Table, None) if !by_judgement => Some(50),
        _ => None,
    };
    let mut summaries: Vec<wavetrace_core::campaign::CampaignSummary> = store
        .campaigns(&filter, if by_judgement { None } else { limit })?
        .iter()
        .map(|j| campaigns::parse_summary(j))
        .collect::<anyhow::Result<_>>()?;
    summaries.retain(|c| args.filter.judged_as_asked(c));
    if let Some(l) = limit {
        summaries.truncate(l as usize);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        ListFormat::Table => {
            writeln!(
                out,
                "{:<12}  {:>6}  {:>5}  {:<20}  {:<20}  {:<10}  {:<28}  SUBJECT",
                "ID", "SIZE", "WAVES", "FIRST SEEN", "LAST SEEN", "VERDICT", "SENDER"
            )?;
            for c in &summaries {
                writeln!(
                    out,
                    "{:<12}  {:>6}  {:>5}  {:<20}  {:<20}  {:<10}  {:<28}  {}",
                    c.id,
                    c.size,
                    c.waves.len(),
                    c.first_seen.as_deref().unwrap_or("-"),
                    c.last_seen.as_deref().unwrap_or("-"),
                    c.verdict.as_deref().unwrap_or("-"),
                    clip(
                        &one_line(c.senders.first().map(|s| s.value.as_str()).unwrap_or("-")),
                        28
                    ),
                    clip(
                        &one_line(c.subjects.first().map(|s| s.value.as_str()).unwrap_or("")),
                        60
                    )
                )?;
            }
            writeln!(out, "{} campaigns listed", summaries.len())?;
        }
        ListFormat::Json => {
            serde_json::to_writer(&mut out, &summaries)?;
            out.write_all(b"\n")?;
        }
        ListFormat::Ndjson => {
            for c in &summaries {
                serde_json::to_writer(&mut out, c)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn messages(db: &Path, args: MessagesArgs) -> anyhow::Result<()> {
    let store = open_existing(db)?;
    let filter = MessageFilter {
        from_domain: args.from_domain,
        url_domain: args.url_domain,
        ip: args.ip,
        attachment_sha256: args.attachment_sha256,
        since: args.since,
        until: args.until,
        min_verdict: args.verdict.map(VerdictArg::verdict),
        label: args.label,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        ListFormat::Table => {
            let total = store.count(&filter)?;
            let limit = args.limit.unwrap_or(50);
            let rows = store.rows(&filter, Some(limit))?;
            writeln!(
                out,
                "{:<12}  {:<20}  {:<28}  {:>9}  {:<10}  SUBJECT",
                "ID", "ARRIVAL", "FROM DOMAIN", "SIZE", "VERDICT"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<12}  {:<20}  {:<28}  {:>9}  {:<10}  {}",
                    &r.sha256[..12],
                    r.arrival_time.as_deref().unwrap_or("-"),
                    clip(r.from_domain.as_deref().unwrap_or("-"), 28),
                    r.size,
                    r.verdict.map_or("-", |v| v.as_str()),
                    clip(&one_line(r.subject.as_deref().unwrap_or("")), 60)
                )?;
            }
            let more = total.saturating_sub(rows.len() as u64);
            if more > 0 {
                writeln!(
                    out,
                    "... {more} more (of {total}); use --limit or --format json"
                )?;
            } else {
                writeln!(out, "{total} messages")?;
            }
        }
        ListFormat::Json => {
            out.write_all(b"[")?;
            let mut first = true;
            store.for_each_record(&filter, args.limit, |r| {
                if !first {
                    out.write_all(b",\n")?;
                }
                first = false;
                serde_json::to_writer(&mut out, &r)?;
                Ok(())
            })?;
            out.write_all(b"]\n")?;
        }
        ListFormat::Ndjson => {
            store.for_each_record(&filter, args.limit, |r| {
                serde_json::to_writer(&mut out, &r)?;
                out.write_all(b"\n")?;
                Ok(())
            })?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Control characters from mail never reach the terminal.
/// Mail text made safe for one terminal line: control characters and the
/// bidirectional controls that reorder what follows (`U+202E` makes
/// `exe.pdf` read `fdp.exe`) become spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            let bidi = matches!(c as u32, 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069);
            if c.is_control() || bidi {
                ' '
            } else {
                c
            }
        })
        .collect()
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `50M`, `1G`, `4096`, `512K` -> bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (s, 1),
        Some((i, _)) => {
            let unit = s[i..].trim().to_ascii_uppercase();
            let mult = match unit.trim_end_matches('B').trim_end_matches('I') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                _ => return Err(format!("unknown size unit in {s:?} (use K, M or G)")),
            };
            (&s[..i], mult)
        }
    };
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// RFC 3339 or a bare date, normalised to RFC 3339 UTC for comparison.
fn parse_time(s: &str) -> Result<String, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    mail_parser::DateTime::parse_rfc3339(&full)
        .filter(|d| d.is_valid())
        .map(|d| wavetrace_core::parse::rfc3339_utc(d.to_timestamp()))
        .ok_or_else(|| format!("not an RFC 3339 time or YYYY-MM-DD date: {s:?}"))
}

/// The current time (Unix seconds): for the scan log and to flag Received
/// timestamps in the future; never a message's time.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// [`now_unix`] as RFC 3339, for the scan log.
pub(crate) fn now_rfc3339() -> String {
    wavetrace_core::parse::rfc3339_utc(now_unix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50M"), Ok(50 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("5X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2020-10-20").as_deref(),
            Ok("2020-10-20T00:00:00Z")
        );
        assert_eq!(
            parse_time("2020-10-20T12:00:00-04:00").as_deref(),
            Ok("2020-10-20T16:00:00Z")
        );
        assert!(parse_time("yesterday").is_err());
    }
}
