//! Bounded gzip decompression.
//!
//! A gzip bomb expands a few kilobytes into gigabytes. [`BoundedGzip`]
//! stops with an error once the output passes `max_ratio` times the input
//! read so far (after a small allowance for tiny files, whose headers make
//! ratios meaningless). The per-message size limit applies on top.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

/// The gzip magic number (RFC 1952 2.3.1).
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Output allowed regardless of the ratio.
const RATIO_ALLOWANCE: u64 = 1 << 20;

/// Counts the compressed bytes the decoder pulls.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A gzip decoder (all members of a multi-member file) that fails with
/// `InvalidData` when the decompression ratio passes the cap.
pub struct BoundedGzip<R: Read> {
    decoder: MultiGzDecoder<Counting<R>>,
    max_ratio: u64,
    written: u64,
}

impl<R: Read> BoundedGzip<R> {
    /// Wraps a compressed stream.
    pub fn new(inner: R, max_ratio: u64) -> Self {
        BoundedGzip {
            decoder: MultiGzDecoder::new(Counting { inner, read: 0 }),
            max_ratio,
            written: 0,
        }
    }
}

impl<R: Read> Read for BoundedGzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.decoder.read(buf)?;
        self.written += n as u64;
        let consumed = self.decoder.get_ref().read.max(1);
        if self.written > RATIO_ALLOWANCE && self.written > consumed.saturating_mul(self.max_ratio)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "decompression ratio above {}:1 ({} bytes from {} compressed): gzip bomb?",
                    self.max_ratio, self.written, consumed
                ),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn ordinary_data_round_trips() {
        let data = b"Subject: hi\n\nhello\n".repeat(100);
        let mut out = Vec::new();
        BoundedGzip::new(&gz(&data)[..], 100)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn bombs_are_stopped() {
        let bomb = gz(&vec![0u8; 64 << 20]);
        let mut out = Vec::new();
        let err = BoundedGzip::new(&bomb[..], 100)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(out.len() < 8 << 20, "stopped early: {}", out.len());
    }

    #[test]
    fn concatenated_members_are_read() {
        let mut data = gz(b"a");
        data.extend(gz(b"b"));
        let mut out = Vec::new();
        BoundedGzip::new(&data[..], 100)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"ab");
    }
}
