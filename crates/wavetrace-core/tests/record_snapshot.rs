//! The record's JSON shape, as a whole, for a fixture written for the
//! purpose (CC0): an intimidation message in the style of the 2020 voter
//! emails, sent through an unrelated organisation's server.

use wavetrace_core::parse::{analyse, ParseLimits, Sighting};

#[test]
fn intimidation_fixture_record() {
    let raw = include_bytes!("fixtures/intimidation.eml");
    let sighting = Sighting {
        source: "fixtures/intimidation.eml".into(),
        ..Default::default()
    };
    let record = analyse(raw, &sighting, &ParseLimits::default()).expect("mail");
    insta::assert_json_snapshot!(record, { ".analysis.version" => "[version]" });
}
