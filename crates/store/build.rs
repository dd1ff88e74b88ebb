//! `sqlx::migrate!` embeds the migration files at compile time; without this, cargo would
//! not rebuild the crate when only a migration changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
