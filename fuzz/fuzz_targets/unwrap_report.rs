//! Any bytes as a forwarded-as-attachment report.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wavetrace_core::ingest::unwrap::attached_originals(data, 16);
});
