//! Streaming speech to text through the gateway (`GET …/gateway/transcribe`, a WebSocket), on
//! both backends, against the Watson and GoVivace stand-ins
//! (`patchbay_testkit::vendors::speech`): a real WAV file relayed byte for byte, results
//! relayed as they come, refusals before the upgrade, and each side ending first: the
//! vendor closing early, the client closing early, and a client too slow to read.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use patchbay_catalog::keys::stt;
use patchbay_testkit::tls::TestCa;
use patchbay_testkit::vendors::speech::{self, Behaviour, SttPeer};
use patchbay_testkit::{backend_test, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const ACCOUNTS: &str = "/api/v1/tenants/acme/integration-accounts";

static CA: std::sync::LazyLock<TestCa> = std::sync::LazyLock::new(TestCa::new);

type Client = patchbay_testkit::WebSocket;

async fn server(db: &TestDatabase) -> TestServer {
    let s = TestServer::start_with(db, |settings| settings.egress.extra_roots_pem = Some(CA.ca_pem.clone())).await;
    let r = s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    assert_eq!(r.status, 201, "{r:?}");
    s
}

async fn watson_account(s: &TestServer, peer: &SttPeer, password: &str, default: bool) -> String {
    create(
        s,
        json!({"type": "stt", "provider": "watson", "name": format!("Watson {}", peer.addr.port()), "properties": {
        stt::watson::URL: format!("wss://localhost:{}", peer.addr.port()), stt::watson::USERNAME: speech::STT_USER,
        stt::watson::PASSWORD: password, stt::watson::DEFAULT_ACCOUNT: default}}),
    )
    .await
}

async fn govivace_account(s: &TestServer, peer: &SttPeer) -> String {
    create(
        s,
        json!({"type": "stt", "provider": "govivace", "name": "GoVivace", "properties": {
        stt::govivace::URL: format!("wss://localhost:{}/telephony", peer.addr.port()),
        stt::govivace::API_KEY: speech::GOVIVACE_KEY}}),
    )
    .await
}

async fn create(s: &TestServer, body: Value) -> String {
    let r = s.call(Method::POST, ACCOUNTS, Some(body)).await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

/// Opens a transcription: the socket and the account the server named, or the status and
/// problem of a refused upgrade.
async fn open(s: &TestServer, token: &str, query: &str) -> Result<(Client, String), (u16, Value)> {
    match s.websocket(token, &format!("/api/v1/tenants/acme/gateway/transcribe{query}")).await {
        Ok((socket, headers)) => Ok((socket, headers["x-patchbay-account"].to_str().unwrap().to_owned())),
        Err(refused) => Err((refused.status, refused.body)),
    }
}

/// Sends `audio` in messages of `chunk` bytes, then the end.
async fn send_audio(socket: &mut Client, audio: &[u8], chunk: usize) {
    for part in audio.chunks(chunk) {
        socket.send(Message::binary(part.to_vec())).await.unwrap();
    }
    socket.send(Message::text(json!({"action": "end"}).to_string())).await.unwrap();
}

/// Every text message until the server closes, and the close code.
async fn read_to_close(socket: &mut Client) -> (Vec<Value>, Option<CloseCode>) {
    let mut messages = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("the server answers") {
            Some(Ok(Message::Text(text))) => messages.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return (messages, frame.map(|f| f.code)),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the socket broke: {e}"),
            None => return (messages, None),
        }
    }
}

fn finals(messages: &[Value]) -> Vec<Value> {
    messages.iter().filter(|m| m["final"] == true).cloned().collect()
}

fn utterance(n: u32, start: f64, end: f64) -> Value {
    json!({"final": true, "text": format!("utterance {n}"), "confidence": 0.9, "start": start, "end": end})
}

/// GETs an account until `settled` holds for it (outcomes are written after the session).
async fn settled(s: &TestServer, path: &str, settled: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let r = s.call(Method::GET, path, None).await;
        if settled(&r.body) {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} did not settle: {:?}", s.call(Method::GET, path, None).await)
}

backend_test! {
    #[tokio::test]
    async fn a_wav_file_goes_to_the_default_watson_account_byte_for_byte_and_its_results_come_back_as_they_form(db) {
        let peer = speech::watson_stt(&CA, Behaviour::Normal).await;
        let s = server(&db).await;
        let id = watson_account(&s, &peer, speech::STT_PASSWORD, true).await;
        let client = s.token("gateway_client", Some("acme")).await;
        let (mut socket, account) = open(&s, &client, "?model=en-US_NarrowbandModel").await.unwrap();
        assert_eq!(account, id, "the default STT account");
        let wav = speech::wav(5.0, 8000);
        send_audio(&mut socket, &wav, 3200).await;
        let (messages, close) = read_to_close(&mut socket).await;
        assert_eq!(close, Some(CloseCode::Normal), "{messages:?}");
        assert_eq!(
            finals(&messages),
            [utterance(1, 0.0, 2.0), utterance(2, 2.0, 4.0), utterance(3, 4.0, 5.0)],
            "a final result per two seconds of audio and one for the rest"
        );
        let first_final = messages.iter().position(|m| m["final"] == true).unwrap();
        assert!(first_final > 0 && messages[0] == json!({"final": false, "text": "utterance 1", "confidence": null, "start": 0.0, "end": 0.5}), "interim results come first: {messages:?}");
        {
            let log = peer.log.lock().unwrap();
            assert!(log.audio == wav, "the vendor got the file byte for byte ({} of {} bytes)", log.audio.len(), wav.len());
            assert_eq!(log.starts[0], json!({"action": "start", "content-type": "audio/wav", "interim_results": true, "timestamps": true}));
            assert_eq!(log.upgrades, ["model=en-US_NarrowbandModel"]);
        }
        for message in &messages {
            assert!(!message.to_string().contains(speech::STT_PASSWORD));
        }
        let usage = settled(&s, &format!("{ACCOUNTS}/{id}/usage?days=1"), |u| u["days"][0]["calls"] == 1).await;
        assert_eq!(usage["days"][0]["errors"], 0, "{usage}");
        assert!(usage["live"]["last_success_at"].is_string(), "{usage}");
    }
}

backend_test! {
    #[tokio::test]
    async fn raw_audio_goes_to_a_named_govivace_account_with_its_caps_and_only_final_results_when_asked(db) {
        let peer = speech::govivace_stt(&CA, Behaviour::Normal).await;
        let s = server(&db).await;
        let id = govivace_account(&s, &peer).await;
        let (mut socket, account) = open(&s, &s.admin_token, &format!("?account={id}&format=l16&rate=16000&interim=false")).await.unwrap();
        assert_eq!(account, id);
        let wav = speech::wav(3.0, 16000);
        let pcm = &wav[wav.len() - 3 * 16000 * 2..];
        send_audio(&mut socket, pcm, 6400).await;
        let (messages, close) = read_to_close(&mut socket).await;
        assert_eq!(close, Some(CloseCode::Normal), "{messages:?}");
        assert_eq!(messages, [utterance(1, 0.0, 2.0), utterance(2, 2.0, 3.0)], "final results only");
        let log = peer.log.lock().unwrap();
        assert!(log.audio == pcm, "the raw audio byte for byte");
        let query: Vec<(String, String)> = url::form_urlencoded::parse(log.upgrades[0].as_bytes()).into_owned().collect();
        assert_eq!(query, [
            ("key".to_owned(), speech::GOVIVACE_KEY.to_owned()),
            ("content-type".to_owned(), "audio/x-raw, layout=(string)interleaved, rate=(int)16000, format=(string)S16LE, channels=(int)1".to_owned()),
        ]);
        assert_eq!(log.ended, 1, "the end was sent as EOS");
    }
}

backend_test! {
    #[tokio::test]
    async fn what_cannot_be_transcribed_is_refused_before_the_upgrade_in_the_gateways_categories(db) {
        let watson = speech::watson_stt(&CA, Behaviour::Normal).await;
        let govivace = speech::govivace_stt(&CA, Behaviour::Normal).await;
        let s = server(&db).await;
        let token = s.admin_token.clone();
        let refusal = |r: Result<(Client, String), (u16, Value)>| r.map(|_| ()).unwrap_err();

        let (status, problem) = refusal(open(&s, &token, "").await);
        assert_eq!((status, &problem["errors"][0]["rule"]), (409, &json!("no_account")), "{problem}");
        let wrong = watson_account(&s, &watson, "wrong-password", false).await;
        let (status, problem) = refusal(open(&s, &token, &format!("?account={wrong}")).await);
        assert_eq!((status, &problem["category"], &problem["vendor_status"]), (502, &json!("invalid_credentials"), &json!(401)), "{problem}");
        let other = speech::watson_stt(&CA, Behaviour::Normal).await;
        let good = watson_account(&s, &other, speech::STT_PASSWORD, true).await;
        let (status, problem) = refusal(open(&s, &token, "?model=xx-XX_NoModel").await);
        assert_eq!((status, &problem["category"]), (502, &json!("not_found")), "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("Model xx-XX_NoModel not found"), "the vendor's words: {problem}");
        for (query, field) in [("?format=l16", "rate"), ("?rate=8000", "rate"), ("?format=l16&rate=4000", "rate"), ("?model=a%20b", "model")] {
            let (status, problem) = refusal(open(&s, &token, query).await);
            assert_eq!((status, &problem["errors"][0]["field"]), (422, &json!(field)), "{query}: {problem}");
        }
        let gv = govivace_account(&s, &govivace).await;
        let (status, problem) = refusal(open(&s, &token, &format!("?account={gv}&model=en-US_BroadbandModel")).await);
        assert_eq!((status, &problem["errors"][0]["field"]), (422, &json!("model")), "{problem}");
        let (status, _) = refusal(open(&s, &token, "?format=mp3").await);
        assert_eq!(status, 400, "an unknown format");

        let viewer = s.token("tenant_viewer", Some("acme")).await;
        assert_eq!(refusal(open(&s, &viewer, "").await).0, 403, "a viewer does not use accounts");
        let plain = s.call(Method::GET, "/api/v1/tenants/acme/gateway/transcribe", None).await;
        assert_eq!(plain.status, 426, "not an upgrade: {plain:?}");
        assert_eq!(plain.headers["content-type"], "application/problem+json");
        assert!(open(&s, &token, "").await.is_ok(), "the default account {good} works");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_vendor_that_closes_early_ends_the_stream_with_its_failure_and_the_accounts_live_health_shows_it(db) {
        let peer = speech::watson_stt(&CA, Behaviour::CloseAfter(16_000)).await;
        let s = server(&db).await;
        let id = watson_account(&s, &peer, speech::STT_PASSWORD, true).await;
        let (mut socket, _) = open(&s, &s.admin_token, "").await.unwrap();
        let wav = speech::wav(5.0, 8000);
        // The vendor goes away while audio still flows: sending may fail part way.
        for part in wav.chunks(3200) {
            if socket.send(Message::binary(part.to_vec())).await.is_err() {
                break;
            }
        }
        let (messages, close) = read_to_close(&mut socket).await;
        assert_eq!(close, Some(CloseCode::Error), "{messages:?}");
        let last = messages.last().expect("a failure message");
        assert_eq!(last["error"]["category"], "vendor_error", "{last}");
        assert!(last["error"]["detail"].as_str().unwrap().contains("closed the stream before the audio ended (close code 1011"), "{last}");
        let account = settled(&s, &format!("{ACCOUNTS}/{id}"), |a| a["live"]["last_error"].is_object()).await;
        assert_eq!(account["live"]["last_error"]["category"], "vendor_error", "{account}");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_client_that_closes_early_closes_the_vendors_side_too(db) {
        let peer = speech::govivace_stt(&CA, Behaviour::Normal).await;
        let s = server(&db).await;
        let id = govivace_account(&s, &peer).await;
        let (mut socket, _) = open(&s, &s.admin_token, &format!("?account={id}")).await.unwrap();
        let wav = speech::wav(3.0, 8000);
        socket.send(Message::binary(wav[..8000].to_vec())).await.unwrap();
        socket.close(None).await.unwrap();
        for _ in 0..100 {
            if peer.log.lock().unwrap().closed_by_client == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(peer.log.lock().unwrap().closed_by_client, 1, "the vendor's side was closed politely");
        let usage = settled(&s, &format!("{ACCOUNTS}/{id}/usage?days=1"), |u| u["days"][0]["calls"] == 1).await;
        assert_eq!(usage["days"][0]["errors"], 0, "leaving early is not the account's failure: {usage}");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_client_too_slow_to_read_holds_the_vendor_back_and_loses_nothing(db) {
        let (count, size) = (1024, 64 * 1024);
        let peer = speech::watson_stt(&CA, Behaviour::Flood { count, size }).await;
        let s = server(&db).await;
        watson_account(&s, &peer, speech::STT_PASSWORD, true).await;
        let (mut socket, _) = open(&s, &s.admin_token, "").await.unwrap();
        let wav = speech::wav(1.0, 8000);
        socket.send(Message::binary(wav.clone())).await.unwrap();
        // Not reading: what the vendor could send is what the sockets' buffers hold, not
        // everything it has.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let sent_while_paused = peer.log.lock().unwrap().results_sent;
        assert!(
            sent_while_paused * size < count * size / 2,
            "the vendor sent {sent_while_paused} of {count} results ({} MiB) to a client that read nothing",
            sent_while_paused * size / (1024 * 1024)
        );
        socket.send(Message::text(json!({"action": "end"}).to_string())).await.unwrap();
        let (messages, close) = read_to_close(&mut socket).await;
        assert_eq!(close, Some(CloseCode::Normal));
        let flood: Vec<String> = messages.iter().take(count).map(|m| m["text"].as_str().unwrap()[..8].to_owned()).collect();
        let expected: Vec<String> = (0..count).map(|i| format!("{i:08}")).collect();
        assert!(flood == expected, "every result, in order");
        assert_eq!(finals(&messages), [utterance(1, 0.0, 1.0)], "and then the transcript");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_text_message_other_than_the_end_closes_the_stream_as_the_clients_mistake(db) {
        let peer = speech::watson_stt(&CA, Behaviour::Normal).await;
        let s = server(&db).await;
        watson_account(&s, &peer, speech::STT_PASSWORD, true).await;
        let (mut socket, _) = open(&s, &s.admin_token, "").await.unwrap();
        socket.send(Message::text("{\"action\": \"stop\"}")).await.unwrap();
        let (messages, close) = read_to_close(&mut socket).await;
        assert_eq!(close, Some(CloseCode::Policy), "{messages:?}");
        assert_eq!(messages.last().unwrap()["error"]["category"], Value::Null, "{messages:?}");
        assert!(messages.last().unwrap()["error"]["detail"].as_str().unwrap().contains("{\"action\": \"end\"}"));
    }
}

// ---- Transcripts of recordings ------------------------------------------------------------

const RECORDINGS: &str = "/api/v1/tenants/acme/recordings";

/// A recording of the Sales service with `audio` as a WAV file.
async fn recording(s: &TestServer, id: &str, audio: Option<&[u8]>) {
    recording_of(s, id, "Sales", audio).await;
}

async fn recording_of(s: &TestServer, id: &str, service: &str, audio: Option<&[u8]>) {
    let meta = json!({"global_interaction_id": format!("gi-{id}"), "call_started_at": "2026-12-01T09:30:15Z",
        "agent_login": "jo", "agent_first_name": "Jo", "agent_last_name": "Smith",
        "customer_phone": "+1 555 0100", "direction": "inbound", "service": service, "disposition": "sale"});
    let r = s.call(Method::PUT, &format!("{RECORDINGS}/{id}"), Some(meta)).await;
    assert_eq!(r.status, 201, "{r:?}");
    if let Some(audio) = audio {
        let request = s.request(Method::PUT, &format!("{RECORDINGS}/{id}/audio"), Some(&s.admin_token));
        let r = request.header("content-type", "audio/wav").body(audio.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
}

fn nlu_account(addr: std::net::SocketAddr, password: &str) -> Value {
    use patchbay_catalog::keys::nlu;
    use patchbay_testkit::vendors::messaging as peers;
    json!({"type": "nlu", "name": "Sentiment", "properties": {
        nlu::URL: format!("https://{addr}/natural-language-understanding/api/v1/analyze?version=2017-02-27"),
        nlu::USERNAME: peers::WATSON_USER, nlu::PASSWORD: password}})
}

/// Starts a recording's transcript and waits (at most 10 s) until it is no longer running.
async fn transcribed(s: &TestServer, id: &str, request: Value) -> Value {
    let path = format!("{RECORDINGS}/{id}/transcript");
    let r = s.call(Method::POST, &path, Some(request)).await;
    assert_eq!((r.status, &r.body["state"]), (202, &json!("running")), "{r:?}");
    settled(s, &path, |t| t["state"] != "running").await
}

backend_test! {
    #[tokio::test]
    async fn a_recording_is_transcribed_with_times_and_sentiment_per_utterance_and_found_by_its_words(db) {
        use patchbay_testkit::vendors::messaging as peers;
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stt_peer = speech::watson_stt(&CA, Behaviour::Normal).await;
        let nlu_peer = patchbay_testkit::tls::https(peers::watson_nlu_counted(calls.clone()), &CA).await;
        let s = server(&db).await;
        let stt_id = watson_account(&s, &stt_peer, speech::STT_PASSWORD, true).await;
        let nlu_id = create(&s, nlu_account(nlu_peer, peers::WATSON_PASSWORD)).await;
        let wav = speech::wav(5.0, 8000);
        recording(&s, "call-1", Some(&wav)).await;
        recording(&s, "call-2", Some(&speech::wav(1.0, 8000))).await;

        let t = transcribed(&s, "call-1", json!({"model": "en-US_NarrowbandModel"})).await;
        assert_eq!(t["state"], "done", "{t}");
        let neutral = json!({"label": "neutral", "score": 0.0});
        let utterance = |n: u32, start: f64, end: f64| json!({"start": start, "end": end, "text": format!("utterance {n}"), "confidence": 0.9, "sentiment": neutral});
        assert_eq!(t["utterances"], json!([utterance(1, 0.0, 2.0), utterance(2, 2.0, 4.0), utterance(3, 4.0, 5.0)]), "{t}");
        assert_eq!((t["account"].as_str(), t["sentiment_account"].as_str()), (Some(stt_id.as_str()), Some(nlu_id.as_str())));
        assert_eq!((&t["error"], &t["sentiment_error"]), (&Value::Null, &Value::Null), "{t}");
        assert!(t["requested_by"].as_str().unwrap().starts_with("token:bootstrap admin"), "{t}");
        assert!(stt_peer.log.lock().unwrap().audio == wav, "the stored audio went as it is");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "one NLU call per utterance");
        let usage = settled(&s, &format!("{ACCOUNTS}/{nlu_id}/usage?days=1"), |u| u["days"][0]["calls"] == 3).await;
        assert_eq!(usage["days"][0]["quota"], 100, "the utterances count against the NLU quota: {usage}");

        let ids = |r: &Value| -> Vec<String> { r["items"].as_array().unwrap().iter().map(|x| x["recording_id"].as_str().unwrap().to_owned()).collect() };
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=UTTERANCE%203"), None).await;
        assert_eq!((r.status, ids(&r.body)), (200, vec!["call-1".to_owned()]), "every word, any case: {r:?}");
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=utter&service=Sales"), None).await;
        assert_eq!(ids(&r.body), ["call-1"], "a word finds the longer words it starts; call-2 has no transcript");
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=refund"), None).await;
        assert!(ids(&r.body).is_empty(), "{r:?}");
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=%22%20OR%20*"), None).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (200, &Value::Null), "operators are words or nothing: {r:?}");
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=***"), None).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("q")), "{r:?}");

        // Again: the transcript is replaced, and the search follows it.
        let t = transcribed(&s, "call-2", json!({})).await;
        assert_eq!(t["utterances"].as_array().map(Vec::len), Some(1), "{t}");
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=utterance"), None).await;
        assert_eq!(ids(&r.body), ["call-2", "call-1"], "newest call first; both transcribed");
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        let r = s.call_as(&viewer, Method::GET, &format!("{RECORDINGS}/call-1/transcript"), None).await;
        assert_eq!(r.status, 200, "a viewer reads transcripts: {r:?}");
        let r = s.call_as(&viewer, Method::POST, &format!("{RECORDINGS}/call-1/transcript"), Some(json!({}))).await;
        assert_eq!(r.status, 403, "but does not start them: {r:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn a_transcript_keeps_its_utterances_when_sentiment_fails_and_fails_with_the_category_when_recognition_does(db) {
        use patchbay_testkit::vendors::messaging as peers;
        let stt_peer = speech::watson_stt(&CA, Behaviour::Normal).await;
        let nlu_peer = patchbay_testkit::tls::https(peers::watson_nlu(), &CA).await;
        let s = server(&db).await;
        let path = |id: &str| format!("{RECORDINGS}/{id}/transcript");
        recording(&s, "silent", None).await;
        recording(&s, "call", Some(&speech::wav(3.0, 8000))).await;
        let r = s.call(Method::POST, &path("call"), Some(json!({}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("no_account")), "no default STT account: {r:?}");
        watson_account(&s, &stt_peer, speech::STT_PASSWORD, true).await;
        let r = s.call(Method::POST, &path("silent"), Some(json!({}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (409, &json!("no_audio")), "{r:?}");
        assert_eq!(s.call(Method::POST, &path("nobody"), Some(json!({}))).await.status, 404);
        assert_eq!(s.call(Method::GET, &path("call"), None).await.status, 404, "none asked for yet");
        let r = s.call(Method::POST, &path("call"), Some(json!({"model": "a b"}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("model")), "{r:?}");

        let nlu_id = create(&s, nlu_account(nlu_peer, "wrong-password")).await;
        let t = transcribed(&s, "call", json!({})).await;
        assert_eq!(t["state"], "done", "{t}");
        assert_eq!(t["utterances"].as_array().unwrap().iter().map(|u| u["sentiment"].clone()).collect::<Vec<_>>(), [Value::Null, Value::Null]);
        assert_eq!(t["sentiment_account"], nlu_id.as_str());
        let why = t["sentiment_error"].as_str().unwrap();
        assert!(why.contains("credentials") && why.contains("stopped after 0 of 2 utterances"), "{why}");

        let broken = speech::watson_stt(&CA, Behaviour::CloseAfter(8000)).await;
        let broken_id = watson_account(&s, &broken, speech::STT_PASSWORD, false).await;
        let t = transcribed(&s, "call", json!({"account": broken_id})).await;
        assert_eq!((&t["state"], &t["error"]["category"]), (&json!("failed"), &json!("vendor_error")), "{t}");
        assert_eq!(t["utterances"], json!([]));
        let r = s.call(Method::GET, &format!("{RECORDINGS}?q=utterance"), None).await;
        assert_eq!(r.body["items"], json!([]), "a failed transcript holds no words: {r:?}");
    }
}

backend_test! {
    #[tokio::test]
    async fn new_recordings_of_the_chosen_services_are_transcribed_as_their_audio_arrives(db) {
        let peer = speech::govivace_stt(&CA, Behaviour::Normal).await;
        let s = server(&db).await;
        let settings = "/api/v1/tenants/acme/recording-transcription";
        let r = s.call(Method::GET, settings, None).await;
        assert_eq!((r.status, &r.body), (200, &json!({"enabled": false, "services": []})), "off until set: {r:?}");

        // On, with no Speech To Text account yet: the failure is kept with what to do.
        let on = json!({"enabled": true, "services": ["Sales"]});
        assert_eq!(s.call(Method::PUT, settings, Some(on.clone())).await.body, on);
        recording(&s, "early", Some(&speech::wav(1.0, 8000))).await;
        let t = s.call(Method::GET, &format!("{RECORDINGS}/early/transcript"), None).await;
        assert_eq!((&t.body["state"], &t.body["requested_by"]), (&json!("failed"), &json!("auto")), "{t:?}");
        assert!(t.body["error"]["detail"].as_str().unwrap().contains("no default Speech To Text account"), "{t:?}");

        let id = govivace_account(&s, &peer).await;
        let r = s.call(Method::PUT, settings, Some(json!({"enabled": true, "services": ["Sales", "Sales"], "account": id}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["rule"]), (422, &json!("unique")), "{r:?}");
        let r = s.call(Method::PUT, settings, Some(json!({"enabled": true, "services": [], "account": "00000000-0000-4000-8000-000000000000"}))).await;
        assert_eq!((r.status, &r.body["errors"][0]["field"]), (422, &json!("account")), "{r:?}");
        let chosen = json!({"enabled": true, "services": ["Sales"], "account": id});
        assert_eq!(s.call(Method::PUT, settings, Some(chosen.clone())).await.body, chosen);
        assert_eq!(s.call(Method::GET, settings, None).await.body, chosen);

        recording(&s, "sale", Some(&speech::wav(3.0, 8000))).await;
        recording_of(&s, "support", "Support", Some(&speech::wav(3.0, 8000))).await;
        let t = settled(&s, &format!("{RECORDINGS}/sale/transcript"), |t| t["state"] == "done").await;
        assert_eq!((t["requested_by"].as_str(), t["account"].as_str()), (Some("auto"), Some(id.as_str())), "{t}");
        assert_eq!(t["utterances"].as_array().map(Vec::len), Some(2), "{t}");
        let r = s.call(Method::GET, &format!("{RECORDINGS}/support/transcript"), None).await;
        assert_eq!(r.status, 404, "another service's recording is not transcribed: {r:?}");
        let audit = s.call(Method::GET, "/api/v1/tenants/acme/audit", None).await;
        assert!(audit.text.contains("recordings.transcription.update"), "the change is audited");
        let viewer = s.token("tenant_viewer", Some("acme")).await;
        assert_eq!(s.call_as(&viewer, Method::PUT, settings, Some(chosen)).await.status, 403);
    }
}

backend_test! {
    #[tokio::test]
    async fn a_new_recording_whose_automatic_transcript_never_started_is_transcribed_by_the_sweep(db) {
        use patchbay_store::RecordingStore as _;
        let peer = speech::govivace_stt(&CA, Behaviour::Normal).await;
        let s = TestServer::start_with(&db, |settings| {
            settings.egress.extra_roots_pem = Some(CA.ca_pem.clone());
            settings.transcription_sweep = Duration::from_millis(200);
        })
        .await;
        assert_eq!(s.call(Method::POST, "/api/v1/tenants", Some(json!({"id": "acme"}))).await.status, 201);
        let id = govivace_account(&s, &peer).await;
        let on = json!({"enabled": true, "services": [], "account": id});
        assert_eq!(s.call(Method::PUT, "/api/v1/tenants/acme/recording-transcription", Some(on)).await.status, 200);

        // A recording stored as the intake stores one, by a node that stopped before the
        // transcript started: its row and its audio file, and nothing else.
        let store = patchbay_store::SqlStore::connect(&db.url).await.unwrap();
        let mut meta = patchbay_store::RecordingWrite {
            id: "missed".into(),
            global_interaction_id: "gi-missed".into(),
            call_started_at: chrono::Utc::now(),
            agent_login: "jo".into(),
            agent_first_name: "Jo".into(),
            agent_last_name: "Smith".into(),
            customer_phone: "+15550100".into(),
            direction: "inbound".into(),
            service: "Support".into(),
            disposition: "sale".into(),
            flagged: false,
        };
        store.insert_recording("acme", &meta).await.unwrap();
        let wav = speech::wav(3.0, 8000);
        let dir = s.data_dir.path().join("data/recordings/acme");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("missed.audio"), &wav).unwrap();
        let audio = patchbay_store::Audio { size: wav.len() as i64, sha256: "00".repeat(32), content_type: "audio/wav".into(), extension: "wav".into() };
        store.set_recording_audio("acme", "missed", &audio).await.unwrap();
        meta.id = "no-audio".into();
        store.insert_recording("acme", &meta).await.unwrap();

        let t = settled(&s, &format!("{RECORDINGS}/missed/transcript"), |t| t["state"] == "done").await;
        assert_eq!((t["requested_by"].as_str(), t["utterances"].as_array().map(Vec::len)), (Some("auto"), Some(2)), "{t}");
        let r = s.call(Method::GET, &format!("{RECORDINGS}/no-audio/transcript"), None).await;
        assert_eq!(r.status, 404, "a recording without audio waits for it: {r:?}");
    }
}
