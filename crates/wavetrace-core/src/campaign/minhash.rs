//! Shingling and MinHash with fixed seeds.
//!
//! A message's masked words are cut into overlapping word trigrams
//! (shingles); each shingle is hashed once with [`stable_hash`], and the
//! signature keeps, for each of [`SIGNATURE_LEN`] hash functions
//! `h_i(x) = (a_i * x + b_i) >> 32` (multiply-shift, `a_i` odd), the minimum
//! over the message's shingles. Two signatures agree at position `i` with
//! probability equal to the Jaccard similarity of the two shingle sets, so
//! the share of equal positions estimates it (standard error about 0.044 at
//! 0.5 with 128 positions).
//!
//! Every constant is fixed: signatures are stored, and a signature computed
//! by another build or another machine must compare equal. Never use
//! `RandomState` or `ahash` here.

/// Number of MinHash positions in a signature.
pub const SIGNATURE_LEN: usize = 128;

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 3;

/// Seed of the signature's hash-function coefficients (fixed forever: changing
/// it invalidates every stored signature).
const COEFFICIENT_SEED: u64 = 0x7761_7665_7472_6163; // "wavetrac"

/// Seed of the word and shingle hashes.
const WORD_SEED: u64 = 0x6361_6d70_6169_676e; // "campaign"

/// The splitmix64 step: a fixed, well-mixed sequence from a seed.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The murmur3 64-bit finaliser.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// A 64-bit hash of bytes with a seed, stable across versions, platforms and
/// runs (little-endian word reads, fixed constants).
///
/// Why our own: the stored shingle and key hashes must never change; a small
/// function written here cannot change under us with a dependency update.
pub fn stable_hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ fmix64(word))
            .rotate_left(27)
            .wrapping_mul(0x87C3_7B91_1142_53D5);
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    h = (h ^ fmix64(u64::from_le_bytes(last) ^ 0xFF))
        .rotate_left(31)
        .wrapping_mul(0x4CF5_AD43_2745_937F);
    fmix64(h)
}

/// The `(a_i, b_i)` coefficients of the signature's hash functions.
fn coefficients() -> &'static [(u64, u64); SIGNATURE_LEN] {
    static COEFFICIENTS: std::sync::OnceLock<[(u64, u64); SIGNATURE_LEN]> =
        std::sync::OnceLock::new();
    COEFFICIENTS.get_or_init(|| {
        let mut state = COEFFICIENT_SEED;
        let mut out = [(0u64, 0u64); SIGNATURE_LEN];
        for slot in out.iter_mut() {
            *slot = (splitmix64(&mut state) | 1, splitmix64(&mut state));
        }
        out
    })
}

/// The sorted, de-duplicated shingle hashes of a word sequence. A text with
/// fewer than [`SHINGLE_WORDS`] words yields one shingle of all its words
/// (so short texts still have a set; the caller decides whether it is long
/// enough to compare).
pub fn shingles<S: AsRef<str>>(words: &[S]) -> Vec<u64> {
    let word_hashes: Vec<u64> = words
        .iter()
        .map(|w| stable_hash(w.as_ref().as_bytes(), WORD_SEED))
        .collect();
    let mut out: Vec<u64> = if word_hashes.len() < SHINGLE_WORDS {
        if word_hashes.is_empty() {
            Vec::new()
        } else {
            vec![combine(&word_hashes)]
        }
    } else {
        word_hashes.windows(SHINGLE_WORDS).map(combine).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// Combines word hashes into one shingle hash, order-sensitive.
fn combine(words: &[u64]) -> u64 {
    let mut h = WORD_SEED;
    for (i, w) in words.iter().enumerate() {
        h = fmix64(h ^ w.rotate_left(17 * i as u32 + 1));
    }
    h
}

/// The MinHash signature of a shingle set: [`SIGNATURE_LEN`] minima. An empty
/// set gives all `u32::MAX`, which never counts as agreement (see
/// [`similarity`]).
pub fn signature(shingles: &[u64]) -> Vec<u32> {
    // Eight hash functions per pass over the shingles: their coefficients and
    // minima stay in registers and the eight multiplications run in parallel.
    let mut minima = Vec::with_capacity(SIGNATURE_LEN);
    for group in coefficients().chunks_exact(8) {
        let mut m = [u32::MAX; 8];
        let mut ab = [(0u64, 0u64); 8];
        ab.copy_from_slice(group);
        for &x in shingles {
            for k in 0..8 {
                let v = (ab[k].0.wrapping_mul(x).wrapping_add(ab[k].1) >> 32) as u32;
                m[k] = m[k].min(v);
            }
        }
        minima.extend_from_slice(&m);
    }
    minima
}

/// The estimated Jaccard similarity of two signatures: the share of
/// positions that agree. Signatures of different lengths, or positions left
/// at `u32::MAX` (empty sets), never agree.
pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let equal = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x == y && **x != u32::MAX)
        .count();
    equal as f64 / a.len() as f64
}

