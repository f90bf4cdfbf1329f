//! The documented list of defects: what can be malformed in a message.
//!
//! A message with defects is still analysed (best effort) and stored; its
//! record lists each defect once, by a stable code. The codes are a contract
//! (README, "Defects"): new ones may be added, none renamed.

use serde::{Deserialize, Serialize};

use crate::record::Defect;

/// Stable defect codes. `limit_*` codes mean wavetrace stopped looking at
/// part of the message because an attacker-controlled size passed a bound;
/// everything else is a violation of RFC 5322 / RFC 2045-2049.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectCode {
    /// No From header (RFC 5322 3.6 requires exactly one).
    MissingFrom,
    /// A From header without any parseable address.
    InvalidFrom,
    /// No Date header (RFC 5322 3.6 requires exactly one).
    MissingDate,
    /// A Date header that does not parse as an RFC 5322 date.
    UnparseableDate,
    /// A Date that needed repair to be read (no time zone: read as UTC; a
    /// three-digit year: 1900 added, RFC 5322 4.3); `date` holds the repaired
    /// value and `date_raw` what was written.
    DateRepaired,
    /// A Message-ID header without a parseable msg-id.
    InvalidMessageId,
    /// A header that may appear at most once appears several times
    /// (RFC 5322 3.6: From, Sender, Reply-To, To, Cc, Subject, Date, Message-ID).
    DuplicateHeader,
    /// Raw bytes in the header block that are not valid UTF-8 (RFC 6532
    /// allows UTF-8, nothing else unencoded).
    InvalidUtf8Header,
    /// A NUL byte in the header block.
    NulInHeader,
    /// A multipart part whose boundary is missing or never appears, read as text.
    MultipartBoundaryMissing,
    /// A multipart body that ends without its closing delimiter (truncated).
    MultipartUnterminated,
    /// A multipart with no body parts: its first delimiter is its close
    /// delimiter (RFC 2046 5.1.1 asks for at least one part).
    MultipartEmpty,
    /// A part whose transfer encoding could not be decoded, or whose nested
    /// message could not be parsed (mail-parser's encoding problem flag).
    PartEncodingProblem,
    /// A text part in a charset mail-parser does not know (decoded as UTF-8).
    UnknownCharset,
    /// The parser failed on this input; the record holds only what could be read.
    ParserFailure,
    /// More header fields than the header limit; the rest were not examined.
    LimitHeaders,
    /// More MIME parts than the part limit; the rest were not examined.
    LimitParts,
    /// MIME or message/rfc822 nesting deeper than the depth limit.
    LimitDepth,
    /// More URLs than the URL limit; the rest were not recorded.
    LimitUrls,
    /// More recipients than the recipient limit; counts stay exact.
    LimitRecipients,
}

impl DefectCode {
    /// Every code, in documentation order.
    pub const ALL: [DefectCode; 20] = [
        DefectCode::MissingFrom,
        DefectCode::InvalidFrom,
        DefectCode::MissingDate,
        DefectCode::UnparseableDate,
        DefectCode::DateRepaired,
        DefectCode::InvalidMessageId,
        DefectCode::DuplicateHeader,
        DefectCode::InvalidUtf8Header,
        DefectCode::NulInHeader,
        DefectCode::MultipartBoundaryMissing,
        DefectCode::MultipartUnterminated,
        DefectCode::MultipartEmpty,
        DefectCode::PartEncodingProblem,
        DefectCode::UnknownCharset,
        DefectCode::ParserFailure,
        DefectCode::LimitHeaders,
        DefectCode::LimitParts,
        DefectCode::LimitDepth,
        DefectCode::LimitUrls,
        DefectCode::LimitRecipients,
    ];

    /// The code as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DefectCode::MissingFrom => "missing_from",
            DefectCode::InvalidFrom => "invalid_from",
            DefectCode::MissingDate => "missing_date",
            DefectCode::UnparseableDate => "unparseable_date",
            DefectCode::DateRepaired => "date_repaired",
            DefectCode::InvalidMessageId => "invalid_message_id",
            DefectCode::DuplicateHeader => "duplicate_header",
            DefectCode::InvalidUtf8Header => "invalid_utf8_header",
            DefectCode::NulInHeader => "nul_in_header",
            DefectCode::MultipartBoundaryMissing => "multipart_boundary_missing",
            DefectCode::MultipartUnterminated => "multipart_unterminated",
            DefectCode::MultipartEmpty => "multipart_empty",
            DefectCode::PartEncodingProblem => "part_encoding_problem",
            DefectCode::UnknownCharset => "unknown_charset",
            DefectCode::ParserFailure => "parser_failure",
            DefectCode::LimitHeaders => "limit_headers",
            DefectCode::LimitParts => "limit_parts",
            DefectCode::LimitDepth => "limit_depth",
            DefectCode::LimitUrls => "limit_urls",
            DefectCode::LimitRecipients => "limit_recipients",
        }
    }
}

/// Collects defects, one entry per code (the first detail wins).
#[derive(Debug, Default)]
pub(crate) struct DefectList(Vec<Defect>);

impl DefectList {
    pub(crate) fn add(&mut self, code: DefectCode, detail: Option<String>) {
        if !self.0.iter().any(|d| d.code == code) {
            self.0.push(Defect { code, detail });
        }
    }

    pub(crate) fn into_sorted(mut self) -> Vec<Defect> {
        self.0.sort_by_key(|d| d.code);
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_codes_match_as_str() {
        for code in DefectCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn list_keeps_one_entry_per_code() {
        let mut list = DefectList::default();
        list.add(DefectCode::MissingDate, None);
        list.add(DefectCode::MissingFrom, Some("a".into()));
        list.add(DefectCode::MissingFrom, Some("b".into()));
        let out = list.into_sorted();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].code, DefectCode::MissingFrom);
        assert_eq!(out[0].detail.as_deref(), Some("a"));
    }
}
