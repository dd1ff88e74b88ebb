//! Speech To Text stand-ins over WSS (certificates from a `TestCa`), each following its
//! vendor's documented WebSocket protocol:
//!
//! - Watson `/v1/recognize` (<https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-websockets>,
//!   <https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-websockets#ws-start>):
//!   HTTP Basic on the upgrade (401 otherwise), `?model=` among the service's models (404
//!   otherwise), a `start` text message with the audio's `content-type`, answered
//!   `{"state": "listening"}`; results as `{"result_index", "results": [{"final",
//!   "alternatives": [{"transcript", "confidence", "timestamps"}]}]}`; `{"action": "stop"}`
//!   gets the last results and `{"state": "listening"}` again; errors as `{"error": "…"}`.
//! - GoVivace, the kaldi-gstreamer-server protocol
//!   (<https://github.com/alumae/kaldi-gstreamer-server#websocket-based-client-server-protocol>):
//!   the API key as `?key=` (403 otherwise), raw audio described by `?content-type=` caps,
//!   a WAV file recognised by its header; results as `{"status": 0, "segment", "result":
//!   {"hypotheses": [{"transcript", "confidence"}], "final"}, "segment-start",
//!   "segment-length", "total-length"}`; the text `EOS` gets the last results and a close.
//!
//! Neither can recognise words here: both "hear" the audio by its length, as the services
//! time it. An interim result comes for each half second of audio, a final one for each
//! `UTTERANCE_SECONDS` and for the rest at the end, saying `utterance N` with its times, so
//! a test knows which results a file of a given length gets. Each keeps the audio it was
//! sent, to compare with what the client sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::tls::TestCa;

pub const STT_USER: &str = "5c1e-stt-user";
pub const STT_PASSWORD: &str = "stt-password-s3cr3t";
pub const GOVIVACE_KEY: &str = "govivace-key-s3cr3t";
/// The models the Watson stand-in has.
pub const WATSON_MODELS: &[&str] = &["en-US_BroadbandModel", "en-US_NarrowbandModel", "en-US_Telephony"];
/// Seconds of audio per final result.
pub const UTTERANCE_SECONDS: f64 = 2.0;

/// How a stand-in treats a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Recognises as described above.
    Normal,
    /// Closes with 1011 once this many bytes of audio came, as a failing service does.
    CloseAfter(usize),
    /// At the first audio message, sends `count` interim results with texts of `size`
    /// characters as fast as the connection takes them, then recognises as usual.
    Flood { count: usize, size: usize },
    /// One interim result per audio message, at once, whose text is the hex of the
    /// message's first 8 bytes (to time a relay).
    Echo,
}

/// What a stand-in saw.
#[derive(Debug, Default)]
pub struct SttLog {
    /// Path and query of each accepted upgrade.
    pub upgrades: Vec<String>,
    /// Watson `start` messages.
    pub starts: Vec<Value>,
    /// The audio of the last session, as it came.
    pub audio: Vec<u8>,
    /// Results sent, in all sessions.
    pub results_sent: usize,
    /// Sessions whose client ended the audio (`stop`, `EOS`).
    pub ended: usize,
    /// Sessions whose client sent a close.
    pub closed_by_client: usize,
}

/// A running stand-in.
pub struct SttPeer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<SttLog>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Watson,
    Kaldi,
}

/// Watson STT under `/speech-to-text/api/v1/recognize` (the account URL is the host).
pub async fn watson_stt(ca: &TestCa, behaviour: Behaviour) -> SttPeer {
    serve(ca, Vendor::Watson, behaviour).await
}

/// GoVivace under `/telephony`.
pub async fn govivace_stt(ca: &TestCa, behaviour: Behaviour) -> SttPeer {
    serve(ca, Vendor::Kaldi, behaviour).await
}

async fn serve(ca: &TestCa, vendor: Vendor, behaviour: Behaviour) -> SttPeer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config.clone());
    let log = Arc::new(Mutex::new(SttLog::default()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let log = seen.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let query = Arc::new(Mutex::new(String::new()));
                let kept = query.clone();
                // tungstenite's `Callback` fixes this signature, large error response and all.
                #[allow(clippy::result_large_err)]
                let callback = move |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                    match admit(vendor, request) {
                        Ok(()) => {
                            *kept.lock().unwrap() = request.uri().query().unwrap_or_default().to_owned();
                            Ok(response)
                        }
                        Err((status, body)) => {
                            let mut refusal = ErrorResponse::new(Some(body.to_string()));
                            *refusal.status_mut() = status;
                            refusal.headers_mut().insert("content-type", "application/json".parse().unwrap());
                            Err(refusal)
                        }
                    }
                };
                let Ok(socket) = tokio_tungstenite::accept_hdr_async(tls, callback).await else { return };
                let query = query.lock().unwrap().clone();
                log.lock().unwrap().upgrades.push(query.clone());
                session(socket, vendor, behaviour, &query, log).await;
            });
        }
    });
    SttPeer { addr, log }
}

