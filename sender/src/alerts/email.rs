//! Alert e-mails over SMTP with `lettre` (feature `alerts-email`): STARTTLS
//! (default), TLS from the first byte, or no encryption to a loopback host
//! only; optional credentials. A new connection per alert (alerts are rare).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::channel::alert_text;
use super::rules::{Alert, AlertState};
use crate::config::{AlertChannelConfig, SmtpTls, is_loopback_host};

/// The subject of an alert e-mail when none is set.
const DEFAULT_SUBJECT: &str = "MegaBot Webhook Alert";

/// One e-mail channel.
pub(crate) struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailboxes,
    subject: String,
    label: String,
}

impl Email {
    /// Builds the channel from its checked config (messages never hold the
    /// password).
    pub(crate) fn new(config: &AlertChannelConfig, timeout: Duration) -> Result<Email, String> {
        let host = config
            .smtp_host
            .as_deref()
            .map(str::trim)
            .ok_or_else(|| "an email channel needs `smtp_host`".to_owned())?;
        let tls = config.smtp_tls.unwrap_or_default();
        let port = config.smtp_port.unwrap_or_else(|| tls.default_port());
        let builder = match tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("cannot set up tls for smtp_host: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("cannot set up tls for smtp_host: {e}"))?,
            SmtpTls::None => {
                if !is_loopback_host(host) {
                    return Err("smtp_tls: none is only allowed to a loopback smtp_host".to_owned());
                }
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            }
        };
        let mut builder = builder.port(port).timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&config.smtp_username, &config.smtp_password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from: Mailbox = config
            .from
            .as_deref()
            .ok_or_else(|| "an email channel with smtp_host needs `from`".to_owned())?
            .parse()
            .map_err(|e| format!("invalid `from` address: {e}"))?;
        let mut to = Mailboxes::new();
        for recipient in &config.recipients {
            let mailbox: Mailbox = recipient
                .parse()
                .map_err(|e| format!("invalid recipient `{}`: {e}", recipient.escape_default()))?;
            to.push(mailbox);
        }
        Ok(Email {
            transport: builder.build(),
            from,
            to,
            subject: config
                .subject
                .clone()
                .unwrap_or_else(|| DEFAULT_SUBJECT.to_owned()),
            label: format!("{host}:{port}, {}", tls.as_str()),
        })
    }

    /// `host:port, tls` for logs.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) async fn send(&self, alert: &Alert) -> Result<(), String> {
        let subject = match alert.state {
            AlertState::Raised => self.subject.clone(),
            AlertState::Resolved => format!("[resolved] {}", self.subject),
        };
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for mailbox in self.to.iter() {
            builder = builder.to(mailbox.clone());
        }
        let body = format!(
            "{}\n\nendpoint: {}\nrule: {}\nat: {}\n",
            alert_text("MegaBot webhook alert", alert),
            alert.endpoint_id,
            alert.rule,
            alert.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let message = builder
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("cannot build the email: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("smtp: {e}"))
    }
}
