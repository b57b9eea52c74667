//! Times are stored as milliseconds since the Unix epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// Whether a turn last taken at `last` is due again at `now`, once every
/// `every`. A `last` in the future (a clock set back, another instance's
/// clock ahead) waits no longer than `every` from now.
pub fn turn_due(last: SystemTime, every: Duration, now: SystemTime) -> bool {
    match now.duration_since(last) {
        Ok(elapsed) => elapsed >= every,
        Err(ahead) => ahead.duration() > every,
    }
}
