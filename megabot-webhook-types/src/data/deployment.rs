//! `deployment_completed`, named by the guide's GitHub and Slack examples.

use crate::ExecutionStatus;
use crate::data::event_data;

event_data! {
    /// `deployment_completed`: a deployment finished. The guide names this
    /// event in its GitHub and Slack examples, which read `data.url`; its
    /// GitLab example reads a version and a deploy URL.
    pub struct DeploymentCompleted {
        /// The deployment's id.
        "deployment_id" => deployment_id: opt String,
        /// Where it was deployed.
        "url" => url: opt String,
        /// The version deployed.
        "version" => version: opt String,
        /// The target environment.
        "environment" => environment: opt String,
        /// The outcome.
        "status" => status: opt ExecutionStatus,
    }
}
