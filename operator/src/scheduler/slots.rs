//! Slot arithmetic, pure: where a monitor's checks fall in time.
//!
//! A monitor with interval `I` checks at the instants `t` with `t ≡ offset (mod I)`, where
//! `offset = hash(id) mod I` (times in ms since the epoch). So 10,000 monitors created at
//! once spread evenly across their interval instead of firing together, each monitor's
//! phase is stable across restarts and schedulers, and `next = slot + I` never drifts.

use chrono::{DateTime, TimeDelta, Utc};

/// A well-mixed 64-bit hash of the id (SplitMix64's finaliser): consecutive ids land far
/// apart, so their offsets are spread across the interval.
pub fn spread_hash(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The first slot of monitor `id` strictly after `now`.
pub fn first_slot(id: u64, interval_ms: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval = i64::try_from(interval_ms.max(1)).unwrap_or(i64::MAX);
    let offset = i64::try_from(spread_hash(id) % interval_ms.max(1)).unwrap_or(0);
    let now_ms = ms(now);
    let phase = (now_ms - offset).rem_euclid(interval);
    at(now_ms - phase + interval)
}

/// The slot after `slot`: `slot + interval`, or, when that is already past (the scheduler
/// was down), the first slot of the same phase after `now`, so missed slots are skipped
/// instead of being dispatched in a burst.
pub fn next_slot(slot: DateTime<Utc>, interval_ms: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval = TimeDelta::milliseconds(i64::try_from(interval_ms.max(1)).unwrap_or(i64::MAX));
    let next = slot + interval;
    if next > now {
        return next;
    }
    let behind = (ms(now) - ms(slot)) / interval.num_milliseconds();
    slot + interval * i32::try_from(behind + 1).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_first_slot_is_in_the_next_interval_and_keeps_the_monitors_phase() {
        let now = t(0);
        for id in 1..200 {
            let slot = first_slot(id, 30_000, now);
            assert!(slot > now && slot <= now + TimeDelta::seconds(30));
            // Asking later gives a slot of the same phase.
            let later = first_slot(id, 30_000, now + TimeDelta::seconds(47));
            assert_eq!((later - slot).num_milliseconds() % 30_000, 0);
        }
    }

    #[test]
    fn first_slots_of_many_monitors_spread_evenly_over_the_interval() {
        let now = t(0);
        let mut buckets = [0u32; 10];
        for id in 1..=10_000 {
            let offset = (first_slot(id, 10_000, now) - now).num_milliseconds();
            buckets[usize::try_from((offset - 1) / 1000).unwrap()] += 1;
        }
        for count in buckets {
            assert!((850..=1150).contains(&count), "uneven spread: {buckets:?}");
        }
    }

    #[test]
    fn next_slot_is_drift_free_and_skips_missed_slots() {
        assert_eq!(next_slot(t(0), 30_000, t(1)), t(30));
        assert_eq!(
            next_slot(t(0), 30_000, t(29)),
            t(30),
            "late dispatch does not shift the phase"
        );
        assert_eq!(
            next_slot(t(0), 30_000, t(95)),
            t(120),
            "an outage skips to the next future slot"
        );
        assert_eq!(next_slot(t(0), 30_000, t(30)), t(60));
    }
}
