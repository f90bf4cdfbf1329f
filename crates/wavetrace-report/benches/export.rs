//! Cost of each export stage per message: `cargo bench -p wavetrace-report
//! --bench export`.
//!
//! On the bundled synthetic sample (200 messages in two campaigns, analysed
//! and judged once), times, best of five passes: redaction (`prepare`),
//! then each writer on the redacted set (STIX, MISP, the three CSV files,
//! the HTML report), and prints µs per message and the output size. A
//! benchmark, not a test: nothing is asserted. The end-to-end figures on a
//! real database are in the closing notes (`wavetrace export` timed).

use std::time::Instant;

use wavetrace_report::testdata::{sample_campaigns, SALT};
use wavetrace_report::{csv, html, misp, prepare, stix, ShareOptions};

/// Best of `passes` runs of `f`, in seconds, with the last output's size.
fn best<F: FnMut() -> usize>(passes: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..passes {
        let t = Instant::now();
        size = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, size)
}

fn main() {
    let campaigns = sample_campaigns();
    let messages: usize = campaigns.iter().map(|c| c.members.len()).sum();
    let options = ShareOptions::default();
    let (t, _) = best(5, || {
        prepare(campaigns.clone(), messages as u64, SALT, false)
            .campaigns
            .len()
    });
    let per = |t: f64| t * 1e6 / messages as f64;
    println!("{messages} messages in {} campaigns", campaigns.len());
    println!("{:<12} {:>10.1} µs/message", "redaction", per(t));
    let set = prepare(campaigns, messages as u64, SALT, false);
    let stages: [(&str, &dyn Fn() -> usize); 4] = [
        ("stix", &|| stix::bundle(&set, &options).len()),
        ("misp", &|| {
            misp::events(&set, &options)
                .iter()
                .map(|(_, j)| j.len())
                .sum()
        }),
        ("csv", &|| {
            csv::messages(&set).len() + csv::campaigns(&set).len() + csv::indicators(&set).len()
        }),
        ("html", &|| html::report(&set, &options).len()),
    ];
    for (name, stage) in stages {
        let (t, size) = best(5, stage);
        println!("{name:<12} {:>10.1} µs/message  {:>9} bytes", per(t), size);
    }
}
