//! Speech to text over WebSockets: a client's audio relayed to the account's recognition
//! service, and the service's results relayed back as `TranscriptPiece`s. Two protocols:
//!
//! - Watson `/v1/recognize` (<https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-websockets>):
//!   a `start` text message names the audio's content type, the service answers
//!   `{"state": "listening"}`, audio goes as binary messages, `{"action": "stop"}` ends it;
//!   the service sends its last results and `{"state": "listening"}` again. Errors come as
//!   `{"error": "…"}`.
//! - GoVivace, which speaks the kaldi-gstreamer-server protocol
//!   (<https://github.com/alumae/kaldi-gstreamer-server#websocket-based-client-server-protocol>):
//!   raw audio needs a `content-type` query parameter (GStreamer caps), audio goes as binary
//!   messages, the text `EOS` ends it; results are `{"status": 0, "result": {"hypotheses":
//!   [{"transcript"}], "final"}, "segment-start", "segment-length"}`, a non-zero status is an
//!   error, and the service closes when it is done.
//!
//! Nothing is buffered here: each message is sent on before the next is read, in both
//! directions, so a slow reader on either side slows the writer on the other (TCP
//! backpressure), and memory stays at one message per direction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use patchbay_api::{TranscribeControl, TranscriptPiece};
use patchbay_connectors::{stt_endpoint, Category, Failure, Scrubber, Upgrade, VendorSocket};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::vendors::{clip, ibm_error, Call};
use crate::GatewayError;

/// How long a client may send nothing before the relay gives up on it.
pub const CLIENT_IDLE: Duration = Duration::from_secs(60);

/// How long a polite close of the vendor's side may take.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The recognition protocol an account speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Watson,
    Kaldi,
}

/// What the audio is: a file in a container the service reads its format from, or raw
/// 16-bit little-endian mono PCM at a rate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AudioSpec {
    /// A media type as Watson names it (`audio/wav`, `audio/mp3`, …).
    Container(&'static str),
    Raw(u32),
}

