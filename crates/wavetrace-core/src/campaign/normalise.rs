//! Text normalisation before comparison: what senders vary to defeat
//! near-duplicate detection is removed or masked here, so that the copies of
//! one template read the same.
//!
//! Three steps, each a plain function:
//! - [`strip_quoted`]: quoted replies, forwarded originals, signatures and
//!   mailing-list footers are not the sender's new text; a reply thread must
//!   not look like a campaign because its members quote each other.
//! - [`clean_characters`]: zero-width and other invisible characters are
//!   dropped, exotic spaces become spaces, combining marks are dropped and
//!   confusable lookalikes (Cyrillic `а` for Latin `a`, fullwidth and
//!   mathematical letters) are folded to ASCII from `confusables.tsv`.
//! - [`masked_words`]: the text split into lower-case words with
//!   personalisation masked: names after a salutation, street addresses,
//!   e-mail addresses, URLs, amounts, dates, phone numbers and numbers become
//!   placeholders, and hash-busting random strings are dropped altogether, so
//!   a token inserted in the middle of a sentence does not even shift the
//!   shingles around it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A masked word class: what a personalised or random token stood for.
///
/// The placeholder keeps the template's shape (a name was here) without the
/// recipient's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mask {
    /// A personal name after a salutation or title ("Dear Jane Doe").
    Name,
    /// A street address ("12 Elm Street").
    StreetAddress,
    /// An e-mail address.
    Email,
    /// A URL (its skeleton is kept separately as an exact content key).
    Url,
    /// A money amount ("$1.99", "250 EUR").
    Amount,
    /// A numeric date ("2020-10-03", "10/03/2020").
    Date,
    /// A telephone number.
    Phone,
    /// Any other number.
    Number,
}

impl Mask {
    /// The placeholder word used in the shingle stream.
    pub fn placeholder(self) -> &'static str {
        match self {
            Mask::Name => "<name>",
            Mask::StreetAddress => "<addr>",
            Mask::Email => "<email>",
            Mask::Url => "<url>",
            Mask::Amount => "<amount>",
            Mask::Date => "<date>",
            Mask::Phone => "<phone>",
            Mask::Number => "<num>",
        }
    }
}

/// Lines that introduce a quoted original, compared in lower case.
const QUOTE_INTRODUCERS: [&str; 4] = [
    "-----original message-----",
    "----- original message -----",
    "-------- forwarded message --------",
    "---------- forwarded message ----------",
];

/// Words whose presence after a separator line marks a mailing-list footer.
const LIST_FOOTER_MARKERS: [&str; 7] = [
    "sponsor",
    "mailing list",
    "listinfo",
    "unsubscribe",
    "yahoo! groups",
    "to post a message",
    "list archive",
];

/// Removes what is not the sender's new text: quoted lines (`>`), the
/// "On ... wrote:" line before them, everything after an "Original Message"
/// or forwarded-message marker, an RFC 3676 signature (`-- ` line) and a
/// trailing mailing-list footer (a separator line followed by list words).
///
/// Why: replies in one thread quote each other; without this a thread would
/// be as similar as a campaign, and list footers would join every post of a
/// list.
pub fn strip_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let lower = trimmed.to_ascii_lowercase();
        if QUOTE_INTRODUCERS.iter().any(|m| lower.starts_with(m)) {
            break;
        }
        if *line == "-- " || *line == "--" {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        if lower.ends_with("wrote:") || lower.ends_with("writes:") {
            let next_quoted = lines[i + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_start().starts_with('>'));
            if next_quoted {
                continue;
            }
        }
        kept.push(line);
    }
    // List footers: from the last separator line, while the block after it
    // names a list or a sponsor (lists stack a sponsor block over the footer).
    while let Some(at) = kept.iter().rposition(|l| is_separator_line(l)) {
        let tail = kept[at..].join("\n").to_ascii_lowercase();
        if !LIST_FOOTER_MARKERS.iter().any(|m| tail.contains(m)) {
            break;
        }
        kept.truncate(at);
    }
    kept.join("\n")
}

