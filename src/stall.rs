//! Stall timeouts: a body that stops delivering data, and a client socket
//! that stops taking it, each fail after `limits.body_idle_timeout`.
//!
//! Both watch *progress*, not total time: a large upload or download that
//! keeps moving, however slowly, is never cut off. A body also says when it
//! has been read whole, where the wait for the answer to an upload begins.

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

/// A body or socket made no progress for as long as it may.
#[derive(Debug, thiserror::Error)]
#[error("no progress for {after:?}")]
pub struct Stalled {
    pub after: Duration,
}

impl Stalled {
    /// Whether `err`, or anything in its source chain, is a stall.
    pub fn is_in(err: &(dyn std::error::Error + 'static)) -> bool {
        let mut cause = Some(err);
        while let Some(err) = cause {
            // An `io::Error`'s source skips the error it wraps; look inside.
            let wrapped = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<Stalled>());
            if wrapped || err.is::<Stalled>() {
                return true;
            }
            cause = err.source();
        }
        false
    }
}

/// Counts time from the first `Pending` after progress; progress disarms it.
struct StallTimer {
    limit: Duration,
    /// Kept across stalls so a busy stream allocates one timer, not one per stall.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl StallTimer {
    fn new(limit: Duration) -> StallTimer {
        StallTimer {
            limit,
            sleep: None,
            armed: false,
        }
    }

    /// The watched operation is pending: starts the clock if it is not
    /// running, and says whether the limit has passed. Registers `cx` to be
    /// woken when it does, so the owner polls again and sees it.
    fn pending(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            let deadline = Instant::now() + self.limit;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }

    fn progress(&mut self) {
        self.armed = false;
    }

    fn stalled(&self) -> Stalled {
        Stalled { after: self.limit }
    }
}

/// A body that fails with [`Stalled`] when its source delivers nothing
/// for the limit (an upload that stops, an upstream that goes quiet).
/// Time only counts while someone is waiting for the next frame.
pub struct TimedBody<B> {
    inner: B,
    timer: StallTimer,
    /// Fired at the end of the body (or its error), once someone asked
    /// with [`TimedBody::on_end`]; `None` once fired.
    ended: Option<oneshot::Sender<()>>,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, limit: Duration) -> TimedBody<B> {
        TimedBody {
            inner,
            timer: StallTimer::new(limit),
            ended: None,
        }
    }
}

impl<B: Body> TimedBody<B> {
    /// Resolves once the body has been read whole (or failed); `None` for a
    /// body that is already complete (most GETs).
    pub fn on_end(&mut self) -> Option<oneshot::Receiver<()>> {
        if self.inner.is_end_stream() {
            return None;
        }
        let (ended, receiver) = oneshot::channel();
        self.ended = Some(ended);
        Some(receiver)
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if this.timer.pending(cx) {
                    Poll::Ready(Some(Err(Box::new(this.timer.stalled()))))
                } else {
                    Poll::Pending
                }
            }
            Poll::Ready(frame) => {
                this.timer.progress();
                // hyper stops polling once a sized body says it has ended.
                let finished = !matches!(frame, Some(Ok(_))) || this.inner.is_end_stream();
                if let Some(ended) = this.ended.take_if(|_| finished) {
                    let _ = ended.send(());
                }
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A client socket whose writes fail with [`Stalled`] (as `TimedOut`)
/// once it has taken no bytes for the limit: a client that stops reading
/// cannot hold its connection, and the upstream response behind it, open.
/// Reads pass through: a quiet client is the idle timeout's business.
pub struct TimedSocket<S> {
    inner: S,
    timer: StallTimer,
}

impl<S> TimedSocket<S> {
    pub fn new(inner: S, limit: Duration) -> TimedSocket<S> {
        TimedSocket {
            inner,
            timer: StallTimer::new(limit),
        }
    }

    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Pending if self.timer.pending(cx) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                self.timer.stalled(),
            ))),
            Poll::Pending => Poll::Pending,
            ready => {
                self.timer.progress();
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedSocket<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedSocket<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use std::convert::Infallible;

    /// A body that sends `chunks` with `gap` between them, then ends.
    fn paced(chunks: usize, gap: Duration) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let stream = futures_util::stream::unfold(0, move |sent| async move {
            if sent == chunks {
                return None;
            }
            tokio::time::sleep(gap).await;
            Some((Ok(Frame::data(Bytes::from_static(b"x"))), sent + 1))
        });
        StreamBody::new(Box::pin(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_moving_is_never_cut_off_however_long_it_takes() {
        let body = TimedBody::new(
            paced(50, Duration::from_millis(900)),
            Duration::from_secs(1),
        );
        let whole = body.collect().await.expect("no stall").to_bytes();
        assert_eq!(whole.len(), 50);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_goes_quiet_for_the_limit_fails_as_stalled() {
        let body = TimedBody::new(paced(3, Duration::from_secs(2)), Duration::from_secs(1));
        let err = body.collect().await.expect_err("stalled");
        assert!(Stalled::is_in(&*err), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_takes_no_bytes_for_the_limit_fails_its_writes() {
        use tokio::io::AsyncWriteExt;
        // The peer never reads: once the pipe's buffer is full, writes wait.
        let (near, _far) = tokio::io::duplex(64);
        let mut socket = TimedSocket::new(near, Duration::from_secs(1));
        let err = socket.write_all(&[0; 4096]).await.expect_err("stalled");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(Stalled::is_in(&err));
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_whose_reader_keeps_up_slowly_is_not_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, mut far) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buf = [0; 64];
            loop {
                tokio::time::sleep(Duration::from_millis(900)).await;
                match far.read(&mut buf).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        });
        let mut socket = TimedSocket::new(near, Duration::from_secs(1));
        socket.write_all(&[0; 1024]).await.expect("no stall");
        socket.shutdown().await.expect("shutdown");
        drop(socket);
        assert_eq!(reader.await.expect("reader"), 1024);
    }
}
