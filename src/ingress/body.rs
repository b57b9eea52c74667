//! Reading a request body with a hard size limit, whether or not the client
//! sent a Content-Length: a chunked body is counted as it arrives.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use warp::Filter;

use super::rejection::Problem;

/// The body as bytes; a 413 once it exceeds `max` bytes, a 408 when it
/// has not all arrived within `timeout`.
pub fn limited(max: u64, timeout: Duration) -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |declared: Option<u64>, stream| async move {
            if declared.is_some_and(|len| len > max) {
                return Err(warp::reject::custom(Problem::TooLarge { max }));
            }
            match tokio::time::timeout(timeout, collect(stream, max, declared)).await {
                Ok(body) => body.map_err(warp::reject::custom),
                Err(_) => Err(warp::reject::custom(Problem::BodyTimeout { timeout })),
            }
        })
}

async fn collect<S, B>(stream: S, max: u64, declared: Option<u64>) -> Result<Bytes, Problem>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let capacity = declared.unwrap_or(8 * 1024).min(max) as usize;
    let mut body = BytesMut::with_capacity(capacity);
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|err| Problem::BodyRead(err.to_string()))?;
        if (body.len() + chunk.remaining()) as u64 > max {
            return Err(Problem::TooLarge { max });
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let len = part.len();
            body.extend_from_slice(part);
            chunk.advance(len);
        }
    }
    Ok(body.freeze())
}
