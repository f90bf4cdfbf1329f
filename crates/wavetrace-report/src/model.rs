//! What reports and exports are made of: the selected campaigns with their
//! members' records, already redacted (see [`crate::redact`]), and the
//! sharing options (TLP, producer identity).

use serde::Serialize;
use wavetrace_core::campaign::CampaignSummary;
use wavetrace_core::record::MessageRecord;

use crate::indicators::Observable;

/// One campaign to export: its summary and its members' records.
#[derive(Debug, Clone)]
pub struct CampaignExport {
    /// The campaign as `wavetrace campaign ID --format json` shows it.
    pub summary: CampaignSummary,
    /// The members' records, in `summary.members` order (earliest first).
    /// In an [`ExportSet`] their body text is empty: no exporter shows it.
    pub members: Vec<MessageRecord>,
    /// Its observed values with their roles, the safest across the whole
    /// export ([`crate::indicators::with_safest_roles`]); filled by
    /// [`crate::redact::Collector::finish`], empty before.
    pub observables: Vec<Observable>,
}

/// The campaigns a report or export covers, safe to share unless
/// `personal` says otherwise.
#[derive(Debug, Clone)]
pub struct ExportSet {
    /// Campaigns, in the order the caller selected them (largest first).
    pub campaigns: Vec<CampaignExport>,
    /// Messages in the whole database, for the report's overview.
    pub database_messages: u64,
    /// What redaction did (or that it was turned off).
    pub personal: Personal,
}

/// Whether recipients' data was redacted, and how much.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Personal {
    /// True with `--include-personal`: nothing was redacted.
    pub included: bool,
    /// Distinct personal values (recipient addresses and names, personal
    /// slot values) replaced by salted hashes.
    pub values_redacted: usize,
    /// Recipient addresses among them.
    pub recipients_redacted: usize,
}

/// Traffic Light Protocol 2.0 marking of what is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tlp {
    /// TLP:CLEAR, no limit on disclosure.
    Clear,
    /// TLP:GREEN, the community.
    Green,
    /// TLP:AMBER, the recipient's organisation and its clients (default).
    #[default]
    Amber,
    /// TLP:AMBER+STRICT, the recipient's organisation only.
    AmberStrict,
    /// TLP:RED, the named recipients only.
    Red,
}

impl Tlp {
    /// Every marking, least restrictive first.
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The name on the command line: `clear`, `green`, `amber`, `amber+strict`, `red`.
    pub fn name(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// The marking as written on documents: `TLP:AMBER+STRICT`.
    pub fn label(self) -> String {
        format!("TLP:{}", self.name().to_ascii_uppercase())
    }

    /// Parses a command-line name, case-insensitively.
    pub fn parse(name: &str) -> Option<Tlp> {
        Tlp::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// How the export presents itself.
#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// The TLP marking on everything written.
    pub tlp: Tlp,
    /// The producer's name (STIX identity, MISP organisation, report footer).
    pub identity: String,
}

impl Default for ShareOptions {
    fn default() -> ShareOptions {
        ShareOptions {
            tlp: Tlp::Amber,
            identity: "wavetrace".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_names_round_trip() {
        for t in Tlp::ALL {
            assert_eq!(Tlp::parse(t.name()), Some(t));
        }
        assert_eq!(Tlp::parse("AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::AmberStrict.label(), "TLP:AMBER+STRICT");
        assert_eq!(Tlp::parse("white"), None);
        assert_eq!(Tlp::default(), Tlp::Amber);
    }
}
