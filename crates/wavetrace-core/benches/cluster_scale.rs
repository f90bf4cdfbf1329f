//! Clustering at scale: `cargo bench -p wavetrace-core --bench cluster_scale`.
//!
//! For each size in `WAVETRACE_SCALE_SIZES` (comma-separated, default
//! `100000,1000000`) it builds that many synthetic fingerprints and clusters
//! them the way `wavetrace scan` reclusters a store (crates/wavetrace/src/
//! campaigns.rs): every fingerprint is decoded from its stored JSON into
//! memory, sorted in the canonical order (arrival, sha256), inserted into a
//! [`CampaignIndex`] keeping up to two links per member as evidence, and the
//! campaigns are listed. SQLite reads and writes and the per-campaign
//! summaries are not included: the `scan` benchmark of the binary measures
//! the end-to-end rate.
//!
//! Printed per size: the time of each phase, messages/s of clustering
//! (insert and list), peak RSS (VmHWM of /proc/self/status, reset between
//! sizes through /proc/self/clear_refs) and, as a check that the synthetic
//! campaigns were found, B-cubed F1 against the planted ones. A benchmark,
//! not a test: nothing is asserted.
//!
//! The synthetic data (from the earlier scale example of the clustering
//! work): 35% of messages belong to planted campaigns whose sizes follow a
//! power law from 2 to 5,000; each member is its campaign's base shingle set
//! (150-400 shingles) with 10-35% of the shingles replaced (Jaccard about
//! 0.5-0.8 to the base); one campaign in ten also shares an image hash. The
//! rest are singletons with random shingle sets. Every message carries
//! infrastructure keys from a small pool (shared providers), which must not
//! link anything.

use std::time::Instant;

use wavetrace_core::campaign::minhash::{signature, splitmix64};
use wavetrace_core::campaign::{
    evaluate, CampaignIndex, ContentKey, ContentKeyKind, Fingerprint, InfrastructureKey,
    InfrastructureKind, Link,
};

/// Links kept per member, as the binary keeps them.
const LINKS_PER_MEMBER: usize = 2;

/// One planted campaign (or singleton): the seed of its base shingle set.
struct Planted {
    seed: u64,
    base_len: usize,
    image: bool,
}

/// A line of /proc/self/status in MB (`VmHWM`, `VmRSS`); 0 when unreadable.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux 4.0+); false when refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The stored fingerprint (as JSON, the way the store keeps it), sha256 and
/// arrival time of message `message` of `campaign`.
fn make(message: usize, campaign: usize, planted: &Planted) -> (String, String, i64) {
    let mut state = planted.seed;
    let mut shingles: Vec<u64> = (0..planted.base_len)
        .map(|_| splitmix64(&mut state))
        .collect();
    let mut own = (message as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555;
    let replace = 10 + splitmix64(&mut own) % 26; // percent
    for s in shingles.iter_mut() {
        if splitmix64(&mut own) % 100 < replace {
            *s = splitmix64(&mut own);
        }
    }
    shingles.sort_unstable();
    shingles.dedup();
    let mut content_keys = Vec::new();
    if planted.image {
        content_keys.push(ContentKey {
            kind: ContentKeyKind::Image,
            value: format!("{:064x}", planted.seed),
        });
    }
    let infrastructure = vec![
        InfrastructureKey {
            kind: InfrastructureKind::Relay,
            value: format!("relay{}.provider.example", message % 7),
        },
        InfrastructureKey {
            kind: InfrastructureKind::SenderDomain,
            value: format!("sender{}.example", message % 13),
        },
    ];
    let fp = Fingerprint {
        version: 1,
        signature: signature(&shingles),
        shingle_count: shingles.len() as u32,
        text_hash: splitmix64(&mut own),
        content_keys,
        infrastructure,
        is_reply: false,
        from_list: false,
    };
    let sha = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        splitmix64(&mut own),
        message,
        campaign,
        splitmix64(&mut own)
    );
    let time =
        1_600_000_000 + (planted.seed % 1_000_000) as i64 + (splitmix64(&mut own) % 7200) as i64;
    let json = serde_json::to_string(&fp).unwrap_or_default();
    (sha, json, time)
}

