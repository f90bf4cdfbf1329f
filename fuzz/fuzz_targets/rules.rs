//! Any text as a rule file: parse errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wavetrace_core::detect::{label_set, rules::parse_rule_file};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_rule_file(text, "fuzz.toml", &label_set());
    }
});
