//! Reading a request body with a hard size limit, whether or not the client
//! sent a Content-Length (a chunked body is counted as it arrives), and
//! within a budget shared by every request being read: unauthenticated
//! bodies cannot hold more memory than that, however many connections
//! send them.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::Filter;

use super::rejection::Problem;

/// The least the budget holds, whatever `max_body` is.
const MIN_BUDGET: u64 = 16 << 20;

/// Bytes of request bodies held in memory at once, across connections.
#[derive(Clone)]
pub struct Budget {
    bytes: Arc<Semaphore>,
}

impl Budget {
    /// Room for two bodies of the largest allowed size, and at least
    /// [`MIN_BUDGET`].
    pub fn for_max_body(max_body: u64) -> Budget {
        let total = (max_body.saturating_mul(2)).max(MIN_BUDGET);
        Budget {
            bytes: Arc::new(Semaphore::new(total.min(Semaphore::MAX_PERMITS as u64) as usize)),
        }
    }
}

/// A body's share of the budget, given back when dropped: once the
/// request is answered.
pub struct Held {
    _permits: Option<OwnedSemaphorePermit>,
}

/// The body as bytes; a 413 once it exceeds `max` bytes, a 408 when it
/// has not all arrived within `timeout`. While the budget is spent, reading
/// waits (the timeout still runs), so the data stays in the kernel.
pub fn limited(
    max: u64,
    timeout: Duration,
    budget: Budget,
) -> impl Filter<Extract = ((Bytes, Held),), Error = warp::Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |declared: Option<u64>, stream| {
            let budget = budget.clone();
            async move {
                if declared.is_some_and(|len| len > max) {
                    return Err(warp::reject::custom(Problem::TooLarge { max }));
                }
                match tokio::time::timeout(timeout, collect(stream, max, budget)).await {
                    Ok(body) => body.map_err(warp::reject::custom),
                    Err(_) => Err(warp::reject::custom(Problem::BodyTimeout { timeout })),
                }
            }
        })
}

/// Never sized from the declared length: a client may declare 4 MiB and
/// send nothing. Chunks are kept as they arrive, each copied to its exact
/// size (a doubling buffer would hold up to twice what the budget counts),
/// and joined once the body is complete.
async fn collect<S, B>(stream: S, max: u64, budget: Budget) -> Result<(Bytes, Held), Problem>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|err| Problem::BodyRead(err.to_string()))?;
        if (len + chunk.remaining()) as u64 > max {
            return Err(Problem::TooLarge { max });
        }
        let permits = budget
            .bytes
            .clone()
            .acquire_many_owned(chunk.remaining() as u32)
            .await
            .map_err(|_| Problem::BodyRead("the server is stopping".into()))?;
        match held.as_mut() {
            Some(held) => held.merge(permits),
            None => held = Some(permits),
        }
        len += chunk.remaining();
        // A copy, not a slice: a slice would keep hyper's whole read
        // buffer alive for as long as the body is held.
        let mut copy = Vec::with_capacity(chunk.remaining());
        while chunk.has_remaining() {
            let part = chunk.chunk();
            copy.extend_from_slice(part);
            let read = part.len();
            chunk.advance(read);
        }
        chunks.push(Bytes::from(copy));
    }
    Ok((join(chunks, len), Held { _permits: held }))
}

fn join(mut chunks: Vec<Bytes>, len: usize) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut body = BytesMut::with_capacity(len);
    for chunk in chunks {
        body.extend_from_slice(&chunk);
    }
    body.freeze()
}
