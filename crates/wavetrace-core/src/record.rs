//! The message record: the one data type that flows through every stage.
//!
//! The foundation fills the fields below from the message bytes; later stages
//! (origin tracing, authentication, campaigns, detection) add their own
//! fields. The JSON form of [`MessageRecord`] is a public contract documented
//! in the README: fields are only ever added, never renamed or removed.

use serde::{Deserialize, Serialize};

use crate::origin::chain::{Anomaly, ClaimedHop, PathStep};
use crate::origin::infra::Finding;
use crate::origin::received::ReceivedHop;
use crate::origin::Origin;

/// Version of the record layout; bumped when a stage adds fields so stored
/// records can be told apart (and re-analysed with `wavetrace reanalyse`).
///
/// 1: the foundation; 2: origin tracing (`received[i]` parsed fields,
/// `path`, `trust_boundary`, `origin`, `claimed_path`, `trace_anomalies`,
/// `findings`); 3: sender authentication (`auth`, `analysis.auth`); 4:
/// detection (`receiver_verdicts`, `signals`, `score`, `verdict`, `labels`,
/// rule entries in `findings`, `analysis.rules`, `body.hidden_text`).
pub const RECORD_SCHEMA_VERSION: u32 = 4;

/// Everything wavetrace knows about one distinct message (one sha256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Hex sha256 of the message bytes as analysed (for mbox: envelope line
    /// removed, `>From` quoting undone, line endings untouched).
    pub sha256: String,
    /// Size of those bytes.
    pub size: u64,
    /// First place these bytes were seen (see the README's `source` contract).
    pub source: String,
    /// Every place these bytes were seen, `source` first.
    pub sources: Vec<String>,
    /// The campaign the message belongs to (its id), as of the last
    /// clustering; filled when the record is read from the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Date header as RFC 3339 UTC, when it parsed.
    pub date: Option<String>,
    /// Date header exactly as written, kept when it did not parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_raw: Option<String>,
    /// When the message reached the receiving side (RFC 3339 UTC); never the
    /// scan time. See [`ArrivalSource`] for where it came from.
    pub arrival_time: Option<String>,
    /// Which evidence `arrival_time` was taken from.
    pub arrival_time_source: Option<ArrivalSource>,
    /// First From mailbox.
    pub from: Option<Mailbox>,
    /// Sender header (RFC 5322 3.6.2).
    pub sender: Option<Mailbox>,
    /// Reply-To mailboxes.
    pub reply_to: Vec<Mailbox>,
    /// Return-Path address (the envelope sender recorded at delivery).
    pub return_path: Option<String>,
    /// To mailboxes (capped, see `to_count` for the real number).
    pub to: Vec<Mailbox>,
    /// Number of To mailboxes.
    pub to_count: usize,
    /// Cc mailboxes (capped, see `cc_count`).
    pub cc: Vec<Mailbox>,
    /// Number of Cc mailboxes.
    pub cc_count: usize,
    /// Subject, decoded (RFC 2047).
    pub subject: Option<String>,
    /// In-Reply-To message ids (reply threads are not campaigns).
    pub in_reply_to: Vec<String>,
    /// References message ids.
    pub references: Vec<String>,
    /// Received headers in header order (topmost first).
    pub received: Vec<ReceivedHeader>,
    /// The Received chain bottom-up (oldest first) with per-hop delays and
    /// each hop's side of the trust boundary.
    #[serde(default)]
    pub path: Vec<PathStep>,
    /// Index (into `received`) of the first trusted hop: the receiving
    /// organisation's server that accepted the message from outside.
    #[serde(default)]
    pub trust_boundary: Option<usize>,
    /// The connecting side of the first trusted hop, which no sender can forge.
    #[serde(default)]
    pub origin: Option<Origin>,
    /// Hops below the trust boundary: written by the sender side, claims only.
    #[serde(default)]
    pub claimed_path: Vec<ClaimedHop>,
    /// What looks wrong in the Received chain.
    #[serde(default)]
    pub trace_anomalies: Vec<Anomaly>,
    /// Conclusions with their evidence: `relay_abuse` (sent through an
    /// unrelated organisation's server, described as a victim's) from origin
    /// tracing, and one `rule` entry per detection rule that fired.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// What detection measured (classifier scores, impersonation, lookalike
    /// domains, links, attachments, personalisation): the inputs of the
    /// rules. Absent when detection did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<crate::detect::Signals>,
    /// Sum of the scores of the rules that fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
    /// `clean`, `suspicious` or `malicious`, from `score` and the thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<crate::detect::Verdict>,
    /// The union of the fired rules' labels, from a closed set (README).
    #[serde(default)]
    pub labels: Vec<crate::detect::Label>,
    /// Spam verdicts receivers wrote into the headers (SCL, X-Spam-Status,
    /// ...): reported as their claims, never an input to wavetrace's verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receiver_verdicts: Vec<crate::detect::receiver::ReceiverVerdict>,
    /// Sender authentication: SPF, DKIM, DMARC and ARC verdicts (computed, or
    /// the receiver's trusted claims in `--dns off`), every receiver claim,
    /// and whether the From domain is authenticated. Filled by the
    /// `wavetrace-auth` stage; absent when it did not run.
    #[serde(default)]
    pub auth: Option<crate::auth::AuthResults>,
    /// RFC 2369/2919 list headers, present for mailing-list mail.
    pub list: Option<ListHeaders>,
    /// Precedence header (bulk, list, junk).
    pub precedence: Option<String>,
    /// X-Mailer header.
    pub x_mailer: Option<String>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// Shape of the MIME tree.
    pub mime: MimeSummary,
    /// Decoded text of the body parts, HTML converted to text.
    pub body: BodyText,
    /// Every URL found, with where it was found.
    pub urls: Vec<FoundUrl>,
    /// Every attachment (parts that are not the text/HTML body).
    pub attachments: Vec<Attachment>,
    /// What was malformed; empty for a well-formed message.
    pub defects: Vec<Defect>,
    /// How the message was found (mbox envelope, forwarded report).
    pub container: Container,
    /// Which tool and settings produced this record.
    pub analysis: AnalysisProvenance,
}

