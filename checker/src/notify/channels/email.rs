//! Email over SMTP (lettre): STARTTLS (required, the default), implicit TLS, or plain for
//! a relay on the same host; AUTH when the Secret has `username` and `password`.

use std::time::Duration;

use crds::{
    contract::Notification,
    notification_channel::{EmailSettings, SmtpSecurity},
};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::authentication::Credentials,
};

use crate::{Error, Result, notify::message::Message};

/// The subject line.
pub fn subject(message: &Message) -> String {
    format!("[Uptime Sentinel] {}", message.title)
}

fn address(text: &str, role: &str) -> Result<Mailbox> {
    text.parse().map_err(|e| Error::Delivery {
        permanent: true,
        message: format!("{role} address {text:?} is not valid: {e}"),
    })
}

pub(super) async fn send(
    settings: &EmailSettings,
    credentials: Option<&(String, String)>,
    message: &Message,
    notification: &Notification,
    timeout: Duration,
) -> Result<()> {
    let mut mail = Mail::builder()
        .from(address(&settings.from, "sender")?)
        .subject(subject(message))
        .header(ContentType::TEXT_PLAIN);
    for to in &settings.to {
        mail = mail.to(address(to, "recipient")?);
    }
    // Threading: every message of one incident refers to the same id.
    let thread = format!("<{}@uptime-sentinel>", notification.incident_id);
    mail = mail.references(thread.clone()).in_reply_to(thread);
    let mail = mail.body(message.text()).map_err(|e| Error::Delivery {
        permanent: true,
        message: format!("cannot build the email: {e}"),
    })?;

    let host = settings.smtp_host.as_str();
    let builder = match settings.security {
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
        SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            host,
        )),
    }
    .map_err(|e| Error::Delivery {
        permanent: true,
        message: format!("cannot set up SMTP to {host}: {e}"),
    })?;
    let mut builder = builder.port(settings.smtp_port).timeout(Some(timeout));
    if let Some((username, password)) = credentials {
        builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
    }
    let transport = builder.build();
    transport.send(mail).await.map_err(|e| Error::Delivery {
        permanent: e.is_permanent(),
        message: format!("SMTP {host}:{}: {e}", settings.smtp_port),
    })?;
    Ok(())
}
