//! Fuzz targets are proptest properties in the crate that owns the code. Each target names
//! the case count that keeps it to a few seconds in the normal test run; `PROPTEST_CASES`
//! (what `scripts/fuzz` sets for long runs) overrides it. Failures are kept as seeds in
//! `<source file>.proptest-regressions` next to the target's source, committed, and replayed
//! first on every run.
//!
//! Hostile input comes from grammar-aware generators in each target and from [`mutated`]:
//! valid samples with bytes flipped, cut, repeated or spliced with pieces that often break
//! parsers.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence};

/// The environment variable that sets every target's case count.
pub const CASES_VAR: &str = "PROPTEST_CASES";

/// The configuration of a target: `cases` cases, unless `PROPTEST_CASES` says otherwise
/// (proptest's default configuration reads it and the other `PROPTEST_*` variables; an
/// explicit count would override it). Failure seeds go beside the source file, for unit
/// and integration tests alike.
pub fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os(CASES_VAR).is_none() {
        config.cases = cases;
    }
    config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions")));
    config
}

/// Pieces spliced into samples: structure, escapes, controls (C0, C1, bidi, zero-width),
/// broken UTF-8, number edges, path tricks.
const PIECES: &[&[u8]] = &[
    b"\0",
    b"\x1b[2J",
    b"\n",
    b"\r\n",
    b"\t",
    b"\x7f",
    "\u{85}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{feff}".as_bytes(),
    "é".as_bytes(),
    "😀".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\ud83d\\ude00",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"-0",
    b"1e400",
    b"-1",
    b"4294967296",
    b"18446744073709551616",
    b"0.5",
    b"$(",
    b")",
    b"/",
    b"..",
    b" ",
];

/// One change to a sample.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip one bit of one byte.
    Flip(Index, u8),
    /// Insert a piece of [`PIECES`].
    Splice(Index, Index),
    /// Insert an arbitrary byte.
    Byte(Index, u8),
    /// Remove up to 8 bytes.
    Delete(Index, u8),
    /// Repeat up to 16 bytes.
    Repeat(Index, u8),
    /// Cut the sample short.
    Truncate(Index),
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match self {
            Mutation::Flip(i, bit) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] ^= 1 << (bit % 8);
            }
            Mutation::Flip(..) => {}
            Mutation::Splice(i, piece) => {
                let at = at(i, bytes.len());
                let piece = PIECES[piece.index(PIECES.len())];
                bytes.splice(at..at, piece.iter().copied());
            }
            Mutation::Byte(i, b) => {
                let at = at(i, bytes.len());
                bytes.insert(at, *b);
            }
            Mutation::Delete(i, n) => {
                let at = at(i, bytes.len());
                let end = (at + usize::from(n % 8) + 1).min(bytes.len());
                bytes.drain(at..end);
            }
            Mutation::Repeat(i, n) => {
                let at = at(i, bytes.len());
                let end = (at + usize::from(n % 16) + 1).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Mutation::Truncate(i) => {
                let at = at(i, bytes.len());
                bytes.truncate(at);
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, p)| Mutation::Splice(i, p)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Mutation::Repeat(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Samples from `valid`, each changed by one to four mutations.
pub fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (valid, prop::collection::vec(mutation(), 1..=4)).prop_map(|(mut bytes, mutations)| {
        for m in &mutations {
            m.apply(&mut bytes);
        }
        bytes
    })
}

/// Text from `valid`, mutated as bytes and read back lossily (for inputs that are `&str`).
pub fn mutated_text(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    mutated(valid.prop_map(String::into_bytes)).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Any JSON value up to a small depth, with hostile strings and number edges.
pub fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((hostile_text(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Short strings that mix plain words with controls, bidi and zero-width characters,
/// non-ASCII and surrogate pairs.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,12}",
        "[ -~]{0,24}",
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{200b}-\\u{200f}\\u{202a}-\\u{202e}a-z ]{0,12}",
        any::<String>(),
    ]
}
