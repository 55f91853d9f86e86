//! `megabot-webhook demo`: every guide event and every failure mode, through the
//! real sender, into a verified receiver on each framework, on loopback.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Args;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_sender::config::EndpointConfig;
use megabot_webhook_sender::{Delivery, EndpointReport, Sender};
use megabot_webhook_types::{Event, EventName, EventPayload, headers};
use megabot_webhook_verify::{Secret, StandardSecret, sign};

use crate::cmd::listen::build_verifier;
use crate::cmd::send::{ReceiverAnswer, endpoint_for, fresh_example, fresh_id, sender_for};
use crate::error::CliError;
use crate::receiver::{self, Framework};

mod sending;

const MEGABOT_SECRET: &str = "demo_megabot_secret";
const STANDARD_SECRET: &str = "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQtMzJi";

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Only this framework (default: all three).
    #[arg(long, value_enum)]
    framework: Option<Framework>,
    /// Also log each refusal and retry (stderr), as a receiver would.
    #[arg(long)]
    pub(crate) verbose: bool,
}

/// What reached a receiver's handler, per delivery id.
#[derive(Debug, Default)]
struct Journal {
    seen: Mutex<HashMap<String, Vec<String>>>,
    fail_once: Mutex<HashSet<String>>,
}

impl Journal {
    fn handle(&self, hook: &Webhook) -> u16 {
        let failing = self
            .fail_once
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(hook.delivery_id());
        let status = if failing { 500 } else { 200 };
        let what = format!(
            "{} via {} -> {status}",
            payload_kind(hook.event()),
            hook.scheme()
        );
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(hook.delivery_id().to_owned())
            .or_default()
            .push(what);
        status
    }

    fn seen(&self, id: &str) -> Vec<String> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
}

fn payload_kind(event: &Event) -> String {
    match &event.payload {
        EventPayload::Unknown { event, .. } => format!("Unknown({event})"),
        EventPayload::Malformed { event, .. } => format!("Malformed({event})"),
        other => format!("typed {}", other.name()),
    }
}

/// One row of the table: what was sent, what came back, what the handler saw.
#[derive(Debug)]
struct Row {
    delivery: String,
    framework: Framework,
    answer: String,
    /// The receiver's error code and message for each refusal.
    said: Vec<String>,
    handler: Vec<String>,
    expected_answer: String,
    expected_handler: Vec<String>,
}

impl Row {
    fn ok(&self) -> bool {
        self.answer == self.expected_answer && self.handler == self.expected_handler
    }
}

/// What came back: `200 ok`, `401 signature_mismatch`, `200 duplicate` (status and the
/// body's code, attempts joined by `, then `), and the receiver's messages on refusals.
struct Answer {
    text: String,
    said: Vec<String>,
}

fn answer_of(status: Option<u16>, body: Option<&str>) -> Answer {
    let answer = ReceiverAnswer::parse(body);
    let status_text = status.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
    let text = match &answer.code {
        Some(code) => format!("{status_text} {code}"),
        None => status_text,
    };
    let refused = status.is_some_and(|s| s >= 400);
    let said = match (refused, answer.code, answer.message) {
        (true, Some(code), Some(message)) => vec![format!("{code}: {message}")],
        _ => Vec::new(),
    };
    Answer { text, said }
}

fn report_answer(report: &EndpointReport) -> Answer {
    let answers: Vec<Answer> = report
        .attempts
        .iter()
        .map(|a| answer_of(a.status, a.response_body.as_deref()))
        .collect();
    Answer {
        text: answers
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(", then "),
        said: answers.into_iter().flat_map(|a| a.said).collect(),
    }
}

struct Receiver {
    framework: Framework,
    url: String,
    journal: Arc<Journal>,
}

struct Demo {
    sender: Sender,
    client: reqwest::Client,
    rows: Vec<Row>,
}

impl Demo {
    async fn via_sender(
        &self,
        receiver: &Receiver,
        delivery: &Delivery,
        standard: bool,
        attempts: u32,
    ) -> Result<EndpointReport, CliError> {
        let mut endpoint: EndpointConfig = endpoint_for(
            &receiver.url,
            standard.then_some(STANDARD_SECRET),
            attempts,
            false,
        );
        endpoint.retry_policy.initial_delay = 0.2;
        Ok(self.sender.deliver_to(&endpoint, delivery).await?)
    }

