//! Encoders: the one place that decides what a record's bytes are, for every format.
//!
//! The engine produces typed [`Event`]s; a sink asks for its policy format, and this module
//! turns each event into one record (a single line of UTF-8 with no line terminator, so a
//! record can never split into two, and a reader can never be made to see a forged one).
//! Truncations are counted here, once per encoded record.

use crate::event::Event;
use crate::metrics::{Metric, Metrics};
use crate::policy::Format;

/// Encodes one event in `format`; returns the record and the number of truncated fields.
pub fn encode(format: Format, event: &Event, field_max_bytes: usize) -> (String, usize) {
    match format {
        Format::Ecs => crate::ecs::encode(event, field_max_bytes),
        Format::Ocsf => crate::ocsf::encode(event, field_max_bytes),
        Format::Cef => crate::cef::encode(event, field_max_bytes),
        Format::Owasp => crate::owasp::encode(event, field_max_bytes),
    }
}

/// Encodes a request's events (the event, then its alerts) in `format`, counting truncations.
pub fn records(
    format: Format,
    events: &[Event],
    field_max_bytes: usize,
    metrics: &mut impl Metrics,
) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let (line, truncated) = encode(format, e, field_max_bytes);
            if truncated > 0 {
                metrics.add(Metric::Truncations, truncated as u64);
            }
            line
        })
        .collect()
}
