//! `patchbay gateway`: try the runtime gateway's operations from a shell, as an application
//! would call them (with a `gateway_client` or admin token), and manage the chat bot
//! bindings of services and launch points.

use clap::Subcommand;
use futures::{SinkExt as _, StreamExt as _};
use indicatif::{ProgressBar, ProgressStyle};
use patchbay_api::{
    AudioFormat, Bindings, CrmContacts, CrmSearchRequest, IdentifyRequest, Identity, KbArticleWrite, KbResults,
    KbTopicCreated, Operation, Sentiment, SentimentRequest, SpeechRequest, SuggestRequest, Suggestions,
    TranscribeFailure, TranscribeQuery, TranscriptPiece, Usage,
};
use reqwest::Method;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::client::{escape, print_json, table, CliError, Client};

/// Audio per message sent to the transcription socket.
const AUDIO_MESSAGE: usize = 16 * 1024;

#[derive(Subcommand)]
pub enum GatewayCommand {
    /// Suggestions for an agent from a chat bot: the named account, else the bot bound to
    /// the service, else the launch point's.
    Suggest {
        tenant: String,
        /// What the customer wrote.
        text: String,
        /// The conversation the text belongs to (a stateless bot's context is kept per
        /// conversation).
        #[arg(long, default_value = "cli")]
        conversation: String,
        #[arg(long)]
        account: Option<Uuid>,
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        launch_point: Option<String>,
    },
    /// The sentiment of a text (the named NLU account, else the tenant's only one).
    Sentiment {
        tenant: String,
        text: String,
        #[arg(long)]
        account: Option<Uuid>,
    },
    /// Who a caller is, as the contact fields the account's Field Mapping names.
    Identify {
        tenant: String,
        #[arg(long, required_unless_present = "email", conflicts_with = "email")]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        account: Option<Uuid>,
    },
    /// Contacts with a phone number or email address in a CRM account (Salesforce,
    /// Zendesk, ServiceNow, Oracle Service Cloud, RightNow): the named one, else the
    /// tenant's only enabled one.
    Crm {
        tenant: String,
        #[arg(long)]
        account: Option<Uuid>,
        #[arg(long, required_unless_present = "email", conflicts_with = "email")]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Speech for a prompt, written to a file (the named Text To Speech account, else the
    /// tenant's only one; the account's voice unless --voice).
    Speak {
        tenant: String,
        /// The text, or SSML with --ssml.
        text: String,
        /// Where the audio goes; its extension picks the format (.wav, .mp3, .ogg).
        #[arg(short = 'o', long)]
        output: std::path::PathBuf,
        #[arg(long)]
        ssml: bool,
        #[arg(long)]
        voice: Option<String>,
        #[arg(long)]
        account: Option<Uuid>,
    },
    /// Transcribe an audio file through a Speech To Text account (the named one, else the
    /// tenant's default): streams it over the gateway's WebSocket and prints the final
    /// results with their times as they come.
    Transcribe {
        tenant: String,
        /// A WAV file, or raw 16-bit little-endian mono PCM (.raw, .pcm) with --rate.
        file: std::path::PathBuf,
        #[arg(long)]
        account: Option<Uuid>,
        /// The sample rate of raw PCM, in Hz.
        #[arg(long)]
        rate: Option<u32>,
        /// A Watson model, e.g. en-US_NarrowbandModel.
        #[arg(long)]
        model: Option<String>,
    },
    /// Search the knowledge base as the agent desktop does (the exclusive external KB, else
    /// the native KB, then the external one).
    Kb {
        tenant: String,
        /// The words to find.
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Submit a topic to the knowledge base (the native KB unless an external one is
    /// exclusive).
    Topic { tenant: String, title: String, body: String },
    /// The chat bot bindings of services and launch points.
    Bindings { tenant: String },
    /// Bind a chat bot account to a service or a launch point (the other bindings stay).
    Bind {
        tenant: String,
        account: Uuid,
        #[arg(long, required_unless_present = "launch_point", conflicts_with = "launch_point")]
        service: Option<String>,
        #[arg(long)]
        launch_point: Option<String>,
    },
    /// Remove the binding of a service or a launch point.
    Unbind {
        tenant: String,
        #[arg(long, required_unless_present = "launch_point", conflicts_with = "launch_point")]
        service: Option<String>,
        #[arg(long)]
        launch_point: Option<String>,
    },
    /// An account's gateway calls, errors and quota per day, and its live health.
    Usage {
        tenant: String,
        account: Uuid,
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

pub async fn gateway(client: &Client, command: GatewayCommand) -> Result<(), CliError> {
    match command {
        GatewayCommand::Suggest { tenant, text, conversation, account, service, launch_point } => {
            let body = SuggestRequest { text, conversation_id: conversation, account, service, launch_point };
            let answer: Suggestions = client.send(Method::POST, &Operation::Suggest.url(&[&tenant]), &body).await?;
            if client.json {
                return print_json(&answer);
            }
            if answer.suggestions.is_empty() {
                println!("no suggestion (account {})", answer.account);
            }
            for s in &answer.suggestions {
                match s.confidence {
                    Some(c) => println!("{:>4.0}%  {}", c * 100.0, escape(&s.text)),
                    None => println!("   -   {}", escape(&s.text)),
                }
            }
            Ok(())
        }
        GatewayCommand::Sentiment { tenant, text, account } => {
            let body = SentimentRequest { text, account };
            let answer: Sentiment = client.send(Method::POST, &Operation::Sentiment.url(&[&tenant]), &body).await?;
            if client.json {
                return print_json(&answer);
            }
            println!("{} ({:+.2})", crate::client::text(&answer.label), answer.score);
            Ok(())
        }
        GatewayCommand::Identify { tenant, phone, email, account } => {
            let body = IdentifyRequest { phone, email, account };
            let answer: Identity = client.send(Method::POST, &Operation::Identify.url(&[&tenant]), &body).await?;
            if client.json {
                return print_json(&answer);
            }
            if answer.contact.is_empty() {
                println!("the vendor knows nothing of this caller (account {})", answer.account);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = answer.contact.iter().map(|(k, v)| vec![escape(k), escape(v)]).collect();
            table(&["CONTACT FIELD", "VALUE"], &rows);
            Ok(())
        }
        GatewayCommand::Crm { tenant, account, phone, email } => {
            let body = CrmSearchRequest { account, phone, email };
            let url = Operation::CrmSearch.url(&[&tenant]);
            let answer: CrmContacts = client.send(Method::POST, &url, &body).await?;
            if client.json {
                return print_json(&answer);
            }
            let cell = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), escape);
            let rows: Vec<Vec<String>> = answer
                .contacts
                .iter()
                .map(|c| vec![escape(&c.id), escape(&c.name), cell(&c.email), cell(&c.phone), cell(&c.url)])
                .collect();
            table(&["ID", "NAME", "EMAIL", "PHONE", "URL"], &rows);
            Ok(())
        }
        GatewayCommand::Speak { tenant, text, output, ssml, voice, account } => {
            let format = match output.extension().and_then(|e| e.to_str()) {
                Some("wav") => AudioFormat::Wav,
                Some("mp3") => AudioFormat::Mp3,
                Some("ogg") => AudioFormat::Ogg,
                _ => return Err(CliError::Usage("the output file must end in .wav, .mp3 or .ogg".into())),
            };
            let (text, ssml) = if ssml { (None, Some(text)) } else { (Some(text), None) };
            let body = SpeechRequest { text, ssml, voice, format, account };
            let audio = client.send_bytes(Method::POST, &Operation::Speech.url(&[&tenant]), &body).await?;
            std::fs::write(&output, &audio)
                .map_err(|e| CliError::Other(anyhow::anyhow!("cannot write {}: {e}", output.display())))?;
            if !client.json {
                println!("wrote {} bytes of {} to {}", audio.len(), format.content_type(), output.display());
            }
            Ok(())
        }
        GatewayCommand::Transcribe { tenant, file, account, rate, model } => {
            transcribe(client, &tenant, &file, TranscribeQuery { account, rate, model, ..TranscribeQuery::default() })
                .await
        }
        GatewayCommand::Kb { tenant, query, limit } => {
            let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
            let url = format!("{}?q={q}&limit={limit}", Operation::KbSearch.url(&[&tenant]));
            let found: KbResults = client.get(&url).await?;
            if client.json {
                return print_json(&found);
            }
            let rows: Vec<Vec<String>> = found
                .results
                .iter()
                .map(|r| vec![crate::client::text(&r.source), escape(&r.title), escape(&r.snippet)])
                .collect();
            table(&["SOURCE", "TITLE", "SNIPPET"], &rows);
            println!("searched: {}", escape(&found.provider));
            Ok(())
        }
        GatewayCommand::Topic { tenant, title, body } => {
            let write = KbArticleWrite { title, body, url: None };
            let created: KbTopicCreated =
                client.send(Method::POST, &Operation::KbTopic.url(&[&tenant]), &write).await?;
            if client.json {
                return print_json(&created);
            }
            println!("submitted to {} as {}", escape(&created.provider), escape(&created.id));
            Ok(())
        }
        GatewayCommand::Bindings { tenant } => {
            let bindings: Bindings = client.get(&Operation::GetBindings.url(&[&tenant])).await?;
            print_bindings(client, &bindings)
        }
        GatewayCommand::Bind { tenant, account, service, launch_point } => {
            let mut bindings: Bindings = client.get(&Operation::GetBindings.url(&[&tenant])).await?;
            match (service, launch_point) {
                (Some(service), _) => bindings.services.insert(service, account),
                (None, Some(point)) => bindings.launch_points.insert(point, account),
                (None, None) => None,
            };
            let url = Operation::PutBindings.url(&[&tenant]);
            let bindings: Bindings = client.send(Method::PUT, &url, &bindings).await?;
            print_bindings(client, &bindings)
        }
        GatewayCommand::Unbind { tenant, service, launch_point } => {
            let mut bindings: Bindings = client.get(&Operation::GetBindings.url(&[&tenant])).await?;
            match (service, launch_point) {
                (Some(service), _) => bindings.services.remove(&service),
                (None, Some(point)) => bindings.launch_points.remove(&point),
                (None, None) => None,
            };
            let url = Operation::PutBindings.url(&[&tenant]);
            let bindings: Bindings = client.send(Method::PUT, &url, &bindings).await?;
            print_bindings(client, &bindings)
        }
        GatewayCommand::Usage { tenant, account, days } => {
            let url = format!("{}?days={days}", Operation::AccountUsage.url(&[&tenant, &account.to_string()]));
            let usage: Usage = client.get(&url).await?;
            if client.json {
                return print_json(&usage);
            }
            let rows: Vec<Vec<String>> = usage
                .days
                .iter()
                .map(|d| {
                    let quota = d.quota.map_or_else(|| "-".to_owned(), |q| q.to_string());
                    vec![d.day.to_string(), d.calls.to_string(), d.errors.to_string(), quota]
                })
                .collect();
            table(&["DAY", "CALLS", "ERRORS", "QUOTA"], &rows);
            println!("days in {}", escape(&usage.time_zone));
            match &usage.live.last_success_at {
                Some(at) => println!("last success: {at}"),
                None => println!("last success: never"),
            }
            if let Some(e) = &usage.live.last_error {
                println!("last error:   {} {}: {}", e.at, crate::client::text(&e.category), escape(&e.message));
            }
            Ok(())
        }
    }
}

fn print_bindings(client: &Client, bindings: &Bindings) -> Result<(), CliError> {
    if client.json {
        return print_json(bindings);
    }
    let rows: Vec<Vec<String>> = bindings
        .services
        .iter()
        .map(|(name, id)| vec!["service".to_owned(), escape(name), id.to_string()])
        .chain(
            bindings
                .launch_points
                .iter()
                .map(|(name, id)| vec!["launch point".to_owned(), escape(name), id.to_string()]),
        )
        .collect();
    table(&["KIND", "NAME", "ACCOUNT"], &rows);
    Ok(())
}

/// Streams a file to the transcription socket while printing what comes back: a progress
/// bar of the audio sent with the latest interim text, and each final result as a line
/// (`--json`: one `TranscriptPiece` per line).
async fn transcribe(
    client: &Client,
    tenant: &str,
    file: &std::path::Path,
    mut query: TranscribeQuery,
) -> Result<(), CliError> {
    let raw = matches!(file.extension().and_then(|e| e.to_str()), Some("raw" | "pcm"));
    query.format = Some(if raw { patchbay_api::AudioInput::L16 } else { patchbay_api::AudioInput::Wav });
    if raw && query.rate.is_none() {
        return Err(CliError::Usage("raw PCM needs its sample rate: --rate 8000 (or 16000 …)".into()));
    }
    let audio =
        std::fs::read(file).map_err(|e| CliError::Other(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    if let Some(account) = query.account {
        params.append_pair("account", &account.to_string());
    }
    if raw {
        params.append_pair("format", "l16");
    }
    if let Some(rate) = query.rate {
        params.append_pair("rate", &rate.to_string());
    }
    if let Some(model) = &query.model {
        params.append_pair("model", model);
    }
    let path = format!("{}?{}", Operation::Transcribe.url(&[tenant]), params.finish());
    let (socket, headers) = client.websocket(&path).await?;
    let account = headers.get("x-patchbay-account").and_then(|v| v.to_str().ok()).unwrap_or("?").to_owned();
    let bar = if client.json { ProgressBar::hidden() } else { ProgressBar::new(audio.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bytes:>9}/{total_bytes} sent  {wide_msg}")
            .map_err(|e| CliError::Other(anyhow::anyhow!(e)))?,
    );
    let (mut tx, mut rx) = socket.split();
    let send = async {
        for chunk in audio.chunks(AUDIO_MESSAGE) {
            tx.send(Message::binary(chunk.to_vec())).await?;
            bar.inc(chunk.len() as u64);
        }
        bar.set_message("waiting for the last results");
        tx.send(Message::text(serde_json::json!({"action": "end"}).to_string())).await?;
        Ok::<_, tokio_tungstenite::tungstenite::Error>(tx)
    };
    let receive = async {
        let mut finals = 0;
        while let Some(message) = rx.next().await {
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(frame)) => {
                    let normal = frame.as_ref().is_none_or(|f| u16::from(f.code) == 1000);
                    return if normal {
                        Ok(finals)
                    } else {
                        Err(CliError::Server("the server closed the stream".into()))
                    };
                }
                Ok(_) => continue,
                Err(e) => return Err(CliError::Server(format!("the stream broke: {e}"))),
            };
            if let Ok(failure) = serde_json::from_str::<TranscribeFailure>(&text) {
                let error = failure.error;
                let message = match error.category {
                    Some(category) => format!("{}: {}", crate::client::text(&category), escape(&error.detail)),
                    None => escape(&error.detail),
                };
                return Err(if error.category.is_some() {
                    CliError::Server(message)
                } else {
                    CliError::Rejected(message)
                });
            }
            let piece: TranscriptPiece = serde_json::from_str(&text)
                .map_err(|e| CliError::Server(format!("the server sent a result of an unexpected shape: {e}")))?;
            if !piece.is_final {
                bar.set_message(escape(&piece.text));
                continue;
            }
            finals += 1;
            if client.json {
                bar.suspend(|| print_json(&piece))?;
                continue;
            }
            let at = crate::recordings::span(piece.start, piece.end);
            let confidence = piece.confidence.map(|c| format!("  ({:.0}%)", c * 100.0)).unwrap_or_default();
            bar.suspend(|| println!("{at}{}{confidence}", escape(&piece.text)));
        }
        Ok(finals)
    };
    let (sent, received) = tokio::join!(send, receive);
    bar.finish_and_clear();
    let finals = received?;
    let mut tx = sent.map_err(|e| CliError::Server(format!("sending the audio failed: {e}")))?;
    let _ = tx.close().await;
    if !client.json {
        eprintln!("{finals} final results from account {}", escape(&account));
    }
    Ok(())
}
