//! Reading a request body from a framework's chunk stream with a cap.

use std::fmt::Display;
use std::pin::pin;

use bytes::Buf;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::Error;
use crate::decode::{BodyDecoder, Encoding};

/// Reads `stream` chunk by chunk into a decoder for `encoding` whose decoded output is
/// capped at `limit` bytes.
///
/// A declared `content_length` over the cap is refused before anything is read; chunked
/// bodies are counted as they arrive and reading stops at the first chunk over the cap.
pub(crate) async fn read_body<S, B, E>(
    stream: S,
    content_length: Option<u64>,
    encoding: Encoding,
    limit: usize,
) -> Result<Vec<u8>, Error>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    let mut decoder = BodyDecoder::new(encoding, limit);
    decoder.check_content_length(content_length)?;
    let mut stream = pin!(stream);
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|error| {
            tracing::debug!(%error, "reading the webhook body failed");
            Error::BodyRead
        })?;
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let len = piece.len();
            decoder.push(piece)?;
            chunk.advance(len);
        }
    }
    decoder.finish()
}

/// Parses a `Content-Length` header value; anything unparsable counts as absent (the
/// HTTP server has already framed the body, and the cap still applies while reading).
pub(crate) fn content_length(value: Option<&str>) -> Option<u64> {
    value.and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::stream;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> {
        stream::iter(
            parts
                .iter()
                .map(|part| Ok(Bytes::from_static(part)))
                .collect::<Vec<_>>(),
        )
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn reads_all_chunks() {
        let body = block_on(read_body(
            chunks(&[b"ab", b"", b"cd"]),
            None,
            Encoding::Identity,
            4,
        ));
        assert_eq!(body.unwrap(), b"abcd");
    }

    #[test]
    fn stops_at_the_first_chunk_over_the_cap() {
        // The stream would go on forever; reading must stop at the cap.
        let endless = stream::repeat_with(|| Ok::<_, String>(Bytes::from_static(b"0123456789")));
        let error = block_on(read_body(endless, None, Encoding::Identity, 1000)).unwrap_err();
        assert_eq!(error.status(), 413);
    }

    #[test]
    fn refuses_a_declared_length_over_the_cap_before_reading() {
        let failing = stream::once(async { Err::<Bytes, _>("must not be read".to_owned()) });
        let error = block_on(read_body(failing, Some(5), Encoding::Identity, 4)).unwrap_err();
        assert_eq!(error.code(), "body_too_large");
    }

    #[test]
    fn transport_errors_are_body_read_errors() {
        let failing = stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err("reset".to_owned())]);
        let error = block_on(read_body(failing, None, Encoding::Identity, 4)).unwrap_err();
        assert_eq!(error.code(), "body_read_failed");
        assert_eq!(error.status(), 400);
    }

    #[test]
    fn content_length_parsing() {
        assert_eq!(content_length(Some(" 12 ")), Some(12));
        assert_eq!(content_length(Some("x")), None);
        assert_eq!(content_length(None), None);
    }
}
