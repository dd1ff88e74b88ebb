//! Runs a vendor stand-in over HTTPS for benchmarks and manual tries: `standin nlu DIR
//! [DELAY_MS]` writes the CA certificate to `DIR/ca.pem` and the port to `DIR/port`, then
//! serves until killed, each answer after `DELAY_MS` (0 by default; a cloud API's own time).
//! Stand-ins: `nlu` (Watson Natural Language Understanding analyze).

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(name), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: standin nlu DIR [DELAY_MS]");
        std::process::exit(2);
    };
    let router = match name.as_str() {
        "nlu" => patchbay_testkit::vendors::messaging::watson_nlu(),
        other => {
            eprintln!("unknown stand-in `{other}`; stand-ins: nlu");
            std::process::exit(2);
        }
    };
    let delay = std::time::Duration::from_millis(args.get(3).and_then(|d| d.parse().ok()).unwrap_or(0));
    let router = router.layer(axum::middleware::from_fn(move |request, next: axum::middleware::Next| async move {
        tokio::time::sleep(delay).await;
        next.run(request).await
    }));
    let ca = patchbay_testkit::tls::TestCa::new();
    let addr = patchbay_testkit::tls::https(router, &ca).await;
    let dir = std::path::Path::new(dir);
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).expect("write ca.pem");
    std::fs::write(dir.join("port"), addr.port().to_string()).expect("write port");
    std::future::pending::<()>().await;
}
