//! Reading a request body from a framework's chunk stream with a cap.

use std::fmt::Display;
use std::pin::pin;

use bytes::Buf;
use futures_core::Stream;
use futures_util::StreamExt;

use crate::Error;
use crate::decode::{BodyDecoder, Encoding};
use crate::limits::{Limits, Reservation};

/// Reads `stream` chunk by chunk into a decoder for `encoding` whose decoded output is
/// capped at `limit` bytes, within `limits` (design 9.8).
///
/// A declared `content_length` over the cap is refused before anything is read; chunked
/// bodies are counted as they arrive and reading stops at the first chunk over the cap.
/// The body's share of the buffer budget (its declared length up front, then its
/// decoded size as it grows) is returned with it, to be held until it is verified.
/// The whole body must arrive within the read timeout; a body shorter than its declared
/// length is [`Error::BodyTruncated`].
pub(crate) async fn read_body<S, B, E>(
    stream: S,
    content_length: Option<u64>,
    encoding: Encoding,
    limit: usize,
    limits: &Limits,
) -> Result<(Vec<u8>, Reservation), Error>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    let mut decoder = BodyDecoder::new(encoding, limit);
    decoder.check_content_length(content_length)?;
    let mut reservation = limits.reservation();
    if let Some(length) = content_length {
        // Under the wire cap (checked above), so it fits a usize.
        let declared = usize::try_from(length).unwrap_or(usize::MAX);
        // A gzip body's decoded size is only known as it grows.
        if encoding == Encoding::Identity {
            reservation.grow_to(declared)?;
        }
    }
    let reading = read_chunks(stream, content_length, &mut decoder, &mut reservation);
    match tokio::time::timeout(limits.read_timeout(), reading).await {
        Ok(result) => result?,
        Err(_elapsed) => return Err(Error::BodyReadTimeout),
    }
    Ok((decoder.finish()?, reservation))
}