/// A line that starts with five or more `_`, `-`, `=`, `*` or `~` characters
/// (list sponsor blocks put a title inside the rule: "----- Sponsor -----").
fn is_separator_line(line: &str) -> bool {
    let t = line.trim();
    t.chars()
        .take(5)
        .filter(|c| matches!(c, '_' | '-' | '=' | '*' | '~'))
        .count()
        == 5
}

/// Characters that render as nothing: zero-width spaces and joiners, bidi
/// controls, the soft hyphen, the word joiner family, the byte-order mark,
/// Hangul fillers and the Unicode tag block.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

/// Space characters other than ASCII space that senders use between words.
fn is_exotic_space(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Combining marks stacked on letters to break exact matching.
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// The confusables table from `confusables.tsv`, parsed once.
fn confusables() -> &'static HashMap<char, char> {
    static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
    TABLE.get_or_init(|| parse_confusables(include_str!("confusables.tsv")))
}

/// Parses `U+XXXX<TAB>replacement<TAB>name` lines; malformed lines are skipped.
fn parse_confusables(data: &str) -> HashMap<char, char> {
    let mut table = HashMap::new();
    for line in data.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(code), Some(replacement)) = (fields.next(), fields.next()) else {
            continue;
        };
        let from = code
            .strip_prefix("U+")
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        let mut to = replacement.chars();
        if let (Some(from), Some(to), None) = (from, to.next(), to.next()) {
            table.insert(from, to);
        }
    }
    table
}

/// Removes invisible characters and combining marks, turns exotic spaces
/// into spaces and folds confusable lookalikes to ASCII.
///
/// Why: `pa\u{200B}ypal` and `pаypal` (Cyrillic `а`) must compare equal to
/// `paypal`; senders insert such characters at random to make every copy's
/// hash unique.
pub fn clean_characters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    out.extend(text.chars().filter_map(clean_char));
    out
}

/// One character as [`clean_characters`] writes it: None when dropped
/// (invisible characters, combining marks). For callers that must map
/// positions back to the original text.
pub fn clean_char(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    if is_invisible(c) || is_combining_mark(c) {
        return None;
    }
    if is_exotic_space(c) {
        Some(' ')
    } else {
        Some(confusables().get(&c).copied().unwrap_or(c))
    }
}

/// Words after which a personal name follows.
pub const SALUTATIONS: [&str; 10] = [
    "dear",
    "hello",
    "hi",
    "hey",
    "attn",
    "attention",
    "mr",
    "mrs",
    "ms",
    "dr",
];

/// Last words of a street address.
pub(crate) const STREET_SUFFIXES: [&str; 24] = [
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "lane",
    "ln",
    "drive",
    "dr",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "place",
    "pl",
    "terrace",
    "circle",
    "cir",
    "parkway",
    "pkwy",
    "highway",
    "hwy",
];

/// Currency symbols that make a number an amount.
pub(crate) const CURRENCY_SYMBOLS: [char; 6] = ['$', '€', '£', '¥', '₿', '₹'];

/// Currency codes that make an adjacent number an amount.
pub(crate) const CURRENCY_CODES: [&str; 9] = [
    "usd", "eur", "gbp", "btc", "eth", "cad", "aud", "chf", "jpy",
];

/// One word of the masked stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskedWord<'a> {
    /// An ordinary word, lower-cased, punctuation removed (borrowed from the
    /// text when it already was).
    Word(Cow<'a, str>),
    /// A masked personalised value.
    Masked(Mask),
}

impl MaskedWord<'_> {
    /// The text fed to the shingler.
    pub fn as_str(&self) -> &str {
        match self {
            MaskedWord::Word(w) => w,
            MaskedWord::Masked(m) => m.placeholder(),
        }
    }
}

/// Punctuation peeled from both ends of a whitespace-separated chunk.
fn is_edge_punctuation(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '"'
            | '\''
            | '<'
            | '>'
            | '*'
            | '|'
    )
}

