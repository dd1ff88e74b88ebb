//! Finds an account's secrets in text (vendor answers, URLs, error chains) in every form text
//! carries them: any ASCII letter case; percent-encoded (either hex case, `+` for a space);
//! JSON-escaped; base64, standard or URL-safe, padded or not, alone or inside a larger value
//! (`user:secret` Basic credentials, a JSON body); and split by control or zero-width
//! characters, which are looked through rather than stripped first, so a secret a vendor
//! splits with one is still found.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use patchbay_vault::SecretString;

/// What replaces a secret.
const MARK: &str = "[secret]";

/// Shorter secrets are not looked for: they would blot out ordinary text.
const MIN_LEN: usize = 3;

/// Shortest run of base64 characters worth decoding (one group).
const MIN_BASE64_RUN: usize = 4;

/// Replaces an account's secrets with `[secret]` in text.
#[derive(Default)]
pub struct Scrubber {
    secrets: Vec<SecretString>,
}

/// Text as one decoding reads it: each byte it yields and the span of the original text it
/// came from, so a match can be replaced in the original.
struct View {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl View {
    fn push_char(&mut self, c: char, span: (usize, usize)) {
        if invisible(c) {
            return;
        }
        let mut buf = [0; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            self.bytes.push(b);
            self.spans.push(span);
        }
    }

    fn span(&self, from: usize, to: usize) -> (usize, usize) {
        (self.spans[from].0, self.spans[to - 1].1)
    }
}

/// Characters a reader does not see, which may split a secret: control characters and the
/// zero-width ones.
fn invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')
}

/// The text as it is.
fn plain(text: &str) -> View {
    let mut view = View { bytes: Vec::new(), spans: Vec::new() };
    for (i, c) in text.char_indices() {
        view.push_char(c, (i, i + c.len_utf8()));
    }
    view
}

/// The text with `%XX` escapes decoded and, with `plus_is_space`, `+` read as a space (form
/// encoding).
fn percent_decoded(text: &str, plus_is_space: bool) -> View {
    let mut view = View { bytes: Vec::new(), spans: Vec::new() };
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let escape = text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (c, escape) {
            ('%', Some(b)) => {
                if !(b < 0x20 || b == 0x7f) {
                    view.bytes.push(b);
                    view.spans.push((i, i + 3));
                }
                chars.next();
                chars.next();
            }
            ('+', _) if plus_is_space => view.push_char(' ', (i, i + 1)),
            _ => view.push_char(c, (i, i + c.len_utf8())),
        }
    }
    view
}

/// The text with JSON string escapes decoded (`\"`, `\\`, `\/`, `\uXXXX` with surrogate pairs).
fn json_unescaped(text: &str) -> View {
    let mut view = View { bytes: Vec::new(), spans: Vec::new() };
    let unit = |at: usize| {
        text.get(at..at + 6).filter(|s| s.starts_with("\\u")).and_then(|s| u16::from_str_radix(&s[2..], 16).ok())
    };
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let (decoded, len) = match (c, text[i + c.len_utf8()..].chars().next()) {
            ('\\', Some(e @ ('"' | '\\' | '/'))) => (Some(e), 2),
            ('\\', Some('u')) => match unit(i) {
                Some(high @ 0xd800..=0xdbff) => match unit(i + 6) {
                    Some(low @ 0xdc00..=0xdfff) => (char::decode_utf16([high, low]).next().and_then(Result::ok), 12),
                    _ => (None, 6),
                },
                Some(u) => (char::from_u32(u32::from(u)), 6),
                None => (Some(c), 1),
            },
            _ => (Some(c), c.len_utf8()),
        };
        if let Some(d) = decoded {
            view.push_char(d, (i, i + len));
        }
        i += len;
    }
    view
}

/// Decodes base64 of either alphabet, with or without padding, ignoring trailing bits.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// Where `needle` occurs in `haystack`, ignoring ASCII case and control bytes in either.
fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<(usize, usize)> {
    let needle: Vec<u8> = needle.iter().copied().filter(|b| !(*b < 0x20 || *b == 0x7f)).collect();
    if needle.len() < MIN_LEN {
        return Vec::new();
    }
    let mut found = Vec::new();
    for start in 0..haystack.len() {
        let mut at = start;
        let mut matched = 0;
        while matched < needle.len() && at < haystack.len() {
            let b = haystack[at];
            if b < 0x20 || b == 0x7f {
                at += 1;
                continue;
            }
            if !b.eq_ignore_ascii_case(&needle[matched]) {
                break;
            }
            matched += 1;
            at += 1;
        }
        if matched == needle.len() {
            found.push((start, at));
        }
    }
    found
}

/// A run of base64 characters (with its padding): its span in the original text and its
/// decodings at every alignment (a value glued to other letters).
struct Base64Run {
    span: (usize, usize),
    decodings: Vec<Vec<u8>>,
}

fn base64_runs(view: &View) -> Vec<Base64Run> {
    let bytes = &view.bytes;
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && is_base64(bytes[i]) {
            i += 1;
        }
        let end = i;
        while end > start && i < bytes.len() && bytes[i] == b'=' {
            i += 1;
        }
        if end - start < MIN_BASE64_RUN {
            i = i.max(start + 1);
            continue;
        }
        let chars: Vec<u8> = bytes[start..end]
            .iter()
            .map(|b| match b {
                b'-' => b'+',
                b'_' => b'/',
                b => *b,
            })
            .collect();
        let decodings = (0..4)
            .filter_map(|skip| {
                let group = &chars[skip.min(chars.len())..];
                let group = if group.len() % 4 == 1 { &group[..group.len() - 1] } else { group };
                LENIENT.decode(group).ok()
            })
            .collect();
        runs.push(Base64Run { span: view.span(start, i), decodings });
    }
    runs
}