/// The media types of stored recordings (`patchbay_recordings::AUDIO_TYPES`) as Watson
/// names them (<https://cloud.ibm.com/docs/speech-to-text?topic=speech-to-text-audio-formats>);
/// GoVivace's decoder reads each container's own header. `audio/mp4` has no Watson name.
const CONTAINERS: &[(&str, &str)] = &[
    ("audio/wav", "audio/wav"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/mpeg", "audio/mp3"),
    ("audio/ogg", "audio/ogg"),
    ("audio/opus", "audio/ogg;codecs=opus"),
    ("audio/webm", "audio/webm"),
    ("audio/flac", "audio/flac"),
    ("audio/basic", "audio/basic"),
];

impl AudioSpec {
    /// The spec of audio of a media type, when the services read it.
    pub(crate) fn of_media_type(media_type: &str) -> Option<AudioSpec> {
        let bare = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        CONTAINERS.iter().find(|(t, _)| *t == bare).map(|(_, watson)| AudioSpec::Container(watson))
    }

    fn watson_content_type(self) -> String {
        match self {
            AudioSpec::Container(media_type) => media_type.to_owned(),
            AudioSpec::Raw(rate) => format!("audio/l16;rate={rate};endianness=little-endian"),
        }
    }

    /// GStreamer caps for raw audio; a container is recognised by its header.
    fn kaldi_caps(self) -> Option<String> {
        match self {
            AudioSpec::Container(_) => None,
            AudioSpec::Raw(rate) => Some(format!(
                "audio/x-raw, layout=(string)interleaved, rate=(int){rate}, format=(string)S16LE, channels=(int)1"
            )),
        }
    }
}

/// A recognition session with the vendor, open and ready for audio.
pub(crate) struct Session {
    pub socket: Box<VendorSocket>,
    pub protocol: Protocol,
}

/// Opens the account's recognition service for audio of `spec`: the upgrade with the
/// account's credentials through the egress policy, then (Watson) the `start` message and
/// its `listening` answer, so a refusal is an error of the upgrade, before any audio.
pub(crate) async fn open(
    call: &Call<'_>,
    spec: AudioSpec,
    model: Option<&str>,
    interim: bool,
) -> Result<Session, GatewayError> {
    let protocol = match call.account.provider.as_str() {
        "watson" => Protocol::Watson,
        _ => Protocol::Kaldi,
    };
    let (mut url, authorization) =
        stt_endpoint(call.account).map_err(|f| GatewayError::from_failure(call.scrubbed(f)))?;
    match protocol {
        Protocol::Watson => {
            if let Some(model) = model {
                url.query_pairs_mut().append_pair("model", model);
            }
        }
        Protocol::Kaldi => {
            if model.is_some() {
                return Err(GatewayError::invalid(
                    "model",
                    "provider",
                    "a GoVivace account's URL picks its model; leave `model` out",
                ));
            }
            if let Some(caps) = spec.kaldi_caps() {
                url.query_pairs_mut().append_pair("content-type", &caps);
            }
        }
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| call.invalid(format!("cannot build the WebSocket request: {e}")))?;
    if let Some(value) = authorization {
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let mut socket = match call.egress.websocket(request, call.timeout).await {
        Err(f) => return Err(GatewayError::from_failure(call.scrubbed(f))),
        Ok(Upgrade::Refused(reply)) => {
            return Err(call.refused(&reply, "speech recognition service", ibm_error(&reply).as_deref()))
        }
        Ok(Upgrade::Open(socket)) => socket,
    };
    if protocol == Protocol::Watson {
        let start = json!({
            "action": "start",
            "content-type": spec.watson_content_type(),
            "interim_results": interim,
            "timestamps": true,
        });
        let sent = socket.send(Message::text(start.to_string())).await;
        let first = match sent {
            Err(e) => Err(broken(&e.to_string())),
            Ok(()) => match tokio::time::timeout(call.timeout, socket.next()).await {
                Err(_) => Err(Failure::new(
                    Category::Timeout,
                    format!("the service did not start listening within {} ms", call.timeout.as_millis()),
                )),
                Ok(None) => Err(closed_early(None, false)),
                Ok(Some(Err(e))) => Err(broken(&e.to_string())),
                Ok(Some(Ok(Message::Close(frame)))) => Err(closed_early(frame.as_ref(), false)),
                Ok(Some(Ok(Message::Text(text)))) => match watson_read(&text, false) {
                    Ok(Read::Listening) => Ok(()),
                    Ok(_) => {
                        Err(Failure::new(Category::UnexpectedResponse, "the service sent results before listening"))
                    }
                    Err(f) => Err(f),
                },
                Ok(Some(Ok(_))) => {
                    Err(Failure::new(Category::UnexpectedResponse, "the service answered `start` with binary data"))
                }
            },
        };
        if let Err(failure) = first {
            let _ = tokio::time::timeout(CLOSE_WAIT, (*socket).close(None)).await;
            return Err(GatewayError::from_failure(call.scrubbed(failure)));
        }
    }
    Ok(Session { socket, protocol })
}

/// What a transcription client sent.
#[derive(Debug)]
pub enum Inbound {
    /// A binary message: audio.
    Audio(Bytes),
    /// A text message: `{"action": "end"}`, else a mistake.
    Text(String),
    /// The client closed, or its connection broke.
    Gone,
}

/// How a relay ended.
#[derive(Debug)]
pub enum RelayEnd {
    /// The audio ended and every result was sent: close normally.
    Finished,
    /// The client left first; the vendor's side was closed.
    ClientGone,
    /// The client's mistake (`GatewayError::Invalid`) or the vendor's failure.
    Failed(GatewayError),
}

/// Relays `inbound` audio to the session and its results to `outbound` until the results
/// end, the client leaves or either side fails; then closes the vendor's side.
pub(crate) async fn relay<I, O>(
    session: Session,
    inbound: &mut I,
    outbound: &mut O,
    interim: bool,
    timeout: Duration,
    scrubber: &Scrubber,
) -> RelayEnd
where
    I: Stream<Item = Inbound> + Unpin,
    O: Sink<TranscriptPiece> + Unpin,
{
    let Session { socket, protocol } = session;
    let (mut vendor_tx, mut vendor_rx) = socket.split();
    let ended = AtomicBool::new(false);
    let end = {
        let up = upstream(inbound, &mut vendor_tx, protocol, &ended);
        let down = downstream(&mut vendor_rx, outbound, protocol, &ended, interim, timeout);
        tokio::pin!(up, down);
        let mut up_done = false;
        loop {
            tokio::select! {
                up_end = &mut up, if !up_done => match up_end {
                    // The results still due follow; a vendor that went away is reported by
                    // the reading side, which sees why.
                    Up::Ended | Up::VendorGone => up_done = true,
                    Up::Gone => break RelayEnd::ClientGone,
                    Up::Idle => break RelayEnd::Failed(GatewayError::invalid(
                        "audio",
                        "idle",
                        format!("no message came for {} s; send audio, or {{\"action\": \"end\"}}", CLIENT_IDLE.as_secs()),
                    )),
                    Up::Invalid(why) => break RelayEnd::Failed(GatewayError::invalid("message", "control", why)),
                },
                down_end = &mut down => break match down_end {
                    Ok(()) => RelayEnd::Finished,
                    Err(Down::ClientGone) => RelayEnd::ClientGone,
                    Err(Down::Vendor(failure)) => RelayEnd::Failed(GatewayError::from_failure(Failure::new(
                        failure.category,
                        scrubber.scrub(&failure.message),
                    ))),
                },
            }
        }
    };
    let reason = match &end {
        RelayEnd::ClientGone => "the client left",
        _ => "",
    };
    let close = Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: reason.into() }));
    let _ = tokio::time::timeout(CLOSE_WAIT, vendor_tx.send(close)).await;
    end
}