/// The upgrade as the vendor checks it: path, credentials, model.
fn admit(vendor: Vendor, request: &Request) -> Result<(), (StatusCode, Value)> {
    let uri = request.uri();
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match vendor {
        Vendor::Watson => {
            if uri.path() != "/speech-to-text/api/v1/recognize" {
                return Err((StatusCode::NOT_FOUND, json!({"error": "Not Found", "code": 404})));
            }
            let expected = format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{STT_USER}:{STT_PASSWORD}")
                )
            );
            let authorization = request.headers().get("authorization").and_then(|v| v.to_str().ok());
            if authorization != Some(expected.as_str()) {
                return Err((StatusCode::UNAUTHORIZED, json!({"error": "Unauthorized", "code": 401})));
            }
            if let Some(model) = param("model").filter(|m| !WATSON_MODELS.contains(m)) {
                return Err((StatusCode::NOT_FOUND, json!({"error": format!("Model {model} not found"), "code": 404})));
            }
        }
        Vendor::Kaldi => {
            if uri.path() != "/telephony" {
                return Err((StatusCode::NOT_FOUND, json!({"status": 404, "message": "Not Found"})));
            }
            if param("key") != Some(GOVIVACE_KEY) {
                return Err((StatusCode::FORBIDDEN, json!({"status": 403, "message": "Invalid API key"})));
            }
        }
    }
    Ok(())
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>;

async fn session(mut socket: Socket, vendor: Vendor, behaviour: Behaviour, query: &str, log: Arc<Mutex<SttLog>>) {
    log.lock().unwrap().audio.clear();
    let mut interim = true;
    let mut ears = match vendor {
        Vendor::Watson => {
            // The first message must be `start`.
            let start = match socket.next().await {
                Some(Ok(Message::Text(text))) => serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                _ => return,
            };
            log.lock().unwrap().starts.push(start.clone());
            let content_type = start["content-type"].as_str().unwrap_or_default();
            let Some(ears) = (start["action"] == "start").then(|| Ears::for_content_type(content_type)).flatten()
            else {
                let error =
                    json!({"error": format!("unable to transcode data stream {content_type} -> audio/x-float-array")});
                let _ = socket.send(Message::text(error.to_string())).await;
                let _ = socket.close(None).await;
                return;
            };
            interim = start["interim_results"].as_bool().unwrap_or(false);
            if socket.send(Message::text(json!({"state": "listening"}).to_string())).await.is_err() {
                return;
            }
            ears
        }
        Vendor::Kaldi => {
            let caps = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "content-type")
                .map(|(_, v)| v.into_owned());
            match caps {
                None => Ears::wav(),
                Some(caps) => match caps_rate(&caps) {
                    Some(rate) => Ears::raw(rate),
                    None => {
                        let refusal = json!({"status": 2, "message": format!("unsupported content type {caps}")});
                        let _ = socket.send(Message::text(refusal.to_string())).await;
                        let _ = socket.close(None).await;
                        return;
                    }
                },
            }
        }
    };
    let mut flooded = false;
    let mut segment = 0;
    while let Some(message) = socket.next().await {
        let heard = match message {
            Ok(Message::Binary(bytes)) => {
                let total = {
                    let mut log = log.lock().unwrap();
                    log.audio.extend_from_slice(&bytes);
                    log.audio.len()
                };
                if let Behaviour::CloseAfter(limit) = behaviour {
                    if total >= limit {
                        let frame = CloseFrame { code: CloseCode::Error, reason: "internal error".into() };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        return;
                    }
                }
                if let Behaviour::Flood { count, size } = behaviour {
                    if !flooded {
                        flooded = true;
                        for i in 0..count {
                            let text = format!("{i:08} {}", "x".repeat(size.saturating_sub(9)));
                            let result = Heard { is_final: false, text, start: 0.0, end: 0.0 };
                            if socket.send(Message::text(render(vendor, &result, segment))).await.is_err() {
                                return;
                            }
                            log.lock().unwrap().results_sent += 1;
                        }
                    }
                }
                if behaviour == Behaviour::Echo {
                    let tag: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
                    vec![Heard { is_final: false, text: tag, start: 0.0, end: 0.0 }]
                } else {
                    match ears.hear(&bytes) {
                        Ok(heard) => heard,
                        Err(why) => {
                            let error = match vendor {
                                Vendor::Watson => json!({"error": why}),
                                Vendor::Kaldi => json!({"status": 2, "message": why}),
                            };
                            let _ = socket.send(Message::text(error.to_string())).await;
                            let _ = socket.close(None).await;
                            return;
                        }
                    }
                }
            }
            Ok(Message::Text(text)) => {
                let end = match vendor {
                    Vendor::Watson => serde_json::from_str::<Value>(&text).is_ok_and(|v| v["action"] == "stop"),
                    Vendor::Kaldi => text.as_str() == "EOS",
                };
                if !end {
                    continue;
                }
                log.lock().unwrap().ended += 1;
                for heard in ears.rest() {
                    if socket.send(Message::text(render(vendor, &heard, segment))).await.is_err() {
                        return;
                    }
                    log.lock().unwrap().results_sent += 1;
                    segment += 1;
                }
                match vendor {
                    Vendor::Watson => {
                        let _ = socket.send(Message::text(json!({"state": "listening"}).to_string())).await;
                    }
                    Vendor::Kaldi => {
                        let _ = socket.close(None).await;
                    }
                }
                continue;
            }
            Ok(Message::Close(_)) => {
                log.lock().unwrap().closed_by_client += 1;
                return;
            }
            Ok(_) => continue,
            Err(_) => return,
        };
        for heard in heard.into_iter().filter(|h| h.is_final || interim) {
            if socket.send(Message::text(render(vendor, &heard, segment))).await.is_err() {
                return;
            }
            log.lock().unwrap().results_sent += 1;
            if heard.is_final {
                segment += 1;
            }
        }
    }
}

