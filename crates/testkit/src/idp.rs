//! A real SAML 2.0 identity provider: SimpleSAMLphp (Debian `simplesamlphp`, 1.19) served by
//! PHP's built-in web server as a child process on a loopback port, killed on drop, with a
//! configuration of its own in a temporary directory: its RSA key and self-signed
//! certificate (made with `openssl`), users of the `exampleauth:UserPass` source with their
//! attributes, and one service provider whose AuthnRequests it answers with an HTTP-POST
//! form to the SP's ACS URL. The configuration takes from Debian's `/etc/simplesamlphp`
//! what matters here, with every directory inside the temporary one, cookies without
//! `Secure` (plain HTTP on loopback) and `SameSite=Lax`, and a secret salt and admin password
//! drawn per run. PHP's server runs `/module.php/core/loginuserpass.php` and the like as
//! `module.php` with PATH_INFO, so no router script is needed.
//!
//! What it sends: a `Response` and its `Assertion`, each signed (RSA-SHA256, SHA-256
//! digests, exclusive C14N, the certificate in `KeyInfo`); the NameID in the
//! `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress` format holding the user's first
//! `email` value, whatever format the request asks for; every attribute of the user, named
//! as given, with the `basic` name format; an assertion valid for 5 minutes.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts SimpleSAMLphp's web root.
const WWW: &str = "/usr/share/simplesamlphp/www";
/// How to install what it needs (scripts/test does as root): simplesamlphp after php-cgi and
/// mini-httpd, which meet its `php` and `apache2 | httpd` dependencies instead of Apache.
const INSTALL: &str = "apt-get install --no-install-recommends php-cli php-cgi php-xml php-mbstring xmlsec1 \
                       mini-httpd && apt-get install --no-install-recommends simplesamlphp";
/// How long the server may take to answer its metadata.
const START_WITHIN: Duration = Duration::from_secs(20);
/// The attribute whose first value is the NameID.
pub const NAME_ID_ATTRIBUTE: &str = "email";
pub const NAME_ID_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// A user of the IdP's login form. `username` must not hold a `:`; `attributes` must hold
/// [`NAME_ID_ATTRIBUTE`].
pub struct IdpUser {
    pub username: String,
    pub password: String,
    pub attributes: Vec<(String, Vec<String>)>,
}

/// The one service provider the IdP knows (its ACS takes HTTP-POST) and the IdP's users.
pub struct IdpOptions {
    pub sp_entity_id: String,
    pub acs_url: String,
    pub users: Vec<IdpUser>,
}

