//! Webhook bodies as stored: compressed (LZ4 block, its length in front),
//! because the body is most of what an event row writes. A Railz sync
//! payload shrinks to about half, and every byte not written is a byte
//! the commit does not copy into the WAL and the checkpoint not again into
//! the database. LZ4 because ingest is bound by CPU: it compresses a
//! payload in about a microsecond.
//!
//! Rows written before this (`body_lz4 = 0`) hold the body as received.

/// The body as the `body` column holds it.
pub fn pack(body: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(body)
}

/// The body as received, from the `body` column and its `body_lz4` flag.
pub fn unpack(stored: Vec<u8>, compressed: bool) -> rusqlite::Result<Vec<u8>> {
    if !compressed {
        return Ok(stored);
    }
    lz4_flex::block::decompress_size_prepended(&stored)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(err)))
}

#[cfg(test)]
mod tests {
    use super::{pack, unpack};

    #[test]
    fn a_body_reads_back_byte_for_byte_and_smaller() {
        let body = include_bytes!("../../../tests/fixtures/data-full.json");
        let stored = pack(body);
        assert!(
            stored.len() < body.len() * 2 / 3,
            "{} of {} bytes",
            stored.len(),
            body.len()
        );
        assert_eq!(unpack(stored, true).unwrap(), body);
    }

    #[test]
    fn a_body_stored_as_received_reads_back_as_it_is() {
        assert_eq!(unpack(b"{}".to_vec(), false).unwrap(), b"{}");
    }

    #[test]
    fn a_damaged_body_is_an_error_not_a_panic() {
        let mut stored = pack(b"{\"requestId\":\"abc\",\"data\":{}}");
        stored.truncate(stored.len() - 3);
        assert!(unpack(stored, true).is_err());
    }
}
