//! STOW-RS request bodies and WADO-RS responses are read by the multipart reader straight off
//! the connection: hostile bodies must end in a MultipartError, never panic or loop. Input: one
//! byte choosing the size of the pieces the body arrives in (boundaries split across pieces),
//! then the body; the boundary is always "B".
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use healthimaging_mcp::dicomweb::multipart_read::MultipartReader;
use http_body::{Body, Frame};
use libfuzzer_sys::fuzz_target;

/// A body that is always ready: the whole input, in pieces of one size.
struct Pieces {
    data: Bytes,
    size: usize,
}

impl Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.size.min(self.data.len());
        let piece = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }
}

/// Runs a future whose body never waits: every poll makes progress.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, body)) = data.split_first() else {
        return;
    };
    let body = Pieces {
        data: Bytes::copy_from_slice(body),
        size: usize::from(size).max(1),
    };
    let mut reader = MultipartReader::new(body, "B");
    run(async {
        while let Ok(Some(headers)) = reader.next_part().await {
            let _ = headers.content_type();
            if reader.part_bytes(1 << 16).await.is_err() {
                break;
            }
        }
    });
});
