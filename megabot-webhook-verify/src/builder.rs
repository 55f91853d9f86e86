//! Configuring a [`Verifier`].

use std::sync::Arc;
use std::time::Duration;

use crate::replay::ReplayGuard;
use crate::replay::memory::MemoryReplayGuard;
use crate::verifier::Inner;
use crate::{Error, Scheme, Secret, StandardPublicKey, StandardSecret, Verifier};

/// Default tolerance for timestamps in the past and in the future.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Default body size limit: 1 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1_048_576;

/// Default capacity of the in-memory replay guard made when none is given.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// Builds a [`Verifier`]; start with [`Verifier::builder`].
///
/// Defaults: both schemes accepted, 300 s tolerance each way, 1 MiB body limit, a
/// [`MemoryReplayGuard`] of 100 000 ids.
#[derive(Debug, Clone)]
#[must_use]
pub struct VerifierBuilder {
    megabot: Vec<Secret>,
    standard: Vec<StandardSecret>,
    public: Vec<StandardPublicKey>,
    accept_megabot: bool,
    accept_standard: bool,
    tolerance_past: Duration,
    tolerance_future: Duration,
    max_body_size: usize,
    replay_guard: Option<Arc<dyn ReplayGuard>>,
    check_timestamp: bool,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder::new()
    }
}

impl VerifierBuilder {
    /// A builder with the defaults and no secret.
    pub fn new() -> VerifierBuilder {
        VerifierBuilder {
            megabot: Vec::new(),
            standard: Vec::new(),
            public: Vec::new(),
            accept_megabot: true,
            accept_standard: true,
            tolerance_past: DEFAULT_TOLERANCE,
            tolerance_future: DEFAULT_TOLERANCE,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            replay_guard: None,
            check_timestamp: true,
        }
    }

    /// Adds a MegaBot-scheme secret. Call again to accept several during key rotation;
    /// [`Authenticated::secret_index`](crate::Authenticated::secret_index) tells which matched.
    pub fn megabot_secret(mut self, secret: Secret) -> Self {
        self.megabot.push(secret);
        self
    }

    /// Adds a Standard Webhooks secret (repeatable, like [`Self::megabot_secret`]).
    pub fn standard_secret(mut self, secret: StandardSecret) -> Self {
        self.standard.push(secret);
        self
    }

    /// Adds a Standard Webhooks Ed25519 public key (`whpk_`) that checks `v1a` entries;
    /// repeatable for key rotation (every entry is checked against every key).
    ///
    /// When the verifier holds public keys and a delivery's `webhook-signature` has a
    /// `v1a,` entry, `v1a` decides and `v1,` entries are not consulted; otherwise `v1,`
    /// entries decide against the [`Self::standard_secret`]s. A verifier with public
    /// keys alone holds nothing that can sign.
    pub fn standard_public_key(mut self, key: StandardPublicKey) -> Self {
        self.public.push(key);
        self
    }

    /// Sets both the past and the future tolerance.
    pub fn tolerance(self, tolerance: Duration) -> Self {
        self.tolerance_past(tolerance).tolerance_future(tolerance)
    }

    /// How old a timestamp may be (whole seconds, inclusive). Default 300 s.
    pub fn tolerance_past(mut self, tolerance: Duration) -> Self {
        self.tolerance_past = tolerance;
        self
    }

    /// How far in the future a timestamp may be (whole seconds, inclusive). Default 300 s.
    pub fn tolerance_future(mut self, tolerance: Duration) -> Self {
        self.tolerance_future = tolerance;
        self
    }

    /// The largest accepted body in bytes. Default 1 MiB.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Accepts exactly the given schemes (default: both).
    pub fn schemes(mut self, schemes: &[Scheme]) -> Self {
        self.accept_megabot = schemes.contains(&Scheme::MegaBot);
        self.accept_standard = schemes.contains(&Scheme::StandardWebhooks);
        self
    }

    /// Accepts or refuses one scheme.
    pub fn accept(mut self, scheme: Scheme, accept: bool) -> Self {
        match scheme {
            Scheme::MegaBot => self.accept_megabot = accept,
            Scheme::StandardWebhooks => self.accept_standard = accept,
        }
        self
    }

    /// The store used by [`Verifier::claim`] (default: a new
    /// [`MemoryReplayGuard`] of 100 000 ids).
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay_guard = Some(guard);
        self
    }

    /// Turns the freshness check off; only [`crate::dangerous`] calls this.
    pub(crate) fn skip_timestamp_check(mut self) -> Self {
        self.check_timestamp = false;
        self
    }

    /// Builds the verifier.
    ///
    /// Fails with [`Error::NoSecret`] when no accepted scheme has a secret.
    pub fn build(self) -> Result<Verifier, Error> {
        let megabot_usable = self.accept_megabot && !self.megabot.is_empty();
        let standard_usable =
            self.accept_standard && !(self.standard.is_empty() && self.public.is_empty());
        if !megabot_usable && !standard_usable {
            return Err(Error::NoSecret);
        }
        let replay_guard = self
            .replay_guard
            .unwrap_or_else(|| Arc::new(MemoryReplayGuard::new(DEFAULT_REPLAY_CAPACITY)));
        Ok(Verifier::from_inner(Inner {
            megabot: if self.accept_megabot {
                self.megabot
            } else {
                Vec::new()
            },
            public: if self.accept_standard {
                self.public
            } else {
                Vec::new()
            },
            standard: if self.accept_standard {
                self.standard
            } else {
                Vec::new()
            },
            tolerance_past: self.tolerance_past,
            tolerance_future: self.tolerance_future,
            max_body_size: self.max_body_size,
            replay_guard,
            check_timestamp: self.check_timestamp,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_scheme_switches() {
        let builder = VerifierBuilder::default();
        assert!(builder.accept_megabot && builder.accept_standard && builder.check_timestamp);
        assert_eq!(builder.tolerance_past, Duration::from_secs(300));
        assert_eq!(builder.max_body_size, 1_048_576);
        let only_standard = builder.clone().schemes(&[Scheme::StandardWebhooks]);
        assert!(!only_standard.accept_megabot && only_standard.accept_standard);
        let back = only_standard.accept(Scheme::MegaBot, true);
        assert!(back.accept_megabot && back.accept_standard);
        assert!(!builder.skip_timestamp_check().check_timestamp);
    }

    #[test]
    fn secrets_of_refused_schemes_are_dropped() {
        let verifier = VerifierBuilder::new()
            .megabot_secret(Secret::new("m").unwrap())
            .standard_secret(StandardSecret::from_bytes(b"s").unwrap())
            .accept(Scheme::MegaBot, false)
            .build()
            .unwrap();
        assert!(!verifier.accepts(Scheme::MegaBot));
        assert!(verifier.accepts(Scheme::StandardWebhooks));
    }
}
