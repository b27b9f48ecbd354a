//! The AlertRule cooldown: at most one failure alert per cooldown per (rule, monitor),
//! shared by every checker replica through one Redis key per pair.
//!
//! The window is measured in *event time*, the slot of the check result, not in the
//! time the result happens to be processed: a result redelivered an hour later does not
//! open a new window, and a test can replay a day of results in seconds. The key's value is
//! `<window end in ms> <notification key>`; the Lua script below runs atomically, so two
//! replicas never both win a window. The holder's own notification key is accepted again,
//! which makes evaluation retryable: if the MySQL transaction that follows rolls back, the
//! redelivered result re-evaluates to the same key and is not locked out by its own
//! window. Keys expire in wall-clock time (cooldown plus an hour) so they clean up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crds::contract::Names;
use redis::{Script, aio::ConnectionManager};

use crate::Result;

/// Wall-clock lifetime of a key beyond its cooldown.
const KEY_MARGIN: Duration = Duration::from_secs(3600);

const ACQUIRE: &str = r"
local value = redis.call('GET', KEYS[1])
if value then
  local space = string.find(value, ' ', 1, true)
  local window_end = tonumber(string.sub(value, 1, space - 1))
  if string.sub(value, space + 1) == ARGV[3] then
    return 1
  end
  if tonumber(ARGV[1]) < window_end then
    return 0
  end
end
local window_end = tonumber(ARGV[1]) + tonumber(ARGV[2])
redis.call('SET', KEYS[1], window_end .. ' ' .. ARGV[3], 'PX', ARGV[4])
return 1
";

/// The shared rate limiter.
#[derive(Clone)]
pub struct Cooldown {
    redis: ConnectionManager,
    names: Names,
    script: Script,
}

impl Cooldown {
    /// A limiter on `redis` under the `names` prefix.
    pub fn new(redis: ConnectionManager, names: Names) -> Self {
        Self {
            redis,
            names,
            script: Script::new(ACQUIRE),
        }
    }

    /// Whether notification `key` of `rule_id` for `monitor_id`, raised by the result of
    /// `slot`, may be sent: true when no window is open at `slot` (a new one opens) or the
    /// open window belongs to `key` itself.
    ///
    /// # Errors
    /// Redis errors (the caller fails the batch; it is redelivered and re-evaluated).
    pub async fn try_acquire(
        &self,
        rule_id: u64,
        monitor_id: u64,
        slot: DateTime<Utc>,
        cooldown_ms: u64,
        key: &str,
    ) -> Result<bool> {
        let ttl_ms = cooldown_ms.saturating_add(KEY_MARGIN.as_millis() as u64);
        let acquired: i64 = self
            .script
            .key(self.names.cooldown(rule_id, monitor_id))
            .arg(slot.timestamp_millis())
            .arg(cooldown_ms)
            .arg(key)
            .arg(ttl_ms)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(acquired == 1)
    }
}
