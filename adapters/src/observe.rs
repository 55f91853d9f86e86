//! What the funnel ([`crate::receive`]) records per request for the receiver metrics
//! (design.md section 8, "Receiver metrics"; the names are in [`crate::metrics`]).
//!
//! Without the `metrics` feature every function here is empty and the clock is not read.
//! With it, the hot outcomes (`ok`, `handler_failed`, `duplicate`, `replay_in_flight`)
//! use keys built at compile time (hash included), so recording allocates nothing; the
//! rarer refusal codes build their key when they happen.

use std::time::Duration;

use megabot_webhook_types::headers as names;
use megabot_webhook_verify::{Headers, Scheme, Verifier};

use crate::Error;

/// The `scheme` label of a request refused before it was authenticated: the scheme that
/// would have decided (as the verifier chooses it), else `none`.
pub(crate) fn scheme_of<H: Headers + ?Sized>(verifier: &Verifier, headers: &H) -> &'static str {
    if verifier.accepts(Scheme::StandardWebhooks)
        && headers.header(names::WEBHOOK_SIGNATURE).is_some()
    {
        Scheme::StandardWebhooks.as_str()
    } else if verifier.accepts(Scheme::MegaBot) && headers.header(names::SIGNATURE).is_some() {
        Scheme::MegaBot.as_str()
    } else {
        NO_SCHEME
    }
}

/// The `scheme` label when no signature header could decide.
pub(crate) const NO_SCHEME: &str = "none";
/// [`Scheme::MegaBot`]'s label ([`Scheme::as_str`]).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
const MEGABOT: &str = "megabot";
/// [`Scheme::StandardWebhooks`]'s label ([`Scheme::as_str`]).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
const STANDARD_WEBHOOKS: &str = "standard-webhooks";

/// The `outcome` label of a request the handler answered with `status`.
pub(crate) fn handler_outcome(status: u16) -> &'static str {
    if (200..300).contains(&status) {
        OK
    } else {
        HANDLER_FAILED
    }
}

/// The handler answered 2xx.
pub(crate) const OK: &str = "ok";
/// The handler answered anything but 2xx.
pub(crate) const HANDLER_FAILED: &str = "handler_failed";
/// The copy of a delivery already handled.
pub(crate) const DUPLICATE: &str = "duplicate";
/// The handler panicked ([`Error::HandlerPanicked`]'s code).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
const HANDLER_PANICKED: &str = "handler_panicked";
/// Another request holds the delivery's claim (the verifier's `ReplayInFlight` code).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
const REPLAY_IN_FLIGHT: &str = "replay_in_flight";

/// The `outcome` label of a refusal: `duplicate`, or the error's code.
pub(crate) fn refusal_outcome(error: &Error) -> &'static str {
    if error.is_duplicate() {
        DUPLICATE
    } else {
        error.code()
    }
}

/// Reads the clock only where something records the time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stopwatch {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Stopwatch {
    /// Starts timing.
    #[inline]
    pub(crate) fn start() -> Stopwatch {
        Stopwatch {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// The time since [`Stopwatch::start`] (zero without the `metrics` feature).
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(clippy::unused_self))]
    pub(crate) fn elapsed(&self) -> Duration {
        #[cfg(feature = "metrics")]
        {
            self.started.elapsed()
        }
        #[cfg(not(feature = "metrics"))]
        {
            Duration::ZERO
        }
    }
}

#[cfg(feature = "metrics")]
pub(crate) use recording::{body_size, handled, request, verified};

#[cfg(not(feature = "metrics"))]
mod off {
    use std::time::Duration;

