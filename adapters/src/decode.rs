//! Turning the body's wire bytes into the bytes that were signed, under a size cap.
//!
//! The signature covers the payload before any transport `Content-Encoding` (design 4.5),
//! so gzip bodies are decoded before verification. The cap applies to the decoded size:
//! decoding is streaming and stops at the first byte over the limit, so a gzip bomb is
//! refused without ever being inflated whole.

use std::io::{self, Write};

use flate2::write::MultiGzDecoder;
use megabot_webhook_verify::Error as VerifyError;

use crate::Error;

/// The transport encodings the adapters decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// No encoding (no header, or `identity`).
    Identity,
    /// `gzip` (or its alias `x-gzip`).
    Gzip,
}

impl Encoding {
    /// Reads a `Content-Encoding` header value: absent, empty or `identity` is
    /// [`Encoding::Identity`], `gzip` / `x-gzip` (any case, optionally listed with
    /// `identity`) is [`Encoding::Gzip`]; anything else, including gzip applied twice,
    /// is [`Error::UnsupportedEncoding`].
    pub(crate) fn from_header(value: Option<&str>) -> Result<Encoding, Error> {
        let Some(value) = value else {
            return Ok(Encoding::Identity);
        };
        let mut encoding = Encoding::Identity;
        for token in value.split(',').map(str::trim) {
            if token.is_empty() || token.eq_ignore_ascii_case("identity") {
                continue;
            }
            let is_gzip =
                token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip");
            if !is_gzip || encoding == Encoding::Gzip {
                return Err(Error::unsupported_encoding(value));
            }
            encoding = Encoding::Gzip;
        }
        Ok(encoding)
    }

    /// The most wire bytes accepted for a decoded limit of `limit` bytes.
    ///
    /// Identity bodies are the decoded bytes. A gzip stream can be slightly larger than
    /// its content when the content does not compress (stored blocks add 5 bytes per
    /// 64 KiB, plus a header and trailer), so it gets a small allowance; bounding the
    /// wire size also ends streams of empty blocks that never produce output.
    pub(crate) fn wire_limit(self, limit: usize) -> usize {
        match self {
            Encoding::Identity => limit,
            Encoding::Gzip => limit.saturating_add(limit / 256).saturating_add(1024),
        }
    }
}

/// Accepts the body chunk by chunk as it arrives and keeps the decoded bytes, refusing
/// as soon as the wire size or the decoded size passes its cap.
pub(crate) struct BodyDecoder {
    sink: Sink,
    wire_len: usize,
    wire_limit: usize,
    limit: usize,
}

enum Sink {
    Identity(Vec<u8>),
    Gzip(Box<MultiGzDecoder<CappedBuffer>>),
}

impl BodyDecoder {
    /// A decoder for `encoding` whose decoded output may hold at most `limit` bytes.
    pub(crate) fn new(encoding: Encoding, limit: usize) -> BodyDecoder {
        let sink = match encoding {
            Encoding::Identity => Sink::Identity(Vec::new()),
            Encoding::Gzip => Sink::Gzip(Box::new(MultiGzDecoder::new(CappedBuffer {
                buffer: Vec::new(),
                limit,
                exceeded: false,
            }))),
        };
        BodyDecoder {
            sink,
            wire_len: 0,
            wire_limit: encoding.wire_limit(limit),
            limit,
        }
    }

    /// Refuses up front a body whose declared `Content-Length` is over the wire cap.
    pub(crate) fn check_content_length(&self, content_length: Option<u64>) -> Result<(), Error> {
        match content_length {
            Some(length) if length > self.wire_limit as u64 => Err(self.too_large()),
            _ => Ok(()),
        }
    }

    /// Takes the next chunk of wire bytes.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.wire_len = self.wire_len.saturating_add(chunk.len());
        if self.wire_len > self.wire_limit {
            return Err(self.too_large());
        }
        match &mut self.sink {
            Sink::Identity(buffer) => {
                // wire_limit == limit for identity bodies: the check above is the cap.
                buffer.extend_from_slice(chunk);
                Ok(())
            }
            Sink::Gzip(decoder) => match decoder.write_all(chunk) {
                Ok(()) => Ok(()),
                Err(_) if decoder.get_ref().exceeded => Err(self.too_large()),
                Err(_) => Err(Error::InvalidGzip),
            },
        }
    }

    /// The decoded bytes held so far.
    pub(crate) fn buffered(&self) -> usize {
        match &self.sink {
            Sink::Identity(buffer) => buffer.len(),
            Sink::Gzip(decoder) => decoder.get_ref().buffer.len(),
        }
    }

    /// Ends the body and returns the decoded bytes (checking the gzip trailer).
    pub(crate) fn finish(self) -> Result<Vec<u8>, Error> {
        match self.sink {
            Sink::Identity(buffer) => Ok(buffer),
            Sink::Gzip(mut decoder) => match decoder.try_finish() {
                Ok(()) => match decoder.finish() {
                    Ok(capped) => Ok(capped.buffer),
                    Err(_) => Err(Error::InvalidGzip),
                },
                Err(_) if decoder.get_ref().exceeded => {
                    Err(VerifyError::BodyTooLarge { limit: self.limit }.into())
                }
                Err(_) => Err(Error::InvalidGzip),
            },
        }
    }

    fn too_large(&self) -> Error {
        VerifyError::BodyTooLarge { limit: self.limit }.into()
    }
}

impl std::fmt::Debug for BodyDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let encoding = match self.sink {
            Sink::Identity(_) => Encoding::Identity,
            Sink::Gzip(_) => Encoding::Gzip,
        };
        f.debug_struct("BodyDecoder")
            .field("encoding", &encoding)
            .field("wire_len", &self.wire_len)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// The decoder's output: refuses (with an error the decoder passes up) any write that
