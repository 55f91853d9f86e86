//! The connection rules of `listen`, `demo` and `serve` (design 9.8): a deadline for
//! each connection's first request head, and a cap on open connections beyond which
//! a new connection is closed at once, never left waiting in the backlog.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a new connection may take to send its request head (design 9.8).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections a receiver keeps open; a connection beyond it is closed at
/// once (design 9.8).
pub(crate) const MAX_CONNECTIONS: usize = 4096;

/// A listener that closes connections beyond its cap at once and gives each
/// connection a deadline for its first request head (axum, warp and `serve`;
/// actix-web accepts on its own: see [`ActixConnectionCap`]).
pub(crate) struct LimitedListener {
    inner: tokio::net::TcpListener,
    permits: Arc<Semaphore>,
    header_timeout: Duration,
}

impl LimitedListener {
    pub(crate) fn new(
        inner: tokio::net::TcpListener,
        max_connections: usize,
        header_timeout: Duration,
    ) -> LimitedListener {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections)),
            header_timeout,
        }
    }

    /// The next connection within the cap; those beyond it are closed at once.
    pub(crate) async fn next(&mut self) -> (LimitedStream, SocketAddr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: back off briefly.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => {
                    let stream = LimitedStream {
                        stream,
                        _permit: permit,
                        deadline: Some(Box::pin(tokio::time::sleep(self.header_timeout))),
                        matched: 0,
                    };
                    return (stream, addr);
                }
                Err(_) => drop(stream),
            }
        }
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        self.next().await
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// How many refused connections actix-web may still be closing before its own
/// `max_connections` pauses accepting (see [`ActixConnectionCap`]).
const ACTIX_CLOSING_MARGIN: usize = 1024;

/// The connection cap on actix-web, which accepts connections itself. Its own
/// `max_connections` is no cap in the sense of design 9.8: at the limit its accept
/// loop pauses, and the extra connections wait in the kernel's backlog. So actix-web
/// is given room for [`ACTIX_CLOSING_MARGIN`] more, and the cap is kept in
/// `on_connect`: each accepted connection takes a permit, held in the connection's
/// data until actix-web drops the connection; one that gets no permit is shut down
/// at once, before anything is read from it.
#[derive(Debug, Clone)]
pub(crate) struct ActixConnectionCap {
    permits: Arc<Semaphore>,
    max_connections: usize,
}

impl ActixConnectionCap {
    pub(crate) fn new(max_connections: usize) -> ActixConnectionCap {
        ActixConnectionCap {
            permits: Arc::new(Semaphore::new(max_connections)),
            max_connections,
        }
    }

    /// What to give actix-web's own `max_connections`: above the cap, so that the
    /// connections over it are accepted and closed rather than left waiting.
    pub(crate) fn actix_max_connections(&self) -> usize {
        self.max_connections.saturating_add(ACTIX_CLOSING_MARGIN)
    }

    /// The `on_connect` callback: admits `io` within the cap, else shuts it down.
    pub(crate) fn admit(&self, io: &dyn Any, data: &mut actix_web::dev::Extensions) {
        // actix-web's TCP listener hands over tokio's stream; anything else (none is
        // configured) would go uncounted.
        let Some(stream) = io.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                data.insert(permit);
            }
            Err(_) => {
                // actix-web then reads the end of the stream and drops the connection.
                let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A connection holding one of the listener's permits; its reads fail with
/// `TimedOut` when the first request head (up to its blank line) has not arrived
/// by the deadline.
pub(crate) struct LimitedStream {
    stream: tokio::net::TcpStream,
    _permit: OwnedSemaphorePermit,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How much of `\r\n\r\n` the bytes read so far end with.
    matched: usize,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request head not received in time",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.deadline.is_some() && matches!(result, Poll::Ready(Ok(()))) {
            for &byte in &buf.filled()[before..] {
                this.matched = if byte == b"\r\n\r\n"[this.matched] {
                    this.matched + 1
                } else {
                    usize::from(byte == b'\r')
                };
                if this.matched == 4 {
                    this.deadline = None;
                    break;
                }
            }
        }
        result
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn limited(max: usize, timeout: Duration) -> (LimitedListener, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (LimitedListener::new(listener, max, timeout), addr)
    }

    /// Connects to `addr` and checks that the connection is closed at once (within
    /// 5 s), not left waiting in the backlog.
    async fn assert_closed_at_once(addr: SocketAddr) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("the connection over the cap was left waiting");
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    }

