//! Full-text search, one rule for every index (KB articles, transcripts): what a word is,
//! and the words as each backend's query. Every word is required and matches as a prefix
//! (`refund` finds `refunds`); no character of the caller's text is read as an operator.

use crate::sql::Pools;

/// Words a search takes at most.
const MAX_WORDS: usize = 16;

/// The words of a query: runs of letters and digits, lower-cased, at most 16.
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).take(MAX_WORDS).collect()
}

/// The words as an FTS5 query: each quoted, a prefix, all required.
pub(crate) fn fts5_query(words: &[String]) -> String {
    words.iter().map(|w| format!("\"{}\" *", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
}

/// The words as a `to_tsquery`: quoted prefix lexemes joined by `&`, as the FTS5 query.
pub(crate) fn pg_query(words: &[String]) -> String {
    words.iter().map(|w| format!("'{}':*", w.replace('\\', "").replace('\'', "''"))).collect::<Vec<_>>().join(" & ")
}

/// The words as the query of `pools`' backend.
pub(crate) fn query_for(pools: &Pools, words: &[String]) -> String {
    match pools {
        Pools::Sqlite { .. } => fts5_query(words),
        Pools::Postgres(_) => pg_query(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_lower_cased_and_never_operators() {
        assert_eq!(search_words("Refund: \"card\" -payment* OR (NEAR)"), ["refund", "card", "payment", "or", "near"]);
        assert_eq!(search_words("Rückerstattung über Karte"), ["rückerstattung", "über", "karte"]);
        assert!(search_words(" *** ").is_empty());
        assert_eq!(fts5_query(&search_words("a\"b")), "\"a\" * \"b\" *");
        assert_eq!(pg_query(&["o'neil".to_owned()]), "'o''neil':*");
        assert_eq!(search_words(&"w ".repeat(40)).len(), MAX_WORDS);
    }
}
