//! A unique Redis key prefix per test.

use redis::AsyncCommands;

/// A key prefix (`sentinel-test:<suffix>:`) whose keys are deleted on drop.
pub struct TestRedis {
    /// Redis URL (`SENTINEL_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
    pub url: String,
    /// The prefix, including the trailing `:`.
    pub prefix: String,
}

impl TestRedis {
    /// Picks a fresh prefix and checks that Redis answers.
    ///
    /// # Panics
    /// When Redis is unreachable.
    pub async fn create() -> Self {
        let url = std::env::var("SENTINEL_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
        let prefix = format!("sentinel-test:{}:", crate::unique_suffix());
        let mut connection = Self::connect_to(&url).await;
        let pong: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} does not answer PING: {e}"));
        assert_eq!(pong, "PONG");
        Self { url, prefix }
    }

    /// A new multiplexed connection.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        Self::connect_to(&self.url).await
    }

    async fn connect_to(url: &str) -> redis::aio::MultiplexedConnection {
        redis::Client::open(url)
            .unwrap_or_else(|e| panic!("bad Redis URL {url}: {e}"))
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| {
                panic!("failed to connect to Redis at {url} (run scripts/services.sh): {e}")
            })
    }

    /// Keys currently under the prefix.
    pub async fn keys(&self) -> Vec<String> {
        let mut connection = self.connection().await;
        let mut iter: redis::AsyncIter<String> = connection
            .scan_match(format!("{}*", self.prefix))
            .await
            .expect("SCAN works");
        let mut keys = Vec::new();
        while let Some(key) = iter.next_item().await {
            keys.push(key.expect("SCAN yields keys"));
        }
        keys
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        crate::run_detached(async move {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
                return;
            };
            let keys: Vec<String> = {
                let Ok(mut iter) = connection
                    .scan_match::<_, String>(format!("{prefix}*"))
                    .await
                else {
                    return;
                };
                let mut keys = Vec::new();
                while let Some(Ok(key)) = iter.next_item().await {
                    keys.push(key);
                }
                keys
            };
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = connection.del(chunk).await;
            }
        });
    }
}