    /// design 9.8: connections beyond the cap are closed at once, never left waiting;
    /// a closed connection frees its place.
    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_at_once() {
        let (mut listener, addr) = limited(2, Duration::from_secs(10)).await;
        let first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (held_one, _) = listener.next().await;
        let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (_held_two, _) = listener.next().await;
        let accepting = tokio::spawn(async move {
            let accepted = listener.next().await;
            (listener, accepted)
        });
        // Over the cap: closed at once, while the accept loop goes on.
        assert_closed_at_once(addr).await;
        // A closed connection frees its place for the next one.
        drop(held_one);
        drop(first);
        let mut fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (_listener, (mut fourth_server, _)) =
            tokio::time::timeout(Duration::from_secs(5), accepting)
                .await
                .unwrap()
                .unwrap();
        fourth.write_all(b"x").await.unwrap();
        let mut byte = [0u8; 1];
        fourth_server.read_exact(&mut byte).await.unwrap();
        assert_eq!(&byte, b"x");
    }

    /// The same rule on actix-web, which accepts on its own: a connection over the cap
    /// is closed at once rather than left in the backlog, and a closed connection frees
    /// its place.
    #[tokio::test]
    async fn actix_web_closes_connections_beyond_the_cap_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let verifier = megabot_webhook_verify::Verifier::builder()
            .megabot_secret(megabot_webhook_verify::Secret::new("cap-test-secret").unwrap())
            .build()
            .unwrap();
        let handler: crate::receiver::AsyncHandler = Arc::new(|_| {
            Box::pin(std::future::ready(crate::receiver::Answer {
                status: 200,
                content_type: None,
                body: Vec::new(),
            }))
        });
        let server = crate::receiver::actix_server(
            listener,
            "/webhook".to_owned(),
            verifier,
            handler,
            ActixConnectionCap::new(2),
        )
        .unwrap();
        let stop = server.handle();
        tokio::spawn(server);

        // A request answered (404: no such route, no body) on a kept-alive connection
        // shows it was admitted.
        async fn answered(stream: &mut tokio::net::TcpStream) -> bool {
            let request = b"GET /nothing HTTP/1.1\r\nhost: x\r\n\r\n";
            if stream.write_all(request).await.is_err() {
                return false;
            }
            let mut head = Vec::new();
            let read_head = async {
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return false,
                    }
                }
                true
            };
            matches!(
                tokio::time::timeout(Duration::from_secs(5), read_head).await,
                Ok(true)
            ) && head.starts_with(b"HTTP/1.1 404")
        }
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(answered(&mut first).await);
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(answered(&mut second).await);

        // Over the cap: closed at once, not left waiting.
        assert_closed_at_once(addr).await;

        // A closed connection frees its place (once actix-web has seen it close).
        drop(first);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut next = tokio::net::TcpStream::connect(addr).await.unwrap();
            if answered(&mut next).await {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no place was freed by the closed connection"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            answered(&mut second).await,
            "the second connection was dropped"
        );
        stop.stop(false).await;
    }

    /// design 9.8: a request head that does not arrive in time fails the connection's
    /// reads; one that did arrive lifts the deadline for the body.
    #[tokio::test]
    async fn a_slow_request_head_times_out() {
        let (mut listener, addr) = limited(8, Duration::from_millis(300)).await;
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"POST /webhook HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let (mut server, _) = listener.next().await;
        let mut buffer = vec![0u8; 1024];
        let started = std::time::Instant::now();
        let error = loop {
            match server.read(&mut buffer).await {
                Ok(0) => panic!("closed instead of timing out"),
                Ok(_) => continue,
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));

        let mut quick = tokio::net::TcpStream::connect(addr).await.unwrap();
        quick
            .write_all(b"POST / HTTP/1.1\r\nhost: x\r\n\r\nab")
            .await
            .unwrap();
        let (mut server, _) = listener.next().await;
        let mut head = vec![0u8; 30];
        server.read_exact(&mut head).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        quick.write_all(b"cd").await.unwrap();
        let mut rest = [0u8; 2];
        server.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"cd");
    }
}
