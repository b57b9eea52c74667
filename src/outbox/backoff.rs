//! When to try again: exponential backoff with jitter, the receiver's own
//! Retry-After when it is longer, and a maximum age after which a message
//! is given up.

use std::time::{Duration, SystemTime};

use crate::deliver::Outcome;
use crate::store::{Delivery, Settle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure; it doubles with each failure.
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failed attempts (1 or more). `jitter` in
    /// [0, 1) spreads it over ±20% so that many messages failing together
    /// do not all come back at the same instant.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let delay = self.base.saturating_mul(1 << doublings).min(self.cap);
        delay.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
    }
}

/// What to do with `delivery` after an attempt that ended in `outcome`.
pub fn decide(
    delivery: &Delivery,
    outcome: &Outcome,
    now: SystemTime,
    backoff: Backoff,
    max_age: Duration,
    jitter: f64,
) -> Settle {
    let (reason, retry_after) = match outcome {
        Outcome::Delivered { detail } => return Settle::Delivered { answer: detail.clone() },
        Outcome::Permanent { reason } => {
            return Settle::Failed { error: reason.clone() };
        }
        Outcome::NotSent { reason } => return Settle::NotSent { reason: reason.clone() },
        Outcome::Transient { reason, retry_after } => (reason, *retry_after),
    };
    let failures = delivery.attempts + 1;
    // A receiver may ask for any wait (`Retry-After: 18446744073709551615`);
    // beyond max_age it changes nothing but the arithmetic.
    let asked = retry_after.unwrap_or_default().min(max_age + Duration::from_secs(1));
    let wait = backoff.delay(failures, jitter).max(asked);
    // Tried until max_age, not until the next wait would pass it: a
    // receiver back within max_age gets the message, the last try at the
    // deadline itself.
    let deadline = delivery.created_at + max_age;
    if now >= deadline {
        let error = format!(
            "gave up after {failures} attempts over {}: {reason}",
            crate::config::format_duration(Duration::from_secs(
                now.duration_since(delivery.created_at).unwrap_or_default().as_secs()
            ))
        );
        return Settle::Expired { error };
    }
    let at = now.checked_add(wait).unwrap_or(deadline).min(deadline);
    Settle::Retry {
        at,
        error: reason.clone(),
    }
}

/// Whether `delivery` is too old to be sent at all: checked before every
/// attempt, so an alert held back by an outage, a restart or pacing is not
/// delivered hours late as if it were news.
pub fn expired(delivery: &Delivery, now: SystemTime, max_age: Duration) -> Option<Settle> {
    let age = now.duration_since(delivery.created_at).unwrap_or_default();
    (age > max_age).then(|| Settle::Expired {
        error: format!(
            "not sent: {} old, older than delivery.max_age ({})",
            crate::config::format_duration(Duration::from_secs(age.as_secs())),
            crate::config::format_duration(max_age)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Message;

    fn delivery(attempts: u32, created_at: SystemTime) -> Delivery {
        Delivery {
            id: 1,
            channel: "ops".into(),
            rule: "r".into(),
            request_id: None,
            message: Message::Slack {
                payload: serde_json::json!({}),
                thread: None,
            },
            created_at,
            attempts,
            digest: false,
        }
    }

    fn transient(retry_after: Option<Duration>) -> Outcome {
        Outcome::Transient {
            reason: "503 Service Unavailable".into(),
            retry_after,
        }
    }

    #[test]
    fn the_wait_doubles_from_one_second_up_to_five_minutes() {
        let backoff = Backoff::default();
        let waits: Vec<u64> = [1, 2, 3, 4, 9, 10, 40]
            .iter()
            .map(|&n| backoff.delay(n, 0.5).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 256, 300, 300]);
    }

    #[test]
    fn jitter_spreads_the_wait_by_a_fifth_either_way() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(4, 0.0), Duration::from_millis(6400));
        assert_eq!(backoff.delay(4, 0.999_999).as_millis(), 9599);
    }

    #[test]
    fn a_transient_failure_is_retried_after_the_backoff() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let settle = decide(
            &delivery(2, now),
            &transient(None),
            now,
            Backoff::default(),
            Duration::from_secs(86_400),
            0.5,
        );
        assert_eq!(
            settle,
            Settle::Retry {
                at: now + Duration::from_secs(4),
                error: "503 Service Unavailable".into()
            }
        );
    }

    #[test]
    fn retry_after_wins_when_it_is_longer() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let outcome = transient(Some(Duration::from_secs(30)));
        let settle = decide(
            &delivery(0, now),
            &outcome,
            now,
            Backoff::default(),
            Duration::from_secs(86_400),
            0.5,
        );
        assert!(matches!(settle, Settle::Retry { at, .. } if at == now + Duration::from_secs(30)));
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let now = SystemTime::now();
        let outcome = Outcome::Permanent {
            reason: "404 no_service".into(),
        };
        let settle = decide(
            &delivery(0, now),
            &outcome,
            now,
            Backoff::default(),
            Duration::from_secs(60),
            0.5,
        );
        assert_eq!(
            settle,
            Settle::Failed {
                error: "404 no_service".into()
            }
        );
    }

    #[test]
    fn the_last_try_is_at_max_age_and_a_failure_there_gives_up() {
        let created = SystemTime::UNIX_EPOCH;
        let max_age = Duration::from_secs(86_400);
        let fail_at = |now, attempts| {
            decide(
                &delivery(attempts, created),
                &transient(None),
                now,
                Backoff::default(),
                max_age,
                0.5,
            )
        };
        // 200 s before the deadline, a five-minute wait would pass it: the
        // retry comes at the deadline, not never.
        let settle = fail_at(created + Duration::from_secs(86_200), 20);
        assert_eq!(
            settle,
            Settle::Retry {
                at: created + max_age,
                error: "503 Service Unavailable".into()
            }
        );
        let Settle::Expired { error } = fail_at(created + max_age, 21) else {
            panic!("a failure at the deadline gives up");
        };
        assert_eq!(error, "gave up after 22 attempts over 1d: 503 Service Unavailable");
    }

    #[test]
    fn an_endless_retry_after_is_clamped_to_max_age() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let settle = decide(
            &delivery(0, now),
            &transient(Some(Duration::from_secs(u64::MAX))),
            now,
            Backoff::default(),
            Duration::from_secs(3600),
            0.5,
        );
        let Settle::Retry { at, .. } = settle else {
            panic!("{settle:?}");
        };
        assert_eq!(at, now + Duration::from_secs(3600), "one last try at max_age");
    }

    #[test]
    fn a_message_past_max_age_is_expired_before_any_attempt() {
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let max_age = Duration::from_secs(5);
        assert_eq!(
            expired(&delivery(0, created), created + Duration::from_secs(4), max_age),
            None
        );
        let Some(Settle::Expired { error }) =
            expired(&delivery(0, created), created + Duration::from_secs(13), max_age)
        else {
            panic!("expected an expiry")
        };
        assert_eq!(error, "not sent: 13s old, older than delivery.max_age (5s)");
    }
}
