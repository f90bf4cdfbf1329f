//! `wavetrace reanalyse`: recompute every record from the stored raw bytes,
//! in batches, in parallel, one transaction per batch.

use rayon::prelude::*;
use wavetrace_core::ingest::mbox::envelope_date;
use wavetrace_core::parse::Sighting;
use wavetrace_core::record::MessageRecord;
use wavetrace_store::Store;

const BATCH: usize = 1_000;

/// Re-analyses every stored message; returns how many were updated.
pub fn run(store: &mut Store, pipeline: &crate::pipeline::Pipeline) -> anyhow::Result<u64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(8 << 20)
        .build()?;
    let all = store.all_sha256()?;
    let mut updated = 0;
    for chunk in all.chunks(BATCH) {
        let raws = store.raw_messages(chunk)?;
        let records: Vec<MessageRecord> = pool.install(|| {
            raws.into_par_iter()
                .filter_map(|stored| {
                    let envelope_time =
                        stored.container.envelope.as_deref().and_then(envelope_date);
                    let sighting = Sighting {
                        source: stored.source,
                        container: stored.container,
                        envelope_time,
                    };
                    // Stored bytes were mail when stored; a record that no
                    // longer parses keeps its previous record.
                    pipeline
                        .analyse(&stored.raw, &sighting)
                        .ok()
                        .filter(|r| r.sha256 == stored.sha256)
                })
                .collect()
        });
        updated += records.len() as u64;
        let fingerprints = records
            .iter()
            .map(wavetrace_store::stored_fingerprint)
            .collect::<Result<Vec<_>, _>>()?;
        store.update_records(&records)?;
        store.update_fingerprints(&fingerprints)?;
    }
    pipeline.finish()?;
    Ok(updated)
}
