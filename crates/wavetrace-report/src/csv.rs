//! CSV exports: `messages.csv`, `campaigns.csv`, `indicators.csv`, and the
//! purge lists. RFC 4180 (CRLF line ends, fields quoted when they hold a
//! comma, quote or line break), UTF-8 without a byte-order mark, a header
//! line whose names are a contract (README, "Exports").
//!
//! A cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
//! `@`, tab or carriage return) gets a leading apostrophe, as OWASP
//! recommends: mail is written by attackers, and analysts open CSV files in
//! spreadsheets.

use wavetrace_core::record::{json_token, MessageRecord};

use crate::model::{CampaignExport, ExportSet};

/// Values listed in one cell of `campaigns.csv` (the most frequent first).
const TOP_IN_CELL: usize = 10;

/// Columns of `messages.csv`.
pub const MESSAGE_COLUMNS: [&str; 26] = [
    "campaign_id",
    "sha256",
    "message_id",
    "arrival_time",
    "date",
    "from_address",
    "from_name",
    "reply_to",
    "return_path",
    "subject",
    "recipient_count",
    "recipients",
    "origin_ip",
    "origin_host",
    "relay_abuse",
    "from_authenticated",
    "spf",
    "dkim",
    "dmarc",
    "verdict",
    "score",
    "labels",
    "rules",
    "urls",
    "attachments",
    "source",
];

/// Columns of `campaigns.csv`.
pub const CAMPAIGN_COLUMNS: [&str; 17] = [
    "campaign_id",
    "size",
    "first_seen",
    "last_seen",
    "waves",
    "verdict",
    "labels",
    "recipient_count",
    "recipient_domains",
    "subjects",
    "senders",
    "display_names",
    "origins",
    "relays",
    "asns",
    "template",
    "aliases",
];

/// Columns of `indicators.csv`.
pub const INDICATOR_COLUMNS: [&str; 9] = [
    "campaign_id",
    "kind",
    "value",
    "role",
    "indicator",
    "count",
    "first_seen",
    "last_seen",
    "note",
];

/// Columns of a purge list.
pub const PURGE_COLUMNS: [&str; 9] = [
    "campaign_id",
    "message_id",
    "arrival_time",
    "date",
    "from_address",
    "return_path",
    "subject",
    "recipient",
    "sha256",
];

/// The cell as written: formula triggers neutralised (a plain number such
/// as `-3` stays a number).
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let number = cell.parse::<f64>().is_ok_and(f64::is_finite);
    if !number && cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Writes a header and rows as RFC 4180 CSV.
fn table<const N: usize>(columns: [&str; N], rows: Vec<[String; N]>) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    // Writing to memory cannot fail; a failure would only lose the row.
    let _ = w.write_record(columns);
    for row in &rows {
        let _ = w.write_record(row.iter().map(|c| neutralise(c).into_owned()));
    }
    w.into_inner().unwrap_or_default()
}

/// Joins values with `; `.
fn joined<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    values.into_iter().collect::<Vec<_>>().join("; ")
}

/// `value (count)` for the most frequent values.
fn counted(values: &[wavetrace_core::campaign::summary::Counted]) -> String {
    values
        .iter()
        .take(TOP_IN_CELL)
        .map(|c| format!("{} ({})", c.value, c.count))
        .collect::<Vec<_>>()
        .join("; ")
}

fn opt(value: Option<&str>) -> String {
    value.unwrap_or_default().to_string()
}

/// One `messages.csv` row.
fn message_row(campaign_id: &str, r: &MessageRecord) -> [String; 26] {
    let origin = r.origin.as_ref();
    let auth = r.auth.as_ref();
    let recipients: Vec<&str> =
        r.to.iter()
            .chain(&r.cc)
            .filter_map(|m| m.address.as_deref())
            .collect();
    [
        campaign_id.to_string(),
        r.sha256.clone(),
        opt(r.message_id.as_deref()),
        opt(r.arrival_time.as_deref()),
        opt(r.date.as_deref()),
        opt(r.from.as_ref().and_then(|f| f.address.as_deref())),
        opt(r.from.as_ref().and_then(|f| f.name.as_deref())),
        joined(r.reply_to.iter().filter_map(|m| m.address.as_deref())),
        opt(r.return_path.as_deref()),
        opt(r.subject.as_deref()),
        (r.to_count + r.cc_count).to_string(),
        joined(recipients),
        origin
            .and_then(|o| o.ip)
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
        opt(origin.and_then(|o| o.rdns.as_deref().or(o.helo.as_deref()))),
        r.findings
            .iter()
            .any(|f| f.victim_infrastructure.is_some())
            .to_string(),
        auth.map(|a| json_token(&a.from_authenticated))
            .unwrap_or_default(),
        auth.and_then(|a| a.spf.as_ref())
            .map(|v| json_token(&v.result))
            .unwrap_or_default(),
        joined(
            auth.map_or(Vec::new(), |a| {
                a.dkim.iter().map(|v| json_token(&v.result)).collect()
            })
            .iter()
            .map(String::as_str),
        ),
        auth.and_then(|a| a.dmarc.as_ref())
            .map(|v| json_token(&v.result))
            .unwrap_or_default(),
        r.verdict
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
        r.score.map(|s| s.to_string()).unwrap_or_default(),
        joined(r.labels.iter().map(|l| l.as_str())),
        joined(
            r.findings
                .iter()
                .filter_map(|f| f.rule.as_ref())
                .map(|h| h.id.as_str()),
        ),
        r.urls.len().to_string(),
        r.attachments.len().to_string(),
        r.source.clone(),
    ]
}

