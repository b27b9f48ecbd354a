//! `NotificationChannel`: where notifications go, with the non-secret settings in the spec
//! and every credential in a Secret of the same namespace (`secretRef`).
//!
//! Which Secret keys each type reads is fixed by [`ChannelType::secret_keys`]; the operator
//! checks they exist, the notifier reads them when it delivers. Secret values never enter
//! the spec, status, Events, logs or MySQL.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validation::{Problem, Validate, check_object_name};

/// Desired state of a NotificationChannel.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "uptimesentinel.io",
    version = "v1alpha1",
    kind = "NotificationChannel",
    namespaced,
    status = "NotificationChannelStatus",
    derive = "PartialEq",
    shortname = "nc",
    category = "sentinel",
    cel,
    doc = "A destination for notifications (email, Slack, webhook, PagerDuty, Discord, Telegram, Teams); credentials come from a Secret.",
    printcolumn(name = "TYPE", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "SECRET", type_ = "string", json_path = ".spec.secretRef.name"),
    printcolumn(name = "ENABLED", type_ = "boolean", json_path = ".spec.enabled"),
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.type != 'email' || has(self.email)").message("type email needs the email block").field_path(".email"),
    validation = Rule::new("self.type != 'webhook' || has(self.webhook)").message("type webhook needs the webhook block").field_path(".webhook"),
    validation = Rule::new("self.type != 'telegram' || has(self.telegram)").message("type telegram needs the telegram block").field_path(".telegram"),
    validation = Rule::new("self.type == 'email' || has(self.secretRef)").message("this channel type needs secretRef (its credentials live in a Secret)").field_path(".secretRef")
)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelSpec {
    /// One of `email`, `slack`, `webhook`, `pagerduty`, `discord`, `telegram`, `teams`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["email", "slack", "webhook", "pagerduty", "discord", "telegram", "teams"]))]
    pub channel_type: String,
    /// The Secret (same namespace) holding this channel's credentials. Keys by type:
    /// email `username`/`password` (optional, for SMTP auth); slack, discord, teams
    /// `webhookUrl`; webhook `signingSecret` (HMAC key for `X-Signature`); pagerduty
    /// `routingKey`; telegram `botToken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// SMTP settings, for type `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSettings>,
    /// Slack settings, for type `slack` (the incoming-webhook URL is in the Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackSettings>,
    /// Webhook settings, for type `webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettings>,
    /// PagerDuty Events API v2 settings, for type `pagerduty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty: Option<PagerDutySettings>,
    /// Discord settings, for type `discord` (the webhook URL is in the Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord: Option<DiscordSettings>,
    /// Telegram settings, for type `telegram` (the bot token is in the Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramSettings>,
    /// Microsoft Teams settings, for type `teams` (the webhook URL is in the Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<TeamsSettings>,
    /// A disabled channel receives nothing; notifications for it are recorded as skipped.
    /// Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// Reference to a whole Secret in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretRef {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// SMTP delivery.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailSettings {
    /// SMTP server host name.
    #[schemars(length(min = 1, max = 253))]
    pub smtp_host: String,
    /// SMTP port. Default 587 (submission with STARTTLS).
    #[serde(default = "default_smtp_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub smtp_port: u16,
    /// `StartTls` (default), `Tls` (implicit TLS, usually port 465) or `None` (plain,
    /// for local relays only).
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Sender address, e.g. `Uptime Sentinel <alerts@example.com>`.
    #[schemars(length(min = 3, max = 320))]
    pub from: String,
    /// Recipient addresses.
    #[schemars(length(min = 1, max = 50))]
    pub to: Vec<String>,
}

fn default_smtp_port() -> u16 {
    587
}

/// How the SMTP connection is secured.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    #[default]
    StartTls,
    /// TLS from the first byte.
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

/// Slack incoming webhook.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlackSettings {
    /// Channel override (`#ops`); the webhook's own channel when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Display name of the sender. Default `Uptime Sentinel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Generic JSON webhook, signed with HMAC-SHA256 in `X-Signature`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSettings {
    /// Receiver URL (`http://` or `https://`). Put tokens in the signing secret, not here.
    #[schemars(regex(pattern = r"^https?://[^\s]+$"), length(max = 2048))]
    pub url: String,
}

/// PagerDuty Events API v2.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PagerDutySettings {
    /// Event severity. Default `critical`.
    #[serde(default)]
    pub severity: PagerDutySeverity,
    /// Events API base URL. Default `https://events.pagerduty.com`; override for EU
    /// service regions or tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub api_url: Option<String>,
}