pub struct SimpleSamlPhp {
    child: Child,
    /// Holds the configuration, key, sessions and logs; removed on drop.
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT/`
    pub base_url: String,
    /// The SingleSignOnService location (HTTP-Redirect binding).
    pub sso_url: String,
    /// The IdP's entity id: its metadata URL.
    pub issuer: String,
    /// The signing certificate (PEM).
    pub certificate_pem: String,
}

impl SimpleSamlPhp {
    /// Writes the configuration, starts the server and waits (at most 20 s) until it answers
    /// its metadata. Fails with the install command when SimpleSAMLphp, PHP or openssl is
    /// missing.
    pub fn start(options: IdpOptions) -> SimpleSamlPhp {
        if !Path::new(WWW).is_dir() {
            panic!("SimpleSAMLphp is not installed ({WWW} is missing); install it with: {INSTALL}");
        }
        let dir = tempfile::Builder::new().prefix("patchbay-idp-").tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port();
        let base_url = format!("http://127.0.0.1:{port}/");
        let issuer = format!("{base_url}saml2/idp/metadata.php");
        let sso_url = format!("{base_url}saml2/idp/SSOService.php");
        let certificate_pem = make_key_and_certificate(&dir.path().join("cert"));
        write_config(dir.path(), &base_url, &issuer, &options);
        let log = std::fs::File::create(dir.path().join("server.log")).expect("create the server log");
        let child = Command::new("php")
            .args(["-S", &format!("127.0.0.1:{port}"), "-t", WWW])
            .env("SIMPLESAMLPHP_CONFIG_DIR", dir.path().join("config"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the server log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start php ({e}); install it with: {INSTALL}"));
        let mut idp = SimpleSamlPhp { child, dir, base_url, sso_url, issuer, certificate_pem };
        idp.wait_until_serving(SocketAddr::from(([127, 0, 0, 1], port)));
        idp
    }

    fn wait_until_serving(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("php exited before listening: {status}; {}", self.logs());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("php did not listen on {addr} within 20 s: {e}"),
            }
        }
        // A busy machine may drop the first request while the server settles: ask again until
        // the deadline.
        let answer = loop {
            match get(addr, "/saml2/idp/metadata.php", deadline.saturating_duration_since(Instant::now())) {
                Ok(answer) if !answer.is_empty() => break answer,
                Ok(_) | Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Ok(_) => panic!("SimpleSAMLphp's metadata did not come: an empty answer; {}", self.logs()),
                Err(e) => panic!("SimpleSAMLphp's metadata did not come: {e}; {}", self.logs()),
            }
        };
        if !answer.starts_with("HTTP/1.0 200") && !answer.starts_with("HTTP/1.1 200") {
            let status = answer.lines().next().unwrap_or_default();
            panic!(
                "SimpleSAMLphp answers its metadata with {status:?} (PHP modules missing? {INSTALL}); {}",
                self.logs()
            );
        }
    }

    /// The end of the server's and SimpleSAMLphp's logs (requests and errors; no secrets).
    fn logs(&self) -> String {
        let tail = |name: &str| {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        };
        format!("server log:\n{}\nSimpleSAMLphp log:\n{}", tail("server.log"), tail("log/simplesamlphp.log"))
    }
}

impl Drop for SimpleSamlPhp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An RSA 2048 key (`idp.key`) and a self-signed certificate for it valid for a day
/// (`idp.crt`) in `cert_dir`; returns the certificate.
fn make_key_and_certificate(cert_dir: &Path) -> String {
    std::fs::create_dir(cert_dir).expect("create the certificate dir");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1"])
        .args(["-subj", "/CN=patchbay test IdP", "-keyout", "idp.key", "-out", "idp.crt"])
        .current_dir(cert_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}); install it with: apt-get install openssl"));
    assert!(out.status.success(), "openssl could not make the IdP's key: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(cert_dir.join("idp.crt")).expect("read the IdP certificate")
}

/// `config/config.php`, `config/authsources.php` and the metadata in `metadata/`; every path
/// inside `dir`.
fn write_config(dir: &Path, base_url: &str, issuer: &str, options: &IdpOptions) {
    for sub in ["config", "metadata", "log", "data", "tmp", "sessions"] {
        std::fs::create_dir(dir.join(sub)).expect("create an IdP dir");
    }
    let path = |sub: &str| php(&format!("{}/", dir.join(sub).display()));
    let random = || uuid::Uuid::new_v4().simple().to_string();
    let config = format!(
        "<?php
$config = [
    'baseurlpath' => {base_url},
    'certdir' => {certdir},
    'metadatadir' => {metadatadir},
    'loggingdir' => {loggingdir},
    'datadir' => {datadir},
    'tempdir' => {tempdir},
    'secretsalt' => {salt},
    'auth.adminpassword' => {admin},
    'technicalcontact_name' => 'patchbay tests',
    'technicalcontact_email' => 'na@example.org',
    'timezone' => 'UTC',
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    'showerrors' => true,
    'errorreporting' => false,
    'logging.level' => SimpleSAML\\Logger::NOTICE,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'enable.saml20-idp' => true,
    'module.enable' => ['core' => true, 'saml' => true, 'exampleauth' => true],
    'store.type' => 'phpsession',
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => {sessions},
    'session.cookie.secure' => false,
    'session.cookie.samesite' => 'Lax',
    'language.cookie.secure' => false,
    'language.cookie.samesite' => 'Lax',
    'metadata.sources' => [['type' => 'flatfile']],
];
",
        base_url = php(base_url),
        certdir = path("cert"),
        metadatadir = path("metadata"),
        loggingdir = path("log"),
        datadir = path("data"),
        tempdir = path("tmp"),
        sessions = path("sessions"),
        salt = php(&random()),
        admin = php(&random()),
    );
    let mut users = String::new();
    for user in &options.users {
        assert!(!user.username.contains(':'), "an IdP username cannot hold a `:`");
        assert!(
            user.attributes.iter().any(|(name, values)| name == NAME_ID_ATTRIBUTE && !values.is_empty()),
            "an IdP user needs an `{NAME_ID_ATTRIBUTE}` attribute: its NameID"
        );
        let attributes: Vec<String> = user
            .attributes
            .iter()
            .map(|(name, values)| {
                format!("{} => [{}]", php(name), values.iter().map(|v| php(v)).collect::<Vec<_>>().join(", "))
            })
            .collect();
        users.push_str(&format!(
            "        {} => [{}],\n",
            php(&format!("{}:{}", user.username, user.password)),
            attributes.join(", ")
        ));
    }
    let authsources = format!(
        "<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'users' => [
        'exampleauth:UserPass',
{users}    ],
];
"
    );
    let idp_hosted = format!(
        "<?php
$metadata[{issuer}] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'users',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'NameIDFormat' => {format},
    'simplesaml.nameidattribute' => {attribute},
];
",
        issuer = php(issuer),
        format = php(NAME_ID_FORMAT),
        attribute = php(NAME_ID_ATTRIBUTE),
    );
    let sp_remote = format!(
        "<?php
$metadata[{entity_id}] = [
    'AssertionConsumerService' => [
        ['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'Location' => {acs_url}],
    ],
];
",
        entity_id = php(&options.sp_entity_id),
        acs_url = php(&options.acs_url),
    );
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write the IdP's configuration");
    write("config/config.php", &config);
    write("config/authsources.php", &authsources);
    write("metadata/saml20-idp-hosted.php", &idp_hosted);
    write("metadata/saml20-sp-remote.php", &sp_remote);
}

/// `text` as a single-quoted PHP string.
fn php(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A plain HTTP/1.0 GET on loopback: the status line, headers and body as text.
fn get(addr: SocketAddr, path: &str, within: Duration) -> std::io::Result<String> {
    let within = within.max(Duration::from_millis(100));
    let mut stream = TcpStream::connect_timeout(&addr, within)?;
    stream.set_read_timeout(Some(within))?;
    stream.set_write_timeout(Some(within))?;
    // One write: PHP's built-in server may take a request that arrives in pieces as malformed.
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