async fn read_chunks<S, B, E>(
    stream: S,
    content_length: Option<u64>,
    decoder: &mut BodyDecoder,
    reservation: &mut Reservation,
) -> Result<(), Error>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    let mut received: u64 = 0;
    let short = |received: u64| content_length.is_some_and(|length| received < length);
    let mut stream = pin!(stream);
    while let Some(chunk) = stream.next().await {
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                tracing::debug!(%error, "reading the webhook body failed");
                return Err(if short(received) {
                    Error::BodyTruncated
                } else {
                    Error::BodyRead
                });
            }
        };
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let len = piece.len();
            received = received.saturating_add(len as u64);
            decoder.push(piece)?;
            reservation.grow_to(decoder.buffered())?;
            chunk.advance(len);
        }
    }
    if short(received) {
        return Err(Error::BodyTruncated);
    }
    Ok(())
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
    use futures_util::{FutureExt, stream};
    use std::time::Duration;

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
            .enable_time()
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
            &Limits::global(),
        ));
        assert_eq!(body.unwrap().0, b"abcd");
    }

    #[test]
    fn stops_at_the_first_chunk_over_the_cap() {
        // The stream would go on forever; reading must stop at the cap.
        let endless = stream::repeat_with(|| Ok::<_, String>(Bytes::from_static(b"0123456789")));
        let error = block_on(read_body(
            endless,
            None,
            Encoding::Identity,
            1000,
            &Limits::global(),
        ))
        .unwrap_err();
        assert_eq!(error.status(), 413);
    }

    #[test]
    fn refuses_a_declared_length_over_the_cap_before_reading() {
        let failing = stream::once(async { Err::<Bytes, _>("must not be read".to_owned()) });
        let error = block_on(read_body(
            failing,
            Some(5),
            Encoding::Identity,
            4,
            &Limits::global(),
        ))
        .unwrap_err();
        assert_eq!(error.code(), "body_too_large");
    }

    #[test]
    fn transport_errors_are_body_read_errors() {
        let failing = stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err("reset".to_owned())]);
        let error = block_on(read_body(
            failing,
            None,
            Encoding::Identity,
            4,
            &Limits::global(),
        ))
        .unwrap_err();
        assert_eq!(error.code(), "body_read_failed");
        assert_eq!(error.status(), 400);
    }

    /// design 9.8: bodies being read together never hold more than the budget; a request
    /// whose declared length would exceed what is left is refused at once, unread.
    #[test]
    fn a_declared_length_over_the_budget_left_is_refused_unread() {
        block_on(async {
            let limits = Limits::global().buffer_budget(1 << 20);
            let cap = 2 << 20;
            // A slow body: declared 600 KiB, sends 1 KiB, then stalls.
            let stalled = stream::iter([Ok::<_, String>(Bytes::from(vec![b'a'; 1024]))])
                .chain(stream::pending());
            let slow = read_body(stalled, Some(600 << 10), Encoding::Identity, cap, &limits);
            let mut slow = Box::pin(slow);
            assert!(slow.as_mut().now_or_never().is_none());
            assert_eq!(limits.buffer_budget_in_use(), 600 << 10);
            // A second one would pass the 1 MiB budget: refused before any read.
            let failing = stream::once(async { Err::<Bytes, _>("must not be read".to_owned()) });
            let error = read_body(failing, Some(600 << 10), Encoding::Identity, cap, &limits)
                .await
                .unwrap_err();
            assert_eq!(
                (error.code(), error.status(), error.retry_after()),
                ("buffer_budget_exhausted", 503, Some(1))
            );
            assert!(error.response().close, "the connection is closed");
            assert_eq!(limits.buffer_budget_in_use(), 600 << 10);
            // A small one still fits.
            let (body, held) = read_body(
                chunks(&[b"0123456789"]),
                Some(10),
                Encoding::Identity,
                cap,
                &limits,
            )
            .await
            .unwrap();
            assert_eq!(body.len(), 10);
            drop(held);
            drop(slow);
            assert_eq!(limits.buffer_budget_in_use(), 0);
        });
    }

    /// Chunked bodies take their share as they grow: concurrent slow bodies that would
    /// together pass the budget are refused at the chunk that would pass it.
    #[test]
    fn growing_bodies_stop_at_the_budget() {
        block_on(async {
            let limits = Limits::global().buffer_budget(1 << 20);
            let cap = 2 << 20;
            let piece = || Ok::<_, String>(Bytes::from(vec![b'a'; 64 << 10]));
            // First: 512 KiB, then stalls (holding its share).
            let first = stream::iter((0..8).map(|_| piece())).chain(stream::pending());
            let mut first = Box::pin(read_body(first, None, Encoding::Identity, cap, &limits));
            assert!(first.as_mut().now_or_never().is_none());
            assert_eq!(limits.buffer_budget_in_use(), 512 << 10);
            // Second: endless 64 KiB chunks; refused once it would pass what is left.
            let second = stream::iter(std::iter::repeat_with(piece));
            let error = read_body(second, None, Encoding::Identity, cap, &limits)
                .await
                .unwrap_err();
            assert_eq!(error.code(), "buffer_budget_exhausted");
            assert!(limits.buffer_budget_in_use() <= limits.buffer_budget_total());
            assert_eq!(limits.buffer_budget_in_use(), 512 << 10);
            drop(first);
            assert_eq!(limits.buffer_budget_in_use(), 0);
        });
    }

    #[test]
    fn a_stalled_body_times_out() {
        block_on(async {
            let limits = Limits::global().body_read_timeout(Duration::from_millis(100));
            let stalled =
                stream::iter([Ok::<_, String>(Bytes::from_static(b"ab"))]).chain(stream::pending());
            let error = read_body(stalled, Some(10), Encoding::Identity, 100, &limits)
                .await
                .unwrap_err();
            assert_eq!((error.code(), error.status()), ("body_read_timeout", 408));
            assert_eq!(limits.buffer_budget_in_use(), 0);
        });
    }

    #[test]
    fn a_body_shorter_than_its_content_length_is_truncated() {
        let error = block_on(read_body(
            chunks(&[b"abc"]),
            Some(10),
            Encoding::Identity,
            100,
            &Limits::global(),
        ))
        .unwrap_err();
        assert_eq!((error.code(), error.status()), ("body_truncated", 400));
        // The connection failing early counts as truncated as well.
        let failing = stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err("eof".to_owned())]);
        let error = block_on(read_body(
            failing,
            Some(10),
            Encoding::Identity,
            100,
            &Limits::global(),
        ))
        .unwrap_err();
        assert_eq!(error.code(), "body_truncated");
    }

    #[test]
    fn content_length_parsing() {
        assert_eq!(content_length(Some(" 12 ")), Some(12));
        assert_eq!(content_length(Some("x")), None);
        assert_eq!(content_length(None), None);
    }
}
