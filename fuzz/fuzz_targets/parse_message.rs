//! Any bytes through the whole message analysis: a record or a reason.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wavetrace_core::parse::analyse(data, &Default::default(), &Default::default());
});
