//! Replays the fuzz seed corpus (`fuzz/corpus/<target>/`) through the same
//! entry points as the fuzz targets, so CI (stable, no libFuzzer) still runs
//! every seed and every crash reproducer committed there.

use std::io::Read;
use std::path::Path;

use wavetrace_core::ingest::{gzip::BoundedGzip, mbox::MboxReader, unwrap::attached_originals};
use wavetrace_core::parse::analyse;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    seeds
}

#[test]
fn parse_message_seeds() {
    for seed in seeds("parse_message") {
        let _ = analyse(&seed, &Default::default(), &Default::default());
    }
}

#[test]
fn mbox_seeds() {
    for seed in seeds("mbox") {
        assert!(MboxReader::new(&seed[..], 4096).count() > 0);
    }
}

#[test]
fn unwrap_report_seeds() {
    for seed in seeds("unwrap_report") {
        let _ = attached_originals(&seed, 16);
    }
}

#[test]
fn gzip_seeds() {
    for seed in seeds("gzip") {
        let mut out = Vec::new();
        let _ = BoundedGzip::new(&seed[..], 50)
            .take(1 << 22)
            .read_to_end(&mut out);
    }
}

#[test]
fn received_seeds() {
    use wavetrace_core::origin::{parse_received, trace, TraceInput, TrustConfig};
    for seed in seeds("received") {
        let text = String::from_utf8_lossy(&seed);
        let _ = parse_received(&text);
        let chain: Vec<String> = text.split('\n').map(str::to_string).collect();
        let input = TraceInput {
            received: &chain,
            headers: &[],
            from_domain: Some("example.com"),
            envelope_sender_domain: None,
            dkim_domains: &[],
            now: 1_800_000_000,
        };
        assert_eq!(
            trace(&input, &TrustConfig::default()).hops.len(),
            chain.len()
        );
    }
}

#[test]
fn detect_seeds() {
    let detector = wavetrace_core::detect::Detector::builtin().expect("the shipped rules load");
    for seed in seeds("detect") {
        if let Ok(mut record) = analyse(&seed, &Default::default(), &Default::default()) {
            detector.judge(&mut record);
            assert!(record.verdict.is_some());
        }
    }
}

#[test]
fn rules_seeds() {
    let labels = wavetrace_core::detect::label_set();
    for seed in seeds("rules") {
        let text = String::from_utf8(seed).expect("rule seeds are text");
        assert!(
            wavetrace_core::detect::rules::parse_rule_file(&text, "seed.toml", &labels).is_ok()
        );
    }
}
