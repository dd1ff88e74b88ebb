//! `patchbay recordings`: find a tenant's recordings (by time, service, agent, phone and the
//! words of their transcripts), transcribe one and read its transcript, and turn the
//! automatic transcription of new recordings on or off.

use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use patchbay_api::{
    Operation, RecordingOrder, RecordingPage, Transcript, TranscriptRequest, TranscriptState, TranscriptionSettings,
};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{escape, print_json, table, text, CliError, Client};

/// How often a waiting `transcribe` asks how the transcript stands.
const POLL: Duration = Duration::from_millis(500);

#[derive(Subcommand)]
pub enum RecordingsCommand {
    /// The tenant's recordings, newest call first (or oldest, with --oldest).
    Search {
        tenant: String,
        /// Only recordings whose transcript holds every one of these words.
        #[arg(long)]
        q: Option<String>,
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// inbound, outbound or internal.
        #[arg(long)]
        direction: Option<String>,
        /// Oldest call first.
        #[arg(long)]
        oldest: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Transcribe a recording through a Speech To Text account (the named one, else the
    /// tenant's default) and wait for its transcript.
    Transcribe {
        tenant: String,
        recording: String,
        #[arg(long)]
        account: Option<Uuid>,
        /// A Watson model, e.g. en-US_NarrowbandModel.
        #[arg(long)]
        model: Option<String>,
        /// Start it and return at once.
        #[arg(long)]
        no_wait: bool,
    },
    /// A recording's transcript: each utterance with its times and sentiment.
    Transcript { tenant: String, recording: String },
    /// Transcribe new recordings as their audio arrives (or stop), for some services or all.
    AutoTranscribe {
        tenant: String,
        #[arg(long, conflicts_with = "off", required_unless_present = "off")]
        on: bool,
        #[arg(long)]
        off: bool,
        /// Only this service (repeat for several); none: every service.
        #[arg(long = "service")]
        services: Vec<String>,
        #[arg(long)]
        account: Option<Uuid>,
        #[arg(long)]
        model: Option<String>,
    },
}

pub async fn recordings(client: &Client, command: RecordingsCommand) -> Result<(), CliError> {
    match command {
        RecordingsCommand::Search { tenant, q, service, agent, phone, direction, oldest, limit } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            let order = oldest.then(|| RecordingOrder::Oldest.as_str().to_owned());
            for (name, value) in [
                ("q", q),
                ("service", service),
                ("agent", agent),
                ("phone", phone),
                ("direction", direction),
                ("order", order),
            ] {
                if let Some(value) = value {
                    query.append_pair(name, &value);
                }
            }
            query.append_pair("limit", &limit.to_string());
            let url = format!("{}?{}", Operation::SearchRecordings.url(&[&tenant]), query.finish());
            let page: RecordingPage = client.get(&url).await?;
            if client.json {
                return print_json(&page);
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|r| {
                    vec![
                        escape(&r.recording_id),
                        r.meta.call_started_at.to_rfc3339(),
                        escape(&r.meta.service),
                        escape(&r.meta.agent_login),
                        escape(&r.meta.customer_phone),
                        text(&r.audio.state),
                    ]
                })
                .collect();
            table(&["RECORDING", "CALL STARTED", "SERVICE", "AGENT", "PHONE", "AUDIO"], &rows);
            Ok(())
        }
        RecordingsCommand::Transcribe { tenant, recording, account, model, no_wait } => {
            let url = Operation::TranscribeRecording.url(&[&tenant, &recording]);
            let mut transcript: Transcript =
                client.send(Method::POST, &url, &TranscriptRequest { account, model }).await?;
            if !no_wait {
                let spinner = if client.json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
                spinner.set_style(
                    ProgressStyle::with_template("{spinner} transcribing {msg} ({elapsed})")
                        .map_err(|e| CliError::Other(anyhow::anyhow!(e)))?,
                );
                spinner.set_message(escape(&recording));
                let url = Operation::GetTranscript.url(&[&tenant, &recording]);
                while transcript.state == TranscriptState::Running {
                    tokio::time::sleep(POLL).await;
                    spinner.tick();
                    transcript = client.get(&url).await?;
                }
                spinner.finish_and_clear();
            }
            show(client, &transcript)
        }
        RecordingsCommand::Transcript { tenant, recording } => {
            let transcript: Transcript = client.get(&Operation::GetTranscript.url(&[&tenant, &recording])).await?;
            show(client, &transcript)
        }
        RecordingsCommand::AutoTranscribe { tenant, on, off: _, services, account, model } => {
            let settings = TranscriptionSettings { enabled: on, services, account, model };
            let url = Operation::PutTranscription.url(&[&tenant]);
            let saved: TranscriptionSettings = client.send(Method::PUT, &url, &settings).await?;
            if client.json {
                return print_json(&saved);
            }
            let services =
                if saved.services.is_empty() { "every service".to_owned() } else { escape(&saved.services.join(", ")) };
            match saved.enabled {
                true => println!("new recordings of {services} are transcribed as their audio arrives"),
                false => println!("new recordings are not transcribed automatically"),
            }
            Ok(())
        }
    }
}

/// A transcript as lines of utterances; a failed one is an error naming why.
fn show(client: &Client, transcript: &Transcript) -> Result<(), CliError> {
    if client.json {
        print_json(transcript)?;
    } else {
        for u in &transcript.utterances {
            let at = span(u.start, u.end);
            let sentiment =
                u.sentiment.as_ref().map(|s| format!("  {} {:+.2}", text(&s.label), s.score)).unwrap_or_default();
            println!("{at}{}{sentiment}", escape(&u.text));
        }
        if let Some(why) = &transcript.sentiment_error {
            eprintln!("no sentiment for some utterances: {}", escape(why));
        }
        if transcript.state == TranscriptState::Running {
            eprintln!("the transcript is being made; ask again with `patchbay recordings transcript`");
        }
    }
    match &transcript.error {
        Some(error) => Err(CliError::CheckFailed(format!("the transcript failed: {}", escape(&error.detail)))),
        None => Ok(()),
    }
}

/// Where an utterance lies in the audio, as a transcript line starts: `[   2.00 –    3.50]  `.
pub fn span(start: Option<f64>, end: Option<f64>) -> String {
    match (start, end) {
        (Some(start), Some(end)) => format!("[{start:>7.2} – {end:>7.2}]  "),
        _ => String::new(),
    }
}
