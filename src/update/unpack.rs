//! The compressed root filesystem of an update (`rootfs.img.gz`): unpacking it with the checks
//! that make a short, long or corrupt stream an error instead of a half-written slot.
//!
//! An update's root filesystem travels gzip-compressed (RFC 1952; `flate2` with its pure-Rust
//! inflater is linked already): an ext4 image is mostly free blocks, so the download is a
//! fraction of the raw image. The signed manifest lists the compressed file's size and SHA-256
//! (checked as it is downloaded, like every file) and, as [`Unpacked`], the raw image's size and
//! SHA-256. [`Tally`] is the pure part: it counts and hashes the unpacked bytes and refuses the
//! first byte past the listed size, so a gzip bomb never writes past the slot's image; [`judge`]
//! compares the result with the manifest. [`unpack`] runs the inflater over any reader into
//! any writer (the driver: into `io::sink()` to check a download before anything is written,
//! then into the slot's partition).

use std::io::{BufReader, Read, Write};

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::manifest::Unpacked;

/// Why an unpacked stream is refused.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("not a complete gzip stream: {0}")]
    Corrupt(String),
    #[error("unpacks to more than the {size} bytes the manifest lists")]
    TooLong { size: u64 },
    #[error("unpacks to {have} bytes, the manifest lists {size}")]
    Short { have: u64, size: u64 },
    #[error("unpacks to SHA-256 {got}, the manifest lists {want}")]
    Hash { got: String, want: String },
    #[error("cannot write the unpacked image: {0}")]
    Write(std::io::Error),
}

/// Counts and hashes unpacked bytes, at most `limit` of them.
#[derive(Debug, Clone)]
pub struct Tally {
    limit: u64,
    have: u64,
    hash: Sha256,
}

impl Tally {
    pub fn new(limit: u64) -> Tally {
        Tally {
            limit,
            have: 0,
            hash: Sha256::new(),
        }
    }

    /// Takes the next unpacked bytes; refuses them (and keeps nothing) when they would pass the
    /// limit.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), UnpackError> {
        if self.have + bytes.len() as u64 > self.limit {
            return Err(UnpackError::TooLong { size: self.limit });
        }
        self.hash.update(bytes);
        self.have += bytes.len() as u64;
        Ok(())
    }

    /// How many bytes so far.
    pub fn len(&self) -> u64 {
        self.have
    }

    pub fn is_empty(&self) -> bool {
        self.have == 0
    }

    /// The size and lower-case hex SHA-256 of everything fed.
    pub fn finish(self) -> Unpacked {
        Unpacked {
            size: self.have,
            sha256: hex::encode(self.hash.finalize()),
        }
    }
}

/// The unpacked stream is exactly what the manifest lists.
pub fn judge(got: &Unpacked, want: &Unpacked) -> Result<(), UnpackError> {
    if got.size != want.size {
        return Err(UnpackError::Short {
            have: got.size,
            size: want.size,
        });
    }
    if got.sha256 != want.sha256 {
        return Err(UnpackError::Hash {
            got: got.sha256.clone(),
            want: want.sha256.clone(),
        });
    }
    Ok(())
}

/// Inflates the gzip stream `compressed` into `out`, at most `limit` bytes; returns the size and
/// SHA-256 of what it wrote. A cut or corrupt stream (a bad header, a bad CRC, a missing end) is
/// [`UnpackError::Corrupt`]; `out` may then hold a prefix.
pub fn unpack<R: Read, W: Write>(
    compressed: R,
    out: &mut W,
    limit: u64,
) -> Result<Unpacked, UnpackError> {
    let mut gz = MultiGzDecoder::new(BufReader::with_capacity(1 << 20, compressed));
    let mut tally = Tally::new(limit);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match gz.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(UnpackError::Corrupt(e.to_string())),
        };
        tally.feed(&buf[..n])?;
        out.write_all(&buf[..n]).map_err(UnpackError::Write)?;
    }
    if tally.is_empty() {
        return Err(UnpackError::Corrupt("it unpacks to nothing".into()));
    }
    out.flush().map_err(UnpackError::Write)?;
    Ok(tally.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn raw() -> Vec<u8> {
        // An image-like payload: long runs of zeros between some data.
        let mut v = vec![0u8; 300_000];
        for (i, b) in v.iter_mut().enumerate().step_by(4096) {
            *b = (i / 4096) as u8;
        }
        v
    }

    fn listed(bytes: &[u8]) -> Unpacked {
        let mut t = Tally::new(u64::MAX);
        t.feed(bytes).unwrap();
        t.finish()
    }

    #[test]
    fn a_complete_stream_unpacks_to_the_listed_image() {
        let raw = raw();
        let packed = gz(&raw);
        assert!(packed.len() < raw.len() / 10, "{}", packed.len());
        let mut out = Vec::new();
        let got = unpack(&packed[..], &mut out, raw.len() as u64).unwrap();
        assert_eq!(out, raw);
        judge(&got, &listed(&raw)).unwrap();
        // Two gzip members (pigz, or cat a.gz b.gz) are one stream.
        let mut two = gz(&raw[..1000]);
        two.extend(gz(&raw[1000..]));
        let mut out = Vec::new();
        judge(
            &unpack(&two[..], &mut out, u64::MAX).unwrap(),
            &listed(&raw),
        )
        .unwrap();
    }

    #[test]
    fn a_cut_or_corrupt_stream_is_refused() {
        let raw = raw();
        let packed = gz(&raw);
        let e = unpack(&packed[..packed.len() - 9], &mut std::io::sink(), u64::MAX).unwrap_err();
        assert!(matches!(e, UnpackError::Corrupt(_)), "{e}");
        let mut flipped = packed.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(unpack(&flipped[..], &mut std::io::sink(), u64::MAX).is_err());
        // The raw image itself (not compressed), and nothing at all.
        let e = unpack(&raw[..], &mut std::io::sink(), u64::MAX).unwrap_err();
        assert!(matches!(e, UnpackError::Corrupt(_)), "{e}");
        let e = unpack(&b""[..], &mut std::io::sink(), u64::MAX).unwrap_err();
        assert!(matches!(e, UnpackError::Corrupt(_)), "{e}");
    }

    #[test]
    fn a_stream_longer_than_listed_stops_at_the_limit() {
        let raw = raw();
        let mut out = Vec::new();
        let e = unpack(&gz(&raw)[..], &mut out, 100_000).unwrap_err();
        assert!(matches!(e, UnpackError::TooLong { size: 100_000 }), "{e}");
        assert!(out.len() <= 100_000, "{}", out.len());
    }

    #[test]
    fn tally_refuses_past_the_limit_and_judge_compares_size_then_hash() {
        let mut t = Tally::new(5);
        t.feed(b"abc").unwrap();
        assert!(matches!(
            t.feed(b"def"),
            Err(UnpackError::TooLong { size: 5 })
        ));
        assert_eq!(t.len(), 3);
        t.feed(b"de").unwrap();
        let got = t.finish();
        assert_eq!(got, listed(b"abcde"));
        assert!(matches!(
            judge(&listed(b"abcd"), &got),
            Err(UnpackError::Short { have: 4, size: 5 })
        ));
        assert!(matches!(
            judge(&listed(b"abcdf"), &got),
            Err(UnpackError::Hash { .. })
        ));
    }
}
