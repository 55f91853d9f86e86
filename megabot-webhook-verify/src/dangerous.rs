//! Options that weaken verification. Each one is a deliberate, greppable choice.
//!
//! Nothing here is needed in production; these exist for replaying captured
//! deliveries in tests and tools.

use crate::VerifierBuilder;

/// Turns the freshness check off: any authentic timestamp is accepted, so a captured
/// delivery can be replayed forever unless the replay guard still remembers its id
/// (ids are then remembered for the past tolerance counted from the moment of
/// verification).
///
/// ```
/// use megabot_webhook_verify::{Secret, Verifier, dangerous};
///
/// let builder = Verifier::builder().megabot_secret(Secret::new("s3cr3t")?);
/// let verifier = dangerous::ignore_timestamp(builder).build()?;
/// assert!(!verifier.checks_timestamp());
/// # Ok::<(), megabot_webhook_verify::Error>(())
/// ```
pub fn ignore_timestamp(builder: VerifierBuilder) -> VerifierBuilder {
    builder.skip_timestamp_check()
}
