//! GitLab pipeline triggers: the guide's CI/CD example.
//!
//! The request is `POST {api}/api/v4/projects/{id}/trigger/pipeline` with a
//! form body (`application/x-www-form-urlencoded`):
//!
//! | field | value |
//! |---|---|
//! | `token` | the pipeline trigger token |
//! | `ref` | the branch or tag to run (`GITLAB_REF`, default `main`) |
//! | `variables[MEGABOT_EVENT]` | the event name |
//! | `variables[MEGABOT_EVENT_ID]` | the event id |
//! | `variables[MEGABOT_DEPLOY_TRIGGER]` | `true`, for `deployment_completed` only |
//! | `variables[MEGABOT_DEPLOY_URL]` | `deployment_completed`'s `data.url` |
//! | `variables[MEGABOT_VERSION]` | `deployment_completed`'s `data.version`, when present |
//! | `variables[MEGABOT_ENVIRONMENT]` | `deployment_completed`'s `data.environment`, when present |
//!
//! The guide's `.gitlab-ci.yml` job runs `only: variables: $MEGABOT_DEPLOY_TRIGGER == "true"`,
//! so other subscribed events start a pipeline in which that job does not run;
//! jobs of their own can test `$MEGABOT_EVENT`.
//!
//! `201 Created` (any 2xx) is success; the pipeline id is logged. `400`
//! (e.g. `Reference not found`), `401`, `403`, `404` are final; `429` honours
//! `Retry-After` / `RateLimit-Reset`; 5xx are retried. The token is never
//! logged.

use std::fmt;

use chrono::Utc;
use megabot_webhook_sender::config::SecretString;
use megabot_webhook_types::Event;
use reqwest::Url;
use serde_json::Value;

use super::retry::AttemptError;
use super::text::truncate_chars;
use super::upstream::{self, Reply};
use super::{Delivered, Env, Error, Retrier, RetrySettings, Target};

/// The events the GitLab forwarder subscribes to when `FORWARD_EVENTS` is
/// unset.
pub const DEFAULT_EVENTS: &[&str] = &["deployment_completed"];

/// GitLab.com.
pub const DEFAULT_API_URL: &str = "https://gitlab.com";

/// The ref pipelines run on when `GITLAB_REF` is unset.
pub const DEFAULT_REF: &str = "main";

/// The most characters of one variable's value.
const MAX_VALUE: usize = 2048;

/// Which project's pipeline runs, on which ref, with which trigger token.
#[derive(Clone)]
pub struct GitLabConfig {
    token: SecretString,
    project: String,
    git_ref: String,
    api_url: Url,
}

impl GitLabConfig {
    /// A config for `project` (a numeric id, or a path such as
    /// `group/project`) on `git_ref`, triggered with `token`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for an empty token, project or ref.
    pub fn new(
        token: impl Into<SecretString>,
        project: &str,
        git_ref: &str,
    ) -> Result<GitLabConfig, Error> {
        let token = token.into();
        upstream::check_token("GITLAB_TRIGGER_TOKEN", &token)?;
        let project = project.trim();
        if project.is_empty() || project.starts_with('/') || project.ends_with('/') {
            return Err(Error::invalid(
                "GITLAB_PROJECT_ID",
                format!("`{project}` is not a project id or path"),
            ));
        }
        let git_ref = git_ref.trim();
        if git_ref.is_empty() || git_ref.chars().any(char::is_control) {
            return Err(Error::invalid("GITLAB_REF", "is not a branch or tag name"));
        }
        Ok(GitLabConfig {
            token,
            project: project.to_owned(),
            git_ref: git_ref.to_owned(),
            api_url: upstream::target_url("GITLAB_API_URL", DEFAULT_API_URL, false)?,
        })
    }

    /// Sends to `api_url` (a self-managed GitLab such as
    /// `https://gitlab.example.com`, or a local stand-in) instead of GitLab.com.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] unless `https://` or `http://` to loopback.
    pub fn with_api_url(mut self, api_url: &str) -> Result<GitLabConfig, Error> {
        self.api_url = upstream::target_url("GITLAB_API_URL", api_url, false)?;
        Ok(self)
    }

