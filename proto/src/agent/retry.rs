//! When to try a request again: exponential backoff with jitter from a seeded generator,
//! a provider's `retry-after` honoured, every delay capped.

/// A tiny deterministic generator (SplitMix64), seeded by the caller.
///
/// Not for secrets: it only spreads retries so many clients do not wake together.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(range) => self.next_u64() % range,
            None => self.next_u64(),
        }
    }
}

/// Exponential backoff: the delay before retry `n` (1 for the first retry) is drawn
/// from `[d/2, d]` with `d = min(base · 2^(n-1), cap)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay before jitter, in ms.
    pub base_ms: u64,
    /// The longest delay, in ms; a provider's `retry-after` is capped by it too.
    pub cap_ms: u64,
}

impl Backoff {
    /// The delay before retry number `retry` (counted from 1), in ms.
    ///
    /// A provider's `retry_after_ms` replaces the computed delay (it knows when capacity
    /// returns), capped like any other delay.
    pub fn delay_ms(&self, retry: u32, retry_after_ms: Option<u64>, rng: &mut Rng) -> u64 {
        if let Some(ms) = retry_after_ms {
            return ms.min(self.cap_ms);
        }
        let shift = retry.saturating_sub(1).min(32);
        let full = self.base_ms.saturating_mul(1u64 << shift).min(self.cap_ms);
        let half = full / 2;
        half + rng.up_to(full - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base_ms: 1_000,
        cap_ms: 60_000,
    };

    #[test]
    fn delays_double_within_their_jitter_band_and_stop_at_the_cap() {
        let mut rng = Rng::new(7);
        for (retry, full) in [
            (1, 1_000),
            (2, 2_000),
            (3, 4_000),
            (7, 60_000),
            (40, 60_000),
        ] {
            for _ in 0..50 {
                let d = BACKOFF.delay_ms(retry, None, &mut rng);
                assert!(d >= full / 2 && d <= full, "retry {retry}: {d}");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let mut rng = Rng::new(1);
        assert_eq!(BACKOFF.delay_ms(1, Some(2_500), &mut rng), 2_500);
        assert_eq!(BACKOFF.delay_ms(5, Some(0), &mut rng), 0);
        assert_eq!(BACKOFF.delay_ms(1, Some(3_600_000), &mut rng), 60_000);
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (1..6)
                .map(|n| BACKOFF.delay_ms(n, None, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