impl MessageRecord {
    /// IP address literals written in brackets or parentheses in the
    /// Received headers (`[203.0.113.5]`, `(2001:db8::1)`), deduplicated, in
    /// header order. A lookup key for `messages --ip`; origin tracing says
    /// which of them is the real origin.
    pub fn received_ips(&self) -> Vec<String> {
        let mut ips: Vec<String> = Vec::new();
        for header in &self.received {
            for token in header
                .raw
                .split(['[', ']', '(', ')', ' ', '\t', ',', ';', '='])
            {
                let token = token
                    .strip_prefix("IPv6:")
                    .or_else(|| token.strip_prefix("ipv6:"))
                    .unwrap_or(token);
                if let Ok(ip) = token.parse::<std::net::IpAddr>() {
                    let ip = ip.to_string();
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
            }
        }
        ips
    }
}

/// The JSON name of a serde enum value (`pass`, `relay_abuse`): the one
/// spelling of a result for summaries and text views.
pub fn json_token<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where `arrival_time` came from, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalSource {
    /// The timestamp written by the first trusted hop (origin tracing).
    TrustedHop,
    /// The date the topmost Received header was stamped with (no trusted
    /// hop with a date was found).
    Received,
    /// The Date header (written by the sender: a claim).
    Date,
    /// The mbox `From ` envelope line's date.
    Envelope,
}

/// One mailbox: display name, address, and the address's domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Display name, decoded.
    pub name: Option<String>,
    /// The addr-spec as written (may be missing or invalid in spam).
    pub address: Option<String>,
    /// Lower-case domain of `address`.
    pub domain: Option<String>,
}