    fn record(
        &mut self,
        delivery: String,
        receiver: &Receiver,
        answer: Answer,
        id: &str,
        expected_answer: &str,
        expected_handler: Vec<String>,
    ) {
        self.rows.push(Row {
            delivery,
            framework: receiver.framework,
            answer: answer.text,
            said: answer.said,
            handler: receiver.journal.seen(id),
            expected_answer: expected_answer.to_owned(),
            expected_handler,
        });
    }

    async fn run_receiver(&mut self, receiver: &Receiver) -> Result<(), CliError> {
        let seen =
            |kind: &str, scheme: &str, status: u16| format!("{kind} via {scheme} -> {status}");
        // every guide event, signed with each scheme
        let mut first: Option<Delivery> = None;
        for standard in [false, true] {
            let scheme = if standard {
                "standard-webhooks"
            } else {
                "megabot"
            };
            for name in EventName::ALL {
                let delivery = Delivery::from_event(&fresh_example(*name))?;
                let report = self.via_sender(receiver, &delivery, standard, 1).await?;
                let expected = vec![seen(&format!("typed {name}"), scheme, 200)];
                self.record(
                    format!("{name} ({scheme})"),
                    receiver,
                    report_answer(&report),
                    delivery.id(),
                    "200 ok",
                    expected,
                );
                first.get_or_insert(delivery);
            }
        }

        // the same delivery again: answered, not run again
        if let Some(delivery) = first {
            let report = self.via_sender(receiver, &delivery, false, 1).await?;
            let expected = vec![seen(&format!("typed {}", delivery.event()), "megabot", 200)];
            self.record(
                "replayed delivery".into(),
                receiver,
                report_answer(&report),
                delivery.id(),
                "200 duplicate",
                expected,
            );
        }

        // tampered in flight: signed, then one byte of the body changed
        let delivery = Delivery::from_event(&fresh_example(EventName::ToolExecutionFailed))?;
        let signature = sign::megabot_signature(&Secret::new(MEGABOT_SECRET)?, delivery.body());
        let tampered = String::from_utf8_lossy(delivery.body()).replace("deploy_app", "deploy_bad");
        let response = self
            .client
            .post(&receiver.url)
            .header(headers::CONTENT_TYPE, headers::CONTENT_TYPE_JSON)
            .header(headers::SIGNATURE, signature)
            .body(tampered)
            .send()
            .await
            .map_err(|e| CliError::Usage(format!("demo request failed: {e}")))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        self.record(
            "tampered body".into(),
            receiver,
            answer_of(Some(status), Some(&body)),
            delivery.id(),
            "401 signature_mismatch",
            vec![],
        );

        // stale: correctly signed an hour ago (MegaBot scheme: the body's timestamp)
        let mut event = fresh_example(EventName::ErrorOccurred);
        event.timestamp -= chrono::Duration::hours(1);
        let delivery = Delivery::from_event(&event)?;
        let report = self.via_sender(receiver, &delivery, false, 1).await?;
        self.record(
            "stale timestamp (1 h old)".into(),
            receiver,
            report_answer(&report),
            delivery.id(),
            "401 timestamp_too_old",
            vec![],
        );

        // the handler fails once; the sender's retry runs it again
        let delivery = Delivery::from_event(&fresh_example(EventName::ToolExecutionCompleted))?;
        receiver
            .journal
            .fail_once
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(delivery.id().to_owned());
        let report = self.via_sender(receiver, &delivery, false, 3).await?;
        let kind = "typed tool_execution_completed";
        self.record(
            "handler fails, then retry".into(),
            receiver,
            report_answer(&report),
            delivery.id(),
            "500 handler_failed, then 200 ok",
            vec![seen(kind, "megabot", 500), seen(kind, "megabot", 200)],
        );

        // an event this SDK does not know
        let id = fresh_id();
        let body = format!(
            r#"{{"event":"plugin_installed","id":"{id}","timestamp":{},"data":{{"plugin":"weather","version":"2.0"}}}}"#,
            chrono::Utc::now().timestamp()
        );
        let delivery = Delivery::from_json(body.as_bytes())?;
        let report = self.via_sender(receiver, &delivery, false, 1).await?;
        self.record(
            "unknown event".into(),
            receiver,
            report_answer(&report),
            &id,
            "200 ok",
            vec![seen("Unknown(plugin_installed)", "megabot", 200)],
        );
        Ok(())
    }
}

