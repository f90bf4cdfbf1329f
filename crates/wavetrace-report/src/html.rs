//! The HTML report: one self-contained HTML5 file an analyst can open
//! offline, print, or hand to another team.
//!
//! Safe to open whatever the mail said: there is no JavaScript at all, no
//! external resource (scripts, fonts, images, requests), and a strict
//! Content-Security-Policy as the first element of `<head>` allows only
//! the one `<style>` element, by its SHA-256 ([`content_security_policy`]).
//! Every string taken from mail is cut to a bounded length, its control
//! and bidirectional formatting characters made visible, and escaped
//! (`& < > " '`) wherever it is written, text or attribute value; nothing
//! from mail reaches the style sheet, an attribute name or a link target
//! (URLs are shown as text only; the only links are the report's own
//! `#campaign-ID` anchors). There are no `style` attributes: the policy
//! would refuse them, so the SVG timeline uses classes and presentation
//! attributes.
//!
//! Deterministic: the same set and options give the same bytes (no clock;
//! every time shown comes from the data).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use wavetrace_core::campaign::record_features::unix_time;
use wavetrace_core::campaign::summary::Counted;
use wavetrace_core::campaign::{CampaignSummary, Template, TemplateSegment};
use wavetrace_core::detect::rules::Severity;
use wavetrace_core::detect::Verdict;
use wavetrace_core::origin::infra::{Finding, FindingCode};
use wavetrace_core::parse::rfc3339_utc;
use wavetrace_core::record::{json_token, Mailbox, MessageRecord};

use crate::indicators::Observable;
use crate::model::{CampaignExport, ExportSet, ShareOptions, Tlp};
use crate::timeline;

/// Most characters of one string from mail shown (the cut is marked).
pub const MAX_TEXT_CHARS: usize = 300;

/// Members shown in full per campaign (the earliest).
pub const MEMBER_SAMPLE: usize = 20;

/// Values listed per table of counted values (the most frequent first).
const TOP_VALUES: usize = 10;

/// Most characters of a campaign's template shown.
const MAX_TEMPLATE_CHARS: usize = 6_000;

/// Rows per kind of value in an observables table (the exports carry
/// them all).
const MAX_ROWS_PER_KIND: usize = 20;

/// Rows of the lookalike table.
const MAX_LOOKALIKE_ROWS: usize = 100;

/// Evidence lines shown per finding.
const MAX_EVIDENCE: usize = 12;