/// One Received header: the value as written, and beside it the fields
/// origin tracing parsed from it (see [`ReceivedHop`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedHeader {
    /// The header value, unfolded, as written.
    pub raw: String,
    /// The parsed fields.
    #[serde(flatten)]
    pub hop: ReceivedHop,
}

/// Mailing-list headers (RFC 2369, RFC 2919), raw values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListHeaders {
    /// List-Id (RFC 2919).
    pub id: Option<String>,
    /// List-Unsubscribe (RFC 2369).
    pub unsubscribe: Option<String>,
    /// List-Unsubscribe-Post (RFC 8058).
    pub unsubscribe_post: Option<String>,
    /// List-Post.
    pub post: Option<String>,
    /// List-Help.
    pub help: Option<String>,
    /// List-Owner.
    pub owner: Option<String>,
    /// List-Archive.
    pub archive: Option<String>,
    /// `Mailing-List` (ezmlm), an older list marker.
    #[serde(default)]
    pub mailing_list: Option<String>,
    /// `X-Loop` (SmartList), an older list marker.
    #[serde(default)]
    pub x_loop: Option<String>,
}

/// A summary of the MIME tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MimeSummary {
    /// The tree as nested content types, e.g.
    /// `multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf)`.
    pub structure: String,
    /// Number of MIME parts, containers included.
    pub part_count: usize,
    /// Deepest nesting level (1 for a single-part message).
    pub max_depth: usize,
    /// Number of text/plain body parts.
    pub text_parts: usize,
    /// Number of text/html body parts.
    pub html_parts: usize,
}

/// The decoded, human-readable text of the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyText {
    /// Text of every body part joined by blank lines; HTML-only parts
    /// converted to text by mail-parser's converter.
    pub text: String,
    /// Which kind of part the text came from.
    pub text_from: TextFrom,
    /// True when `text` was cut at the record's text limit.
    pub truncated: bool,
    /// What the HTML body parts hide from the reader, when the message has
    /// any (`text` keeps the hidden words too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_text: Option<HiddenText>,
}

/// What the HTML body parts hide, summed over the parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenText {
    /// Words a reader sees.
    pub visible_words: u32,
    /// Words inside elements styled invisible (`display:none`,
    /// `visibility:hidden`, a font size of 0 or of at most 1px,
    /// `opacity:0`, `max-height:0`, the `hidden` attribute).
    pub hidden_words: u32,
    /// Hidden words (three letters or more) that the visible text of the
    /// same part does not contain: padding, not a preheader.
    pub novel_words: u32,
    /// The start of the hidden text, whitespace collapsed, cut to
    /// `parse::hidden::SAMPLE_CHARS` characters: evidence for the analyst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<String>,
    /// The largest offset in pixels (margin, padding, top, left, height,
    /// line height, text indent, width) that an inline style or a `height`
    /// attribute sets (`margin-top:12000px`, `text-indent:-9999px`), or
    /// that a style sheet sets to push content down by 1,000 pixels or
    /// more: content pushed out of view.
    pub offset_px: u32,
}

/// Which body parts gave the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFrom {
    /// No text body at all.
    #[default]
    None,
    /// text/plain parts only.
    Plain,
    /// text/html converted to text.
    Html,
    /// Both kinds (plain parts and HTML-only parts).
    Mixed,
}

/// A URL and where in the message it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundUrl {
    /// The URL as written (entities decoded, surrounding punctuation trimmed).
    pub url: String,
    /// Lower-case host, when the URL has one.
    pub host: Option<String>,
    /// Where it was found.
    pub found_in: UrlContext,
    /// For an HTML link (`<a href>`), the visible text of the anchor
    /// (entities decoded, whitespace collapsed, cut to 200 characters), when
    /// not empty: a link that shows one domain and goes to another is a
    /// phishing staple.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Where a URL was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlContext {
    /// An `href` attribute (links, `<area>`, `<base>`).
    Href,
    /// A `src` or `background` attribute (images, frames, scripts), or a
    /// CSS `url()` (background images).
    Src,
    /// A `<form action>`.
    Form,
    /// Plain text (text parts, or visible text of HTML).
    Text,
    /// A link in an attached document: the target of a PDF's URI action.
    Attachment,
}

