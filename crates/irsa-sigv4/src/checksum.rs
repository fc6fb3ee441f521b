//! Running checksums of the decoded payload, for the `x-amz-checksum-*` trailers.

use aws_lc_rs::digest;

use crate::s3::ChecksumAlgorithm;

/// A checksum being computed over the payload as it is decoded.
pub(crate) enum Checksum {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Digest(digest::Context),
}

impl Checksum {
    pub(crate) fn new(algorithm: ChecksumAlgorithm) -> Checksum {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Checksum::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Checksum::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => Checksum::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => {
                Checksum::Digest(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            ChecksumAlgorithm::Sha256 => Checksum::Digest(digest::Context::new(&digest::SHA256)),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Crc32(h) => h.update(data),
            Checksum::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            Checksum::Crc64Nvme(d) => d.write(data),
            Checksum::Digest(c) => c.update(data),
        }
    }

    /// The raw digest (big-endian for the CRCs, as S3 encodes them before base64).
    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Checksum::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Checksum::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            Checksum::Crc64Nvme(d) => d.sum64().to_be_bytes().to_vec(),
            Checksum::Digest(c) => c.finish().as_ref().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "check" values of the CRC catalogue (input `123456789`) and the digests'
    /// well-known values.
    #[test]
    fn known_values() {
        let check = |a, hex: &str| {
            let mut c = Checksum::new(a);
            c.update(b"1234");
            c.update(b"56789");
            assert_eq!(hex::encode(c.finish()), hex, "{a:?}");
        };
        check(ChecksumAlgorithm::Crc32, "cbf43926");
        check(ChecksumAlgorithm::Crc32c, "e3069283");
        check(ChecksumAlgorithm::Crc64Nvme, "ae8b14860a799888");
        check(
            ChecksumAlgorithm::Sha1,
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
        );
        check(
            ChecksumAlgorithm::Sha256,
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
        );
    }
}