/// Splits cleaned text into masked words (see the module documentation).
///
/// The input should already have gone through [`strip_quoted`] and
/// [`clean_characters`]; [`normalised_words`] does all three.
pub fn masked_words(text: &str) -> Vec<MaskedWord<'_>> {
    let raw: Vec<&str> = text
        .split_whitespace()
        .filter(|c| !c.trim_matches(is_edge_punctuation).is_empty())
        .collect();
    let chunks: Vec<&str> = raw
        .iter()
        .map(|c| c.trim_matches(is_edge_punctuation))
        .collect();
    // a name ends at punctuation: "Dear Jane Doe, Our records" is two words of name
    let ends_phrase: Vec<bool> = raw
        .iter()
        .map(|c| c.ends_with(is_edge_punctuation))
        .collect();
    let mut out = Vec::with_capacity(chunks.len());
    let mut i = 0;
    while i < chunks.len() {
        let chunk = chunks[i];
        if let Some(len) = street_address_len(&chunks[i..]) {
            out.push(MaskedWord::Masked(Mask::StreetAddress));
            i += len;
            continue;
        }
        if let Some(kind) = classify_chunk(chunk, chunks.get(i + 1).copied()) {
            match kind {
                ChunkClass::Masked(mask) => push_masked(&mut out, mask),
                ChunkClass::Noise => {}
            }
            i += 1;
            continue;
        }
        let lower = word_text(chunk);
        if lower.is_empty() {
            i += 1;
            continue;
        }
        let is_salutation = SALUTATIONS.contains(&lower.as_ref());
        out.push(MaskedWord::Word(lower));
        i += 1;
        if is_salutation {
            let mut taken = 0;
            while taken < 3 && i < chunks.len() && looks_like_name_part(chunks[i]) {
                taken += 1;
                i += 1;
                if ends_phrase.get(i - 1).copied().unwrap_or(true) {
                    break;
                }
            }
            if taken > 0 {
                out.push(MaskedWord::Masked(Mask::Name));
            }
        }
    }
    out
}

/// Pushes a placeholder unless the previous word is the same placeholder, so
/// "12 34 56" and "123456" mask alike.
fn push_masked(out: &mut Vec<MaskedWord<'_>>, mask: Mask) {
    if mask == Mask::Phone && out.last() == Some(&MaskedWord::Masked(Mask::Number)) {
        // "(555) 010-2030": the area code was read as a number
        out.pop();
    }
    if out.last() != Some(&MaskedWord::Masked(mask)) {
        out.push(MaskedWord::Masked(mask));
    }
}

/// The whole normalisation: quotes stripped, characters cleaned, words masked.
pub fn normalised_words(text: &str) -> Vec<MaskedWord<'static>> {
    masked_words(&clean_characters(&strip_quoted(text)))
        .into_iter()
        .map(|w| match w {
            MaskedWord::Word(w) => MaskedWord::Word(Cow::Owned(w.into_owned())),
            MaskedWord::Masked(m) => MaskedWord::Masked(m),
        })
        .collect()
}

/// What a chunk that is not an ordinary word is.
enum ChunkClass {
    /// A personalised value to mask.
    Masked(Mask),
    /// A random string to drop.
    Noise,
}

/// Classifies one chunk; `None` for an ordinary word.
fn classify_chunk(chunk: &str, next: Option<&str>) -> Option<ChunkClass> {
    let bytes = chunk.as_bytes();
    if bytes.contains(&b':') && chunk.contains("://")
        || bytes.len() > 4 && bytes[..4].eq_ignore_ascii_case(b"www.")
    {
        return Some(ChunkClass::Masked(Mask::Url));
    }
    if let Some(at) = chunk.find('@') {
        if at > 0 && chunk[at + 1..].contains('.') {
            return Some(ChunkClass::Masked(Mask::Email));
        }
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if digits > 0 {
        return Some(classify_numeric(
            chunk,
            &chunk.to_ascii_lowercase(),
            digits,
            next,
        ));
    }
    if is_random_string(chunk) {
        return Some(ChunkClass::Noise);
    }
    if chunk.len() > 4
        && chunk.contains('.')
        && bytes
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-')
    {
        // a bare domain name ("example.com") is URL-like
        let last = chunk.rsplit('.').next().unwrap_or("");
        if (2..=6).contains(&last.len())
            && !chunk.ends_with('.')
            && last.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Some(ChunkClass::Masked(Mask::Url));
        }
    }
    None
}

