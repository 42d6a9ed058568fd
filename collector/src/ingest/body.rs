//! Request bodies: `Content-Encoding` identity, gzip or zstd, decompressed with a hard output bound so a
//! compression bomb stops at the limit instead of filling memory.

use std::io::Read;

/// How the request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// Not compressed.
    Identity,
    /// gzip (RFC 1952), one or more members.
    Gzip,
    /// Zstandard frames.
    Zstd,
}

impl ContentEncoding {
    /// Reads the `Content-Encoding` header value (absent means identity).
    pub fn from_header(value: Option<&str>) -> Result<Self, BodyError> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Ok(ContentEncoding::Identity),
            Some("gzip") | Some("x-gzip") => Ok(ContentEncoding::Gzip),
            Some("zstd") => Ok(ContentEncoding::Zstd),
            Some(other) => Err(BodyError::UnsupportedEncoding(other.to_owned())),
        }
    }

    /// The header value's canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentEncoding::Identity => "identity",
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Zstd => "zstd",
        }
    }
}

/// A body that cannot be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// An encoding other than identity, gzip and zstd.
    #[error("unsupported Content-Encoding `{0}` (use gzip, zstd or none)")]
    UnsupportedEncoding(String),
    /// The body decompresses to more than the limit.
    #[error("body decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The compressed stream is damaged or truncated.
    #[error("body is not valid {encoding}: {detail}")]
    Corrupt {
        /// The encoding claimed.
        encoding: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
}

/// Decodes `raw` into at most `max_decoded` bytes.
pub fn decode_body(raw: &[u8], encoding: ContentEncoding, max_decoded: usize) -> Result<Vec<u8>, BodyError> {
    match encoding {
        ContentEncoding::Identity => {
            if raw.len() > max_decoded {
                return Err(BodyError::TooLarge { limit: max_decoded });
            }
            Ok(raw.to_vec())
        }
        ContentEncoding::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(raw), encoding, max_decoded),
        ContentEncoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| corrupt(encoding, &e))?;
            read_bounded(decoder, encoding, max_decoded)
        }
    }
}

fn read_bounded(reader: impl Read, encoding: ContentEncoding, max_decoded: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let bound = u64::try_from(max_decoded).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(bound)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(encoding, &e))?;
    if out.len() > max_decoded {
        return Err(BodyError::TooLarge { limit: max_decoded });
    }
    Ok(out)
}

fn corrupt(encoding: ContentEncoding, err: &std::io::Error) -> BodyError {
    let detail = if err.kind() == std::io::ErrorKind::UnexpectedEof {
        "stream ends early (truncated)".to_owned()
    } else {
        err.to_string()
    };
    BodyError::Corrupt {
        encoding: encoding.as_str(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("in-memory write");
        enc.finish().expect("in-memory finish")
    }

    #[test]
    fn gzip_and_zstd_round_trip() {
        let data = b"{\"a\":1}\n{\"b\":2}\n".repeat(100);
        let gz = gzip(&data);
        assert_eq!(decode_body(&gz, ContentEncoding::Gzip, 1 << 20).expect("gzip"), data);
        let zs = zstd::encode_all(&data[..], 3).expect("zstd");
        assert_eq!(decode_body(&zs, ContentEncoding::Zstd, 1 << 20).expect("zstd"), data);
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let gz = gzip(&zeros);
        assert!(gz.len() < 64 << 10, "a bomb is small: {}", gz.len());
        assert!(matches!(
            decode_body(&gz, ContentEncoding::Gzip, 1 << 20),
            Err(BodyError::TooLarge { limit }) if limit == 1 << 20
        ));
        let zs = zstd::encode_all(&zeros[..], 3).expect("zstd");
        assert!(matches!(
            decode_body(&zs, ContentEncoding::Zstd, 1 << 20),
            Err(BodyError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_streams_are_corrupt() {
        let data = b"{\"a\":1}\n".repeat(1000);
        let gz = gzip(&data);
        let err = decode_body(&gz[..gz.len() / 2], ContentEncoding::Gzip, 1 << 20).expect_err("truncated gzip");
        assert!(err.to_string().contains("truncated"), "{err}");
        let zs = zstd::encode_all(&data[..], 3).expect("zstd");
        let err = decode_body(&zs[..zs.len() / 2], ContentEncoding::Zstd, 1 << 20).expect_err("truncated zstd");
        assert!(matches!(err, BodyError::Corrupt { encoding: "zstd", .. }), "{err}");
    }

    #[test]
    fn unknown_encodings_are_named() {
        let err = ContentEncoding::from_header(Some("br")).expect_err("brotli unsupported");
        assert!(err.to_string().contains("`br`"), "{err}");
        assert_eq!(
            ContentEncoding::from_header(Some("GZIP")).expect("case-insensitive"),
            ContentEncoding::Gzip
        );
    }
}
