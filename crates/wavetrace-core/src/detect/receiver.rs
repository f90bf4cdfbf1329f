//! Receivers' own spam verdicts (`X-MS-Exchange-Organization-SCL`,
//! `X-Forefront-Antispam-Report`, `X-Spam-Status`, ...).
//!
//! They are reported so an analyst sees what the mailbox provider thought,
//! but they are never an input to wavetrace's verdict: they are written by
//! whoever handled the message last (a sender can add them below the trust
//! boundary), they disagree between vendors, and a tool that echoes another
//! filter's verdict measures that filter, not the mail. The rule loader
//! refuses conditions on `receiver_verdicts` for the same reason.

use serde::{Deserialize, Serialize};

/// One receiver's spam verdict as written in a header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiverVerdict {
    /// The header name as written.
    pub header: String,
    /// The value, unfolded, cut at 300 bytes.
    pub value: String,
    /// The verdict read from it: spam (true), not spam (false), or none stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam: Option<bool>,
    /// The numeric score it states (SCL, SpamAssassin score, ...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// The headers read, lower-case: Microsoft's, SpamAssassin's and rspamd's,
/// and a few gateways' (Barracuda, Proofpoint, Mimecast, Cisco IronPort).
const HEADERS: &[&str] = &[
    "x-ms-exchange-organization-scl",
    "x-forefront-antispam-report",
    "x-forefront-antispam-report-untrusted",
    "x-microsoft-antispam",
    "x-microsoft-antispam-untrusted",
    "x-spam-status",
    "x-spam-flag",
    "x-spam-score",
    "x-spam-level",
    "x-spam",
    "x-rspamd-score",
    "x-rspamd-action",
    "x-barracuda-spam-score",
    "x-barracuda-spam-status",
    "x-proofpoint-spam-details",
    "x-mimecast-spam-score",
    "x-ironport-anti-spam-result",
];

const MAX_VALUE: usize = 300;

/// The verdict in one header, or None when the header is not a known
/// receiver verdict.
pub fn read(name: &str, value: &str) -> Option<ReceiverVerdict> {
    Some(read_known(known_header(name)?, name, value))
}

/// [`read`] for a header [`known_header`] already named (`lower`).
pub fn read_known(lower: &'static str, name: &str, value: &str) -> ReceiverVerdict {
    let (spam, score) = interpret(lower, value);
    ReceiverVerdict {
        header: name.to_string(),
        value: clip(value, MAX_VALUE),
        spam,
        score,
    }
}

/// The lower-case name of a receiver's verdict header, when `name` is one:
/// callers check the name before they unfold the value.
pub fn known_header(name: &str) -> Option<&'static str> {
    HEADERS
        .iter()
        .copied()
        .find(|h| h.eq_ignore_ascii_case(name))
}

/// What the value says, per vendor convention: SCL 5 and above is spam
/// (Microsoft's documented scale, -1 is "trusted"); `SFV:SPM` is spam,
/// `SFV:NSPM` not; SpamAssassin's `Yes, score=6.1`; `YES`/`NO` flags.
fn interpret(name: &str, value: &str) -> (Option<bool>, Option<f64>) {
    match name {
        "x-ms-exchange-organization-scl" => {
            let scl = value.trim().parse::<f64>().ok();
            (scl.map(|s| s >= 5.0), scl)
        }
        "x-forefront-antispam-report" | "x-forefront-antispam-report-untrusted" => {
            let scl = tag_value(value, "SCL").and_then(|v| v.parse::<f64>().ok());
            let sfv = tag_value(value, "SFV");
            let spam = match sfv {
                Some("SPM") | Some("BLK") => Some(true),
                Some("NSPM") | Some("SKN") | Some("SKA") => Some(false),
                _ => scl.map(|s| s >= 5.0),
            };
            (spam, scl)
        }
        "x-microsoft-antispam" | "x-microsoft-antispam-untrusted" => {
            let bcl = tag_value(value, "BCL").and_then(|v| v.parse::<f64>().ok());
            (None, bcl)
        }
        "x-spam-status" | "x-barracuda-spam-status" => {
            let word = value.split([',', ' ']).next().unwrap_or("");
            (yes_no(word), keyed_number(value, "score="))
        }
        "x-spam-flag" | "x-spam" => (yes_no(value.trim()), None),
        "x-rspamd-action" => {
            let action = value.trim().to_ascii_lowercase();
            (Some(action != "no action" && action != "greylist"), None)
        }
        "x-spam-level" => {
            let stars = value.chars().filter(|c| *c == '*').count();
            (None, Some(stars as f64))
        }
        _ => (
            None,
            value
                .split(|c: char| c.is_whitespace() || c == ';' || c == '/')
                .find_map(|t| t.parse::<f64>().ok()),
        ),
    }
}

fn yes_no(word: &str) -> Option<bool> {
    if word.eq_ignore_ascii_case("yes") || word.eq_ignore_ascii_case("true") {
        Some(true)
    } else if word.eq_ignore_ascii_case("no") || word.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `TAG:value` in Microsoft's `;`-separated reports.
fn tag_value<'a>(value: &'a str, tag: &str) -> Option<&'a str> {
    value.split(';').find_map(|part| {
        let (k, v) = part.split_once(':')?;
        k.trim().eq_ignore_ascii_case(tag).then(|| v.trim())
    })
}

/// The number after `key` (e.g. `score=6.1`).
fn keyed_number(value: &str, key: &str) -> Option<f64> {
    let lower = value.to_ascii_lowercase();
    let at = lower.find(key)? + key.len();
    let rest = value.get(at..)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

fn clip(s: &str, max: usize) -> String {
    crate::parse::prefix(s, max).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_vendor_convention() {
        let v = read("X-MS-Exchange-Organization-SCL", "5").unwrap();
        assert_eq!((v.spam, v.score), (Some(true), Some(5.0)));
        let v = read("X-MS-Exchange-Organization-SCL", "-1").unwrap();
        assert_eq!(v.spam, Some(false));
        let v = read(
            "X-Forefront-Antispam-Report",
            "CIP:1.2.3.4;CTRY:US;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM;H:x;",
        )
        .unwrap();
        assert_eq!((v.spam, v.score), (Some(false), Some(1.0)));
        let v = read("X-Forefront-Antispam-Report", "SCL:9;SFV:SPM;").unwrap();
        assert_eq!(v.spam, Some(true));
        let v = read(
            "X-Spam-Status",
            "Yes, score=6.1 required=5.0 tests=BAYES_99 autolearn=no",
        )
        .unwrap();
        assert_eq!((v.spam, v.score), (Some(true), Some(6.1)));
        let v = read("X-Spam-Status", "No, hits=-2.5 required=5.0").unwrap();
        assert_eq!(v.spam, Some(false));
        assert_eq!(read("x-spam-flag", "YES").unwrap().spam, Some(true));
        assert_eq!(read("X-Spam-Level", "*****").unwrap().score, Some(5.0));
        assert_eq!(
            read("X-Microsoft-Antispam", "BCL:7;").unwrap().score,
            Some(7.0)
        );
        assert!(read("Subject", "spam").is_none());
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let v = read("X-Spam-Status", &"é".repeat(400)).unwrap();
        assert!(v.value.len() <= MAX_VALUE);
        assert_eq!(v.spam, None);
    }
}