enum Up {
    /// The client ended its audio and the vendor was told.
    Ended,
    Gone,
    Idle,
    Invalid(String),
    /// Sending to the vendor failed.
    VendorGone,
}

async fn upstream<I, V>(inbound: &mut I, vendor: &mut V, protocol: Protocol, ended: &AtomicBool) -> Up
where
    I: Stream<Item = Inbound> + Unpin,
    V: Sink<Message> + Unpin,
{
    loop {
        let next = match tokio::time::timeout(CLIENT_IDLE, inbound.next()).await {
            Err(_) => return Up::Idle,
            Ok(None) => return Up::Gone,
            Ok(Some(next)) => next,
        };
        match next {
            // An empty binary message means "stop" to Watson: never send one for the client.
            Inbound::Audio(bytes) if bytes.is_empty() => {}
            Inbound::Audio(bytes) => {
                if vendor.send(Message::Binary(bytes)).await.is_err() {
                    return Up::VendorGone;
                }
            }
            Inbound::Text(text) => {
                if serde_json::from_str::<TranscribeControl>(&text).is_err() {
                    return Up::Invalid(
                        "a text message must be {\"action\": \"end\"}; audio goes in binary messages".to_owned(),
                    );
                }
                ended.store(true, Ordering::SeqCst);
                let end = match protocol {
                    Protocol::Watson => Message::text(json!({"action": "stop"}).to_string()),
                    Protocol::Kaldi => Message::text("EOS"),
                };
                return if vendor.send(end).await.is_ok() { Up::Ended } else { Up::VendorGone };
            }
            Inbound::Gone => return Up::Gone,
        }
    }
}

enum Down {
    ClientGone,
    Vendor(Failure),
}

async fn downstream<V, O>(
    vendor: &mut V,
    outbound: &mut O,
    protocol: Protocol,
    ended: &AtomicBool,
    interim: bool,
    timeout: Duration,
) -> Result<(), Down>
where
    V: Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
    O: Sink<TranscriptPiece> + Unpin,
{
    loop {
        // While audio flows, results come when the service has them; after the audio's
        // end, the last ones must come within the timeout.
        let next = match tokio::time::timeout(timeout, vendor.next()).await {
            Err(_) if !ended.load(Ordering::SeqCst) => continue,
            Err(_) => {
                return Err(Down::Vendor(Failure::new(
                    Category::Timeout,
                    format!("the service sent no final result within {} ms of the audio's end", timeout.as_millis()),
                )))
            }
            Ok(next) => next,
        };
        let message = match next {
            None => return closed(None, ended.load(Ordering::SeqCst)),
            Some(Err(e)) => return Err(Down::Vendor(broken(&e.to_string()))),
            Some(Ok(message)) => message,
        };
        let read = match message {
            Message::Text(text) => match protocol {
                Protocol::Watson => watson_read(&text, ended.load(Ordering::SeqCst)),
                Protocol::Kaldi => kaldi_read(&text),
            }
            .map_err(Down::Vendor)?,
            Message::Close(frame) => return closed(frame.as_ref(), ended.load(Ordering::SeqCst)),
            Message::Binary(_) => {
                return Err(Down::Vendor(Failure::new(
                    Category::UnexpectedResponse,
                    "the service sent binary data; results are text",
                )))
            }
            _ => Read::Nothing,
        };
        match read {
            Read::Pieces(pieces) => {
                for piece in pieces.into_iter().filter(|p| p.is_final || interim) {
                    outbound.send(piece).await.map_err(|_| Down::ClientGone)?;
                }
            }
            Read::Done => return Ok(()),
            Read::Listening | Read::Nothing => {}
        }
    }
}