/// The rate of raw S16LE mono audio from GStreamer caps.
fn caps_rate(caps: &str) -> Option<u32> {
    let fields: Vec<&str> = caps.split(',').map(str::trim).collect();
    let ok = fields.first() == Some(&"audio/x-raw")
        && fields.contains(&"format=(string)S16LE")
        && fields.contains(&"channels=(int)1");
    let rate = fields.iter().find_map(|f| f.strip_prefix("rate=(int)"))?.parse().ok()?;
    ok.then_some(rate)
}

/// One result as the stand-in hears it.
struct Heard {
    is_final: bool,
    text: String,
    start: f64,
    end: f64,
}

fn render(vendor: Vendor, heard: &Heard, segment: usize) -> String {
    let confidence = heard.is_final.then_some(0.9);
    match vendor {
        Vendor::Watson => {
            let middle = (heard.start + heard.end) / 2.0;
            let mut words = heard.text.splitn(2, ' ');
            let first = words.next().unwrap_or_default();
            let second = words.next().unwrap_or_default();
            let mut alternative = json!({"transcript": format!("{} ", heard.text),
                "timestamps": [[first, heard.start, middle], [second, middle, heard.end]]});
            if let Some(c) = confidence {
                alternative["confidence"] = json!(c);
            }
            json!({"result_index": segment, "results": [{"final": heard.is_final, "alternatives": [alternative]}]})
                .to_string()
        }
        Vendor::Kaldi => {
            let mut hypothesis = json!({"transcript": heard.text});
            if let Some(c) = confidence {
                hypothesis["confidence"] = json!(c);
            }
            json!({"status": 0, "segment": segment, "id": "4f1c0d2e-standin",
                "segment-start": heard.start, "segment-length": heard.end - heard.start, "total-length": heard.end,
                "result": {"hypotheses": [hypothesis], "final": heard.is_final}})
            .to_string()
        }
    }
}

/// Hears audio by its length: how many bytes make a second, once the WAV header is read.
struct Ears {
    /// Bytes per second, once known.
    rate: Option<f64>,
    /// The WAV header read so far (until the `data` chunk starts).
    header: Vec<u8>,
    /// Bytes of audio (after the header).
    heard: usize,
    half_seconds: usize,
    utterances: usize,
    utterance_start: f64,
}

impl Ears {
    fn wav() -> Ears {
        Ears { rate: None, header: Vec::new(), heard: 0, half_seconds: 0, utterances: 0, utterance_start: 0.0 }
    }

