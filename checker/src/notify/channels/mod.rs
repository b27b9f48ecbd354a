//! Delivery channels. A [`Channel`] is built from its `notification_channels` row: the
//! non-secret settings as stored, the secret values opened with the credentials key. The
//! secret values (webhook URLs, tokens, passwords) never reach a log line or an error
//! message: errors name the channel, not its URL.
//!
//! Every endpoint's base URL can be overridden (the webhook-style channels take their URL
//! from the Secret; PagerDuty and Telegram have an `apiUrl` setting; email a host and
//! port), which is how tests point them at local receivers.

mod chat;
mod email;
mod pagerduty;
mod webhook;

pub use webhook::signature as webhook_signature;

use std::{collections::BTreeMap, time::Duration};

use common::credentials::Sealer;
use crds::{
    ChannelType,
    contract::Notification,
    notification_channel::{
        DiscordSettings, EmailSettings, PagerDutySettings, SlackSettings, TelegramSettings,
        WebhookSettings,
    },
};
use serde::de::DeserializeOwned;
use sqlx::MySqlPool;

use super::message;
use crate::{Error, Result};

/// How a channel delivers, with its settings and opened secrets.
#[derive(Clone)]
pub enum Kind {
    /// SMTP.
    Email {
        /// Server, sender, recipients.
        settings: EmailSettings,
        /// `(username, password)` when the server wants auth.
        credentials: Option<(String, String)>,
    },
    /// Slack incoming webhook.
    Slack {
        /// Webhook URL (secret).
        url: String,
        /// Channel and username overrides.
        settings: SlackSettings,
    },
    /// Signed JSON webhook.
    Webhook {
        /// Receiver URL.
        url: String,
        /// HMAC-SHA256 key for `X-Signature`.
        signing_secret: Option<String>,
    },
    /// PagerDuty Events API v2.
    PagerDuty {
        /// Integration routing key (secret).
        routing_key: String,
        /// Severity and API URL.
        settings: PagerDutySettings,
    },
    /// Discord webhook.
    Discord {
        /// Webhook URL (secret).
        url: String,
        /// Username override.
        settings: DiscordSettings,
    },
    /// Telegram Bot API.
    Telegram {
        /// Bot token (secret).
        token: String,
        /// Chat and API URL.
        settings: TelegramSettings,
    },
    /// Microsoft Teams webhook.
    Teams {
        /// Webhook or workflow URL (secret).
        url: String,
    },
}

/// A channel ready to deliver.
#[derive(Clone)]
pub struct Channel {
    /// `notification_channels.id`.
    pub id: u64,
    /// `namespace/name`, for logs.
    pub name: String,
    /// The type.
    pub channel_type: ChannelType,
    /// Whether it is enabled.
    pub enabled: bool,
    /// How it delivers.
    pub kind: Kind,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets held in `kind`.
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("type", &self.channel_type.as_str())
            .finish_non_exhaustive()
    }
}

type Row = (
    u64,
    String,
    String,
    String,
    String,
    bool,
    String,
    Option<String>,
);

/// Loads channel `id`; `None` when it no longer exists.
///
/// # Errors
/// MySQL errors; [`Error::Channel`] when its row cannot be used (unknown type, unreadable
/// settings, credentials that cannot be opened or are missing a required key).
pub async fn load(pool: &MySqlPool, sealer: Option<&Sealer>, id: u64) -> Result<Option<Channel>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, uid, namespace, name, channel_type, enabled, settings, credentials \
         FROM notification_channels WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| from_row(row, sealer)).transpose()
}

