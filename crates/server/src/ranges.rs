//! What a GET of a representation answers to its `Range` and `If-Range` headers
//! (RFC 9110 14.2 and 13.1.5). Pure: header bytes, the representation's entity-tag and
//! length in, the answer out, no I/O.
//!
//! - No `Range`, or one that does not parse (a unit other than `bytes`, a malformed or
//!   invalid range-spec such as `5-3` or `+5-`): the whole representation (200).
//! - An `If-Range` that does not match: the whole representation, whatever the `Range`. Only
//!   a strong entity-tag equal to the representation's matches (strong comparison: a weak
//!   tag never does). An HTTP-date never matches: playback sends no `Last-Modified`, so no
//!   date can equal it.
//! - Of the ranges asked for, none satisfiable (each starts at or beyond the end, or is a
//!   zero-length suffix): 416. Exactly one: 206 with that range, clipped to the end. Several:
//!   the whole representation (multipart/byteranges is not offered; RFC 9110 lets a server
//!   ignore a Range).
//! - An empty representation has no byte to send in a 206: a non-zero suffix range (the
//!   only satisfiable kind there) gets it whole.

/// How to answer a GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the whole representation.
    Whole,
    /// 206 with bytes `start..=end` (`Content-Range: bytes start-end/len`).
    Part { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// The answer for a representation of `len` bytes whose `ETag` is `etag` (as sent, quotes
/// included), given the request's `Range` and `If-Range` header values.
pub fn answer(range: Option<&[u8]>, if_range: Option<&[u8]>, etag: &str, len: u64) -> Answer {
    let Some(range) = range else { return Answer::Whole };
    if if_range.is_some_and(|validator| !strong_match(trim(validator), etag.as_bytes())) {
        return Answer::Whole;
    }
    ranges(trim(range), len).unwrap_or(Answer::Whole)
}

/// Strong comparison of an `If-Range` value with the representation's entity-tag.
fn strong_match(validator: &[u8], etag: &[u8]) -> bool {
    !etag.starts_with(b"W/") && validator == etag
}

/// `None` when the header does not parse (then it is ignored).
fn ranges(header: &[u8], len: u64) -> Option<Answer> {
    let (unit, set) = split_once(header, b'=')?;
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = 0usize;
    let mut satisfiable = 0usize;
    let mut first = None;
    for spec in set.split(|b| *b == b',').map(trim).filter(|s| !s.is_empty()) {
        specs += 1;
        match parse_spec(spec)? {
            Spec::From { first: start, last } if start < len => {
                satisfiable += 1;
                first.get_or_insert((start, last.min(len - 1)));
            }
            Spec::Suffix(suffix) if suffix > 0 => {
                satisfiable += 1;
                if len > 0 {
                    first.get_or_insert((len - suffix.min(len), len - 1));
                }
            }
            _ => {}
        }
    }
    Some(match (specs, satisfiable, first) {
        (0, _, _) => return None,
        (_, 0, _) => Answer::Unsatisfiable,
        (_, 1, Some((start, end))) => Answer::Part { start, end },
        _ => Answer::Whole,
    })
}

enum Spec {
    /// `first-last` or `first-` (`last` then `u64::MAX`).
    From { first: u64, last: u64 },
    /// `-suffix`.
    Suffix(u64),
}

/// One range-spec; `None` when it is malformed or invalid (last before first).
fn parse_spec(spec: &[u8]) -> Option<Spec> {
    let (first, last) = split_once(spec, b'-')?;
    match (first.is_empty(), last.is_empty()) {
        (true, _) => Some(Spec::Suffix(number(last)?)),
        (false, true) => Some(Spec::From { first: number(first)?, last: u64::MAX }),
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            (digits_cmp(first, last) != std::cmp::Ordering::Greater).then_some(Spec::From { first: start, last: end })
        }
    }
}

/// `1*DIGIT` as a number, saturating at `u64::MAX` (a position that large is past any end).
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

