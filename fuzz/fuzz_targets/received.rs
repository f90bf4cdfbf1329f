//! Any text as a Received header, and as a whole chain through `trace`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wavetrace_core::origin::{parse_received, trace, TraceInput, TrustConfig};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_received(&text);
    let chain: Vec<String> = text.split('\n').map(str::to_string).collect();
    let input = TraceInput { received: &chain, headers: &[], from_domain: Some("example.com"), envelope_sender_domain: None, dkim_domains: &[], now: 1_800_000_000 };
    let _ = trace(&input, &TrustConfig::default());
});