/// would take it past `limit`.
struct CappedBuffer {
    buffer: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl Write for CappedBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.len() > self.limit - self.buffer.len() {
            self.exceeded = true;
            return Err(io::Error::other("decoded body over the size limit"));
        }
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn decode(
        encoding: Encoding,
        limit: usize,
        wire: &[u8],
        chunk: usize,
    ) -> Result<Vec<u8>, Error> {
        let mut decoder = BodyDecoder::new(encoding, limit);
        for piece in wire.chunks(chunk.max(1)) {
            decoder.push(piece)?;
        }
        decoder.finish()
    }

    #[test]
    fn encoding_header() {
        assert_eq!(Encoding::from_header(None).unwrap(), Encoding::Identity);
        assert_eq!(Encoding::from_header(Some("")).unwrap(), Encoding::Identity);
        assert_eq!(
            Encoding::from_header(Some("Identity")).unwrap(),
            Encoding::Identity
        );
        assert_eq!(Encoding::from_header(Some("GZIP")).unwrap(), Encoding::Gzip);
        assert_eq!(
            Encoding::from_header(Some("x-gzip")).unwrap(),
            Encoding::Gzip
        );
        assert_eq!(
            Encoding::from_header(Some("identity, gzip")).unwrap(),
            Encoding::Gzip
        );
        for value in ["br", "deflate", "gzip, gzip", "gzip, br", "zstd"] {
            let error = Encoding::from_header(Some(value)).unwrap_err();
            assert_eq!(error.code(), "unsupported_encoding", "{value}");
            assert_eq!(error.status(), 415);
        }
    }

    #[test]
    fn identity_bodies_are_capped_at_the_limit() {
        assert_eq!(
            decode(Encoding::Identity, 10, b"0123456789", 3).unwrap(),
            b"0123456789"
        );
        let error = decode(Encoding::Identity, 10, b"0123456789a", 3).unwrap_err();
        assert_eq!(error.code(), "body_too_large");
        assert_eq!(error.status(), 413);
    }

    #[test]
    fn content_length_over_the_cap_is_refused_up_front() {
        let decoder = BodyDecoder::new(Encoding::Identity, 10);
        assert!(decoder.check_content_length(None).is_ok());
        assert!(decoder.check_content_length(Some(10)).is_ok());
        assert_eq!(
            decoder.check_content_length(Some(11)).unwrap_err().status(),
            413
        );
        let decoder = BodyDecoder::new(Encoding::Gzip, 1_000_000);
        assert!(decoder.check_content_length(Some(1_000_000)).is_ok());
        assert!(decoder.check_content_length(Some(u64::MAX)).is_err());
    }

    #[test]
    fn gzip_bodies_are_decoded_in_any_chunking() {
        let data = br#"{"event":"error_occurred","id":"evt_1","timestamp":1,"data":{}}"#.repeat(50);
        let wire = gzip(&data);
        for chunk in [1, 7, 64, wire.len()] {
            assert_eq!(
                decode(Encoding::Gzip, data.len(), &wire, chunk).unwrap(),
                data
            );
        }
    }

    #[test]
    fn gzip_cap_applies_to_the_decoded_size() {
        let data = vec![b'a'; 10_000];
        let wire = gzip(&data);
        assert!(wire.len() < 1_000);
        let error = decode(Encoding::Gzip, 9_999, &wire, 512).unwrap_err();
        assert_eq!(error.code(), "body_too_large");
    }

    #[test]
    fn gzip_bomb_stops_without_inflating_whole() {
        // 64 MiB of zeros compress to about 64 KiB.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            encoder.write_all(&zeros).unwrap();
        }
        let wire = encoder.finish().unwrap();
        let limit = 1 << 20;
        let mut decoder = BodyDecoder::new(Encoding::Gzip, limit);
        let mut refused = None;
        for piece in wire.chunks(16 * 1024) {
            if let Err(error) = decoder.push(piece) {
                refused = Some(error);
                break;
            }
        }
        let error = refused.expect("bomb refused while streaming");
        assert_eq!(error.status(), 413);
        if let Sink::Gzip(decoder) = &decoder.sink {
            assert!(decoder.get_ref().buffer.len() <= limit);
        }
    }

    #[test]
    fn corrupt_and_truncated_gzip_are_invalid() {
        let wire = gzip(b"hello world, hello world");
        let error = decode(Encoding::Gzip, 100, &wire[..wire.len() - 3], 4).unwrap_err();
        assert_eq!(error.code(), "invalid_gzip");
        let error = decode(Encoding::Gzip, 100, b"not gzip at all", 4).unwrap_err();
        assert_eq!(error.code(), "invalid_gzip");
        let mut flipped = wire.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 0xff; // CRC32
        let error = decode(Encoding::Gzip, 100, &flipped, 4).unwrap_err();
        assert_eq!(error.code(), "invalid_gzip");
    }

    #[test]
    fn several_gzip_members_are_concatenated() {
        let mut wire = gzip(b"hello ");
        wire.extend(gzip(b"world"));
        assert_eq!(
            decode(Encoding::Gzip, 100, &wire, 3).unwrap(),
            b"hello world"
        );
    }

    #[test]
    fn empty_block_streams_end_at_the_wire_cap() {
        let limit = 1000;
        let mut decoder = BodyDecoder::new(Encoding::Gzip, limit);
        let wire_limit = Encoding::Gzip.wire_limit(limit);
        let error = decoder.push(&vec![0u8; wire_limit + 1]).unwrap_err();
        assert_eq!(error.status(), 413);
    }
}