/// PagerDuty severities.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PagerDutySeverity {
    /// critical (default).
    #[default]
    Critical,
    /// error.
    Error,
    /// warning.
    Warning,
    /// info.
    Info,
}

/// Discord webhook.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscordSettings {
    /// Display name of the sender. Default `Uptime Sentinel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Telegram Bot API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TelegramSettings {
    /// Chat to post to: a numeric id (`-1001234567890`) or `@channelname`.
    #[schemars(length(min = 1, max = 64))]
    pub chat_id: String,
    /// Bot API base URL. Default `https://api.telegram.org`; override for a local Bot API
    /// server or tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub api_url: Option<String>,
}

/// Microsoft Teams incoming webhook / workflow URL (in the Secret).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TeamsSettings {}

/// Observed state of a NotificationChannel.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationChannelStatus {
    /// The spec generation the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` says whether the channel is valid, its Secret and keys exist, and it is
    /// stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The channel types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    /// SMTP email.
    Email,
    /// Slack incoming webhook.
    Slack,
    /// Signed JSON webhook.
    Webhook,
    /// PagerDuty Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty,
    /// Discord webhook.
    Discord,
    /// Telegram Bot API.
    Telegram,
    /// Microsoft Teams webhook.
    Teams,
}

/// A Secret key a channel type reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretKey {
    /// Key name in the Secret's data.
    pub key: &'static str,
    /// Whether delivery is impossible without it.
    pub required: bool,
}

impl ChannelType {
    /// Every type, in documentation order.
    pub const ALL: [Self; 7] = [
        Self::Email,
        Self::Slack,
        Self::Webhook,
        Self::PagerDuty,
        Self::Discord,
        Self::Telegram,
        Self::Teams,
    ];

    /// The name used in manifests and MySQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Slack => "slack",
            Self::Webhook => "webhook",
            Self::PagerDuty => "pagerduty",
            Self::Discord => "discord",
            Self::Telegram => "telegram",
            Self::Teams => "teams",
        }
    }

    /// Parses a manifest's `type`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The Secret keys this type reads.
    pub fn secret_keys(self) -> &'static [SecretKey] {
        const fn required(key: &'static str) -> SecretKey {
            SecretKey {
                key,
                required: true,
            }
        }
        const fn optional(key: &'static str) -> SecretKey {
            SecretKey {
                key,
                required: false,
            }
        }
        const EMAIL: [SecretKey; 2] = [optional("username"), optional("password")];
        const WEBHOOK_URL: [SecretKey; 1] = [required("webhookUrl")];
        const SIGNING_SECRET: [SecretKey; 1] = [required("signingSecret")];
        const ROUTING_KEY: [SecretKey; 1] = [required("routingKey")];
        const BOT_TOKEN: [SecretKey; 1] = [required("botToken")];
        match self {
            Self::Email => &EMAIL,
            Self::Slack | Self::Discord | Self::Teams => &WEBHOOK_URL,
            Self::Webhook => &SIGNING_SECRET,
            Self::PagerDuty => &ROUTING_KEY,
            Self::Telegram => &BOT_TOKEN,
        }
    }
}

impl NotificationChannelSpec {
    /// The parsed type; `None` for an unknown one (validation reports it).
    pub fn channel_type(&self) -> Option<ChannelType> {
        ChannelType::parse(&self.channel_type)
    }

    /// Which settings blocks are present, by type name.
    fn blocks(&self) -> [(ChannelType, bool); 7] {
        [
            (ChannelType::Email, self.email.is_some()),
            (ChannelType::Slack, self.slack.is_some()),
            (ChannelType::Webhook, self.webhook.is_some()),
            (ChannelType::PagerDuty, self.pagerduty.is_some()),
            (ChannelType::Discord, self.discord.is_some()),
            (ChannelType::Telegram, self.telegram.is_some()),
            (ChannelType::Teams, self.teams.is_some()),
        ]
    }
}

