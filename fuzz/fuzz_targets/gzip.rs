//! Any bytes through the bounded gzip reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = wavetrace_core::ingest::gzip::BoundedGzip::new(data, 50).take(1 << 22).read_to_end(&mut out);
});
