//! Time as plain values, so the core never reads a clock and builds for wasm32.
//!
//! [`Millis`] is a monotonic instant for deadlines and timeouts (the driver decides its
//! epoch, usually process start); [`UnixMillis`] is wall-clock time for durable records.

use serde::{Deserialize, Serialize};

/// A monotonic instant in milliseconds since an epoch chosen by the driver.
///
/// Only differences between two `Millis` from the same driver are meaningful.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Millis(pub u64);

impl Millis {
    /// This instant plus `ms` milliseconds, saturating at the end of time.
    pub fn add_ms(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Wall-clock time in milliseconds since 1970-01-01T00:00:00Z, for records on disk.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Millis(u64::MAX - 1).add_ms(5), Millis(u64::MAX));
        assert_eq!(Millis(10).since(Millis(20)), 0);
        assert_eq!(Millis(30).since(Millis(20)), 10);
    }
}
