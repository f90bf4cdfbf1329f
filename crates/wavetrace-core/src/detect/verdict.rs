//! The closed set of labels, the three verdicts, and the score thresholds
//! between them (`data/verdict.toml`).

use serde::{Deserialize, Serialize};

/// What a message is judged to be. Ordered: a campaign's verdict is the
/// highest among its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing, or too little, fired.
    Clean,
    /// Enough to look at: plain spam lands here.
    Suspicious,
    /// Enough to act on: phishing, impersonation, threats, fraud.
    Malicious,
}

impl Verdict {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Suspicious => "suspicious",
            Verdict::Malicious => "malicious",
        }
    }

    /// Parses a JSON name.
    pub fn from_token(token: &str) -> Option<Verdict> {
        [Verdict::Clean, Verdict::Suspicious, Verdict::Malicious]
            .into_iter()
            .find(|v| v.as_str() == token)
    }
}

macro_rules! labels {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// The closed set of labels a rule may give (README, "Labels").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Label {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)*
        }

        impl Label {
            /// Every label, in documentation order.
            pub const ALL: &'static [Label] = &[$(Label::$variant,)*];

            /// The JSON name (`spoofed-sender`).
            pub fn as_str(self) -> &'static str {
                match self { $(Label::$variant => $name,)* }
            }
        }
    };
}

labels! {
    Impersonation => "impersonation": "Poses as an organisation, brand or person it is not.",
    LookalikeDomain => "lookalike-domain": "Uses a domain made to look like a protected one.",
    SpoofedSender => "spoofed-sender": "The From domain did not authenticate: its owner did not send it.",
    RelayAbuse => "relay-abuse": "Sent through an unrelated organisation's server.",
    Intimidation => "intimidation": "Threatens the recipient.",
    Extortion => "extortion": "Demands payment under threat.",
    DataPossessionClaim => "data-possession-claim": "Claims access to the recipient's data or to systems.",
    Election => "election": "About voting, registration, parties or ballots.",
    Personalised => "personalised": "Carries recipient-specific data: a data set was used to target.",
    CredentialPhishing => "credential-phishing": "Asks for a login, password or account verification.",
    PaymentFraud => "payment-fraud": "Invoice, bank-detail or advance-fee fraud.",
    Urgency => "urgency": "Presses the recipient to act at once.",
    RiskyAttachment => "risky-attachment": "Carries an executable, script, macro document or similar.",
    DeceptiveLink => "deceptive-link": "Hides where a link leads.",
}

impl Label {
    /// Parses a JSON name.
    pub fn from_token(token: &str) -> Option<Label> {
        Label::ALL.iter().copied().find(|l| l.as_str() == token)
    }
}

/// Score thresholds: at or above `suspicious` a message is suspicious, at or
/// above `malicious` malicious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Lowest score judged suspicious.
    pub suspicious: i32,
    /// Lowest score judged malicious.
    pub malicious: i32,
}

const BUILTIN_THRESHOLDS: &str = include_str!("../../../../data/verdict.toml");

impl Thresholds {
    /// The shipped thresholds (`data/verdict.toml`).
    pub fn builtin() -> Thresholds {
        // Checked by a unit test; the fallback is never reached in a build
        // that passed its tests.
        Thresholds::parse(BUILTIN_THRESHOLDS).unwrap_or(Thresholds {
            suspicious: 30,
            malicious: 70,
        })
    }

    /// Parses a thresholds file; see [`Thresholds::checked`].
    pub fn parse(text: &str) -> Result<Thresholds, String> {
        toml::from_str::<Thresholds>(text)
            .map_err(|e| e.to_string())?
            .checked()
    }

    /// The thresholds when `0 < suspicious < malicious`, else why not.
    pub fn checked(self) -> Result<Thresholds, String> {
        if self.suspicious >= self.malicious || self.suspicious <= 0 {
            return Err(format!(
                "need 0 < suspicious ({}) < malicious ({})",
                self.suspicious, self.malicious
            ));
        }
        Ok(self)
    }

    /// The verdict for a score.
    pub fn verdict(&self, score: i32) -> Verdict {
        if score >= self.malicious {
            Verdict::Malicious
        } else if score >= self.suspicious {
            Verdict::Suspicious
        } else {
            Verdict::Clean
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_thresholds_parse() {
        let t = Thresholds::parse(BUILTIN_THRESHOLDS).unwrap();
        assert!(t.suspicious < t.malicious);
        assert_eq!(t.verdict(t.suspicious - 1), Verdict::Clean);
        assert_eq!(t.verdict(t.suspicious), Verdict::Suspicious);
        assert_eq!(t.verdict(t.malicious), Verdict::Malicious);
    }

    #[test]
    fn bad_thresholds_are_refused() {
        assert!(Thresholds::parse("suspicious = 50\nmalicious = 40").is_err());
        assert!(Thresholds::parse("suspicious = 5").is_err());
        assert!(Thresholds::parse("suspicious = 5\nmalicious = 9\nx = 1").is_err());
    }

    #[test]
    fn labels_round_trip_through_json() {
        for label in Label::ALL {
            let json = serde_json::to_string(label).unwrap();
            assert_eq!(json, format!("\"{}\"", label.as_str()));
            assert_eq!(Label::from_token(label.as_str()), Some(*label));
        }
        assert_eq!(Label::ALL.len(), 14);
        assert!(Verdict::Malicious > Verdict::Suspicious);
    }
}