fn table(rows: &[Row], colour: bool) -> String {
    let (green, red, reset) = if colour {
        ("\x1b[32m", "\x1b[31m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let handler_text = |h: &[String]| {
        if h.is_empty() {
            "nothing".to_owned()
        } else {
            h.join("; ")
        }
    };
    let width = |f: &dyn Fn(&Row) -> usize, title: &str| {
        rows.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let w_delivery = width(&|r| r.delivery.len(), "delivery");
    let w_framework = width(&|r| r.framework.as_str().len(), "framework");
    let w_answer = width(&|r| r.answer.len(), "HTTP answer");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "   {:<w_delivery$}  {:<w_framework$}  {:<w_answer$}  what reached the handler",
        "delivery", "framework", "HTTP answer"
    );
    for row in rows {
        let mark = if row.ok() {
            format!("{green}ok{reset}")
        } else {
            format!("{red}!!{reset}")
        };
        let _ = writeln!(
            out,
            "{mark} {:<w_delivery$}  {:<w_framework$}  {:<w_answer$}  {}",
            row.delivery,
            row.framework.as_str(),
            row.answer,
            handler_text(&row.handler)
        );
        for said in &row.said {
            let _ = writeln!(out, "   {:<w_delivery$}  receiver said {said}", "");
        }
        if !row.ok() {
            let _ = writeln!(
                out,
                "   {red}expected{reset} {}  /  {}",
                row.expected_answer,
                handler_text(&row.expected_handler)
            );
        }
    }
    out
}

pub(crate) async fn run(args: DemoArgs) -> Result<ExitCode, CliError> {
    // fail early on a broken demo secret rather than in the middle
    StandardSecret::parse(STANDARD_SECRET)?;
    // One verifier (and replay guard) per receiver: each is its own service.
    let new_verifier = || {
        build_verifier(
            &[MEGABOT_SECRET.to_owned()],
            &[STANDARD_SECRET.to_owned()],
            300,
        )
    };
    let frameworks: Vec<Framework> = match args.framework {
        Some(one) => vec![one],
        None => Framework::ALL.to_vec(),
    };
    let mut receivers = Vec::new();
    for framework in frameworks {
        let journal = Arc::new(Journal::default());
        let handler_journal = Arc::clone(&journal);
        let handler: receiver::Handler =
            Arc::new(move |hook: &Webhook| handler_journal.handle(hook));
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let running =
            receiver::start(framework, loopback, "/webhook", new_verifier()?, handler).await?;
        receivers.push(Receiver {
            framework,
            url: format!("http://{}/webhook", running.addr),
            journal,
        });
        // the servers run until the process ends
        std::mem::forget(running);
    }
    let sender = sender_for(&[MEGABOT_SECRET.to_owned()], None)?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot build an http client: {e}")))?;
    let mut demo = Demo {
        sender,
        client,
        rows: Vec::new(),
    };
    for receiver in &receivers {
        eprintln!(
            "receiver: {} at {}",
            receiver.framework.as_str(),
            receiver.url
        );
        demo.run_receiver(receiver).await?;
    }
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", table(&demo.rows, colour));
    let wrong = demo.rows.iter().filter(|r| !r.ok()).count();
    let metrics = demo.sender.metrics();
    println!(
        "\n{} deliveries on {} framework(s): {} as the design says, {wrong} not. Sender: {} retries, {:.0}% delivered (the stale ones are refused on purpose).",
        demo.rows.len(),
        receivers.len(),
        demo.rows.len() - wrong,
        metrics.retries_total,
        metrics.success_rate * 100.0
    );
    let sending_ok = sending::run(&receivers).await?;
    Ok(if wrong == 0 && sending_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
