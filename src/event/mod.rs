//! The Railz webhook as syncwatch understands it: the wire payload parsed
//! tolerantly, then normalised once into the summary that rules read.

mod parse;
mod summary;
mod wire;

pub use parse::{ParseError, parse_event};
pub use summary::{DataTypeTally, Event, Frequency, Period, Status};
