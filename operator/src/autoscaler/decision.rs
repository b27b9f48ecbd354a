//! The scaling decision, pure: `clamp(ceil(depth / targetPerReplica), min, max)`, up at
//! once, down only to the highest recommendation seen within the stabilisation window (the
//! rule Kubernetes' HorizontalPodAutoscaler uses), so a queue that drains between two
//! dispatch bursts does not make the checkers flap.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

/// Bounds and targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// Queued check batches one replica is expected to keep up with.
    pub target_per_replica: u32,
    /// How long a lower recommendation must persist before scaling down to it.
    pub stabilization: Duration,
}

impl Policy {
    /// Replicas for `depth` queued batches, before stabilisation.
    pub fn desired(&self, depth: u32) -> u32 {
        let wanted = depth.div_ceil(self.target_per_replica.max(1));
        wanted.clamp(self.min, self.max.max(self.min))
    }
}

/// Remembers recent recommendations for the stabilisation window.
#[derive(Clone, Debug)]
pub struct Recommender {
    policy: Policy,
    history: VecDeque<(Instant, u32)>,
}

impl Recommender {
    /// A recommender with no history.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            history: VecDeque::new(),
        }
    }

    /// The replicas to run now, given `depth` and the `current` replicas.
    pub fn recommend(&mut self, now: Instant, depth: u32, current: u32) -> u32 {
        let desired = self.policy.desired(depth);
        if self.history.is_empty() {
            // A new leader starts its window at what is running, so a restart or a leader
            // change never scales down at once.
            let bounded = current.clamp(self.policy.min, self.policy.max.max(self.policy.min));
            self.history.push_back((now, bounded));
        }
        self.history.push_back((now, desired));
        while let Some((at, _)) = self.history.front() {
            if now.duration_since(*at) > self.policy.stabilization {
                self.history.pop_front();
            } else {
                break;
            }
        }
        if desired >= current {
            return desired;
        }
        let highest = self
            .history
            .iter()
            .map(|(_, replicas)| *replicas)
            .max()
            .unwrap_or(desired);
        // Never below the window's highest recommendation, never above the current count
        // (a scale-down is only ever delayed, not turned into a scale-up), and within the
        // bounds even when `current` is outside them.
        highest
            .min(current)
            .clamp(self.policy.min, self.policy.max.max(self.policy.min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            min: 1,
            max: 10,
            target_per_replica: 20,
            stabilization: Duration::from_secs(60),
        }
    }

    #[test]
    fn desired_is_the_ceiling_within_bounds() {
        let p = policy();
        assert_eq!(p.desired(0), 1, "at least min");
        assert_eq!(p.desired(20), 1);
        assert_eq!(p.desired(21), 2);
        assert_eq!(p.desired(199), 10);
        assert_eq!(p.desired(10_000), 10, "at most max");
    }

    #[test]
    fn up_at_once_down_after_the_window() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut r = Recommender::new(policy());
        assert_eq!(r.recommend(at(0), 100, 1), 5, "up at once");
        assert_eq!(r.recommend(at(10), 0, 5), 5, "hold: 5 is in the window");
        assert_eq!(r.recommend(at(50), 30, 5), 5, "hold");
        assert_eq!(
            r.recommend(at(65), 30, 5),
            2,
            "the 5 left the window; the 1 and 2 remain"
        );
        assert_eq!(
            r.recommend(at(130), 0, 2),
            1,
            "down to min once the window is low"
        );
    }

    #[test]
    fn a_new_leader_does_not_scale_down_at_once() {
        let start = Instant::now();
        let mut r = Recommender::new(policy());
        assert_eq!(r.recommend(start, 0, 6), 6);
        assert_eq!(r.recommend(start + Duration::from_secs(61), 0, 6), 1);
    }

    #[test]
    fn current_outside_the_bounds_is_brought_back() {
        let mut r = Recommender::new(policy());
        assert_eq!(r.recommend(Instant::now(), 0, 0), 1, "below min");
        let mut r = Recommender::new(policy());
        assert_eq!(r.recommend(Instant::now(), 0, 40), 10, "above max");
    }
}