    #[inline]
    pub(crate) fn request(_outcome: &'static str, _scheme: &'static str) {}
    #[inline]
    pub(crate) fn verified(_elapsed: Duration, _scheme: &'static str) {}
    #[inline]
    pub(crate) fn handled(_elapsed: Duration, _outcome: &'static str) {}
    #[inline]
    pub(crate) fn body_size(_bytes: usize) {}
}

#[cfg(not(feature = "metrics"))]
pub(crate) use off::{body_size, handled, request, verified};

#[cfg(feature = "metrics")]
mod recording {
    use std::time::Duration;

    use ::metrics::{Key, Label, Level, Metadata, with_recorder};

    use super::{
        DUPLICATE, HANDLER_FAILED, HANDLER_PANICKED, MEGABOT, NO_SCHEME, OK, REPLAY_IN_FLIGHT,
        STANDARD_WEBHOOKS,
    };
    use crate::metrics::{
        BODY_SIZE_BYTES, HANDLER_DURATION_SECONDS, REQUESTS_TOTAL, VERIFY_DURATION_SECONDS,
    };

    static METADATA: Metadata<'static> =
        Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

    /// A `&'static Key` built at compile time.
    macro_rules! static_key {
        ($name:expr) => {{
            static KEY: Key = Key::from_static_name($name);
            &KEY
        }};
        ($name:expr $(, $label:expr => $value:expr)+) => {{
            static LABELS: [Label; [$($label),+].len()] =
                [$(Label::from_static_parts($label, $value)),+];
            static KEY: Key = Key::from_static_parts($name, &LABELS);
            &KEY
        }};
    }

    /// The `requests_total` key for `outcome` under `scheme` (one of the three).
    macro_rules! request_key {
        ($outcome:expr, $scheme:expr) => {
            match $scheme {
                MEGABOT => static_key!(REQUESTS_TOTAL, "outcome" => $outcome, "scheme" => MEGABOT),
                STANDARD_WEBHOOKS => static_key!(
                    REQUESTS_TOTAL, "outcome" => $outcome, "scheme" => STANDARD_WEBHOOKS
                ),
                _ => static_key!(REQUESTS_TOTAL, "outcome" => $outcome, "scheme" => NO_SCHEME),
            }
        };
    }

    /// Counts a request answered with `outcome`.
    pub(crate) fn request(outcome: &'static str, scheme: &'static str) {
        let dynamic;
        let key: &Key = match outcome {
            OK => request_key!(OK, scheme),
            HANDLER_FAILED => request_key!(HANDLER_FAILED, scheme),
            DUPLICATE => request_key!(DUPLICATE, scheme),
            REPLAY_IN_FLIGHT => request_key!(REPLAY_IN_FLIGHT, scheme),
            _ => {
                dynamic = Key::from_parts(
                    REQUESTS_TOTAL,
                    vec![
                        Label::from_static_parts("outcome", outcome),
                        Label::from_static_parts("scheme", scheme),
                    ],
                );
                &dynamic
            }
        };
        with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
    }

    /// Records the time a verification took, under the scheme that decided (or would have).
    pub(crate) fn verified(elapsed: Duration, scheme: &'static str) {
        let key = match scheme {
            MEGABOT => static_key!(VERIFY_DURATION_SECONDS, "scheme" => MEGABOT),
            STANDARD_WEBHOOKS => {
                static_key!(VERIFY_DURATION_SECONDS, "scheme" => STANDARD_WEBHOOKS)
            }
            _ => static_key!(VERIFY_DURATION_SECONDS, "scheme" => NO_SCHEME),
        };
        with_recorder(|recorder| {
            recorder
                .register_histogram(key, &METADATA)
                .record(elapsed.as_secs_f64());
        });
    }

    /// Records the time the handler ran, by its outcome.
    pub(crate) fn handled(elapsed: Duration, outcome: &'static str) {
        let key = match outcome {
            OK => static_key!(HANDLER_DURATION_SECONDS, "outcome" => OK),
            HANDLER_FAILED => static_key!(HANDLER_DURATION_SECONDS, "outcome" => HANDLER_FAILED),
            _ => static_key!(HANDLER_DURATION_SECONDS, "outcome" => HANDLER_PANICKED),
        };
        with_recorder(|recorder| {
            recorder
                .register_histogram(key, &METADATA)
                .record(elapsed.as_secs_f64());
        });
    }

    /// Records the size of a body read whole (decoded).
    pub(crate) fn body_size(bytes: usize) {
        let key = static_key!(BODY_SIZE_BYTES);
        with_recorder(|recorder| {
            // Bodies are capped by the verifier's max_body_size: exact as f64.
            #[allow(clippy::cast_precision_loss)]
            recorder
                .register_histogram(key, &METADATA)
                .record(bytes as f64);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use megabot_webhook_verify::Error as VerifyError;

    #[test]
    fn labels_are_the_stable_names_and_codes() {
        assert_eq!(MEGABOT, Scheme::MegaBot.as_str());
        assert_eq!(STANDARD_WEBHOOKS, Scheme::StandardWebhooks.as_str());
        assert_eq!(HANDLER_PANICKED, Error::HandlerPanicked.code());
        assert_eq!(
            REPLAY_IN_FLIGHT,
            Error::from(VerifyError::ReplayInFlight).code()
        );
        assert_eq!(
            refusal_outcome(&Error::from(VerifyError::DuplicateDelivery)),
            DUPLICATE
        );
        assert_eq!(
            refusal_outcome(&Error::from(VerifyError::SignatureMismatch)),
            "signature_mismatch"
        );
        assert_eq!(handler_outcome(204), OK);
        assert_eq!(handler_outcome(199), HANDLER_FAILED);
        assert_eq!(handler_outcome(302), HANDLER_FAILED);
        assert_eq!(handler_outcome(500), HANDLER_FAILED);
    }

    #[test]
    fn the_scheme_label_follows_the_verifiers_choice() {
        use megabot_webhook_verify::{Secret, StandardSecret};
        let both = Verifier::builder()
            .megabot_secret(Secret::new("s").unwrap())
            .standard_secret(
                StandardSecret::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap(),
            )
            .build()
            .unwrap();
        let megabot_only = Verifier::builder()
            .megabot_secret(Secret::new("s").unwrap())
            .build()
            .unwrap();
        let megabot = [("X-MegaBot-Signature", "sha256=00")];
        let standard = [("webhook-signature", "v1,AA==")];
        let none: [(&str, &str); 0] = [];
        let all = [
            ("webhook-signature", "v1,AA=="),
            ("x-megabot-signature", "x"),
        ];
        assert_eq!(scheme_of(&both, &megabot[..]), MEGABOT);
        assert_eq!(scheme_of(&both, &standard[..]), STANDARD_WEBHOOKS);
        assert_eq!(scheme_of(&both, &all[..]), STANDARD_WEBHOOKS);
        assert_eq!(scheme_of(&both, &none[..]), NO_SCHEME);
        assert_eq!(scheme_of(&megabot_only, &standard[..]), NO_SCHEME);
        assert_eq!(scheme_of(&megabot_only, &all[..]), MEGABOT);
    }
}
