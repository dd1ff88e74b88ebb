//! Runs a vendor stand-in for benchmarks and manual tries: `standin NAME DIR [DELAY_MS]`
//! writes the CA certificate to `DIR/ca.pem` and the port to `DIR/port`, then serves until
//! killed. Stand-ins: `nlu` (Watson Natural Language Understanding analyze over HTTPS, each
//! answer after `DELAY_MS`, 0 by default: a cloud API's own time) and `stt` (Watson Speech
//! to Text over WSS, answering each audio message at once with an interim result that
//! names its first 8 bytes).

use patchbay_testkit::tls::TestCa;
use patchbay_testkit::vendors::speech::{self, Behaviour};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(name), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: standin nlu|stt DIR [DELAY_MS]");
        std::process::exit(2);
    };
    let ca = TestCa::new();
    let port = match name.as_str() {
        "nlu" => {
            let delay = std::time::Duration::from_millis(args.get(3).and_then(|d| d.parse().ok()).unwrap_or(0));
            let router = patchbay_testkit::vendors::messaging::watson_nlu().layer(axum::middleware::from_fn(
                move |request, next: axum::middleware::Next| async move {
                    tokio::time::sleep(delay).await;
                    next.run(request).await
                },
            ));
            patchbay_testkit::tls::https(router, &ca).await.port()
        }
        "stt" => speech::watson_stt(&ca, Behaviour::Echo).await.addr.port(),
        other => {
            eprintln!("unknown stand-in `{other}`; stand-ins: nlu, stt");
            std::process::exit(2);
        }
    };
    let dir = std::path::Path::new(dir);
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).expect("write ca.pem");
    std::fs::write(dir.join("port"), port.to_string()).expect("write port");
    std::future::pending::<()>().await;
}