impl Validate for NotificationChannelSpec {
    fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let Some(channel_type) = self.channel_type() else {
            let known: Vec<&str> = ChannelType::ALL.iter().map(|t| t.as_str()).collect();
            problems.push(Problem::new(
                "spec.type",
                format!(
                    "unknown channel type {:?} (expected one of {})",
                    self.channel_type,
                    known.join(", ")
                ),
            ));
            return problems;
        };
        for (block_type, present) in self.blocks() {
            if present && block_type != channel_type {
                problems.push(Problem::new(
                    format!("spec.{}", block_type.as_str()),
                    format!(
                        "settings for {} on a channel of type {}: remove them or change the type",
                        block_type.as_str(),
                        channel_type.as_str()
                    ),
                ));
            }
        }
        let needs_secret = channel_type.secret_keys().iter().any(|k| k.required);
        match &self.secret_ref {
            None if needs_secret => problems.push(Problem::new(
                "spec.secretRef",
                format!(
                    "type {} needs a Secret with key {}",
                    channel_type.as_str(),
                    channel_type.secret_keys()[0].key
                ),
            )),
            Some(secret) => check_object_name("spec.secretRef.name", &secret.name, &mut problems),
            None => {}
        }
        match channel_type {
            ChannelType::Email => match &self.email {
                None => problems.push(Problem::new(
                    "spec.email",
                    "type email needs the email block (smtpHost, from, to)",
                )),
                Some(email) => check_email(email, &mut problems),
            },
            ChannelType::Webhook => match &self.webhook {
                None => problems.push(Problem::new(
                    "spec.webhook",
                    "type webhook needs the webhook block with url",
                )),
                Some(webhook) => check_http_url("spec.webhook.url", &webhook.url, &mut problems),
            },
            ChannelType::Telegram => match &self.telegram {
                None => problems.push(Problem::new(
                    "spec.telegram",
                    "type telegram needs the telegram block with chatId",
                )),
                Some(telegram) => {
                    let chat = &telegram.chat_id;
                    let numeric = chat.strip_prefix('-').unwrap_or(chat);
                    let valid = (!numeric.is_empty()
                        && numeric.bytes().all(|b| b.is_ascii_digit()))
                        || (chat.starts_with('@') && chat.len() > 1);
                    if !valid {
                        problems.push(Problem::new(
                            "spec.telegram.chatId",
                            format!("{chat:?} is neither a numeric chat id nor an @channel name"),
                        ));
                    }
                    if let Some(url) = &telegram.api_url {
                        check_http_url("spec.telegram.apiUrl", url, &mut problems);
                    }
                }
            },
            ChannelType::PagerDuty => {
                if let Some(url) = self.pagerduty.as_ref().and_then(|p| p.api_url.as_ref()) {
                    check_http_url("spec.pagerduty.apiUrl", url, &mut problems);
                }
            }
            ChannelType::Slack | ChannelType::Discord | ChannelType::Teams => {}
        }
        problems
    }
}

impl Validate for NotificationChannel {
    /// The spec's semantic rules plus the schema's CEL rules, evaluated client-side.
    fn validate(&self) -> Vec<Problem> {
        let mut problems = self.spec.validate();
        crate::monitor::merge_cel(&mut problems, crate::validation::cel_problems(self));
        problems
    }
}

fn check_email(email: &EmailSettings, problems: &mut Vec<Problem>) {
    if email.smtp_host.trim().is_empty() {
        problems.push(Problem::new("spec.email.smtpHost", "must not be empty"));
    }
    if email.smtp_port == 0 {
        problems.push(Problem::new("spec.email.smtpPort", "must be 1-65535"));
    }
    if !looks_like_address(&email.from) {
        problems.push(Problem::new(
            "spec.email.from",
            format!("{:?} is not an email address", email.from),
        ));
    }
    if email.to.is_empty() {
        problems.push(Problem::new(
            "spec.email.to",
            "needs at least one recipient",
        ));
    }
    for (i, to) in email.to.iter().enumerate() {
        if !looks_like_address(to) {
            problems.push(Problem::new(
                format!("spec.email.to[{i}]"),
                format!("{to:?} is not an email address"),
            ));
        }
    }
}

/// `local@domain`, optionally as `Name <local@domain>`; the SMTP server has the last word.
fn looks_like_address(text: &str) -> bool {
    let address = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close && close == text.len() - 1 => {
            &text[open + 1..close]
        }
        (None, None) => text,
        _ => return false,
    };
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !address.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn check_http_url(field: &str, text: &str, problems: &mut Vec<Problem>) {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
        Ok(url) => problems.push(Problem::new(
            field,
            format!(
                "scheme {:?} is not supported (use http or https)",
                url.scheme()
            ),
        )),
        Err(e) => problems.push(Problem::new(field, format!("{text:?} is not a URL: {e}"))),
    }
}