/// The vendor closed: done when the audio had ended and the close is a normal one.
fn closed(frame: Option<&CloseFrame>, ended: bool) -> Result<(), Down> {
    let normal = frame.is_none_or(|f| f.code == CloseCode::Normal);
    if ended && normal {
        Ok(())
    } else {
        Err(Down::Vendor(closed_early(frame, ended)))
    }
}

fn closed_early(frame: Option<&CloseFrame>, ended: bool) -> Failure {
    let when = if ended { "before its last results" } else { "before the audio ended" };
    let how = match frame {
        Some(f) if f.reason.is_empty() => format!(" (close code {})", u16::from(f.code)),
        Some(f) => format!(" (close code {}: {})", u16::from(f.code), clip(&f.reason)),
        None => String::new(),
    };
    Failure::new(Category::VendorError, format!("the speech service closed the stream {when}{how}"))
}

fn broken(why: &str) -> Failure {
    Failure::new(Category::Unreachable, format!("the connection to the speech service broke: {}", clip(why)))
}

/// What one text message of the vendor holds.
#[derive(Debug, PartialEq)]
enum Read {
    Pieces(Vec<TranscriptPiece>),
    /// Watson's `listening` state (ready for audio).
    Listening,
    /// The last results were sent.
    Done,
    Nothing,
}

fn garbled() -> Failure {
    Failure::new(Category::UnexpectedResponse, "the service sent a message that is not a recognition result")
}

/// A Watson message: results, a state, warnings or an error. After the audio's end, the
/// `listening` state says the last results were sent.
fn watson_read(text: &str, ended: bool) -> Result<Read, Failure> {
    let value: Value = serde_json::from_str(text).map_err(|_| garbled())?;
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(Failure::new(Category::VendorError, format!("the speech service reported: {}", clip(error))));
    }
    if value.get("state").and_then(Value::as_str) == Some("listening") {
        return Ok(if ended { Read::Done } else { Read::Listening });
    }
    if let Some(results) = value.get("results").and_then(Value::as_array) {
        let pieces = results
            .iter()
            .filter_map(|result| {
                let best = result.get("alternatives")?.as_array()?.first()?;
                let text = best.get("transcript")?.as_str()?.trim();
                let stamps = best.get("timestamps").and_then(Value::as_array);
                let at = |stamp: Option<&Value>, index: usize| stamp?.as_array()?.get(index)?.as_f64();
                Some(TranscriptPiece {
                    is_final: result.get("final").and_then(Value::as_bool).unwrap_or(false),
                    text: text.to_owned(),
                    confidence: best.get("confidence").and_then(Value::as_f64),
                    start: at(stamps.and_then(|s| s.first()), 1),
                    end: at(stamps.and_then(|s| s.last()), 2),
                })
            })
            .filter(|p| !p.text.is_empty())
            .collect();
        return Ok(Read::Pieces(pieces));
    }
    if value.get("warnings").is_some() || value.get("speaker_labels").is_some() {
        return Ok(Read::Nothing);
    }
    Err(garbled())
}

