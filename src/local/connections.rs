//! Accepting and serving connections (HTTP/1.1). A connection may wait at most `idle_timeout` for
//! the next request's headers (idle between requests, or sending them slowly), so half-open
//! connections do not pin the server. Shutdown lets requests that are being handled finish and
//! their answers go out, but never waits for a client that is idle or has sent only part of a
//! request: those connections are closed at once.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;
use tower_service::Service;

/// At shutdown, how long requests already being handled may take before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` until `shutdown` fires, then closes every connection (see the module notes).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: oneshot::Receiver<()>,
    idle_timeout: Duration,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // TCP_NODELAY: without it, delayed ACKs add ~40 ms per loopback request.
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(connection(tcp, router.clone(), stop_rx.clone(), idle_timeout));
                }
                Err(e) => {
                    // Out of descriptors and the like: let connections finish before retrying.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        tracing::warn!("requests still running at shutdown were dropped");
        connections.abort_all();
    }
}

/// Requests of one connection that have fully arrived and whose answer is not yet sent.
#[derive(Default)]
struct Handling {
    count: AtomicUsize,
    changed: Notify,
}

/// One request's place in `Handling`: taken when its body has fully arrived (or its answer is
/// ready, whichever comes first), released when the last holder — the answer's body — is dropped.
struct Claim {
    handling: Arc<Handling>,
    taken: AtomicBool,
}

impl Claim {
    fn take(&self) {
        if !self.taken.swap(true, Ordering::SeqCst) {
            self.handling.count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if *self.taken.get_mut() {
            self.handling.count.fetch_sub(1, Ordering::SeqCst);
            self.handling.changed.notify_one();
        }
    }
}

/// A body carrying a request's claim: a request body takes it when it ends; an answer's body
/// holds it until hyper is done with it.
struct Tracked<B> {
    inner: B,
    claim: Arc<Claim>,
}

impl<B: http_body::Body + Unpin> Tracked<B> {
    fn new(inner: B, claim: Arc<Claim>) -> Self {
        if inner.is_end_stream() {
            claim.take();
        }
        Self { inner, claim }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.claim.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting whether hyper has answer bytes the client has not taken yet.
struct Socket {
    tcp: TcpStream,
    write_blocked: Arc<AtomicBool>,
}

impl Socket {
    fn note<T>(&self, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        self.write_blocked
            .store(polled.is_pending(), Ordering::SeqCst);
        polled
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.note(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.note(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

async fn connection(
    tcp: TcpStream,
    router: Router,
    mut stop: watch::Receiver<bool>,
    idle_timeout: Duration,
) {
    let handling = Arc::new(Handling::default());
    let write_blocked = Arc::new(AtomicBool::new(false));
    let requests = handling.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let claim = Arc::new(Claim {
            handling: requests.clone(),
            taken: AtomicBool::new(false),
        });
        let req: Request = req.map(|b| Body::new(Tracked::new(b, claim.clone())));
        let mut router = router.clone();
        async move {
            // Router is always ready; `call` needs no `poll_ready` first.
            let response = router.call(req).await.unwrap_or_else(|e| match e {});
            claim.take();
            Ok::<_, Infallible>(response.map(|b| Body::new(Tracked::new(b, claim))))
        }
    });
    let socket = Socket {
        tcp,
        write_blocked: write_blocked.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    let conn = builder.serve_connection(TokioIo::new(socket), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    // Idle connections close here; one with a request being handled finishes it first.
    conn.as_mut().graceful_shutdown();
    loop {
        let busy = handling.count.load(Ordering::SeqCst) > 0;
        if !busy && !write_blocked.load(Ordering::SeqCst) {
            // Nothing owed to this client: it is idle or has sent only part of a request.
            return;
        }
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = handling.changed.notified() => {}
        }
    }
}
