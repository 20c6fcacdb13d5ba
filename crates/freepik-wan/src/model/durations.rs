//! The clip lengths a model takes, as its spec states them.

use std::fmt;

/// The durations a model accepts, in seconds: a list (Wan 2.2/2.5/2.6 send
/// them as the strings `"5"`, `"10"`, `"15"`) or a range (Wan 2.7's integer,
/// e.g. 2–15; video edit 0–10, where 0 keeps the input's length).
///
/// ```
/// use freepik_wan::{Durations, Model};
///
/// let m: Model = "text-to-video/wan-2-7".parse().unwrap();
/// assert_eq!(m.durations(), Some(Durations::Range { min: 2, max: 15 }));
/// assert!(m.durations().unwrap().allows(15));
/// let m: Model = "image-to-video/wan-v2-6-720p".parse().unwrap();
/// assert_eq!(m.durations().unwrap().to_string(), "5, 10, 15");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durations {
    /// One of these values (seconds, as the wire's strings).
    Choices(&'static [&'static str]),
    /// Any whole number of seconds from `min` to `max`, both included.
    Range {
        /// The least.
        min: i64,
        /// The greatest.
        max: i64,
    },
}

impl Durations {
    /// Whether `seconds` is one the model takes.
    pub fn allows(self, seconds: u32) -> bool {
        match self {
            Durations::Choices(values) => values.iter().any(|v| v.parse() == Ok(seconds)),
            Durations::Range { min, max } => (min..=max).contains(&i64::from(seconds)),
        }
    }

    /// From the body's `duration` field: its enum, else its bounds.
    pub(crate) fn of(field: &freepik_wan_api::models::Field) -> Option<Durations> {
        if !field.values.is_empty() {
            return Some(Durations::Choices(field.values));
        }
        Some(Durations::Range {
            min: field.minimum?,
            max: field.maximum?,
        })
    }
}

impl fmt::Display for Durations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Durations::Choices(values) => f.write_str(&values.join(", ")),
            Durations::Range { min, max } => write!(f, "{min}-{max}"),
        }
    }
}
