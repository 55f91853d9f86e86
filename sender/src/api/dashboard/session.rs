//! Dashboard sessions: random tokens kept in memory with an expiry, each
//! with its own CSRF token (docs/design.md section 8, "Dashboard").
//!
//! The cookie holds a random 256-bit session token, never the admin token;
//! the map is keyed by its SHA-256, so that a lookup's timing says nothing
//! useful about a guessed token. Sessions live in this process only: a
//! restart of `serve` logs everyone out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The most sessions kept at once; past it, the one expiring first goes.
pub(super) const MAX_SESSIONS: usize = 256;

/// The length of a session or CSRF token in hex digits (32 random bytes).
const TOKEN_HEX_LEN: usize = 64;

/// A message shown once, on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Flash {
    /// An error (`true`) or a notice.
    pub(super) error: bool,
    /// The text (escaped when shown).
    pub(super) text: String,
}

struct Session {
    expires_at: DateTime<Utc>,
    csrf: String,
    flash: Option<Flash>,
}

/// What a request with a valid session cookie may use.
#[derive(Debug, Clone)]
pub(super) struct SessionView {
    /// The session's CSRF token, for the forms of the page.
    pub(super) csrf: String,
}

/// The sessions of one dashboard.
pub(super) struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    ttl: Duration,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("open", &self.lock().len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A fresh random token: 32 bytes from the operating system, as hex;
/// `None` when the system has no randomness to give.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` looks like one of ours (64 lowercase hex digits).
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_HEX_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Sessions {
    /// No sessions; new ones last `ttl`.
    pub(super) fn new(ttl: Duration) -> Sessions {
        Sessions {
            sessions: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long a session lasts.
    pub(super) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session at `now`; returns its token (for the cookie), or
    /// `None` when no random token can be made.
    pub(super) fn create(&self, now: DateTime<Utc>) -> Option<String> {
        let token = random_token()?;
        let csrf = random_token()?;
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires_at > now);
        while sessions.len() >= MAX_SESSIONS {
            let Some(first) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| *k)
            else {
                break;
            };
            sessions.remove(&first);
        }
        sessions.insert(
            key(&token),
            Session {
                expires_at: chrono::Duration::from_std(self.ttl)
                    .ok()
                    .and_then(|ttl| now.checked_add_signed(ttl))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
                csrf,
                flash: None,
            },
        );
        Some(token)
    }

    /// The session of `token`, when it is open at `now`.
    pub(super) fn get(&self, token: &str, now: DateTime<Utc>) -> Option<SessionView> {
        if !well_formed(token) {
            return None;
        }
        let mut sessions = self.lock();
        let id = key(token);
        let session = sessions.get(&id)?;
        if session.expires_at <= now {
            sessions.remove(&id);
            return None;
        }
        Some(SessionView {
            csrf: session.csrf.clone(),
        })
    }

    /// Whether `candidate` is the CSRF token of `token`'s session, open at
    /// `now` (compared in constant time).
    pub(super) fn check_csrf(&self, token: &str, candidate: &str, now: DateTime<Utc>) -> bool {
        let Some(session) = self.get(token, now) else {
            return false;
        };
        bool::from(session.csrf.as_bytes().ct_eq(candidate.as_bytes()))
    }

    /// Keeps `flash` for the next page of `token`'s session.
    pub(super) fn set_flash(&self, token: &str, flash: Flash) {
        if let Some(session) = self.lock().get_mut(&key(token)) {
            session.flash = Some(flash);
        }
    }

    /// Takes the message kept for `token`'s session, if any.
    pub(super) fn take_flash(&self, token: &str) -> Option<Flash> {
        self.lock()
            .get_mut(&key(token))
            .and_then(|s| s.flash.take())
    }

    /// Ends `token`'s session.
    pub(super) fn remove(&self, token: &str) {
        self.lock().remove(&key(token));
    }

    /// Open sessions (expired ones included until next touched).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_session_expires_after_its_ttl() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let token = sessions.create(at(0)).unwrap();
        assert!(well_formed(&token));
        let csrf = sessions.get(&token, at(59)).unwrap().csrf;
        assert!(well_formed(&csrf));
        assert_ne!(csrf, token);
        assert!(sessions.check_csrf(&token, &csrf, at(59)));
        assert!(!sessions.check_csrf(&token, &csrf[1..], at(59)));
        assert!(!sessions.check_csrf(&token, "", at(59)));
        assert!(sessions.get(&token, at(60)).is_none());
        assert!(!sessions.check_csrf(&token, &csrf, at(61)));
        assert_eq!(sessions.len(), 0, "an expired session is dropped");
    }

    #[test]
    fn tokens_are_random_and_checked() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let a = sessions.create(at(0)).unwrap();
        let b = sessions.create(at(0)).unwrap();
        assert_ne!(a, b);
        assert_ne!(
            sessions.get(&a, at(1)).unwrap().csrf,
            sessions.get(&b, at(1)).unwrap().csrf
        );
        assert!(sessions.get(&a.to_uppercase(), at(1)).is_none());
        assert!(sessions.get("", at(1)).is_none());
        assert!(sessions.get(&"0".repeat(64), at(1)).is_none());
        sessions.remove(&a);
        assert!(sessions.get(&a, at(1)).is_none());
        assert!(sessions.get(&b, at(1)).is_some());
    }

    #[test]
    fn flashes_are_shown_once() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let token = sessions.create(at(0)).unwrap();
        sessions.set_flash(
            &token,
            Flash {
                error: false,
                text: "done".to_owned(),
            },
        );
        assert_eq!(sessions.take_flash(&token).unwrap().text, "done");
        assert!(sessions.take_flash(&token).is_none());
    }

    #[test]
    fn sessions_are_capped() {
        let sessions = Sessions::new(Duration::from_secs(3_600));
        let first = sessions.create(at(0)).unwrap();
        for n in 1..=MAX_SESSIONS {
            sessions.create(at(i64::try_from(n).unwrap())).unwrap();
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(
            sessions.get(&first, at(1)).is_none(),
            "the session expiring first went"
        );
    }
}