/// The report's only style sheet. Its SHA-256 is in the
/// Content-Security-Policy, so a browser applies it and nothing else.
pub const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: #1c2733; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main, .masthead { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
h1 { font-size: 26px; margin: 20px 0 4px; color: #0f2a44; }
h2 { font-size: 20px; margin: 0 0 12px; color: #0f2a44; }
h3 { font-size: 15px; margin: 22px 0 8px; color: #0f2a44; text-transform: uppercase; letter-spacing: .04em; border-bottom: 1px solid #d5dde5; padding-bottom: 4px; }
h4 { font-size: 13px; margin: 0 0 6px; color: #34495e; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12px; }
.tlp { background: #000; color: #fff; display: flex; justify-content: space-between; align-items: center; gap: 16px; padding: 6px 24px; font-size: 12px; }
.tlp .marking { font: 700 16px/1.2 ui-monospace, Menlo, Consolas, monospace; letter-spacing: .05em; white-space: nowrap; }
.tlp .meaning { color: #d0d0d0; }
.tlp-clear .marking { color: #ffffff; }
.tlp-green .marking { color: #33ff00; }
.tlp-amber .marking, .tlp-amber-strict .marking { color: #ffc000; }
.tlp-red .marking { color: #ff2b2b; }
.masthead { padding-bottom: 8px; }
.meta { color: #52606d; margin: 0 0 10px; }
.redaction, .warning { border-radius: 6px; padding: 8px 12px; margin: 8px 0 16px; }
.redaction { background: #e7f5ec; border: 1px solid #9fd3b2; }
.warning { background: #fdecea; border: 1px solid #f1a59d; color: #7a1c12; }
section.panel { background: #fff; border: 1px solid #d5dde5; border-radius: 8px; padding: 18px 22px; margin: 18px 0; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin-bottom: 14px; }
.stat { border: 1px solid #d5dde5; border-radius: 6px; padding: 10px 12px; background: #fafbfc; }
.stat .n { display: block; font-size: 24px; font-weight: 700; color: #0f2a44; }
.stat .what { color: #52606d; font-size: 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
.card { border: 1px solid #e1e7ed; border-radius: 6px; padding: 10px 12px; background: #fcfdfe; min-width: 0; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e6ebf0; overflow-wrap: anywhere; }
th { background: #eef2f6; color: #34495e; font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.when, td.nowrap { white-space: nowrap; }
table.waves { table-layout: fixed; }
table.waves col.n { width: 6%; }
table.waves col.t { width: 15%; }
table.waves col.c { width: 9%; }
table.waves col.v { width: 20%; }
table.waves col.ip { width: 13%; }
table.waves col.from { width: 22%; }
table.slots { width: auto; min-width: 40%; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dl.facts dt { color: #52606d; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; white-space: nowrap; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; border: 1px solid transparent; }
.verdict-malicious { background: #fde2e1; color: #9b1c1c; border-color: #f5a5a3; }
.verdict-suspicious { background: #fff4d6; color: #8a5a00; border-color: #f0cf7a; }
.verdict-clean { background: #e3f4e8; color: #1e6b3a; border-color: #9fd3b2; }
.verdict-unknown { background: #eceff2; color: #52606d; border-color: #cfd6dd; }
.label { display: inline-block; background: #e8eef6; color: #23415f; border-radius: 4px; padding: 0 6px; margin: 0 4px 2px 0; font-size: 12px; }
.block { background: #fde2e1; color: #9b1c1c; border-color: #f5a5a3; }
.noblock { background: #e3f4e8; color: #1e6b3a; border-color: #9fd3b2; }
.sev { text-transform: uppercase; font-size: 11px; }
.sev-critical, .sev-high { background: #fde2e1; color: #9b1c1c; }
.sev-medium { background: #fff4d6; color: #8a5a00; }
.sev-low, .sev-info { background: #eceff2; color: #52606d; }
.note, .none { color: #52606d; font-size: 12px; }
.more td { color: #52606d; font-style: italic; }
figure { margin: 0 0 8px; }
svg.timeline { width: 100%; height: auto; display: block; background: #fff; }
svg.timeline .bar { fill: #1f5f99; }
svg.timeline .wave { fill: #f59f00; fill-opacity: .16; stroke: #e67700; stroke-opacity: .55; stroke-width: 1; }
svg.timeline .wave-mark { stroke: #e67700; stroke-opacity: .55; }
svg.timeline .wave-label { fill: #8a4b00; font-weight: 600; }
svg.timeline .gridline { stroke: #e6ebf0; }
svg.timeline .baseline, svg.timeline .tick { stroke: #7b8794; }
svg.timeline .count, svg.timeline .time { fill: #52606d; }
svg.timeline .axis-title { fill: #34495e; font-weight: 600; }
pre.template { white-space: pre-wrap; overflow-wrap: anywhere; background: #fafbfc; border: 1px solid #e1e7ed; border-radius: 6px; padding: 10px 12px; line-height: 1.7; }
mark.slot { border-radius: 3px; padding: 1px 4px; font-weight: 700; background: #fff0b3; color: #5c4400; }
mark.slot-name, mark.slot-street_address, mark.slot-email, mark.slot-phone { background: #ffd6d6; color: #7a1c12; }
mark.slot-url, mark.slot-token { background: #d6e9ff; color: #123f6e; }
mark.slot-number, mark.slot-amount, mark.slot-date { background: #d9f2df; color: #1e5631; }
.member { border: 1px solid #e1e7ed; border-radius: 6px; padding: 10px 12px; margin: 0 0 10px; background: #fcfdfe; break-inside: avoid; }
.member h4 { font-size: 14px; color: #1c2733; overflow-wrap: anywhere; }
.member dl.facts { font-size: 13px; margin-bottom: 6px; }
ul.findings { margin: 4px 0 0; padding-left: 18px; }
ul.findings > li { margin-bottom: 4px; }
ul.evidence { margin: 2px 0 0; padding-left: 18px; color: #52606d; font-size: 12px; }
nav.toc a, h2 a { color: #1f5f99; text-decoration: none; }
footer { margin-top: 24px; }
footer .meta { max-width: 1180px; margin: 10px auto; padding: 0 24px; }
@media print {
  body { background: #fff; font-size: 11px; }
  main, .masthead, footer .meta { max-width: none; padding: 0; }
  section.panel { border: none; padding: 0; margin: 12px 0; }
  section.campaign { break-before: page; }
  .tlp, .badge, .label, mark.slot, .sev { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  .member, tr, figure { break-inside: avoid; }
}
"#;

/// The Content-Security-Policy of the report: nothing may load or run;
/// only [`STYLE`], identified by its SHA-256, applies.
pub fn content_security_policy() -> String {
    let digest = Sha256::digest(STYLE.as_bytes());
    format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src 'none'; base-uri 'none'; form-action 'none'",
        base64(&digest)
    )
}

/// Standard base64 with padding (RFC 4648, section 4), for the style hash.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The text escaped for HTML text and quoted attribute values alike.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A string as displayed (before escaping): cut after `max_chars`
/// characters on a character boundary, the cut marked, and control,
/// invisible and bidirectional formatting characters shown as `⟨U+202E⟩`
/// (they could reorder or hide the text around them).
pub fn clip(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut chars = s.chars();
    for c in chars.by_ref().take(max_chars) {
        if is_hidden_or_control(c) {
            out.push_str(&format!("⟨U+{:04X}⟩", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    let rest = chars.count();
    if rest > 0 {
        out.push_str(&format!("… [{rest} more characters]"));
    }
    out
}

/// Characters that are not shown as themselves: controls other than line
/// breaks and tabs, bidirectional formatting, line and paragraph
/// separators, zero-width and blank-looking fillers (Hangul fillers), tag
/// characters.
fn is_hidden_or_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c,
            '\u{061C}' | '\u{115F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{3164}' | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}')
}

/// A string from mail, ready for HTML: bounded, made visible, escaped.
fn text(s: &str) -> String {
    escape(&clip(s, MAX_TEXT_CHARS))
}

/// A string from mail as code (addresses, URLs, hashes).
fn code(s: &str) -> String {
    format!("<code>{}</code>", text(s))
}

/// The report: one self-contained HTML5 document.
pub fn report(set: &ExportSet, options: &ShareOptions) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str(&head(options.tlp));
    out.push_str("<body>\n");
    out.push_str(&tlp_banner(options.tlp));
    out.push_str(&masthead(set, options));
    out.push_str("<main>\n");
    out.push_str(&overview(set));
    for campaign in &set.campaigns {
        out.push_str(&campaign_section(campaign));
    }
    out.push_str("</main>\n<footer>\n");
    out.push_str(&format!(
        "<p class=\"meta\">Produced by {} with wavetrace {}. Times are UTC, taken from the messages (arrival at the receiving side). End of report.</p>\n",
        text(&options.identity),
        env!("CARGO_PKG_VERSION"),
    ));
    out.push_str(&tlp_banner(options.tlp));
    out.push_str("</footer>\n</body>\n</html>\n");
    out
}

/// The document head: the policy first, then the rest.
fn head(tlp: Tlp) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n<meta charset=\"utf-8\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"wavetrace {}\">\n<title>Email campaign report ({})</title>\n<style>{STYLE}</style>\n</head>\n",
        // Written as is: the policy is this module's own text (no quote,
        // ampersand or angle bracket).
        content_security_policy(),
        env!("CARGO_PKG_VERSION"),
        escape(&tlp.label()),
    )
}

/// The class of a TLP marking (`tlp-amber-strict`).
fn tlp_class(tlp: Tlp) -> String {
    format!("tlp-{}", tlp.name().replace('+', "-"))
}

/// What a TLP 2.0 marking allows, in FIRST's words.
fn tlp_meaning(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "Recipients can spread this to the world; there is no limit on disclosure.",
        Tlp::Green => "Limited disclosure: recipients can spread this within their community.",
        Tlp::Amber => "Limited disclosure: recipients can only spread this on a need-to-know basis within their organization and its clients.",
        Tlp::AmberStrict => "Limited disclosure: restricted to the recipient's organization only.",
        Tlp::Red => "For the eyes and ears of individual recipients only; no further disclosure.",
    }
}

/// The TLP 2.0 banner, at the top and the bottom of the report.
fn tlp_banner(tlp: Tlp) -> String {
    format!(
        "<div class=\"tlp {}\"><span class=\"meaning\">{}</span><span class=\"marking\">{}</span></div>\n",
        tlp_class(tlp),
        escape(tlp_meaning(tlp)),
        escape(&tlp.label()),
    )
}

/// Title, producer, the span of the data and the redaction note.
fn masthead(set: &ExportSet, options: &ShareOptions) -> String {
    let times: Vec<i64> = set
        .campaigns
        .iter()
        .flat_map(|c| [&c.summary.first_seen, &c.summary.last_seen])
        .filter_map(|t| t.as_deref().and_then(unix_time))
        .collect();
    let span = match (times.iter().min(), times.iter().max()) {
        (Some(a), Some(b)) => format!(
            " Messages from {} to {} (UTC).",
            when_unix(*a),
            when_unix(*b)
        ),
        _ => String::new(),
    };
    let personal = &set.personal;
    let note = if personal.included {
        "<p class=\"warning\"><strong>Personal data INCLUDED.</strong> This report was written with <code>--include-personal</code>: recipients' addresses and names, and the personal values filled into the messages, appear as written. Share it only with people entitled to see them.</p>\n".to_string()
    } else {
        format!(
            "<p class=\"redaction\"><strong>Redacted.</strong> {} personal value(s), {} of them recipient address(es), are replaced by salted hashes (<code>[recipient:…]</code>, <code>[personal:…]</code>); the same value has the same hash throughout the report.</p>\n",
            personal.values_redacted, personal.recipients_redacted
        )
    };
    format!(
        "<header class=\"masthead\">\n<h1>Email campaign report</h1>\n<p class=\"meta\">Produced by <strong>{}</strong> with wavetrace {}.{span}</p>\n{note}</header>\n",
        text(&options.identity),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The overview: counts over the whole set and the list of campaigns.
fn overview(set: &ExportSet) -> String {
    let messages: usize = set.campaigns.iter().map(|c| c.members.len()).sum();
    let mut verdicts: BTreeMap<Option<Verdict>, usize> = BTreeMap::new();
    let mut labels: BTreeMap<&str, usize> = BTreeMap::new();
    for r in set.campaigns.iter().flat_map(|c| &c.members) {
        *verdicts.entry(r.verdict).or_default() += 1;
        for l in &r.labels {
            *labels.entry(l.as_str()).or_default() += 1;
        }
    }
    let mut out = String::from(
        "<section class=\"panel\" id=\"overview\">\n<h2>Overview</h2>\n<div class=\"stats\">\n",
    );
    let stat = |n: String, what: &str| {
        format!("<div class=\"stat\"><span class=\"n\">{n}</span><span class=\"what\">{what}</span></div>\n")
    };
    out.push_str(&stat(messages.to_string(), "messages in this report"));
    out.push_str(&stat(
        set.database_messages.to_string(),
        "messages in the database",
    ));
    out.push_str(&stat(set.campaigns.len().to_string(), "campaigns"));
    for (verdict, what) in [
        (Some(Verdict::Malicious), "judged malicious"),
        (Some(Verdict::Suspicious), "judged suspicious"),
        (Some(Verdict::Clean), "judged clean"),
        (None, "not judged"),
    ] {
        let n = verdicts.get(&verdict).copied().unwrap_or(0);
        if n > 0 || verdict.is_some() {
            out.push_str(&stat(n.to_string(), what));
        }
    }
    out.push_str("</div>\n<div class=\"cards\">\n<div class=\"card\">\n<h4>Top labels</h4>\n");
    let mut top: Vec<(&str, usize)> = labels.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if top.is_empty() {
        out.push_str("<p class=\"none\">No labels: no rule that labels fired.</p>\n");
    } else {
        out.push_str("<table>\n<thead><tr><th>Label</th><th class=\"num\">Messages</th></tr></thead>\n<tbody>\n");
        for (label, n) in top.iter().take(TOP_VALUES) {
            out.push_str(&format!(
                "<tr><td><span class=\"label\">{}</span></td><td class=\"num\">{n}</td></tr>\n",
                escape(label)
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</div>\n</div>\n<h3>Campaigns</h3>\n");
    if set.campaigns.is_empty() {
        out.push_str("<p class=\"none\">No campaigns selected.</p>\n");
    } else {
        out.push_str("<nav class=\"toc\">\n<table>\n<thead><tr><th>Campaign</th><th class=\"num\">Messages</th><th class=\"num\">Waves</th><th>First seen</th><th>Last seen</th><th>Verdict</th><th>Labels</th><th>Top subject</th></tr></thead>\n<tbody>\n");
        for c in &set.campaigns {
            let s = &c.summary;
            out.push_str(&format!(
                "<tr><td class=\"nowrap\"><a href=\"#{}\"><code>{}</code></a></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"when\">{}</td><td class=\"when\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                anchor(&s.id),
                text(&s.id),
                s.size,
                s.waves.len(),
                when_opt(s.first_seen.as_deref()),
                when_opt(s.last_seen.as_deref()),
                verdict_badge(s.verdict.as_deref()),
                label_chips(&s.labels),
                s.subjects.first().map_or_else(String::new, |v| escape(&clip(&v.value, 90))),
            ));
        }
        out.push_str("</tbody>\n</table>\n</nav>\n");
    }
    out.push_str("</section>\n");
    out
}

/// The id of a campaign's section: `campaign-` and the campaign id, with
/// anything but ASCII letters, digits, `-` and `_` dropped (ids are hex).
pub fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    format!("campaign-{safe}")
}

/// One campaign's section.
fn campaign_section(c: &CampaignExport) -> String {
    let s = &c.summary;
    let mut out = format!(
        "<section class=\"panel campaign\" id=\"{}\">\n<h2>Campaign <code>{}</code> {}</h2>\n",
        anchor(&s.id),
        text(&s.id),
        verdict_badge(s.verdict.as_deref()),
    );
    out.push_str(&summary_facts(c));
    out.push_str("<div class=\"cards\">\n");
    out.push_str(&counted_card("Subjects", &s.subjects));
    out.push_str(&counted_card("From addresses", &s.senders));
    out.push_str(&counted_card("Display names", &s.display_names));
    out.push_str("</div>\n");
    out.push_str(&timeline_part(c));
    out.push_str(&template_part(s));
    out.push_str(&infrastructure_part(s, &c.members));
    out.push_str(&impersonation_part(&c.members));
    out.push_str(&indicators_part(&c.observables));
    out.push_str(&members_part(&c.members));
    out.push_str("</section>\n");
    out
}

/// Size, time span, verdict, labels, recipients.
fn summary_facts(c: &CampaignExport) -> String {
    let s = &c.summary;
    let duration = match (
        s.first_seen.as_deref().and_then(unix_time),
        s.last_seen.as_deref().and_then(unix_time),
    ) {
        (Some(a), Some(b)) => duration_words(b - a),
        _ => "unknown".to_string(),
    };
    let domains: Vec<String> = s
        .recipients
        .domains
        .iter()
        .take(5)
        .map(|d| format!("{} ({})", code(&d.value), d.count))
        .collect();
    let mut facts = vec![
        ("Messages", s.size.to_string()),
        ("First seen", when_opt(s.first_seen.as_deref())),
        ("Last seen", when_opt(s.last_seen.as_deref())),
        ("Duration", duration),
        ("Waves", s.waves.len().to_string()),
        ("Verdict", verdict_badge(s.verdict.as_deref())),
        ("Labels", label_chips(&s.labels)),
        (
            "Recipients",
            format!(
                "{} distinct{}",
                s.recipients.count,
                if domains.is_empty() {
                    String::new()
                } else {
                    format!(", at {}", domains.join(", "))
                }
            ),
        ),
    ];
    if !s.aliases.is_empty() {
        let aliases: Vec<String> = s.aliases.iter().take(TOP_VALUES).map(|a| code(a)).collect();
        facts.push(("Earlier ids", aliases.join(", ")));
    }
    facts_list(&facts)
}

/// A definition list of facts whose values are already HTML.
fn facts_list(facts: &[(&str, String)]) -> String {
    let mut out = String::from("<dl class=\"facts\">\n");
    for (name, value) in facts {
        out.push_str(&format!("<dt>{}</dt><dd>{value}</dd>\n", escape(name)));
    }
    out.push_str("</dl>\n");
    out
}

/// A card with a table of counted values (the first [`TOP_VALUES`]).
fn counted_card(title: &str, values: &[Counted]) -> String {
    format!(
        "<div class=\"card\">\n<h4>{}</h4>\n{}</div>\n",
        escape(title),
        counted_table(values)
    )
}

/// A table of counted values, or a note that there are none.
fn counted_table(values: &[Counted]) -> String {
    if values.is_empty() {
        return "<p class=\"none\">None recorded.</p>\n".to_string();
    }
    let mut out = String::from(
        "<table>\n<thead><tr><th>Value</th><th class=\"num\">Messages</th></tr></thead>\n<tbody>\n",
    );
    for v in values.iter().take(TOP_VALUES) {
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>\n",
            text(&v.value),
            v.count
        ));
    }
    if values.len() > TOP_VALUES {
        out.push_str(&format!(
            "<tr class=\"more\"><td colspan=\"2\">and {} more</td></tr>\n",
            values.len() - TOP_VALUES
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// The timeline chart and the table of waves.
fn timeline_part(c: &CampaignExport) -> String {
    let s = &c.summary;
    let times: Vec<i64> = c
        .members
        .iter()
        .filter_map(|r| r.arrival_time.as_deref().and_then(unix_time))
        .collect();
    let mut out = String::from("<h3>Timeline</h3>\n<figure>\n");
    out.push_str(&timeline::svg(&times, &s.waves));
    let untimed = c.members.len() - times.len();
    if untimed > 0 {
        out.push_str(&format!(
            "<figcaption class=\"note\">{untimed} member(s) without an arrival time are not drawn.</figcaption>\n"
        ));
    }
    out.push_str("</figure>\n");
    if s.waves.is_empty() {
        return out;
    }
    out.push_str("<table class=\"waves\">\n<colgroup><col class=\"n\"><col class=\"t\"><col class=\"t\"><col class=\"c\"><col class=\"v\"><col class=\"ip\"><col class=\"from\"></colgroup>\n<thead><tr><th class=\"num\">Wave</th><th>Start</th><th>End</th><th class=\"num\">Messages</th><th>Relays</th><th>Origin IPs</th><th>From addresses</th></tr></thead>\n<tbody>\n");
    for (i, w) in s.waves.iter().enumerate() {
        out.push_str(&format!(
            "<tr><td class=\"num\">W{}</td><td class=\"when\">{}</td><td class=\"when\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            i + 1,
            when(&w.start),
            when(&w.end),
            w.size,
            code_list(&w.relays),
            code_list(&w.origins),
            code_list(&w.senders),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Values as code, the first five, then how many more.
fn code_list(values: &[String]) -> String {
    if values.is_empty() {
        return "<span class=\"none\">none</span>".to_string();
    }
    let mut items: Vec<String> = values.iter().take(5).map(|v| code(v)).collect();
    if values.len() > 5 {
        items.push(format!("and {} more", values.len() - 5));
    }
    items.join(", ")
}

/// The recovered template with its slots highlighted, and a slot legend.
fn template_part(s: &CampaignSummary) -> String {
    let mut out = String::from("<h3>Template</h3>\n");
    let Some(template) = &s.template else {
        out.push_str("<p class=\"none\">No template: it is recovered for campaigns of two or more messages.</p>\n");
        return out;
    };
    out.push_str(&format!(
        "<p class=\"note\">The text the members share, recovered from {}; the parts that vary are slots, highlighted by type.</p>\n",
        if s.template_sampled {
            "a sample of the members"
        } else {
            "every member"
        }
    ));
    out.push_str(&template_html(template));
    let slots: Vec<(&String, &str, usize)> = template
        .segments
        .iter()
        .filter_map(|seg| match seg {
            TemplateSegment::Slot {
                slot,
                slot_type,
                distinct_values,
            } => Some((slot, slot_type.as_str(), *distinct_values)),
            TemplateSegment::Text { .. } => None,
        })
        .collect();
    if !slots.is_empty() {
        out.push_str("<table class=\"slots\">\n<thead><tr><th>Slot</th><th>Type</th><th class=\"num\">Distinct values</th></tr></thead>\n<tbody>\n");
        for (slot, slot_type, n) in slots {
            out.push_str(&format!(
                "<tr><td><mark class=\"slot slot-{slot_type}\">{{{}}}</mark></td><td>{}</td><td class=\"num\">{n}</td></tr>\n",
                escape(&clip(slot, 60)),
                escape(slot_type),
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out
}

/// The template as a `<pre>` with `<mark class="slot slot-TYPE">{name}</mark>`
/// for each slot, cut after [`MAX_TEMPLATE_CHARS`] characters of text.
fn template_html(template: &Template) -> String {
    let mut out = String::from("<pre class=\"template\">");
    let mut budget = MAX_TEMPLATE_CHARS;
    for seg in &template.segments {
        if budget == 0 {
            out.push_str("<span class=\"note\">… [template cut]</span>");
            break;
        }
        match seg {
            TemplateSegment::Text { text } => {
                let n = text.chars().count();
                out.push_str(&escape(&clip(text, budget)));
                budget = budget.saturating_sub(n);
            }
            TemplateSegment::Slot {
                slot, slot_type, ..
            } => {
                // The class comes from the closed set of slot types, never
                // from the slot's name.
                out.push_str(&format!(
                    "<mark class=\"slot slot-{}\">{{{}}}</mark>",
                    slot_type.as_str(),
                    escape(&clip(slot, 60))
                ));
            }
        }
    }
    out.push_str("</pre>\n");
    out
}

/// Origin IPs, relays, organisations, networks, authentication, findings.
fn infrastructure_part(s: &CampaignSummary, members: &[MessageRecord]) -> String {
    let mut out = String::from("<h3>Infrastructure</h3>\n<div class=\"cards\">\n");
    out.push_str(&counted_card("Origin IPs", &s.origins));
    out.push_str(&counted_card("Relays (origin hosts)", &s.relays));
    out.push_str(&counted_card(
        "Origin organisations",
        &s.origin_organisations,
    ));
    if s.asns.is_empty() {
        out.push_str("<div class=\"card\">\n<h4>Networks (ASN)</h4>\n<p class=\"none\">None recorded (no IP database was given).</p>\n</div>\n");
    } else {
        out.push_str(&counted_card("Networks (ASN)", &s.asns));
    }
    let a = &s.authentication;
    out.push_str("<div class=\"card\">\n<h4>Authentication</h4>\n<table>\n<thead><tr><th>Check</th><th>Results (messages)</th></tr></thead>\n<tbody>\n");
    for (name, shares) in [
        ("From authenticated", &a.from_authenticated),
        ("SPF", &a.spf),
        ("DKIM (signatures)", &a.dkim),
        ("DMARC", &a.dmarc),
    ] {
        let cell = if shares.is_empty() {
            "<span class=\"none\">not checked</span>".to_string()
        } else {
            shares
                .iter()
                .take(TOP_VALUES)
                .map(|c| format!("{} {}", text(&c.value), c.count))
                .collect::<Vec<_>>()
                .join(" · ")
        };
        out.push_str(&format!("<tr><td>{name}</td><td>{cell}</td></tr>\n"));
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out.push_str(&rules_card(members));
    out.push_str("</div>\n");
    out
}

/// The rules that fired (and relay abuse found), by how many members.
fn rules_card(members: &[MessageRecord]) -> String {
    let mut fired: BTreeMap<String, (Option<Severity>, usize)> = BTreeMap::new();
    for r in members {
        let mut seen: Vec<(String, Option<Severity>)> = r
            .findings
            .iter()
            .map(|f| match &f.rule {
                Some(rule) => (rule.id.clone(), Some(rule.severity)),
                None => (json_token(&f.code), None),
            })
            .collect();
        seen.sort();
        seen.dedup();
        for (id, severity) in seen {
            let entry = fired.entry(id).or_insert((severity, 0));
            entry.0 = entry.0.max(severity);
            entry.1 += 1;
        }
    }
    let mut out = String::from("<div class=\"card\">\n<h4>Rules fired</h4>\n");
    if fired.is_empty() {
        out.push_str("<p class=\"none\">None.</p>\n</div>\n");
        return out;
    }
    let mut rows: Vec<(String, (Option<Severity>, usize))> = fired.into_iter().collect();
    rows.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
    out.push_str("<table>\n<thead><tr><th>Rule</th><th>Severity</th><th class=\"num\">Messages</th></tr></thead>\n<tbody>\n");
    for (id, (severity, n)) in rows.iter().take(2 * TOP_VALUES) {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{n}</td></tr>\n",
            code(id),
            severity_badge(*severity),
        ));
    }
    if rows.len() > 2 * TOP_VALUES {
        out.push_str(&format!(
            "<tr class=\"more\"><td colspan=\"3\">and {} more</td></tr>\n",
            rows.len() - 2 * TOP_VALUES
        ));
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out
}

/// A rule's severity as a badge (relay abuse, which has none, as `high`:
/// origin tracing's strongest finding); the class comes from the closed
/// set of severities.
fn severity_badge(severity: Option<Severity>) -> String {
    let name = severity.map_or("high", Severity::as_str);
    format!("<span class=\"badge sev sev-{name}\">{name}</span>")
}

/// Entities named in display names, and lookalike domains, by how many
/// members showed them.
fn impersonation_part(members: &[MessageRecord]) -> String {
    let mut entities: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut lookalikes: BTreeMap<(&str, &str, &str, String, &str), usize> = BTreeMap::new();
    for r in members {
        let Some(signals) = &r.signals else { continue };
        let mut seen: Vec<(&str, &str)> = signals
            .impersonation
            .iter()
            .map(|i| (i.entity.as_str(), i.kind.as_str()))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for key in seen {
            *entities.entry(key).or_default() += 1;
        }
        let mut hits: Vec<_> = signals
            .lookalikes
            .iter()
            .map(|l| {
                (
                    l.host.as_str(),
                    l.found.entity.as_str(),
                    l.found.imitated_domain.as_str(),
                    json_token(&l.found.technique),
                    l.field.as_str(),
                )
            })
            .collect();
        hits.sort();
        hits.dedup();
        for key in hits {
            *lookalikes.entry(key).or_default() += 1;
        }
    }
    let mut out = String::from("<h3>Impersonated entities</h3>\n");
    if entities.is_empty() && lookalikes.is_empty() {
        out.push_str("<p class=\"none\">No member names a protected entity in its display name or uses a lookalike domain.</p>\n");
        return out;
    }
    if !entities.is_empty() {
        out.push_str("<table>\n<thead><tr><th>Entity named in the display name</th><th>Kind</th><th class=\"num\">Messages</th></tr></thead>\n<tbody>\n");
        for ((entity, kind), n) in &entities {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{n}</td></tr>\n",
                text(entity),
                text(kind)
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if !lookalikes.is_empty() {
        out.push_str("<table>\n<thead><tr><th>Lookalike host</th><th>Imitates</th><th>Technique</th><th>Found in</th><th class=\"num\">Messages</th></tr></thead>\n<tbody>\n");
        for ((host, entity, domain, technique, field), n) in
            lookalikes.iter().take(MAX_LOOKALIKE_ROWS)
        {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td class=\"num\">{n}</td></tr>\n",
                code(host),
                text(entity),
                code(domain),
                text(technique),
                text(field),
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out
}

/// Indicators to block, then the observed values that are not indicators
/// with what they are.
fn indicators_part(observed: &[Observable]) -> String {
    let (block, keep): (Vec<&Observable>, Vec<&Observable>) =
        observed.iter().partition(|o| o.role.is_indicator());
    let mut out = String::from("<h3>Indicators</h3>\n");
    out.push_str("<h4>The campaign's own infrastructure and lures: indicators</h4>\n");
    if block.is_empty() {
        out.push_str("<p class=\"none\">None: every observed value belongs to someone else (see below).</p>\n");
    } else {
        out.push_str(&observables_table(&block, false));
    }
    out.push_str("<h4>Observed, not indicators: do not block</h4>\n");
    if keep.is_empty() {
        out.push_str("<p class=\"none\">None.</p>\n");
    } else {
        out.push_str(&observables_table(&keep, true));
    }
    out
}

/// A table of observables, at most [`MAX_ROWS_PER_KIND`] of each kind
/// (they come sorted by kind, the most frequent first); `with_note` adds
/// the role's note.
fn observables_table(rows: &[&Observable], with_note: bool) -> String {
    let mut out = String::from("<table>\n<thead><tr><th>Kind</th><th>Value</th><th>Role</th><th class=\"num\">Messages</th><th>First seen</th><th>Last seen</th></tr></thead>\n<tbody>\n");
    for kind in rows.chunk_by(|a, b| a.kind == b.kind) {
        for o in kind.iter().take(MAX_ROWS_PER_KIND) {
            out.push_str(&observable_row(o, with_note));
        }
        if kind.len() > MAX_ROWS_PER_KIND {
            out.push_str(&format!(
                "<tr class=\"more\"><td colspan=\"6\">and {} more of kind {} in the CSV, STIX and MISP exports</td></tr>\n",
                kind.len() - MAX_ROWS_PER_KIND,
                escape(kind[0].kind.as_str()),
            ));
        }
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// One observable as a table row.
fn observable_row(o: &Observable, with_note: bool) -> String {
    let badge = if o.role.is_indicator() {
        "<span class=\"badge block\">indicator</span>"
    } else {
        "<span class=\"badge noblock\">do not block</span>"
    };
    let note = if with_note {
        format!("<br><span class=\"note\">{}</span>", escape(o.role.note()))
    } else {
        String::new()
    };
    format!(
        "<tr><td class=\"nowrap\">{}</td><td>{}</td><td>{badge} {}{note}</td><td class=\"num\">{}</td><td class=\"when\">{}</td><td class=\"when\">{}</td></tr>\n",
        escape(o.kind.as_str()),
        code(&o.value),
        escape(o.role.as_str()),
        o.count,
        when_opt(o.first_seen.as_deref()),
        when_opt(o.last_seen.as_deref()),
    )
}

/// The first [`MEMBER_SAMPLE`] members with their findings.
fn members_part(members: &[MessageRecord]) -> String {
    let mut out = String::from("<h3>Members</h3>\n");
    out.push_str(&format!(
        "<p class=\"note\">{} of {} member(s), earliest first.</p>\n",
        members.len().min(MEMBER_SAMPLE),
        members.len()
    ));
    for r in members.iter().take(MEMBER_SAMPLE) {
        out.push_str(&member(r));
    }
    out
}

/// One member: who, when, the verdict, and why.
fn member(r: &MessageRecord) -> String {
    let subject = r
        .subject
        .as_deref()
        .map_or_else(|| "(no subject)".to_string(), text);
    let mut facts = vec![
        (
            "From",
            r.from
                .as_ref()
                .map_or_else(|| "<span class=\"none\">none</span>".to_string(), mailbox),
        ),
        ("Arrived", when_opt(r.arrival_time.as_deref())),
        (
            "Verdict",
            format!(
                "{} score {}",
                verdict_badge(r.verdict.map(Verdict::as_str)),
                r.score
                    .map_or_else(|| "none".to_string(), |s| s.to_string())
            ),
        ),
    ];
    if !r.labels.is_empty() {
        let labels: Vec<String> = r.labels.iter().map(|l| l.as_str().to_string()).collect();
        facts.push(("Labels", label_chips(&labels)));
    }
    if let Some(o) = &r.origin {
        let ip = o.ip.map(|ip| code(&ip.to_string()));
        let host = o.rdns.as_ref().or(o.helo.as_ref()).map(|h| code(h));
        let origin: Vec<String> = [ip, host].into_iter().flatten().collect();
        if !origin.is_empty() {
            facts.push(("Origin", origin.join(" ")));
        }
    }
    if !r.attachments.is_empty() {
        let names: Vec<String> = r
            .attachments
            .iter()
            .take(10)
            .map(|a| {
                format!(
                    "{} ({})",
                    code(a.filename.as_deref().unwrap_or("(no name)")),
                    text(&a.declared_type)
                )
            })
            .collect();
        facts.push(("Attachments", names.join(", ")));
    }
    facts.push(("SHA-256", code(&r.sha256)));
    let mut out = format!(
        "<article class=\"member\">\n<h4>{subject}</h4>\n{}",
        facts_list(&facts)
    );
    if r.findings.is_empty() {
        out.push_str("<p class=\"none\">No findings.</p>\n");
    } else {
        out.push_str("<ul class=\"findings\">\n");
        // The strongest first; relay abuse (no rule) with the high ones.
        let mut findings: Vec<&Finding> = r.findings.iter().collect();
        findings.sort_by_key(|f| {
            std::cmp::Reverse((
                f.rule.as_ref().map_or(Severity::High, |r| r.severity),
                f.rule.as_ref().map_or(0, |r| r.score),
            ))
        });
        for f in findings {
            out.push_str(&finding(f));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</article>\n");
    out
}

/// A mailbox as `name <address>`.
fn mailbox(m: &Mailbox) -> String {
    match (&m.name, &m.address) {
        (Some(n), Some(a)) => format!("{} {}", text(n), code(&format!("<{a}>"))),
        (None, Some(a)) => code(a),
        (Some(n), None) => text(n),
        (None, None) => "<span class=\"none\">empty</span>".to_string(),
    }
}

/// One finding: the rule (severity, score) or `relay_abuse`, its summary
/// and evidence.
fn finding(f: &Finding) -> String {
    let head = match (&f.code, &f.rule) {
        (FindingCode::Rule, Some(rule)) => format!(
            "{} <code>{}</code> ({:+})",
            severity_badge(Some(rule.severity)),
            text(&rule.id),
            rule.score
        ),
        (FindingCode::RelayAbuse, _) => {
            let victim = f
                .victim_infrastructure
                .as_ref()
                .map_or_else(String::new, |v| {
                    format!(
                        ", victim server {} of {}",
                        code(&v.rdns),
                        code(&v.org_domain)
                    )
                });
            format!("<span class=\"badge sev sev-high\">relay abuse</span>{victim}")
        }
        (code, None) => format!("<code>{}</code>", escape(&json_token(code))),
    };
    let mut out = format!("<li>{head}: {}", text(&f.summary));
    if !f.evidence.is_empty() {
        out.push_str("\n<ul class=\"evidence\">\n");
        for e in f.evidence.iter().take(MAX_EVIDENCE) {
            out.push_str(&format!("<li>{}</li>\n", text(e)));
        }
        if f.evidence.len() > MAX_EVIDENCE {
            out.push_str(&format!(
                "<li>and {} more</li>\n",
                f.evidence.len() - MAX_EVIDENCE
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</li>\n");
    out
}

/// A verdict as a coloured badge; the class comes from the closed set of
/// verdicts, never from the data.
fn verdict_badge(verdict: Option<&str>) -> String {
    match verdict.and_then(Verdict::from_token) {
        Some(v) => format!("<span class=\"badge verdict-{0}\">{0}</span>", v.as_str()),
        None => "<span class=\"badge verdict-unknown\">not judged</span>".to_string(),
    }
}

/// Labels as chips.
fn label_chips(labels: &[String]) -> String {
    if labels.is_empty() {
        return "<span class=\"none\">none</span>".to_string();
    }
    labels
        .iter()
        .map(|l| format!("<span class=\"label\">{}</span>", text(l)))
        .collect::<Vec<_>>()
        .join("")
}

/// An RFC 3339 time as shown (`2020-09-28 17:01:32`), or the text as
/// written when it does not parse.
fn when(t: &str) -> String {
    unix_time(t).map_or_else(|| text(t), when_unix)
}

/// An optional time, `unknown` when absent.
fn when_opt(t: Option<&str>) -> String {
    t.map_or_else(|| "unknown".to_string(), when)
}

/// A unix time as shown.
fn when_unix(t: i64) -> String {
    escape(&rfc3339_utc(t).replace('T', " ").replace('Z', ""))
}

/// A duration in words: `2 d 3 h`, `45 min`, `12 s`.
fn duration_words(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Personal;
    use crate::redact::prepare;
    use crate::testdata::{campaigns_from, sample_campaigns, SALT};
    use proptest::prelude::*;

    /// Reverses [`escape`].
    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    fn hostile_files() -> Vec<std::path::PathBuf> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("hostile fixture")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        files
    }

    fn sample_set() -> ExportSet {
        prepare(sample_campaigns(), 1_234, SALT, false)
    }

    fn hostile_set() -> ExportSet {
        prepare(campaigns_from(&hostile_files()), 3, SALT, false)
    }

    /// The text between the first `open` and the next `close` after it.
    fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
        let start = s.find(open).expect("open") + open.len();
        let end = s[start..].find(close).expect("close") + start;
        &s[start..end]
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_markup_and_round_trips(s in any::<String>()) {
            let e = escape(&s);
            prop_assert!(!e.contains(['<', '>', '"', '\'']));
            prop_assert_eq!(unescape(&e), s);
        }

        #[test]
        fn clipped_text_is_bounded(s in any::<String>(), max in 1usize..50) {
            let c = clip(&s, max);
            // Each kept character is at most ten when made visible, plus the mark.
            prop_assert!(c.chars().count() <= max * 10 + 40);
            prop_assert!(!c.chars().any(is_hidden_or_control));
        }
    }

    #[test]
    fn clip_cuts_on_a_character_boundary_and_marks_the_cut() {
        let s = "é".repeat(301);
        let c = clip(&s, MAX_TEXT_CHARS);
        assert!(c.starts_with(&"é".repeat(300)));
        assert!(c.ends_with("… [1 more characters]"));
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a\u{202E}b", 10), "a⟨U+202E⟩b");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
        // SHA-256 of the empty string, as CSP hash sources write it.
        assert_eq!(
            base64(&Sha256::digest(b"")),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn csp_is_first_in_head_and_hashes_the_style() {
        let html = report(&sample_set(), &ShareOptions::default());
        let head = between(&html, "<head>\n", "</head>");
        assert!(head.starts_with("<meta http-equiv=\"Content-Security-Policy\" content=\""));
        let style = between(&html, "<style>", "</style>");
        assert_eq!(style, STYLE);
        let hash = base64(&Sha256::digest(style.as_bytes()));
        let policy = between(head, "content=\"", "\"");
        assert_eq!(
            policy,
            format!("default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'")
        );
        assert!(head.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
        assert_eq!(html.matches("<style").count(), 1);
    }

    #[test]
    fn nothing_loads_nothing_runs_no_style_attributes() {
        let mut set = sample_set();
        set.campaigns.extend(hostile_set().campaigns);
        let html = report(&set, &ShareOptions::default());
        assert!(!STYLE.contains("url(") && !STYLE.contains("@import"));
        // Every `<` outside the style sheet opens one of our own elements:
        // mail text is escaped, so its tags never appear as markup.
        let body = html.replace(STYLE, "");
        for (name, attributes) in tags(&body) {
            assert!(ELEMENTS.contains(&name.as_str()), "element {name}");
            for (attribute, value) in attributes {
                assert!(
                    ATTRIBUTES.contains(&attribute.as_str()),
                    "attribute {attribute} on {name}"
                );
                if attribute == "href" {
                    assert!(value.starts_with("#campaign-"), "href {value}");
                }
            }
        }
    }

    /// Elements the report may contain.
    const ELEMENTS: &[&str] = &[
        "!DOCTYPE",
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "div",
        "span",
        "header",
        "h1",
        "h2",
        "h3",
        "h4",
        "p",
        "strong",
        "code",
        "main",
        "section",
        "nav",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "a",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "svg",
        "line",
        "text",
        "rect",
        "title",
        "pre",
        "mark",
        "article",
        "ul",
        "li",
        "br",
        "footer",
        "colgroup",
        "col",
    ];

    /// Attributes the report may use (no `style`, no event handler, no `src`).
    const ATTRIBUTES: &[&str] = &[
        "lang",
        "http-equiv",
        "content",
        "charset",
        "name",
        "class",
        "id",
        "href",
        "colspan",
        "viewBox",
        "width",
        "height",
        "role",
        "aria-label",
        "font-family",
        "font-size",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "text-anchor",
        "html",
    ];

    /// Every tag opened in `html`: its name and attributes with values.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut out = Vec::new();
        for part in html.split('<').skip(1) {
            if part.starts_with('/') {
                continue;
            }
            let inside = &part[..part.find('>').expect("tag closed")];
            let inside = inside.trim_end_matches('/');
            let (name, mut rest) = inside.split_once(' ').unwrap_or((inside, ""));
            let mut attributes = Vec::new();
            while !rest.trim().is_empty() {
                rest = rest.trim_start();
                let (attribute, after) = rest.split_once('=').unwrap_or((rest, ""));
                if after.is_empty() {
                    attributes.push((attribute.to_string(), String::new()));
                    break;
                }
                let value_and_rest = after.strip_prefix('"').expect("quoted value");
                let end = value_and_rest.find('"').expect("value closed");
                attributes.push((attribute.to_string(), value_and_rest[..end].to_string()));
                rest = &value_and_rest[end + 1..];
            }
            out.push((name.to_string(), attributes));
        }
        out
    }

    #[test]
    fn hostile_mail_is_escaped_everywhere() {
        let set = hostile_set();
        assert_eq!(set.campaigns.len(), 1);
        let html = report(&set, &ShareOptions::default());
        for payload in [
            "&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;script&#39;)&lt;/script&gt;",
            "&lt;img src=x onerror=&quot;document.body.setAttribute(&#39;data-pwned&#39;,&#39;onerror&#39;)&quot;&gt;",
            "&quot;&gt;&lt;svg onload=document.body.setAttribute(&#39;data-pwned&#39;,&#39;svg&#39;)&gt;",
            "&lt;/style&gt;&lt;script&gt;",
            "&lt;style&gt;body{display:none}&lt;/style&gt;",
            "javascript:document.body.setAttribute(&#39;data-pwned&#39;,&#39;js&#39;)",
            "invoice-4471&lt;img src=x onerror=alert(1)&gt;.pdf",
        ] {
            assert!(html.contains(payload), "missing {payload}");
        }
        assert!(
            !html.contains("<script") && !html.contains("<img") && !html.contains("<svg onload")
        );
        assert_eq!(html.matches("<svg").count(), 1);
        assert_eq!(
            html.matches("<rect class=\"wave\"").count(),
            set.campaigns[0].summary.waves.len()
        );
    }

    #[test]
    fn same_input_same_bytes() {
        let options = ShareOptions {
            tlp: Tlp::Red,
            identity: "CERT Example".to_string(),
        };
        let a = report(&sample_set(), &options);
        let b = report(&sample_set(), &options);
        assert_eq!(a, b);
        assert!(a.contains("TLP:RED") && a.contains("tlp-red"));
        assert_eq!(a.matches("<div class=\"tlp tlp-red\">").count(), 2);
    }

    #[test]
    fn every_campaign_has_its_anchor_and_one_wave_rect_per_wave() {
        let set = sample_set();
        let html = report(&set, &ShareOptions::default());
        for c in &set.campaigns {
            let id = format!(
                "<section class=\"panel campaign\" id=\"campaign-{}\">",
                c.summary.id
            );
            let section = between(&html, &id, "</section>");
            let svg = between(section, "<svg", "</svg>");
            assert_eq!(
                svg.matches("<rect class=\"wave\"").count(),
                c.summary.waves.len()
            );
            assert!(html.contains(&format!("href=\"#campaign-{}\"", c.summary.id)));
        }
    }

    #[test]
    fn redaction_note_or_personal_warning() {
        let html = report(&sample_set(), &ShareOptions::default());
        assert!(html.contains("<strong>Redacted.</strong>"));
        let mut set = sample_set();
        set.personal = Personal {
            included: true,
            ..Personal::default()
        };
        let html = report(&set, &ShareOptions::default());
        assert!(html.contains("Personal data INCLUDED"));
    }

    #[test]
    fn template_slots_are_marked_by_type() {
        let set = sample_set();
        let html = report(&set, &ShareOptions::default());
        assert!(
            html.contains("<mark class=\"slot slot-name\">{name}</mark>"),
            "no name slot"
        );
    }

    #[test]
    fn empty_set_still_renders() {
        let set = ExportSet {
            campaigns: Vec::new(),
            database_messages: 0,
            personal: Personal::default(),
        };
        let html = report(&set, &ShareOptions::default());
        assert!(html.contains("No campaigns selected."));
        assert!(html.ends_with("</html>\n"));
    }

    /// The report's headings, one per line, indented by level.
    fn headings(html: &str) -> String {
        let mut out = String::new();
        let mut rest = html;
        while let Some(at) = rest.find("<h") {
            rest = &rest[at + 2..];
            let Some(level) = rest.chars().next().and_then(|c| c.to_digit(10)) else {
                continue;
            };
            let Some(open_end) = rest.find('>') else {
                break;
            };
            let close = format!("</h{level}>");
            let Some(end) = rest.find(&close) else { break };
            let inner = &rest[open_end + 1..end];
            let mut plain = String::new();
            let mut in_tag = false;
            for c in inner.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => plain.push(c),
                    _ => {}
                }
            }
            if level <= 3 {
                out.push_str(&"  ".repeat(level as usize - 1));
                out.push_str(plain.trim());
                out.push('\n');
            }
            rest = &rest[end..];
        }
        out
    }

    #[test]
    fn section_structure() {
        let html = report(&sample_set(), &ShareOptions::default());
        insta::assert_snapshot!(headings(&html));
    }
}
