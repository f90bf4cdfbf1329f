//! Locality-sensitive hashing by banding, and the bucket store shared with
//! the exact content keys.
//!
//! A signature of [`BANDS`] x [`ROWS`] positions is cut into bands; two
//! messages become a candidate pair when all rows of at least one band agree.
//! A pair of Jaccard similarity `s` is a candidate with probability
//! `1 - (1 - s^ROWS)^BANDS`: with 32 bands of 4 rows that is 0.23 at
//! s = 0.3, 0.56 at 0.4, 0.87 at 0.5, 0.99 at 0.6 and 1.00 at 0.7, while
//! unrelated mail (s below 0.1) is a candidate with probability under 0.003.
//! Within a campaign every member has many chances to be linked to some
//! other member, so connectivity is reached well below the per-pair figures.
//! (FIELD-NOTES: 16 bands of 8 catch only 61% at 0.7.)

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::minhash::{stable_hash, SIGNATURE_LEN};

/// Number of bands.
pub const BANDS: usize = 32;

/// Rows (signature positions) per band.
pub const ROWS: usize = 4;

const _: () = assert!(BANDS * ROWS == SIGNATURE_LEN);

/// Seed of the band keys.
const BAND_SEED: u64 = 0x6261_6e64_7761_7665; // "bandwave"

/// The bucket key of every band of a signature; the band number is part of
/// the key so equal rows in different bands do not collide. Empty for a
/// signature of another length.
pub fn band_keys(signature: &[u32]) -> Vec<u64> {
    if signature.len() != SIGNATURE_LEN {
        return Vec::new();
    }
    signature
        .chunks_exact(ROWS)
        .enumerate()
        .map(|(band, rows)| {
            let mut bytes = [0u8; ROWS * 4];
            for (i, r) in rows.iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&r.to_le_bytes());
            }
            stable_hash(&bytes, BAND_SEED ^ band as u64)
        })
        .collect()
}

/// A hasher for keys that are already uniform 64-bit hashes: it passes them
/// through, saving a SipHash round per lookup. (The keys come from
/// [`stable_hash`]; the map is in memory only.)
#[derive(Default, Clone, Copy)]
pub struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_u32(&mut self, n: u32) {
        // spread to the high bits, which the table's probing reads
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Sentinel for "no previous entry" in a bucket chain.
const NONE: u32 = u32::MAX;

/// Buckets of message numbers by key, stored as chains in one flat array:
/// one map entry (eight bytes) per non-empty bucket and eight bytes per
/// membership, so a million messages in 32 bands take about 600 MB. Only the
/// low 32 bits of a key are kept: two keys that share them merge their
/// buckets, which only adds candidates (every candidate is verified), about
/// one per hundred look-ups at a million messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Buckets {
    /// Last entry of each bucket.
    heads: HashMap<u32, u32, BuildHasherDefault<PrehashedKey>>,
    /// `(message, previous entry in the same bucket)`.
    entries: Vec<(u32, u32)>,
}

impl Buckets {
    /// Adds a message to a bucket.
    pub fn insert(&mut self, key: u64, message: u32) {
        let Ok(at) = u32::try_from(self.entries.len()) else {
            return;
        };
        let previous = self.heads.insert(key as u32, at).unwrap_or(NONE);
        self.entries.push((message, previous));
    }

    /// The messages in a bucket, most recent first.
    pub fn members(&self, key: u64) -> BucketMembers<'_> {
        BucketMembers {
            buckets: self,
            next: self.heads.get(&(key as u32)).copied().unwrap_or(NONE),
        }
    }

    /// Number of memberships stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no message is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Iterator over one bucket's messages.
pub struct BucketMembers<'a> {
    buckets: &'a Buckets,
    next: u32,
}

impl Iterator for BucketMembers<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let &(message, previous) = self.buckets.entries.get(self.next as usize)?;
        self.next = previous;
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_chain_members() {
        let mut b = Buckets::default();
        b.insert(7, 1);
        b.insert(9, 2);
        b.insert(7, 3);
        assert_eq!(b.members(7).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(b.members(9).collect::<Vec<_>>(), [2]);
        assert_eq!(b.members(8).count(), 0);
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn band_keys_differ_per_band_and_agree_on_equal_bands() {
        let a: Vec<u32> = (0..SIGNATURE_LEN as u32).collect();
        let mut b = a.clone();
        b[0] = 999;
        let (ka, kb) = (band_keys(&a), band_keys(&b));
        assert_eq!(ka.len(), BANDS);
        assert_ne!(ka[0], kb[0]);
        assert_eq!(ka[1..], kb[1..]);
        assert!(band_keys(&[1, 2, 3]).is_empty());
        let same = vec![5u32; SIGNATURE_LEN];
        let k = band_keys(&same);
        assert_ne!(k[0], k[1]);
    }

    #[test]
    fn candidate_probability_matches_banding_formula() {
        let p = |s: f64| 1.0 - (1.0 - s.powi(ROWS as i32)).powi(BANDS as i32);
        assert!(p(0.7) > 0.99);
        assert!(p(0.5) > 0.85);
        assert!(p(0.1) < 0.004);
    }
}
