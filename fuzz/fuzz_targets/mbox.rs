//! Any bytes as an mbox, with a small message limit.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for entry in wavetrace_core::ingest::mbox::MboxReader::new(data, 4096) {
        let _ = entry;
    }
});