/// The campaign of every message (shuffled) and the planted sets; the first
/// `planted_campaigns` entries of the planted sets are campaigns, the rest
/// singletons.
fn plant(n: usize) -> (Vec<u32>, Vec<Planted>, usize) {
    let mut state = 42u64;
    let mut campaign_of: Vec<u32> = Vec::with_capacity(n);
    let mut planted: Vec<Planted> = Vec::new();
    let target = n * 35 / 100;
    while campaign_of.len() < target {
        let u = (splitmix64(&mut state) % 1_000_000) as f64 / 1_000_000.0;
        let size = ((2.0 / (1.0 - u * 0.9996).powf(1.0 / 1.2)) as usize)
            .clamp(2, 5000)
            .min(target - campaign_of.len())
            .max(1);
        let id = planted.len() as u32;
        planted.push(Planted {
            seed: splitmix64(&mut state),
            base_len: 150 + (splitmix64(&mut state) % 250) as usize,
            image: id.is_multiple_of(10),
        });
        campaign_of.extend(std::iter::repeat_n(id, size));
    }
    let planted_campaigns = planted.len();
    while campaign_of.len() < n {
        let id = planted.len() as u32;
        planted.push(Planted {
            seed: splitmix64(&mut state),
            base_len: 60 + (splitmix64(&mut state) % 300) as usize,
            image: false,
        });
        campaign_of.push(id);
    }
    for i in (1..n).rev() {
        let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
        campaign_of.swap(i, j);
    }
    (campaign_of, planted, planted_campaigns)
}

fn run(n: usize) {
    let (campaign_of, planted, planted_campaigns) = plant(n);
    let reset = reset_peak();
    let rss_start = status_mb("VmRSS:");

    // The stored JSON is produced and decoded one message at a time (the
    // store streams rows); only the decoded fingerprints are kept, as in
    // the binary. Producing the JSON is timed apart and excluded.
    let mut produce_s = 0.0;
    let mut decode_s = 0.0;
    let mut entries: Vec<(Option<i64>, String, Fingerprint, u32)> = Vec::with_capacity(n);
    for (i, &c) in campaign_of.iter().enumerate() {
        let t = Instant::now();
        let (sha, json, time) = make(i, c as usize, &planted[c as usize]);
        let t2 = Instant::now();
        produce_s += (t2 - t).as_secs_f64();
        match serde_json::from_str::<Fingerprint>(&json) {
            Ok(fp) => entries.push((Some(time), sha, fp, c)),
            Err(e) => eprintln!("fingerprint {i} does not decode: {e}"),
        }
        decode_s += t2.elapsed().as_secs_f64();
    }

    let t = Instant::now();
    entries.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
    let sort_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut index = CampaignIndex::new();
    let mut links_of: std::collections::HashMap<String, Vec<Link>> =
        std::collections::HashMap::new();
    let mut links = 0usize;
    for (arrival, sha, fp, _) in &entries {
        for link in index.insert(sha, fp, *arrival) {
            links += 1;
            let kept = links_of.entry(link.b.clone()).or_default();
            if kept.len() < LINKS_PER_MEMBER {
                kept.push(link);
            }
        }
    }
    let insert_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let campaigns = index.campaigns();
    let list_s = t.elapsed().as_secs_f64();
    let peak = status_mb("VmHWM:");

    let mut predicted: Vec<(String, String)> = Vec::with_capacity(n);
    for c in &campaigns {
        for m in &c.members {
            predicted.push((m.clone(), c.id.clone()));
        }
    }
    let truth: Vec<(String, String)> = entries
        .iter()
        .map(|(_, sha, _, c)| {
            let label = if (*c as usize) < planted_campaigns {
                format!("c{c}")
            } else {
                "-".to_string()
            };
            (sha.clone(), label)
        })
        .collect();
    let report = evaluate(&truth, &predicted);
    let cluster_s = insert_s + list_s;
    println!(
        "{n:>9} messages: decode {decode_s:.1} s, sort {sort_s:.1} s, insert {insert_s:.1} s, \
         list {list_s:.1} s; clustering {cluster_s:.1} s = {:.0} msg/s \
         ({:.0} msg/s with decode and sort); peak RSS {peak:.0} MB{} (at start {rss_start:.0} MB); \
         planted campaigns {planted_campaigns}, found of 2+ {}, links {links}, bucket entries {}; \
         B-cubed P {:.4} R {:.4} F1 {:.4} (fingerprint generation {produce_s:.1} s excluded)",
        n as f64 / cluster_s,
        n as f64 / (cluster_s + decode_s + sort_s),
        if reset { "" } else { " since process start" },
        campaigns.iter().filter(|c| c.size() >= 2).count(),
        index.bucket_entries(),
        report.bcubed_precision,
        report.bcubed_recall,
        report.bcubed_f1,
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("WAVETRACE_SCALE_SIZES")
        .unwrap_or_else(|_| "100000,1000000".to_string())
        .split(',')
        .filter_map(|s| match s.trim().replace('_', "").parse() {
            Ok(n) => Some(n),
            Err(_) => {
                eprintln!("WAVETRACE_SCALE_SIZES: {s:?} is not a number, skipped");
                None
            }
        })
        .collect();
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    for n in sizes {
        run(n);
    }
}