impl Scrubber {
    pub fn new(secrets: Vec<SecretString>) -> Scrubber {
        Scrubber { secrets }
    }

    /// `text` with every secret, in every form, replaced by `[secret]`. A base64 value that
    /// holds a secret is replaced whole.
    pub fn scrub(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_owned();
        }
        let mut spans = Vec::new();
        for view in [plain(text), percent_decoded(text, false), percent_decoded(text, true), json_unescaped(text)] {
            let runs = base64_runs(&view);
            for secret in &self.secrets {
                let secret = secret.expose().as_bytes();
                spans.extend(occurrences(&view.bytes, secret).into_iter().map(|(from, to)| view.span(from, to)));
                spans.extend(
                    runs.iter()
                        .filter(|run| run.decodings.iter().any(|d| !occurrences(d, secret).is_empty()))
                        .map(|run| run.span),
                );
            }
        }
        replace(text, spans)
    }
}

/// `text` with each of `spans` (merged where they overlap) replaced by the mark.
fn replace(text: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (from, to) in merged {
        out.push_str(&text[done..from]);
        out.push_str(MARK);
        done = to;
    }
    out.push_str(&text[done..]);
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const SECRET: &str = "123456789:AAH-s3cr3t_tg-token";

    fn scrubber(secrets: &[&str]) -> Scrubber {
        Scrubber::new(secrets.iter().map(|s| SecretString::from(*s)).collect())
    }

    fn pct(text: &str, lower: bool) -> String {
        let encoded = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
        if lower {
            // Only the hex digits change case: `%3A` becomes `%3a`.
            let mut out = String::new();
            let mut rest = encoded.as_str();
            while let Some(at) = rest.find('%') {
                out.push_str(&rest[..at]);
                out.push_str(&rest[at..at + 3].to_ascii_lowercase());
                rest = &rest[at + 3..];
            }
            out + rest
        } else {
            encoded
        }
    }

    #[test]
    fn every_form_a_vendor_may_echo_is_scrubbed() {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let forms = [
            ("as given", SECRET.to_owned()),
            ("upper-cased", SECRET.to_uppercase()),
            ("mixed case", "123456789:aah-S3CR3T_tg-TOKEN".to_owned()),
            ("percent-encoded, upper hex", pct(SECRET, false)),
            ("percent-encoded, lower hex", pct(SECRET, true)),
            ("percent-encoded upper-cased", pct(&SECRET.to_uppercase(), true)),
            ("form-encoded", url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect()),
            ("base64", STANDARD.encode(SECRET)),
            ("base64 without padding", STANDARD_NO_PAD.encode(SECRET)),
            ("URL-safe base64", URL_SAFE.encode(SECRET)),
            ("URL-safe base64 without padding", URL_SAFE_NO_PAD.encode(SECRET)),
            ("base64 of Basic credentials", STANDARD.encode(format!("bot-user:{SECRET}"))),
            ("base64 of a longer user", URL_SAFE_NO_PAD.encode(format!("ab:{SECRET}"))),
            ("base64 of JSON", STANDARD.encode(format!("{{\"token\":\"{SECRET}\"}}"))),
            ("percent-encoded base64", pct(&STANDARD.encode(format!("u:{SECRET}")), false)),
            ("JSON-escaped", SECRET.replace(':', "\\u003a").replace('-', "\\u002D")),
            ("split by a control character", SECRET.replacen("s3cr", "s3\u{1}cr", 1)),
            ("split by newlines and ESC", SECRET.replacen("AAH", "A\nA\u{1b}H", 1)),
            ("split by a zero-width space", SECRET.replacen("tg", "t\u{200b}g", 1)),
            ("percent-encoded control inside", SECRET.replacen("tok", "to%01k", 1)),
        ];
        let run = scrubber(&[SECRET]);
        let wrong: Vec<String> = forms
            .iter()
            .filter_map(|(what, form)| {
                let shown = run.scrub(&format!("said: {form} (end)"));
                (shown != "said: [secret] (end)").then(|| format!("{what}: {shown}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{} forms not scrubbed:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn form_encoding_turns_spaces_into_plus_and_json_escapes_quotes() {
        let secret = "pass word\"with\\quote";
        let run = scrubber(&[secret]);
        for form in ["pass+word%22with%5Cquote", "pass%20word%22with%5cquote", "pass word\\\"with\\\\quote"] {
            assert_eq!(run.scrub(&format!("x {form} y")), "x [secret] y", "{form}");
        }
    }

    #[test]
    fn text_without_a_secret_is_kept_as_it_is() {
        let run = scrubber(&[SECRET, "ab"]);
        let text = "HTTP 401: Unauthorized, see https://core.telegram.org/bots/api#making-requests (dXNlcjpvdGhlcg==)";
        assert_eq!(run.scrub(text), text, "and a secret of two characters is not looked for");
        assert_eq!(run.scrub("é ü ✓ \u{1} ab"), "é ü ✓ \u{1} ab");
    }

    #[test]
    fn each_of_several_secrets_is_scrubbed() {
        let run = scrubber(&["first-s3cret", "SECOND-s3cret"]);
        assert_eq!(run.scrub("FIRST-S3CRET and second-s3cret"), "[secret] and [secret]");
    }
}
