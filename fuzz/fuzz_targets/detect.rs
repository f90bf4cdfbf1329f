//! Any bytes through the parser and the whole detection stage (anchor
//! texts, archive listings, classifiers, lookalikes, personalisation,
//! rules): nothing may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wavetrace_core::detect::Detector;
use wavetrace_core::parse::analyse;

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| Detector::builtin().expect("the shipped rules load"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(mut record) = analyse(data, &Default::default(), &Default::default()) {
        detector().judge(&mut record);
    }
});