    fn raw(rate: u32) -> Ears {
        Ears { rate: Some(f64::from(rate) * 2.0), ..Ears::wav() }
    }

    fn for_content_type(content_type: &str) -> Option<Ears> {
        if content_type == "audio/wav" {
            return Some(Ears::wav());
        }
        let rest = content_type.strip_prefix("audio/l16;")?;
        let params: Vec<&str> = rest.split(';').map(str::trim).collect();
        let rate = params.iter().find_map(|p| p.strip_prefix("rate="))?.parse().ok()?;
        params.contains(&"endianness=little-endian").then(|| Ears::raw(rate))
    }

    fn seconds(&self) -> f64 {
        self.rate.map_or(0.0, |r| self.heard as f64 / r)
    }

    fn hear(&mut self, bytes: &[u8]) -> Result<Vec<Heard>, String> {
        let audio = if self.rate.is_none() {
            self.header.extend_from_slice(bytes);
            match wav_header(&self.header)? {
                None => return Ok(Vec::new()),
                Some((rate, data_at)) => {
                    self.rate = Some(rate);
                    let rest = self.header.split_off(data_at);
                    rest.len()
                }
            }
        } else {
            bytes.len()
        };
        self.heard += audio;
        let mut heard = Vec::new();
        while (self.half_seconds + 1) as f64 * 0.5 <= self.seconds() {
            self.half_seconds += 1;
            let at = self.half_seconds as f64 * 0.5;
            if at - self.utterance_start >= UTTERANCE_SECONDS {
                heard.push(self.utterance(at));
            } else {
                let n = self.utterances + 1;
                heard.push(Heard {
                    is_final: false,
                    text: format!("utterance {n}"),
                    start: self.utterance_start,
                    end: at,
                });
            }
        }
        Ok(heard)
    }

    fn utterance(&mut self, end: f64) -> Heard {
        self.utterances += 1;
        let heard =
            Heard { is_final: true, text: format!("utterance {}", self.utterances), start: self.utterance_start, end };
        self.utterance_start = end;
        heard
    }

    /// The final result for the audio not yet in one.
    fn rest(&mut self) -> Vec<Heard> {
        let end = self.seconds();
        if end > self.utterance_start {
            vec![self.utterance(end)]
        } else {
            Vec::new()
        }
    }
}

/// A WAV header: the bytes per second and where the data starts, once the `data` chunk's
/// header is in; an error when this is not a WAV file.
fn wav_header(bytes: &[u8]) -> Result<Option<(f64, usize)>, String> {
    const NOT_WAV: &str = "unable to transcode data stream audio/wav -> audio/x-float-array";
    if bytes.len() < 12 {
        return Ok(None);
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(NOT_WAV.to_owned());
    }
    let mut at = 12;
    let mut rate = None;
    while bytes.len() >= at + 8 {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if id == b"data" {
            return rate.map(|r| Some((r, at + 8))).ok_or_else(|| NOT_WAV.to_owned());
        }
        if bytes.len() < at + 8 + size {
            return Ok(None);
        }
        if id == b"fmt " && size >= 16 {
            let fmt = &bytes[at + 8..];
            let channels = f64::from(u16::from_le_bytes([fmt[2], fmt[3]]));
            let samples = f64::from(u32::from_le_bytes(fmt[4..8].try_into().unwrap()));
            let bits = f64::from(u16::from_le_bytes([fmt[14], fmt[15]]));
            rate = Some(samples * channels * bits / 8.0);
        }
        at += 8 + size + size % 2;
    }
    Ok(None)
}

/// A WAV file (PCM, 16-bit, mono) of `seconds` of a 440 Hz tone at `rate` Hz, with a LIST
/// chunk before `fmt ` as recorders write one.
pub fn wav(seconds: f64, rate: u32) -> Vec<u8> {
    let samples = (seconds * f64::from(rate)) as usize;
    let mut data = Vec::with_capacity(samples * 2);
    for i in 0..samples {
        let t = i as f64 / f64::from(rate);
        let value = (f64::from(i16::MAX) * 0.3 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
        data.extend_from_slice(&value.to_le_bytes());
    }
    let list = b"INFOISFT\x0e\x00\x00\x00patchbay test\x00";
    let mut out = Vec::with_capacity(data.len() + 80);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + list.len() + 8 + 16 + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(list.len() as u32).to_le_bytes());
    out.extend_from_slice(list);
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}
