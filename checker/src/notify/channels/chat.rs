//! The chat channels: Slack, Discord and Microsoft Teams incoming webhooks and the
//! Telegram Bot API. Each formats the same [`Message`] its own way.

use crds::notification_channel::{DiscordSettings, SlackSettings, TelegramSettings};
use serde_json::{Value, json};

use super::post_json;
use crate::{Result, notify::message::Message};

const SENDER: &str = "Uptime Sentinel";

/// Slack: a header block, the facts as fields, and `text` as the notification fallback.
pub fn slack_body(settings: &SlackSettings, message: &Message) -> Value {
    let fields: Vec<Value> = message
        .facts
        .iter()
        .map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")}))
        .collect();
    let mut body = json!({
        "text": message.title,
        "username": settings.username.as_deref().unwrap_or(SENDER),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message.summary}},
            // Slack allows at most 10 fields per section.
            {"type": "section", "fields": fields.into_iter().take(10).collect::<Vec<_>>()},
        ],
    });
    if let Some(channel) = &settings.channel {
        body["channel"] = json!(channel);
    }
    body
}

pub(super) async fn slack(
    http: &reqwest::Client,
    url: &str,
    settings: &SlackSettings,
    message: &Message,
) -> Result<()> {
    post_json(http, url, &slack_body(settings, message), &[]).await
}

/// Discord: one embed with the facts as inline fields.
pub fn discord_body(settings: &DiscordSettings, message: &Message) -> Value {
    let fields: Vec<Value> = message
        .facts
        .iter()
        .map(|(label, value)| json!({"name": label, "value": value, "inline": true}))
        .collect();
    json!({
        "username": settings.username.as_deref().unwrap_or(SENDER),
        "content": message.title,
        "embeds": [{
            "title": message.title,
            "description": message.summary,
            "color": message.color,
            "fields": fields,
        }],
        "allowed_mentions": {"parse": []},
    })
}

pub(super) async fn discord(
    http: &reqwest::Client,
    url: &str,
    settings: &DiscordSettings,
    message: &Message,
) -> Result<()> {
    post_json(http, url, &discord_body(settings, message), &[]).await
}

/// Teams: an Adaptive Card in a message (the format Teams workflows and incoming webhooks
/// accept).
pub fn teams_body(message: &Message) -> Value {
    let facts: Vec<Value> = message
        .facts
        .iter()
        .map(|(label, value)| json!({"title": label, "value": value}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true, "text": message.title},
                    {"type": "TextBlock", "wrap": true, "text": message.summary},
                    {"type": "FactSet", "facts": facts},
                ],
            },
        }],
    })
}

pub(super) async fn teams(http: &reqwest::Client, url: &str, message: &Message) -> Result<()> {
    post_json(http, url, &teams_body(message), &[]).await
}

/// Telegram: `sendMessage` with plain text (no parse mode, so nothing needs escaping).
pub fn telegram_body(settings: &TelegramSettings, message: &Message) -> Value {
    json!({
        "chat_id": settings.chat_id,
        "text": message.text(),
        "disable_web_page_preview": true,
    })
}

/// `<api>/bot<token>/sendMessage`.
pub fn telegram_url(settings: &TelegramSettings, token: &str) -> String {
    let base = settings
        .api_url
        .as_deref()
        .unwrap_or("https://api.telegram.org")
        .trim_end_matches('/');
    format!("{base}/bot{token}/sendMessage")
}

pub(super) async fn telegram(
    http: &reqwest::Client,
    token: &str,
    settings: &TelegramSettings,
    message: &Message,
) -> Result<()> {
    post_json(
        http,
        &telegram_url(settings, token),
        &telegram_body(settings, message),
        &[],
    )
    .await
}
