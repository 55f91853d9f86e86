//! The chat platform an event came from.

use crate::open_enum::open_enum;

open_enum! {
    /// The platform of a message or an execution (`data.platform`).
    pub enum Platform {
        /// Telegram.
        Telegram = "telegram",
        /// Discord.
        Discord = "discord",
        /// Slack.
        Slack = "slack",
        /// WhatsApp.
        WhatsApp = "whatsapp",
        /// MegaBot's web interface.
        Web = "web",
        /// MegaBot's HTTP API.
        Api = "api",
        /// MegaBot's command line.
        Cli = "cli",
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn known_and_new_values_parse_and_round_trip() {
        let known: Platform = serde_json::from_str("\"telegram\"").unwrap();
        assert_eq!(known, Platform::Telegram);
        let new: Platform = serde_json::from_str("\"matrix\"").unwrap();
        assert_eq!(new, Platform::Other("matrix".into()));
        assert_eq!(serde_json::to_string(&new).unwrap(), "\"matrix\"");
    }
}