/// A kaldi-gstreamer-server message: a result, an adaptation state, or a status that is
/// not 0 (1: no speech, the session ends; 2: aborted; 9: no decoder free).
fn kaldi_read(text: &str) -> Result<Read, Failure> {
    let value: Value = serde_json::from_str(text).map_err(|_| garbled())?;
    let status = value.get("status").and_then(Value::as_i64).ok_or_else(garbled)?;
    let said = value.get("message").and_then(Value::as_str).map(|m| format!(": {}", clip(m))).unwrap_or_default();
    match status {
        0 => {}
        1 => return Ok(Read::Done),
        9 => {
            return Err(Failure::new(
                Category::RateLimited,
                format!("the speech service has no recognizer free (status 9{said}); try again later"),
            ))
        }
        2 => return Err(Failure::new(Category::VendorError, format!("the speech service aborted (status 2{said})"))),
        other => {
            return Err(Failure::new(
                Category::VendorError,
                format!("the speech service failed (status {other}{said})"),
            ))
        }
    }
    let Some(result) = value.get("result") else {
        return Ok(Read::Nothing);
    };
    let best = result.get("hypotheses").and_then(Value::as_array).and_then(|h| h.first()).ok_or_else(garbled)?;
    let text = best.get("transcript").and_then(Value::as_str).ok_or_else(garbled)?.trim();
    if text.is_empty() {
        return Ok(Read::Nothing);
    }
    let start = value.get("segment-start").and_then(Value::as_f64);
    let length = value.get("segment-length").and_then(Value::as_f64);
    Ok(Read::Pieces(vec![TranscriptPiece {
        is_final: result.get("final").and_then(Value::as_bool).unwrap_or(false),
        text: text.to_owned(),
        confidence: best.get("confidence").and_then(Value::as_f64),
        start,
        end: start.zip(length).map(|(s, l)| s + l),
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(
        is_final: bool,
        text: &str,
        confidence: Option<f64>,
        start: Option<f64>,
        end: Option<f64>,
    ) -> TranscriptPiece {
        TranscriptPiece { is_final, text: text.to_owned(), confidence, start, end }
    }

    #[test]
    fn watson_results_become_pieces_with_the_times_of_their_first_and_last_words() {
        let message = json!({"result_index": 0, "results": [{"final": true, "alternatives": [{
            "transcript": "hello world ", "confidence": 0.91,
            "timestamps": [["hello", 0.5, 0.9], ["world", 1.0, 1.4]]}]}]});
        assert_eq!(
            watson_read(&message.to_string(), false),
            Ok(Read::Pieces(vec![piece(true, "hello world", Some(0.91), Some(0.5), Some(1.4))]))
        );
        let interim = json!({"results": [{"final": false, "alternatives": [{"transcript": "hel"}]}]});
        assert_eq!(
            watson_read(&interim.to_string(), false),
            Ok(Read::Pieces(vec![piece(false, "hel", None, None, None)]))
        );
    }

    #[test]
    fn watsons_listening_state_is_ready_before_the_end_and_done_after_it() {
        let listening = json!({"state": "listening"}).to_string();
        assert_eq!(watson_read(&listening, false), Ok(Read::Listening));
        assert_eq!(watson_read(&listening, true), Ok(Read::Done));
        let error = watson_read(&json!({"error": "Session timed out."}).to_string(), false).unwrap_err();
        assert_eq!(error.category, Category::VendorError);
        assert!(error.message.contains("Session timed out."), "{}", error.message);
        assert_eq!(watson_read("<html>", false).unwrap_err().category, Category::UnexpectedResponse);
    }

    #[test]
    fn kaldi_results_carry_their_segment_times_and_a_status_is_an_error_or_the_end() {
        let message = json!({"status": 0, "segment": 1, "segment-start": 2.0, "segment-length": 1.5, "total-length": 3.5,
            "result": {"hypotheses": [{"transcript": "good morning", "confidence": 0.8}], "final": true}});
        assert_eq!(
            kaldi_read(&message.to_string()),
            Ok(Read::Pieces(vec![piece(true, "good morning", Some(0.8), Some(2.0), Some(3.5))]))
        );
        assert_eq!(kaldi_read(&json!({"status": 1, "message": "No speech"}).to_string()), Ok(Read::Done));
        let busy = kaldi_read(&json!({"status": 9, "message": "No decoder available"}).to_string()).unwrap_err();
        assert_eq!(busy.category, Category::RateLimited);
        assert_eq!(kaldi_read(&json!({"status": 0, "adaptation_state": {}}).to_string()), Ok(Read::Nothing));
        assert_eq!(kaldi_read(&json!({"result": {}}).to_string()).unwrap_err().category, Category::UnexpectedResponse);
    }
}
