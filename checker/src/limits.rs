//! The open-file limit and the check concurrency it allows.
//!
//! Every check in flight holds a socket (fresh connections by default), so
//! `--concurrency` checks need that many file descriptors plus the process's own (MySQL,
//! Redis, RabbitMQ, metrics). A soft limit of 1,024 — still the default outside
//! containers — would turn checks past it into `connect` failures and false alerts. At
//! start the checker raises its soft limit towards the hard limit (what Go programs do)
//! and, if that is still too low, runs fewer checks at once and says so, instead of
//! failing checks.

/// Descriptors kept for everything that is not a check.
pub const RESERVED_FILES: u64 = 256;

/// Raises the soft open-file limit to fit `concurrency` checks if it can, and returns the
/// concurrency that fits the limit then in effect (at least 1).
pub fn fit_concurrency(concurrency: usize) -> usize {
    let wanted = u64::try_from(concurrency)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVED_FILES);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) => clamp(concurrency, limit),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit; keeping --concurrency");
            concurrency
        }
    }
}

/// The concurrency that fits an open-file `limit`.
pub fn clamp(concurrency: usize, limit: u64) -> usize {
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FILES))
        .unwrap_or(usize::MAX)
        .max(1);
    if fits < concurrency {
        tracing::warn!(
            concurrency,
            open_file_limit = limit,
            running = fits,
            "the open-file limit is too low for --concurrency; running fewer checks at once \
             (raise `ulimit -n` to run them all)"
        );
        fits
    } else {
        concurrency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_limit_lowers_concurrency_and_a_high_one_keeps_it() {
        assert_eq!(clamp(4000, 1024), 768);
        assert_eq!(clamp(4000, 100), 1);
        assert_eq!(clamp(4000, 1_048_576), 4000);
    }

    #[test]
    fn the_limit_in_effect_fits_what_is_returned() {
        let running = fit_concurrency(2000);
        let soft = rlimit::Resource::NOFILE.get().unwrap().0;
        assert!(running as u64 + RESERVED_FILES <= soft || running == 1);
    }
}
