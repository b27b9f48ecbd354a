//! A fresh RabbitMQ vhost per test, through the management API.

/// A uniquely named vhost on which `guest` may do anything; deleted on drop.
pub struct TestVhost {
    /// Vhost name (`sentinel-test-<suffix>`).
    pub name: String,
    /// AMQP URL of the vhost, for clients and binaries.
    pub amqp_url: String,
    api: String,
}

fn api_base() -> String {
    std::env::var("SENTINEL_TEST_RABBITMQ_API")
        .unwrap_or_else(|_| "http://guest:guest@127.0.0.1:15672".to_string())
}

fn amqp_base() -> String {
    std::env::var("SENTINEL_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".to_string())
}

/// Splits `http://user:pass@host:port` into the base URL and the credentials.
fn credentials(api: &str) -> (String, String, String) {
    let url = reqwest::Url::parse(api).expect("SENTINEL_TEST_RABBITMQ_API is a URL");
    let user = url.username().to_string();
    let password = url.password().unwrap_or_default().to_string();
    let mut base = url.clone();
    let _ = base.set_username("");
    let _ = base.set_password(None);
    (
        base.as_str().trim_end_matches('/').to_string(),
        user,
        password,
    )
}

impl TestVhost {
    /// Creates the vhost and grants `guest` (or the API user) full permissions on it.
    ///
    /// # Panics
    /// When the management API is unreachable or refuses.
    pub async fn create() -> Self {
        crate::install_crypto_provider();
        let name = format!("sentinel-test-{}", crate::unique_suffix());
        let api = api_base();
        let (base, user, password) = credentials(&api);
        let client = reqwest::Client::new();
        let put = |path: String, body: serde_json::Value| {
            client
                .put(format!("{base}{path}"))
                .basic_auth(&user, Some(&password))
                .json(&body)
                .send()
        };
        let response = put(format!("/api/vhosts/{name}"), serde_json::json!({}))
            .await
            .unwrap_or_else(|e| {
                panic!("failed to reach the RabbitMQ management API at {base} (run scripts/services.sh): {e}")
            });
        assert!(
            response.status().is_success(),
            "failed to create vhost {name}: {}",
            response.status()
        );
        let response = put(
            format!("/api/permissions/{name}/{user}"),
            serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}),
        )
        .await
        .unwrap_or_else(|e| panic!("failed to set permissions on {name}: {e}"));
        assert!(
            response.status().is_success(),
            "failed to set permissions on {name}: {}",
            response.status()
        );
        let amqp_url = format!("{}/{name}", amqp_base().trim_end_matches('/'));
        Self {
            name,
            amqp_url,
            api,
        }
    }

    /// Messages ready in `queue` on this vhost, as the management API reports them (it
    /// refreshes every few seconds; prefer a passive declare in tests that need exact
    /// numbers).
    pub async fn queue_message_count(&self, queue: &str) -> Option<u64> {
        let (base, user, password) = credentials(&self.api);
        let response = reqwest::Client::new()
            .get(format!("{base}/api/queues/{}/{queue}", self.name))
            .basic_auth(&user, Some(&password))
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = response.json().await.ok()?;
        body.get("messages").and_then(serde_json::Value::as_u64)
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let (base, user, password) = credentials(&self.api);
        let name = self.name.clone();
        crate::run_detached(async move {
            let _ = reqwest::Client::new()
                .delete(format!("{base}/api/vhosts/{name}"))
                .basic_auth(&user, Some(&password))
                .send()
                .await;
        });
    }
}
