//! The sender's targets: `mega-config.yaml` loading and dead-letter records.

use super::MEGABOT_SECRETS;

/// The variables [`config_load`] expands, with their values.
pub const CONFIG_ENV: [(&str, &str); 6] = [
    ("WEBHOOK_SECRET_KEY", "fuzz-secret-value-1"),
    ("WEBHOOK_OLD_SECRET_KEY", "fuzz-secret-value-0"),
    // A `whsk_` test key (seed 0x5a × 32, as `V1A_SEED`) for `standard_webhooks.signing_key`.
    (
        "WEBHOOK_SIGNING_KEY",
        "whsk_WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=",
    ),
    ("GITHUB_TOKEN", "ghp_fuzz"),
    ("MAX_ATTEMPTS", "3"),
    ("MONITORING_URL", "https://monitoring.example.com/webhook"),
];

/// The sender's config loader (`mega-config.yaml`): the input is the file's text.
///
/// Checks that loading never panics, that it is deterministic, that every error names
/// the file, and that a loaded config's `Debug` never shows a secret that came from
/// the environment.
pub fn config_load(data: &[u8]) {
    use megabot_webhook_sender::ConfigLoader;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loader = ConfigLoader::with_env(|name| {
        CONFIG_ENV
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    });
    let first = loader.load_str(text, "fuzz.yaml");
    let second = loader.load_str(text, "fuzz.yaml");
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            let shown = format!("{:?}", a.config);
            assert_eq!(shown, format!("{:?}", b.config));
            for (_, secret) in &CONFIG_ENV[..3] {
                if !text.contains(secret) {
                    assert!(!shown.contains(secret), "Debug shows a secret: {shown}");
                }
            }
            for warning in &a.warnings {
                assert!(warning.to_string().starts_with("fuzz.yaml"), "{warning}");
            }
        }
        (Err(a), Err(b)) => {
            let message = a.to_string();
            assert_eq!(message, b.to_string());
            assert!(message.contains("fuzz.yaml"), "{message}");
        }
        _ => panic!("loading twice gave different outcomes"),
    }
}

/// The dead-letter keys of [`MEGABOT_SECRETS`].
fn dead_letter_keys() -> [megabot_webhook_sender::DeadLetterKey; 2] {
    MEGABOT_SECRETS.map(megabot_webhook_sender::DeadLetterKey::derive)
}

/// `dead_letter_record`: one JSON Lines dead-letter record (design 9.14).
/// Parsing never panics; a parsed record's MAC verification against
/// [`MEGABOT_SECRETS`] is deterministic and survives re-serialisation,
/// which round-trips to an equal record; sealing a record with a key makes
/// it authentic for that key (unless its body cannot be decoded).
pub fn dead_letter_record(data: &[u8]) {
    use megabot_webhook_sender::{Authenticity, DeadLetter};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(letter) = DeadLetter::from_json_line(text) else {
        return;
    };
    let keys = dead_letter_keys();
    let verdict = letter.authenticity(&keys);
    assert_eq!(verdict, letter.authenticity(&keys), "not deterministic");
    if letter.version < 2 {
        assert_eq!(verdict, Authenticity::Unauthenticated);
    }
    let _ = letter.delivery();
    if let Ok(line) = letter.to_json_line() {
        let again = DeadLetter::from_json_line(&line).expect("a written record parses");
        assert_eq!(again, letter, "re-serialising does not round-trip");
        assert_eq!(again.to_json_line().ok().as_deref(), Some(line.as_str()));
        assert_eq!(again.authenticity(&keys), verdict);
    }
    let mut sealed = letter.clone();
    sealed.seal(&keys[1]);
    let expected = if sealed.mac_input().is_some() {
        Authenticity::Authentic
    } else {
        Authenticity::Tampered
    };
    assert_eq!(sealed.authenticity(&keys[1..]), expected);
    let _ = format!("{letter:?}");
}

/// Whether `data` is a dead-letter record authentic for [`MEGABOT_SECRETS`]
/// (the corpus replay checks the seeds reach that path).
pub fn dead_letter_record_authentic(data: &[u8]) -> bool {
    std::str::from_utf8(data)
        .ok()
        .and_then(|text| megabot_webhook_sender::DeadLetter::from_json_line(text).ok())
        .is_some_and(|letter| {
            letter.authenticity(&dead_letter_keys())
                == megabot_webhook_sender::Authenticity::Authentic
        })
}