    /// Reads `GITLAB_TRIGGER_TOKEN`, `GITLAB_PROJECT_ID` (both required),
    /// `GITLAB_REF` (default `main`) and `GITLAB_API_URL` (default
    /// `https://gitlab.com`).
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] or [`Error::InvalidConfig`].
    pub fn from_env(env: &Env) -> Result<GitLabConfig, Error> {
        let config = GitLabConfig::new(
            env.require("GITLAB_TRIGGER_TOKEN")?,
            &env.require("GITLAB_PROJECT_ID")?,
            &env.get("GITLAB_REF")
                .unwrap_or_else(|| DEFAULT_REF.to_owned()),
        )?;
        match env.get("GITLAB_API_URL") {
            Some(url) => config.with_api_url(&url),
            None => Ok(config),
        }
    }

    /// The trigger endpoint (a project path is percent-encoded as one segment).
    pub fn trigger_url(&self) -> Url {
        upstream::join(
            &self.api_url,
            &[
                "api",
                "v4",
                "projects",
                &self.project,
                "trigger",
                "pipeline",
            ],
        )
    }
}

impl fmt::Debug for GitLabConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabConfig")
            .field("token", &self.token)
            .field("project", &self.project)
            .field("ref", &self.git_ref)
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

/// The `variables[...]` form fields for `event` (without `token` and `ref`).
///
/// ```
/// use megabot_webhook_forward::gitlab::variables;
/// use megabot_webhook_types::{EventName, examples::example};
///
/// let fields = variables(&example(EventName::DeploymentCompleted));
/// assert!(fields.contains(&("variables[MEGABOT_DEPLOY_TRIGGER]".to_owned(), "true".to_owned())));
/// assert!(fields.contains(&("variables[MEGABOT_VERSION]".to_owned(), "1.4.0".to_owned())));
/// ```
pub fn variables(event: &Event) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut add = |name: &str, value: &str| {
        fields.push((
            format!("variables[{name}]"),
            truncate_chars(value, MAX_VALUE, ""),
        ));
    };
    add("MEGABOT_EVENT", event.name());
    add("MEGABOT_EVENT_ID", &event.id);
    if event.name() == "deployment_completed" {
        // Read from the JSON data, so a deployment whose data does not fit
        // this SDK's struct still triggers the deploy job.
        let data = event.payload.data_value();
        add("MEGABOT_DEPLOY_TRIGGER", "true");
        for (name, key) in [
            ("MEGABOT_DEPLOY_URL", "url"),
            ("MEGABOT_VERSION", "version"),
            ("MEGABOT_ENVIRONMENT", "environment"),
        ] {
            match data.get(key) {
                Some(Value::String(text)) => add(name, text),
                Some(number @ Value::Number(_)) => add(name, &number.to_string()),
                _ => {}
            }
        }
    }
    fields
}

/// The GitLab forwarder.
#[derive(Debug)]
pub struct GitLab {
    config: GitLabConfig,
    client: reqwest::Client,
    retry: RetrySettings,
}

impl GitLab {
    /// A forwarder to `config` with `retry`.
    ///
    /// # Errors
    ///
    /// [`Error::Client`] when the HTTP client cannot be built.
    pub fn new(config: GitLabConfig, retry: RetrySettings) -> Result<GitLab, Error> {
        Ok(GitLab {
            client: upstream::client(retry.attempt_timeout)?,
            config,
            retry,
        })
    }

    /// [`GitLabConfig::from_env`] and [`GitLab::new`].
    ///
    /// # Errors
    ///
    /// As those.
    pub fn from_env(env: &Env, retry: &RetrySettings) -> Result<GitLab, Error> {
        GitLab::new(GitLabConfig::from_env(env)?, *retry)
    }