/// Classifies a chunk containing digits: letters and digits mixed in six or
/// more characters are a token (dropped), the rest a masked value.
fn classify_numeric(chunk: &str, lower: &str, digits: usize, next: Option<&str>) -> ChunkClass {
    let letters = chunk.chars().filter(|c| c.is_alphabetic()).count();
    if chunk.starts_with(CURRENCY_SYMBOLS) || chunk.ends_with(CURRENCY_SYMBOLS) {
        return ChunkClass::Masked(Mask::Amount);
    }
    if CURRENCY_CODES
        .iter()
        .any(|code| lower.starts_with(code) || lower.ends_with(code))
        && letters == 3
    {
        return ChunkClass::Masked(Mask::Amount);
    }
    if letters > 0 && letters + digits >= 6 {
        return ChunkClass::Noise;
    }
    ChunkClass::Masked(classify_number_only(chunk, digits, letters, next))
}

/// Classifies a chunk of digits (and at most a few letters).
fn classify_number_only(chunk: &str, digits: usize, letters: usize, next: Option<&str>) -> Mask {
    if letters == 0 {
        if let Some(next) = next {
            let next = next.to_ascii_lowercase();
            if CURRENCY_CODES.contains(&next.as_str()) {
                return Mask::Amount;
            }
        }
        if looks_like_date(chunk) {
            return Mask::Date;
        }
        if digits >= 7
            && chunk
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.'))
            && (chunk.contains('-') || chunk.starts_with('+') || chunk.contains('('))
        {
            return Mask::Phone;
        }
        return Mask::Number;
    }
    // a short ordinal or id such as "1st" or "B12"
    Mask::Number
}

/// `2020-10-03`, `10/03/2020`, `3.10.2020`: two separators of one kind
/// between digit groups.
pub(crate) fn looks_like_date(chunk: &str) -> bool {
    for sep in ['/', '-', '.'] {
        let parts: Vec<&str> = chunk.split(sep).collect();
        if parts.len() != 3
            || !parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            continue;
        }
        let lens = [parts[0].len(), parts[1].len(), parts[2].len()];
        let day_month_year = lens[0] <= 2 && lens[1] <= 2 && (lens[2] == 2 || lens[2] == 4);
        let year_month_day = lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2;
        if day_month_year || year_month_day {
            return true;
        }
    }
    false
}

/// A letters-only string that no language writes: long runs of consonants,
/// case flipping inside the word, or a very long unbroken string.
///
/// Why: senders add such strings ("xQzvkRtpl") to make each copy's hash
/// unique; dropping them removes their effect entirely.
pub fn is_random_string(chunk: &str) -> bool {
    let (mut count, mut run, mut longest_run, mut flips) = (0usize, 0usize, 0usize, 0usize);
    let mut previous_lower = false;
    for c in chunk.chars().filter(|c| c.is_alphanumeric()) {
        count += 1;
        if c.is_ascii_alphabetic()
            && !matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
        {
            run += 1;
            longest_run = longest_run.max(run);
        } else {
            run = 0;
        }
        if previous_lower && c.is_uppercase() {
            flips += 1;
        }
        previous_lower = c.is_lowercase();
    }
    if count < 6 {
        return false;
    }
    (count >= 25 && !chunk.contains('-')) || longest_run >= 6 || flips >= 2
}

/// A capitalised alphabetic word, as names in a salutation are.
fn looks_like_name_part(chunk: &str) -> bool {
    let mut chars = chunk.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_uppercase()
        && chunk
            .chars()
            .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.')
        && chunk.chars().count() >= 2
}

/// The length in chunks of a street address starting here: a house number,
/// one to three capitalised words, a street suffix.
fn street_address_len(chunks: &[&str]) -> Option<usize> {
    let first = chunks.first()?;
    if first.is_empty() || first.len() > 6 || !first.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    for words in 1..=3 {
        let suffix = chunks.get(words + 1)?;
        let name_ok = chunks[1..=words].iter().all(|w| {
            looks_like_name_part(w)
                || w.chars().all(|c| c.is_ascii_digit() || c.is_alphabetic())
                    && w.chars().next().is_some_and(|c| c.is_ascii_digit())
        });
        if !name_ok {
            return None;
        }
        let suffix = suffix.trim_end_matches('.').to_ascii_lowercase();
        if STREET_SUFFIXES.contains(&suffix.as_str()) {
            return Some(words + 2);
        }
    }
    None
}