/// One attachment (any part that is not a text or HTML body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name from Content-Disposition or Content-Type `name`.
    pub filename: Option<String>,
    /// Content type as declared.
    pub declared_type: String,
    /// Content type from the first bytes (magic numbers), when recognised.
    pub sniffed_type: Option<String>,
    /// Decoded size.
    pub size: u64,
    /// Hex sha256 of the decoded content.
    pub sha256: String,
    /// True for parts shown inline (e.g. images referenced by the HTML).
    pub inline: bool,
    /// True for a password-protected archive or PDF (ZIP encryption flag,
    /// encrypted RAR or 7z headers/coders, a PDF `/Encrypt` entry): scanners
    /// cannot look inside, which is why attackers send them with the
    /// password in the message body.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// Names of the files inside a ZIP or RAR archive (at most 50, each cut
    /// to 255 characters), read from its headers without decompressing: an
    /// executable inside a ZIP is the classic payload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archive_entries: Vec<String>,
}

/// One thing that was malformed, by a documented code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defect {
    /// Stable code, see [`crate::parse::DefectCode`].
    pub code: crate::parse::DefectCode,
    /// Details in words, when useful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How the message was found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// File, mbox, Maildir entry, stdin, or attached original.
    pub kind: ContainerKind,
    /// Which mbox variant was assumed when undoing `>From` quoting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbox_variant: Option<MboxVariant>,
    /// The mbox `From ` envelope line, without its line ending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    /// True when the source was gzip-compressed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gzip: bool,
    /// The report this message was attached to (`--unwrap-attached`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<Reporter>,
}

/// Kind of container a message came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    /// One message per file.
    #[default]
    File,
    /// One message of an mbox file.
    Mbox,
    /// A file in a Maildir's `cur/` or `new/`.
    Maildir,
    /// Standard input.
    Stdin,
    /// An original unwrapped from a forwarded-as-attachment report.
    Attached,
}

/// The two mbox variants (see RFC 4155 and the mboxrd description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MboxVariant {
    /// Only `From ` lines were quoted; `>From ` unquoted one level, other
    /// `>>From ` lines left as they are.
    Mboxo,
    /// Every `>*From ` line was quoted; one `>` removed from each.
    Mboxrd,
}

/// The forwarding message an attached original was unwrapped from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    /// sha256 of the report message.
    pub sha256: String,
    /// The report's From.
    pub from: Option<Mailbox>,
    /// The report's Subject.
    pub subject: Option<String>,
    /// The report's Date, RFC 3339.
    pub date: Option<String>,
    /// Position of this original among the report's attached messages (1-based).
    pub index: usize,
}

/// Provenance: which tool and settings produced this record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisProvenance {
    /// Always `wavetrace`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// [`RECORD_SCHEMA_VERSION`] at analysis time.
    pub record_schema: u32,
    /// How authentication was run: DNS mode, snapshot, verification time policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::auth::AuthProvenance>,
    /// The `--ipdb` databases used for `origin.network`, with their dates
    /// (ASN ownership changes over the years).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipdb: Vec<crate::origin::ipdb::IpDbProvenance>,
    /// The detection rule set the verdict was judged with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::detect::RulesProvenance>,
}

impl Default for AnalysisProvenance {
    fn default() -> Self {
        AnalysisProvenance {
            tool: "wavetrace".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            record_schema: RECORD_SCHEMA_VERSION,
            auth: None,
            ipdb: Vec::new(),
            rules: None,
        }
    }
}
