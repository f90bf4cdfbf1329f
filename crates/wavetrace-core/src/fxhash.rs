//! A fast hash for tables whose keys are fixed or trusted.
//!
//! SipHash (std's default) resists crafted collisions; a table built from
//! the program's own data, or from a file the user chose, gains nothing from
//! that. Looking up untrusted words in a table of fixed keys is safe with
//! this hash too: the keys, not the lookups, decide the table's layout.

/// The multiply-rotate hash of rustc's `FxHasher`. (Interning the IP
/// database's few hundred thousand keys with SipHash cost a tenth of its load
/// time.)
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FxHasher`]s for `HashMap` and `HashSet`.
pub(crate) type FxBuildHasher = std::hash::BuildHasherDefault<FxHasher>;
