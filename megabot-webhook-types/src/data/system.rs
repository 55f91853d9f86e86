//! `system_status_changed`.

use serde_json::Value;

use crate::data::event_data;
use crate::{Severity, SystemStatus};

event_data! {
    /// `system_status_changed`: MegaBot's operational status changed.
    pub struct SystemStatusChanged {
        /// The status before.
        "old_status" => old_status: opt SystemStatus,
        /// The status now.
        "new_status" => new_status: opt SystemStatus,
        /// Why it changed.
        "reason" => reason: opt String,
        /// Details (open-ended).
        "details" => details: opt Value,
        /// How severe the change is.
        "severity" => severity: opt Severity,
    }
}