/// The lower-case alphanumeric content of an ordinary word.
fn word_text(chunk: &str) -> Cow<'_, str> {
    if chunk
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Cow::Borrowed(chunk);
    }
    if chunk.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Cow::Owned(chunk.to_ascii_lowercase());
    }
    Cow::Owned(
        chunk
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
            .trim_matches(|c| c == '\'' || c == '-')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        normalised_words(text)
            .iter()
            .map(|w| w.as_str().to_string())
            .collect()
    }

    #[test]
    fn quoted_reply_and_attribution_are_stripped() {
        let text = "Sounds good to me.\n\nOn Mon, 6 May 2019, Bob wrote:\n> the original\n> text here\nThanks";
        assert_eq!(strip_quoted(text), "Sounds good to me.\n\nThanks");
    }

    #[test]
    fn original_message_and_signature_end_the_new_text() {
        assert_eq!(strip_quoted("new\n-----Original Message-----\nold"), "new");
        assert_eq!(strip_quoted("new\n-- \nJane, sig"), "new");
    }

    #[test]
    fn list_footer_is_stripped_but_other_separators_stay() {
        let text = "post body\n_______________________________________________\nSpamassassin-talk mailing list\nhttps://lists.sourceforge.net/lists/listinfo/x";
        assert_eq!(strip_quoted(text), "post body");
        let text = "post\n-----------\nThis email is sponsored by: a shop\nhttp://x.example\n_______\nlist mailing list";
        assert_eq!(strip_quoted(text), "post");
        let text = "offer\n==========\nact now";
        assert_eq!(strip_quoted(text), text);
        let text = "quiz link\n\n------------ Yahoo! Groups Sponsor ------~-->\nDVDs\n-----------~->\nTo unsubscribe from this group, send an email";
        assert_eq!(strip_quoted(text), "quiz link\n");
    }

    #[test]
    fn invisible_and_confusable_characters_fold() {
        assert_eq!(
            clean_characters("p\u{0430}y\u{200B}pal\u{00A0}acc\u{043E}unt"),
            "paypal account"
        );
        assert_eq!(clean_characters("ＰａｙＰａｌ"), "PayPal");
        assert_eq!(clean_characters("\u{1D41A}\u{1D41B}c"), "abc");
        assert_eq!(clean_characters("cafe\u{0301}"), "cafe");
    }

    #[test]
    fn personalisation_is_masked() {
        assert_eq!(
            words("Dear Jane Doe, your ballot for 12 Elm Street is due 10/03/2020. Call +1-555-010-2030 or pay $12.50 to jane@example.org at https://x.example/a?id=9"),
            [
                "dear", "<name>", "your", "ballot", "for", "<addr>", "is", "due", "<date>", "call", "<phone>", "or",
                "pay", "<amount>", "to", "<email>", "at", "<url>"
            ]
        );
    }

    #[test]
    fn random_strings_are_dropped() {
        assert_eq!(words("click xQzvkRtplw here"), ["click", "here"]);
        assert_eq!(words("click bcdfghjk here"), ["click", "here"]);
        assert!(!is_random_string("strengths"));
        assert!(!is_random_string("McDonald"));
    }

    #[test]
    fn numbers_and_amounts_with_codes() {
        assert_eq!(
            words("send 0.05 BTC now"),
            ["send", "<amount>", "btc", "now"]
        );
        assert_eq!(words("order 48213 shipped"), ["order", "<num>", "shipped"]);
        assert_eq!(words("ref A7F3K9 is 1st"), ["ref", "is", "<num>"]);
        assert_eq!(
            words("Dear Jane Doe,\nOur records"),
            ["dear", "<name>", "our", "records"]
        );
    }

    #[test]
    fn confusables_table_parses() {
        assert!(confusables().len() > 800);
        assert_eq!(confusables().get(&'\u{0430}'), Some(&'a'));
    }
}
