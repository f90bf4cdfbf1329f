//! The record's JSON shape, as a whole, for a fixture written for the
//! purpose (CC0): an intimidation message in the style of the 2020 voter
//! emails, sent through an unrelated organisation's server.

use wavetrace_core::parse::{analyse, AnalysisConfig, Sighting};

#[test]
fn intimidation_fixture_record() {
    let raw = include_bytes!("fixtures/intimidation.eml");
    let sighting = Sighting {
        source: "fixtures/intimidation.eml".into(),
        ..Default::default()
    };
    let record = analyse(raw, &sighting, &AnalysisConfig::default()).expect("mail");
    insta::assert_json_snapshot!(record, { ".analysis.version" => "[version]" });
}

/// Records are stored as JSON and read back: the round trip is lossless.
#[test]
fn records_round_trip_through_json() {
    let raw = include_bytes!("fixtures/intimidation.eml");
    let record = analyse(raw, &Sighting::default(), &AnalysisConfig::default()).expect("mail");
    let json = serde_json::to_string(&record).unwrap();
    let back: wavetrace_core::record::MessageRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
}
