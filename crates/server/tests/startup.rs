//! Start-up: the data dir, master key ring and admin token are created private; a set
//! admin token replaces the generated one; a key ring that does not belong to the database
//! stops the start with a message that says what to do.

use std::os::unix::fs::PermissionsExt;

use patchbay_server::{start, Settings};
use patchbay_testkit::TestDatabase;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn settings(dir: &std::path::Path, db: &TestDatabase, admin_token: Option<&str>) -> Settings {
    Settings {
        database_url: Some(db.url.clone()),
        admin_token: admin_token.map(str::to_owned),
        ..Settings::new(dir.to_owned())
    }
}

#[tokio::test]
async fn first_start_creates_private_key_ring_and_admin_token() {
    let db = TestDatabase::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let first = start(&settings(&dir, &db, None)).await.unwrap();
    let token = first.new_admin_token.clone().expect("a token on first start");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("master.key")), 0o600);
    assert_eq!(mode(&dir.join("admin-token")), 0o600);
    assert_eq!(std::fs::read_to_string(dir.join("admin-token")).unwrap().trim(), token);
    let hash = patchbay_server::hash_token(&token);
    assert!(first.state.store.find_token(&hash).await.unwrap().is_some());
    drop(first);

    let again = start(&settings(&dir, &db, None)).await.unwrap();
    assert!(again.new_admin_token.is_none(), "the token is printed only once");
    assert!(again.state.store.find_token(&hash).await.unwrap().is_some());
}

#[tokio::test]
async fn an_existing_open_data_dir_is_made_private_with_its_database_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = start(&Settings::new(dir.clone())).await.unwrap();
    started.state.store.ping().await.unwrap();
    assert_eq!(mode(&dir), 0o700, "the data dir is private");
    for file in ["patchbay.db", "patchbay.db-wal", "master.key", "admin-token"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn configured_admin_token_replaces_the_bootstrap_one() {
    let db = TestDatabase::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let generated = start(&settings(&dir, &db, None)).await.unwrap().new_admin_token.unwrap();
    let chosen = "chosen-admin-token-0123456789";
    let started = start(&settings(&dir, &db, Some(chosen))).await.unwrap();
    let store = &started.state.store;
    assert!(store.find_token(&patchbay_server::hash_token(chosen)).await.unwrap().is_some());
    assert!(
        store.find_token(&patchbay_server::hash_token(&generated)).await.unwrap().is_none(),
        "old bootstrap token revoked"
    );
    let short = start(&settings(&dir, &db, Some("short"))).await.err().expect("a short token is refused");
    assert!(format!("{short:#}").contains("at least 16 characters"));
}

#[tokio::test]
async fn wrong_or_missing_master_key_fails_at_start_with_a_clear_message() {
    let db = TestDatabase::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    start(&settings(&dir, &db, None)).await.unwrap();

    let key_path = dir.join("master.key");
    let original = std::fs::read(&key_path).unwrap();
    patchbay_vault::KeyRing::generate().save(&key_path).unwrap();
    let wrong = format!("{:#}", start(&settings(&dir, &db, None)).await.err().expect("a foreign key ring is refused"));
    assert!(wrong.contains("does not match this database"), "{wrong}");
    assert!(wrong.contains("master.key"), "the message names the file: {wrong}");

    std::fs::remove_file(&key_path).unwrap();
    let missing =
        format!("{:#}", start(&settings(&dir, &db, None)).await.err().expect("a missing key ring is refused"));
    assert!(missing.contains("does not match this database"), "{missing}");

    std::fs::write(&key_path, original).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(start(&settings(&dir, &db, None)).await.is_ok(), "the right ring opens again");
}