/// `messages.csv`: one row per member of each campaign.
pub fn messages(set: &ExportSet) -> Vec<u8> {
    let rows = set
        .campaigns
        .iter()
        .flat_map(|c| c.members.iter().map(|r| message_row(&c.summary.id, r)))
        .collect();
    table(MESSAGE_COLUMNS, rows)
}

/// `campaigns.csv`: one row per campaign.
pub fn campaigns(set: &ExportSet) -> Vec<u8> {
    let rows = set
        .campaigns
        .iter()
        .map(|c| {
            let s = &c.summary;
            [
                s.id.clone(),
                s.size.to_string(),
                opt(s.first_seen.as_deref()),
                opt(s.last_seen.as_deref()),
                s.waves.len().to_string(),
                opt(s.verdict.as_deref()),
                joined(s.labels.iter().map(String::as_str)),
                s.recipients.count.to_string(),
                counted(&s.recipients.domains),
                counted(&s.subjects),
                counted(&s.senders),
                counted(&s.display_names),
                counted(&s.origins),
                counted(&s.relays),
                counted(&s.asns),
                s.template
                    .as_ref()
                    .map(|t| t.text.clone())
                    .unwrap_or_default(),
                joined(s.aliases.iter().map(String::as_str)),
            ]
        })
        .collect();
    table(CAMPAIGN_COLUMNS, rows)
}

/// `indicators.csv`: every observable of each campaign with its role; only
/// rows with `indicator` = `yes` are the attacker's (see [`crate::indicators`]).
pub fn indicators(set: &ExportSet) -> Vec<u8> {
    let rows = set
        .campaigns
        .iter()
        .flat_map(|c| {
            c.observables.iter().cloned().map(|o| {
                [
                    c.summary.id.clone(),
                    o.kind.as_str().to_string(),
                    o.value,
                    o.role.as_str().to_string(),
                    if o.role.is_indicator() { "yes" } else { "no" }.to_string(),
                    o.count.to_string(),
                    o.first_seen.unwrap_or_default(),
                    o.last_seen.unwrap_or_default(),
                    o.role.note().to_string(),
                ]
            })
        })
        .collect();
    table(INDICATOR_COLUMNS, rows)
}

/// A campaign's purge list: one row per message and recipient, so a mail
/// administrator can find and remove every copy. It names recipients by
/// design: give it the campaign as stored, not redacted.
pub fn purge(campaign: &CampaignExport) -> Vec<u8> {
    let mut rows = Vec::new();
    for r in &campaign.members {
        // Bcc'd recipients are only in the Received chain's `for` clauses.
        let mut recipients = crate::redact::recipient_addresses(r);
        if recipients.is_empty() {
            recipients.push(String::new());
        }
        for recipient in recipients {
            rows.push([
                campaign.summary.id.clone(),
                opt(r.message_id.as_deref()),
                opt(r.arrival_time.as_deref()),
                opt(r.date.as_deref()),
                opt(r.from.as_ref().and_then(|f| f.address.as_deref())),
                opt(r.return_path.as_deref()),
                opt(r.subject.as_deref()),
                recipient,
                r.sha256.clone(),
            ]);
        }
    }
    table(PURGE_COLUMNS, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::prepare;
    use crate::testdata::{sample_campaigns, SALT};

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn formula_triggers_are_neutralised() {
        for bad in [
            "=HYPERLINK(\"x\")",
            "+1+cmd",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralise("plain"), "plain");
        assert_eq!(neutralise("-3"), "-3");
        assert!(neutralise("-3+cmd|x").starts_with('\''));
        let out = text(table(
            ["a", "b"],
            vec![["=cmd|' /C calc'!A0".into(), "say \"hi\",\nthen".into()]],
        ));
        assert_eq!(
            out,
            "a,b\r\n'=cmd|' /C calc'!A0,\"say \"\"hi\"\",\nthen\"\r\n"
        );
    }

    #[test]
    fn shapes() {
        let set = prepare(sample_campaigns(), 200, SALT, false);
        let messages = text(messages(&set));
        let campaigns = text(campaigns(&set));
        let indicators = text(indicators(&set));
        assert_eq!(messages.lines().count(), 201);
        assert_eq!(campaigns.lines().count(), 3);
        insta::assert_snapshot!("messages_head", head(&messages, 3));
        insta::assert_snapshot!("campaigns", campaigns);
        insta::assert_snapshot!("indicators_head", head(&indicators, 12));
    }

    #[test]
    fn redacted_by_default_and_purge_names_recipients() {
        let campaigns = sample_campaigns();
        let recipients: Vec<String> = campaigns
            .iter()
            .flat_map(|c| &c.members)
            .flat_map(|r| r.to.iter().filter_map(|m| m.address.clone()))
            .collect();
        assert!(!recipients.is_empty());
        let purge_list = text(purge(&campaigns[0]));
        let set = prepare(campaigns, 200, SALT, false);
        let all = [messages(&set), self::campaigns(&set), indicators(&set)]
            .map(text)
            .join("\n")
            .to_lowercase();
        for a in &recipients {
            assert!(!all.contains(&a.to_lowercase()), "{a} leaked");
        }
        assert!(recipients
            .iter()
            .take(5)
            .all(|a| purge_list.contains(a.as_str())));
    }

    fn head(s: &str, lines: usize) -> String {
        s.split("\r\n").take(lines).collect::<Vec<_>>().join("\n")
    }
}