fn from_row(
    (id, uid, namespace, name, channel_type, enabled, settings, credentials): Row,
    sealer: Option<&Sealer>,
) -> Result<Channel> {
    let name = format!("{namespace}/{name}");
    let problem = |message: String| Error::Channel {
        channel: name.clone(),
        message,
    };
    let channel_type = ChannelType::parse(&channel_type)
        .ok_or_else(|| problem(format!("unknown channel type {channel_type:?}")))?;
    let secrets: BTreeMap<String, String> = match (credentials, sealer) {
        (None, _) => BTreeMap::new(),
        (Some(sealed), Some(sealer)) => sealer
            .open(&uid, &sealed)
            .map_err(|e| problem(e.to_string()))?,
        (Some(_), None) => {
            return Err(problem(
                "its credentials are sealed and no credentials key is configured".into(),
            ));
        }
    };
    let settings: serde_json::Value = serde_json::from_str(&settings)
        .map_err(|e| problem(format!("unreadable settings: {e}")))?;
    let block = |key: &str| {
        settings
            .get(key)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    let secret = |key: &str| -> Result<String> {
        secrets
            .get(key)
            .cloned()
            .ok_or_else(|| problem(format!("the Secret has no key {key:?}")))
    };
    let kind = match channel_type {
        ChannelType::Email => Kind::Email {
            settings: parse_block(block("email"), "email").map_err(problem)?,
            credentials: secrets
                .get("username")
                .cloned()
                .zip(secrets.get("password").cloned()),
        },
        ChannelType::Slack => Kind::Slack {
            url: secret("webhookUrl")?,
            settings: typed_or_default("slack", &settings).map_err(problem)?,
        },
        ChannelType::Webhook => Kind::Webhook {
            url: parse_block::<WebhookSettings>(block("webhook"), "webhook")
                .map_err(problem)?
                .url,
            signing_secret: secrets.get("signingSecret").cloned(),
        },
        ChannelType::PagerDuty => Kind::PagerDuty {
            routing_key: secret("routingKey")?,
            settings: typed_or_default("pagerduty", &settings).map_err(problem)?,
        },
        ChannelType::Discord => Kind::Discord {
            url: secret("webhookUrl")?,
            settings: typed_or_default("discord", &settings).map_err(problem)?,
        },
        ChannelType::Telegram => Kind::Telegram {
            token: secret("botToken")?,
            settings: parse_block(block("telegram"), "telegram").map_err(problem)?,
        },
        ChannelType::Teams => Kind::Teams {
            url: secret("webhookUrl")?,
        },
    };
    Ok(Channel {
        id,
        name,
        channel_type,
        enabled,
        kind,
    })
}

fn parse_block<T: DeserializeOwned>(value: serde_json::Value, key: &str) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("unreadable {key} settings: {e}"))
}

fn typed_or_default<T: DeserializeOwned + Default>(
    key: &str,
    settings: &serde_json::Value,
) -> Result<T, String> {
    match settings.get(key) {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(value) => parse_block(value.clone(), key),
    }
}

/// Sends notifications over HTTP and SMTP.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    timeout: Duration,
}

impl Sender {
    /// A sender whose every attempt gives up after `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS roots).
    pub fn new(timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("uptime-sentinel/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(tls_config())
            .build()
            .map_err(|e| Error::Delivery {
                permanent: true,
                message: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        Ok(Self { http, timeout })
    }

    /// Delivers `notification` through `channel`.
    ///
    /// # Errors
    /// [`Error::Delivery`]: `permanent` when retrying cannot help (a 4xx other than 408
    /// and 429, a rejected recipient), otherwise the attempt may be retried.
    pub async fn send(&self, channel: &Channel, notification: &Notification) -> Result<()> {
        let message = message::render(notification);
        match &channel.kind {
            Kind::Email {
                settings,
                credentials,
            } => {
                email::send(
                    settings,
                    credentials.as_ref(),
                    &message,
                    notification,
                    self.timeout,
                )
                .await
            }
            Kind::Webhook {
                url,
                signing_secret,
            } => {
                webhook::send(
                    &self.http,
                    url,
                    signing_secret.as_deref(),
                    notification,
                    &message,
                )
                .await
            }
            Kind::Slack { url, settings } => chat::slack(&self.http, url, settings, &message).await,
            Kind::Discord { url, settings } => {
                chat::discord(&self.http, url, settings, &message).await
            }
            Kind::Teams { url } => chat::teams(&self.http, url, &message).await,
            Kind::Telegram { token, settings } => {
                chat::telegram(&self.http, token, settings, &message).await
            }
            Kind::PagerDuty {
                routing_key,
                settings,
            } => pagerduty::send(&self.http, routing_key, settings, notification, &message).await,
        }
    }
}

/// rustls with the webpki roots and ring, the same on every machine.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// Posts `body` as JSON and maps the answer: 2xx is delivered; 408, 429 and 5xx and
/// network errors may be retried; other statuses are permanent. Error messages carry the
/// status and the start of the answer, never the URL (it may hold a token).
async fn post_json(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    headers: &[(&str, String)],
) -> Result<()> {
    let bytes = serde_json::to_vec(body).expect("JSON values serialise");
    post_bytes(http, url, bytes, headers).await
}

async fn post_bytes(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Result<()> {
    let mut request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| Error::Delivery {
        permanent: e.is_builder(),
        message: format!("request failed: {}", e.without_url()),
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let answer = response.text().await.unwrap_or_default();
    let answer = common::text::truncate(answer.trim(), 200);
    Err(Error::Delivery {
        permanent: status.is_client_error()
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS,
        message: format!("HTTP {}: {answer}", status.as_u16()),
    })
}