/// The low 16 bits of each signature position (b-bit MinHash, Li and König
/// 2010): half the memory of the full signature in the index. Two unequal
/// values agree by chance with probability 1/65,536, which raises a
/// similarity estimate by at most 0.00002.
pub fn compact_signature(signature: &[u32]) -> Vec<u16> {
    signature.iter().map(|&v| v as u16).collect()
}

/// The estimated Jaccard similarity of two compact signatures; 0 for
/// signatures of different or zero length.
pub fn compact_similarity(a: &[u16], b: &[u16]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_fixed_across_builds() {
        // These values are stored in databases: they must never change.
        assert_eq!(stable_hash(b"", 0), stable_hash(b"", 0));
        let known = stable_hash(b"wavetrace", 1);
        assert_eq!(
            known, 0x31EE_D342_07FE_BD71,
            "stable_hash changed: {known:#X}"
        );
        assert_ne!(stable_hash(b"abcdefgh", 0), stable_hash(b"abcdefgi", 0));
        assert_ne!(stable_hash(b"a", 0), stable_hash(b"a\0", 0));
    }

    #[test]
    fn identical_sets_are_similarity_one_disjoint_near_zero() {
        let a: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let b: Vec<String> = (1000..1200).map(|i| format!("w{i}")).collect();
        let sa = signature(&shingles(&a));
        assert_eq!(similarity(&sa, &sa), 1.0);
        assert!(similarity(&sa, &signature(&shingles(&b))) < 0.05);
    }

    #[test]
    fn estimate_tracks_true_jaccard() {
        // 300 words, the second text replaces the last 100: shingle Jaccard ~ 198/402.
        let a: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let mut b = a.clone();
        for (i, w) in b.iter_mut().enumerate().skip(200) {
            *w = format!("x{i}");
        }
        let (sa, sb) = (shingles(&a), shingles(&b));
        let inter = sa.iter().filter(|x| sb.binary_search(x).is_ok()).count() as f64;
        let jaccard = inter / (sa.len() as f64 + sb.len() as f64 - inter);
        let estimate = similarity(&signature(&sa), &signature(&sb));
        assert!(
            (estimate - jaccard).abs() < 0.15,
            "estimate {estimate} vs {jaccard}"
        );
    }

    #[test]
    fn compact_similarity_matches_full() {
        let a: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let mut b = a.clone();
        b.truncate(150);
        let (sa, sb) = (signature(&shingles(&a)), signature(&shingles(&b)));
        let full = similarity(&sa, &sb);
        let compact = compact_similarity(&compact_signature(&sa), &compact_signature(&sb));
        assert!((full - compact).abs() <= 1.0 / 64.0, "{full} {compact}");
        assert_eq!(compact_similarity(&[], &[]), 0.0);
    }

    #[test]
    fn empty_signatures_never_agree() {
        let empty = signature(&[]);
        assert_eq!(similarity(&empty, &empty), 0.0);
        assert_eq!(similarity(&[], &[]), 0.0);
    }
}
