//! `megabot-webhook schema [--openapi]`: print the JSON Schema of MegaBot's webhook
//! bodies, or the OpenAPI 3.1 document of the webhooks and the registration API
//! (docs/design.md 9.10). The repository's `schema/` holds the same output.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use crate::error::CliError;

/// Arguments of `schema`.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Print the OpenAPI 3.1 document (webhooks and the registration API) instead of the
    /// JSON Schema of an event.
    #[arg(long)]
    openapi: bool,
}

/// The text printed: pretty JSON and a final newline, as committed under `schema/`.
pub(crate) fn render(document: &Value) -> String {
    // A `Value` with string keys always serialises.
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// The document `schema` prints.
pub(crate) fn document(openapi: bool) -> Value {
    if openapi {
        megabot_webhook_sender::api::openapi::document()
    } else {
        megabot_webhook_types::schema::json_schema()
    }
}

pub(crate) fn run(args: SchemaArgs) -> Result<ExitCode, CliError> {
    let text = render(&document(args.openapi));
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Usage(format!("cannot write to stdout: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_documents_end_with_one_newline() {
        for openapi in [false, true] {
            let text = render(&document(openapi));
            assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
            let parsed: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed, document(openapi));
        }
    }
}