    async fn attempt(&self, url: &Url, form: &[(String, String)]) -> Result<Reply, AttemptError> {
        let request = self
            .client
            .post(url.clone())
            .header("accept", "application/json")
            .form(form);
        let reply = upstream::send(request).await?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let now = Utc::now();
        Err(match reply.default_failure(now) {
            AttemptError::Retry { reason, wait: None } if reply.status == 429 => {
                AttemptError::Retry {
                    reason,
                    wait: reply.wait_until_epoch("ratelimit-reset", now),
                }
            }
            other => other,
        })
    }
}

impl Target for GitLab {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    async fn deliver(&self, event: &Event) -> Result<Delivered, Error> {
        let url = self.config.trigger_url();
        let mut form = vec![
            ("token".to_owned(), self.config.token.expose().to_owned()),
            ("ref".to_owned(), self.config.git_ref.clone()),
        ];
        form.extend(variables(event));
        let (reply, attempts) = Retrier::new(self.name(), &self.retry)
            .run(|_| self.attempt(&url, &form))
            .await?;
        let pipeline = serde_json::from_str::<serde_json::Value>(&reply.text)
            .ok()
            .and_then(|v| v.get("id").and_then(serde_json::Value::as_u64))
            .map(|id| format!("pipeline {id}"));
        Ok(Delivered {
            attempts,
            detail: pipeline,
        })
    }
}

#[cfg(test)]
mod tests {
    use megabot_webhook_types::EventName;
    use megabot_webhook_types::examples::example;

    use super::*;

    fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(k, _)| k == &format!("variables[{name}]"))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn deployment_variables() {
        let fields = variables(&example(EventName::DeploymentCompleted));
        assert_eq!(get(&fields, "MEGABOT_EVENT"), Some("deployment_completed"));
        assert_eq!(get(&fields, "MEGABOT_EVENT_ID"), Some("evt_123466"));
        assert_eq!(get(&fields, "MEGABOT_DEPLOY_TRIGGER"), Some("true"));
        assert_eq!(
            get(&fields, "MEGABOT_DEPLOY_URL"),
            Some("https://my-app.vercel.app")
        );
        assert_eq!(get(&fields, "MEGABOT_VERSION"), Some("1.4.0"));
        assert_eq!(get(&fields, "MEGABOT_ENVIRONMENT"), Some("production"));
    }

    #[test]
    fn other_events_do_not_trigger_the_deploy_job() {
        let fields = variables(&example(EventName::ErrorOccurred));
        assert_eq!(get(&fields, "MEGABOT_EVENT"), Some("error_occurred"));
        assert_eq!(get(&fields, "MEGABOT_DEPLOY_TRIGGER"), None);
        assert_eq!(fields.len(), 2);
    }

    #[test]
    fn odd_deployment_data_still_triggers() {
        let event = Event::from_slice(
            br#"{"event":"deployment_completed","id":"e","timestamp":1,"data":{"url":["x"],"version":2}}"#,
        )
        .unwrap();
        let fields = variables(&event);
        assert_eq!(get(&fields, "MEGABOT_DEPLOY_TRIGGER"), Some("true"));
        assert_eq!(get(&fields, "MEGABOT_VERSION"), Some("2"));
        assert_eq!(get(&fields, "MEGABOT_DEPLOY_URL"), None);
    }

    #[test]
    fn config() {
        let config = GitLabConfig::new("glptt-secretvalue", "group/sub/project", "main").unwrap();
        assert_eq!(
            config.trigger_url().as_str(),
            "https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject/trigger/pipeline"
        );
        assert!(!format!("{config:?}").contains("glptt-secretvalue"));
        let env = Env::from_pairs([
            ("GITLAB_TRIGGER_TOKEN", "t"),
            ("GITLAB_PROJECT_ID", "42"),
            ("GITLAB_API_URL", "http://127.0.0.1:7"),
        ]);
        let config = GitLabConfig::from_env(&env).unwrap();
        assert_eq!(config.git_ref, "main");
        assert_eq!(
            config.trigger_url().as_str(),
            "http://127.0.0.1:7/api/v4/projects/42/trigger/pipeline"
        );
        assert!(GitLabConfig::new("t", "", "main").is_err());
        assert!(GitLabConfig::new("", "1", "main").is_err());
        assert!(GitLabConfig::new("t", "1", " ").is_err());
    }
}