/// Compares two digit strings as numbers of any size.
fn digits_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |d: &[u8]| -> usize { d.iter().take_while(|c| **c == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn split_once(bytes: &[u8], at: u8) -> Option<(&[u8], &[u8])> {
    let i = bytes.iter().position(|b| *b == at)?;
    Some((&bytes[..i], &bytes[i + 1..]))
}

/// Without optional whitespace (SP, HTAB) at either end.
fn trim(bytes: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ETAG: &str = "\"3f9a\"";

    fn of(range: &str, len: u64) -> Answer {
        answer(Some(range.as_bytes()), None, ETAG, len)
    }

    fn part(start: u64, end: u64) -> Answer {
        Answer::Part { start, end }
    }

    #[test]
    fn no_range_is_the_whole() {
        assert_eq!(answer(None, None, ETAG, 10), Answer::Whole);
        assert_eq!(answer(None, Some(b"\"other\""), ETAG, 10), Answer::Whole, "If-Range without Range is ignored");
    }

    #[test]
    fn one_range_of_each_form_is_a_part_clipped_to_the_end() {
        assert_eq!(of("bytes=0-4", 10), part(0, 4));
        assert_eq!(of("bytes=2-2", 10), part(2, 2));
        assert_eq!(of("bytes=5-", 10), part(5, 9));
        assert_eq!(of("bytes=5-100", 10), part(5, 9));
        assert_eq!(of("bytes=0-18446744073709551615", 10), part(0, 9));
        assert_eq!(of("bytes=0-99999999999999999999999", 10), part(0, 9), "a huge last-pos is the end");
        assert_eq!(of("bytes=-3", 10), part(7, 9));
        assert_eq!(of("bytes=-30", 10), part(0, 9), "a suffix longer than the audio is all of it");
        assert_eq!(of("bytes=-99999999999999999999999", 10), part(0, 9));
        assert_eq!(of("bytes=007-008", 10), part(7, 8), "leading zeros are digits");
    }

    #[test]
    fn unit_and_whitespace_follow_the_grammar() {
        assert_eq!(of("BYTES=1-2", 10), part(1, 2), "the unit ignores case");
        assert_eq!(of("  bytes=1-2\t", 10), part(1, 2), "whitespace around the value");
        assert_eq!(of("bytes= 1-2 ,", 10), part(1, 2), "whitespace and empty elements in the list");
        assert_eq!(of("bytes=,,1-2", 10), part(1, 2));
    }

    #[test]
    fn malformed_or_invalid_ranges_are_ignored() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=abc",
            "bytes=1",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=-+2",
            "bytes=0x1-2",
            "bytes=1 -2",
            "bytes=5-3",
            "bytes=99999999999999999999999-99999999999999999999998",
            "bytes=0-1,x",
            "bytes=0-1,5-3",
            "items=0-5",
            "bytes 0-5",
            "bytes =0-5",
            "=0-5",
            "bytes=١-٢",
        ] {
            assert_eq!(of(header, 10), Answer::Whole, "{header:?}");
        }
        assert_eq!(answer(Some(b"bytes=0-1\xff"), None, ETAG, 10), Answer::Whole, "bytes that are not text");
    }

    #[test]
    fn nothing_satisfiable_is_416() {
        for header in [
            "bytes=10-",
            "bytes=10-20",
            "bytes=18446744073709551615-",
            "bytes=99999999999999999999999-",
            "bytes=-0",
            "bytes=10-,-0,20-30",
        ] {
            assert_eq!(of(header, 10), Answer::Unsatisfiable, "{header:?}");
        }
        assert_eq!(of("bytes=0-", 0), Answer::Unsatisfiable, "an empty audio has no first byte");
    }

    #[test]
    fn several_ranges_are_the_whole_unless_only_one_is_satisfiable() {
        assert_eq!(of("bytes=0-1,3-4", 10), Answer::Whole);
        assert_eq!(of("bytes=0-1,-2", 10), Answer::Whole);
        assert_eq!(of("bytes=0-1,0-1", 10), Answer::Whole, "overlapping ranges are not merged");
        assert_eq!(of("bytes=20-30, 4-5", 10), part(4, 5), "the one satisfiable range");
        assert_eq!(of("bytes=-0,-2", 10), part(8, 9));
    }

    #[test]
    fn an_empty_audio_with_a_suffix_range_is_the_whole() {
        assert_eq!(of("bytes=-5", 0), Answer::Whole);
    }

    #[test]
    fn if_range_needs_the_same_strong_entity_tag() {
        let with = |validator: &str| answer(Some(b"bytes=0-4"), Some(validator.as_bytes()), ETAG, 10);
        assert_eq!(with(ETAG), part(0, 4));
        assert_eq!(with(" \"3f9a\" "), part(0, 4), "whitespace around the validator");
        for stale in ["\"3f9b\"", "W/\"3f9a\"", "3f9a", "\"3F9A\"", "*", "", "Wed, 01 May 2024 09:30:15 GMT"] {
            assert_eq!(with(stale), Answer::Whole, "{stale:?}");
        }
        assert_eq!(
            answer(Some(b"bytes=0-4"), Some(b"W/\"3f9a\""), "W/\"3f9a\"", 10),
            Answer::Whole,
            "weak tags never match"
        );
    }

    #[test]
    fn a_stale_if_range_wins_over_an_unsatisfiable_or_malformed_range() {
        assert_eq!(answer(Some(b"bytes=50-"), Some(b"\"old\""), ETAG, 10), Answer::Whole);
        assert_eq!(answer(Some(b"bytes=50-"), Some(ETAG.as_bytes()), ETAG, 10), Answer::Unsatisfiable);
        assert_eq!(answer(Some(b"bytes=x"), Some(ETAG.as_bytes()), ETAG, 10), Answer::Whole);
    }

    /// Range-ish header values: mostly near the grammar, sometimes anything at all.
    fn range_header() -> impl Strategy<Value = Vec<u8>> {
        let number = prop_oneof![
            Just(String::new()),
            (0u64..64).prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            "[0-9]{19,30}",
            "[+x 0-9a-f]{1,4}",
        ];
        let spec = (number.clone(), prop_oneof![Just("-"), Just(""), Just("--")], number)
            .prop_map(|(a, dash, b)| format!("{a}{dash}{b}"));
        let near = (
            prop_oneof![Just("bytes="), Just("BYTES="), Just("bytes ="), Just("items="), Just("")],
            prop::collection::vec(spec, 0..5),
            prop_oneof![Just(","), Just(", "), Just(" ,")],
        )
            .prop_map(|(unit, specs, sep)| format!("{unit}{}", specs.join(sep)).into_bytes());
        prop_oneof![4 => near, 1 => any::<String>().prop_map(String::into_bytes), 1 => prop::collection::vec(any::<u8>(), 0..40)]
    }

    fn length() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..100, any::<u64>(), Just(u64::MAX), Just(0)]
    }

    proptest! {
        #![proptest_config(patchbay_testkit::fuzz::config(4096))]

        /// Fuzz target: any headers and any length give an answer (no panic); a part lies
        /// within the representation and is not empty; 416 only for a header that parsed
        /// (unit `bytes`) with nothing satisfiable.
        #[test]
        fn fuzz_ranges_any_headers_and_length_give_a_sound_answer(
            range in prop::option::of(range_header()),
            if_range in prop::option::of(prop_oneof![Just(ETAG.as_bytes().to_vec()), any::<Vec<u8>>()]),
            len in length(),
        ) {
            match answer(range.as_deref(), if_range.as_deref(), ETAG, len) {
                Answer::Part { start, end } => {
                    prop_assert!(start <= end && end < len, "{start}-{end} of {len}");
                    prop_assert!(range.is_some());
                }
                Answer::Unsatisfiable => {
                    let header = range.as_deref().map(trim).unwrap_or_default();
                    prop_assert!(header.len() > 6 && header[..6].eq_ignore_ascii_case(b"bytes="));
                    prop_assert!(if_range.as_deref().is_none_or(|v| trim(v) == ETAG.as_bytes()));
                }
                Answer::Whole => {}
            }
        }

        /// A satisfiable single range is served exactly as asked, clipped to the end.
        #[test]
        fn a_single_satisfiable_range_is_served(len in 1u64.., a in any::<u64>(), b in any::<u64>()) {
            let (start, end) = (a.min(b) % len, a.max(b));
            prop_assert_eq!(of(&format!("bytes={start}-{end}"), len), part(start, end.min(len - 1)));
            let suffix = a % len + 1;
            prop_assert_eq!(of(&format!("bytes=-{suffix}"), len), part(len - suffix, len - 1));
        }
    }
}
