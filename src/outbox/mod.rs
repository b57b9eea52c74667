//! The delivery side of the queue: one worker per channel claims due
//! messages, sends them, and settles each with backoff, giving up only on
//! permanent errors or after `delivery.max_age`.

mod backoff;
mod resend;
mod senders;
mod threads;
mod worker;

pub use backoff::{Backoff, decide, expired};
pub use resend::{Resent, alertmanager_channels, resend};
pub use senders::{FallbackTo, Pace, SenderSlot, Senders};
pub use worker::{Lane, LaneHealth, Step, WorkerSettings};
