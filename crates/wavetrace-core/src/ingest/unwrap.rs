//! Unwrapping forwarded-as-attachment reports.
//!
//! Users report phishing to an abuse mailbox by forwarding it as an
//! attachment: a message whose `message/rfc822` parts (or `.eml` files) are
//! the originals. With `--unwrap-attached` the originals are analysed, and
//! the report is kept as their [`Reporter`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use mail_parser::{MimeHeaders, PartType};

use crate::parse::{rfc3339_utc, sha256_hex, starts_with_header_field, teardown};
use crate::record::{Mailbox, Reporter};

/// Attached originals found in a report, in MIME order.
#[derive(Debug, PartialEq)]
pub struct AttachedOriginals {
    /// What we keep of the report itself; `index` is set per original.
    pub reporter: Reporter,
    /// The raw bytes of each attached message.
    pub originals: Vec<Vec<u8>>,
}

/// Returns the attached originals of `raw`, or None when it carries none.
/// Only the report's own parts are looked at, not parts of the originals.
pub fn attached_originals(raw: &[u8], max_originals: usize) -> Option<AttachedOriginals> {
    let parsed = catch_unwind(AssertUnwindSafe(|| crate::parse::parser().parse(raw)));
    let message = parsed.ok()??;
    let mut originals = Vec::new();
    for part in message.parts.iter() {
        if originals.len() == max_originals {
            break;
        }
        match &part.body {
            PartType::Message(_) => {
                let bytes = crate::parse::nested_message_bytes(&message, part);
                if starts_with_header_field(bytes) {
                    originals.push(bytes.to_vec());
                }
            }
            PartType::Binary(bytes) => {
                let named_eml = part
                    .attachment_name()
                    .is_some_and(|n| n.to_ascii_lowercase().ends_with(".eml"));
                if named_eml && starts_with_header_field(bytes) {
                    originals.push(bytes.to_vec());
                }
            }
            _ => {}
        }
    }
    let reporter = Reporter {
        sha256: sha256_hex(raw),
        from: message
            .from()
            .and_then(|a| a.iter().next())
            .map(|a| Mailbox {
                name: a.name().map(str::to_string),
                address: a.address().map(str::to_string),
                domain: a.address().and_then(crate::parse::address_domain),
            }),
        subject: message.subject().map(str::to_string),
        date: message
            .date()
            .filter(|d| d.is_valid())
            .map(|d| rfc3339_utc(d.to_timestamp())),
        index: 0,
    };
    teardown(message);
    (!originals.is_empty()).then_some(AttachedOriginals {
        reporter,
        originals,
    })
}
