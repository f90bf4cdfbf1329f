//! Text written to dodge filters: words that mix Latin letters with
//! lookalikes from another alphabet (`Deаr` with a Cyrillic `а`), and
//! invisible characters inside the text. People writing in Russian or
//! Greek write whole words in their alphabet, and brand names whole in
//! Latin; a word that switches alphabet mid-way is made for a filter.
//! Also text that opens with style-sheet rules, which no reader sees, and
//! hash busters: random strings a bulk-mail kit writes into each copy so
//! that no two copies hash alike.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Counts over the subject and the first 64 KB of the body text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Obfuscation {
    /// Words mixing Latin letters with Cyrillic or Greek ones.
    pub mixed_script_words: usize,
    /// Zero-width and other invisible format characters between letters.
    pub invisible_characters: usize,
    /// Up to five of the mixed words, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// The text opens with style-sheet rules (`h4{ text-align: center; }`):
    /// a plain part a bulk-mail kit generated from the HTML with its CSS,
    /// or CSS outside any style element. Mail programs never show it to a
    /// reader, and legitimate senders' plain parts do not carry it.
    #[serde(default)]
    pub style_sheet_text: bool,
    /// Up to five hash busters, as written: a machine-made string of both
    /// cases and three digits or more repeated four times or more
    /// (`vBkfCfv.90636.504.hPavBkfCfv`), or a random run of lower-case
    /// letters and digits glued to the front of a word (`f0zpnu50Convert`),
    /// or, twice or more, a random run of 16 lower-case letters or more
    /// (`nmieudzbnxpkrshxqneyntxntwewkqqa`).
    /// Kits vary them per copy to defeat fingerprints; people do not write
    /// them, and identifiers in technical mail are neither repeated filler
    /// nor glued to prose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hash_busters: Vec<String>,
}

const MAX_TEXT: usize = 64 * 1024;
/// How much of the text's opening is searched for style-sheet rules.
const STYLE_SHEET_WINDOW: usize = 400;
const MAX_EXAMPLES: usize = 5;

#[derive(Clone, Copy, PartialEq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F => Script::Latin,
        0x400..=0x52F => Script::Cyrillic,
        0x370..=0x3FF => Script::Greek,
        _ => Script::Other,
    }
}

/// Zero-width space, non-joiner, word joiner, BOM and soft hyphen: the
/// characters that split a word for a filter and not for a reader.
fn invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x200B | 0x200C | 0x2060..=0x2064 | 0xFEFF | 0x00AD
    )
}

/// Measures the subject and body text.
pub fn obfuscation(subject: Option<&str>, text: &str) -> Obfuscation {
    let mut found = Obfuscation::default();
    let body = crate::parse::prefix(text, MAX_TEXT);
    // ASCII has neither other alphabets nor invisible characters: most
    // text, and most words of the rest, are passed over at once.
    for part in [subject.unwrap_or(""), body]
        .into_iter()
        .filter(|p| !p.is_ascii())
    {
        let words = part.split(|c: char| !(c.is_alphanumeric() || invisible(c)));
        for word in words.filter(|w| !w.is_ascii()) {
            let mut latin = false;
            let mut other = false;
            for c in word.chars() {
                match script(c) {
                    Script::Latin => latin = true,
                    Script::Cyrillic | Script::Greek => other = true,
                    Script::Other => {}
                }
                if invisible(c) {
                    found.invisible_characters += 1;
                }
            }
            if latin && other {
                found.mixed_script_words += 1;
                if found.examples.len() < MAX_EXAMPLES {
                    found.examples.push(word.chars().take(40).collect());
                }
            }
        }
    }
    found.style_sheet_text = opens_with_style_sheet(body);
    found.hash_busters = hash_busters(body);
    found
}

/// How often a machine-made string must recur to be filler.
const FILLER_REPEATS: u32 = 4;
/// Distinct candidate strings tracked per message (bounds the work on a
/// text made of nothing else).
const MAX_FILLER_CANDIDATES: usize = 64;

/// The hash busters of `text` (see [`Obfuscation::hash_busters`]).
fn hash_busters(text: &str) -> Vec<String> {
    let mut candidates: Vec<(&str, u32)> = Vec::new();
    let mut found = Vec::new();
    let mut gibberish: Vec<&str> = Vec::new();
    // Every kind is 8 bytes or more, and is letters, digits and dots only
    // (machine-made, unpronounceable) or free of URL and address characters
    // (glued): URLs and addresses never qualify.
    for token in text.split_ascii_whitespace().filter(|t| t.len() >= 8) {
        if let Some(glued) = glued_random_prefix(token).filter(|_| found.len() < MAX_EXAMPLES) {
            found.push(glued.to_string());
        }
        let word = token.trim_matches(|c: char| ".,;:!?()[]{}<>\"'*".contains(c));
        if gibberish.len() < MAX_EXAMPLES && unpronounceable(word) {
            gibberish.push(word);
        }
        if !machine_made(word) {
            continue;
        }
        match candidates.iter().position(|(w, _)| *w == word) {
            Some(i) => {
                candidates[i].1 += 1;
                if candidates[i].1 == FILLER_REPEATS && found.len() < MAX_EXAMPLES {
                    found.push(word.to_string());
                }
            }
            None if candidates.len() < MAX_FILLER_CANDIDATES => candidates.push((word, 1)),
            None => {}
        }
    }
    if gibberish.len() >= 2 {
        for word in gibberish
            .into_iter()
            .take(MAX_EXAMPLES.saturating_sub(found.len()))
        {
            found.push(word.to_string());
        }
    }
    found
}

/// 16 lower-case letters or more with three letter pairs or more that the
/// six languages hardly write: two of `j q x z v w k` in a row, or a `q`
/// without `u`. A random string has one every ten letters; the longest
/// compounds (`Rechtsschutzversicherungsgesellschaften`) have one at most.
fn unpronounceable(word: &str) -> bool {
    const RARE: &[u8] = b"jqxzvwk";
    let bytes = word.as_bytes();
    if bytes.len() < 16 || !bytes.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    let rare_pairs = bytes
        .windows(2)
        .filter(|w| {
            (RARE.contains(&w[0]) && RARE.contains(&w[1])) || (w[0] == b'q' && w[1] != b'u')
        })
        .count();
    rare_pairs >= 3
}

/// 8 to 80 letters, digits and dots, with two upper-case and two
/// lower-case letters and three digits: no word, number or plain code name.
fn machine_made(word: &str) -> bool {
    if !(8..=80).contains(&word.len()) {
        return false;
    }
    let (mut upper, mut lower, mut digits) = (0, 0, 0);
    for b in word.bytes() {
        match b {
            b'A'..=b'Z' => upper += 1,
            b'a'..=b'z' => lower += 1,
            b'0'..=b'9' => digits += 1,
            b'.' => {}
            _ => return false,
        }
    }
    upper >= 2 && lower >= 2 && digits >= 3
}

/// `f0zpnu50` in `f0zpnu50Convert`: 6 to 10 lower-case letters and digits
/// that switch between letter and digit three times or more, then a
/// capitalised word. Code names (`sha256Hash`, `utf8Decode`) switch once.
fn glued_random_prefix(token: &str) -> Option<&str> {
    let bytes = token.as_bytes();
    let run = bytes
        .iter()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        .count();
    let word = &bytes[run..];
    let capitalised = word.len() >= 3
        && word[0].is_ascii_uppercase()
        && word[1..3].iter().all(u8::is_ascii_lowercase);
    if !(6..=10).contains(&run) || !capitalised {
        return None;
    }
    let prefix = &bytes[..run];
    let digits = prefix.iter().filter(|b| b.is_ascii_digit()).count();
    let switches = prefix
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    let random = digits >= 2 && run - digits >= 2 && switches >= 3;
    (random && !token.contains(['/', '=', '&', '%', '~', '@'])).then(|| &token[..run])
}

/// Whether a CSS rule (`selector { property: value;`) occurs in the first
/// [`STYLE_SHEET_WINDOW`] bytes of `text`.
fn opens_with_style_sheet(text: &str) -> bool {
    static RULE: OnceLock<Regex> = OnceLock::new();
    let rule = RULE.get_or_init(|| {
        Regex::new(concat!(
            r"(?:^|[ \t\r\n}])[.#]?[A-Za-z][A-Za-z0-9_.\-#:, >*]{0,60}\{[ \t\r\n]*",
            r"(?:/\*[^*]{0,200}\*/[ \t\r\n]*)?",
            r"[a-z-]{3,30}[ \t\r\n]*:[ \t\r\n]*[^;{}]{1,80};",
        ))
        .unwrap_or_else(|_| Regex::new("$^").expect("an empty-match regex compiles"))
    });
    let window = crate::parse::prefix(text, STYLE_SHEET_WINDOW);
    // Most texts have no brace at all: skip the regex for them.
    window.contains('{') && rule.is_match(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalike_letters_inside_words() {
        let o = obfuscation(
            Some("Confirm"),
            "Deаr Mariаm, our rеcоrds show it. Veri\u{200B}fication",
        );
        assert_eq!(o.mixed_script_words, 3);
        assert_eq!(o.invisible_characters, 1);
        assert_eq!(o.examples[0], "Deаr");
    }

    #[test]
    fn whole_words_in_one_alphabet_are_fine() {
        let o = obfuscation(
            Some("Привет"),
            "Обновление Windows 11 доступно. Καλημέρα κόσμε. Crème brûlée, Ærøskøbing.",
        );
        assert_eq!(o, Obfuscation::default());
    }

    #[test]
    fn style_sheet_rules_opening_the_text() {
        for css in [
            "h4{ text-align: center; color: blue; font-size: 25px;} img { display: block;}",
            "P {margin-top:0;margin-bottom:0;} Get WiFi, anywhere, anytime!",
            "Variety Breaking News /*body {margin: 0;}*/ .center { display: block !important; }",
            ".email-container { max-width: 600px; margin: 0 auto; }",
        ] {
            assert!(obfuscation(None, css).style_sheet_text, "{css}");
        }
        for text in [
            "The meeting is at 10:00; bring the minutes {as agreed}.",
            "fn main() { let x = 1; }",
            "Dear Jane, thank you for your order.",
        ] {
            assert!(!obfuscation(None, text).style_sheet_text, "{text}");
        }
        let late = format!("{} h4{{ text-align: center; }}", "word ".repeat(100));
        assert!(!obfuscation(None, &late).style_sheet_text);
    }

    #[test]
    fn hash_busters_of_each_kind() {
        let repeated = "Gewinnen Sie! vBkfCfv.90636.504.hPavBkfCfv ".repeat(4);
        assert_eq!(
            obfuscation(None, &repeated).hash_busters,
            ["vBkfCfv.90636.504.hPavBkfCfv"]
        );
        // Three times is not yet filler.
        let thrice = "x vBkfCfv.90636.504.hPavBkfCfv ".repeat(3);
        assert!(obfuscation(None, &thrice).hash_busters.is_empty());
        let glued = "Unsubscribe by replying to this email f0zpnu50Convert your old tub";
        assert_eq!(obfuscation(None, glued).hash_busters, ["f0zpnu50"]);
        let random = "#CRYPTO# nmieudzbnxpkrshxqneyntxntwewkqqa xlajxhzjlotazchceaypvpjxzyreawhnmqjetdsqapqiynnnukjqo";
        assert_eq!(
            obfuscation(None, random).hash_busters,
            [
                "nmieudzbnxpkrshxqneyntxntwewkqqa",
                "xlajxhzjlotazchceaypvpjxzyreawhnmqjetdsqapqiynnnukjqo"
            ]
        );
        // One alone is not enough.
        assert!(obfuscation(None, "x nmieudzbnxpkrshxqneyntxntwewkqqa y")
            .hash_busters
            .is_empty());
    }

    #[test]
    fn identifiers_are_not_hash_busters() {
        for text in [
            // Code names and hashes, even repeated.
            &"call sha256Hash and utf8Decode on 0x100000001UL ".repeat(5),
            &"commit 3f2a9c1e4b5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f ".repeat(5),
            &"see https://example.org/x?id=Ab12Cd34Ef56 ".repeat(5),
            &"write to f0zpnu50Abc@example.org or https://f0zpnu50Abc.example/f0zpnu50Abc".to_string(),
            &"ticket AB12cd34EF56 AB12cd34EF56 AB12cd34EF56 for mail@Ab12Cd34.example".to_string(),
            &"Set_Int128 PAGE0.mem_10msec himanshu-Vostro-3559 ".repeat(5),
            // Long words of the six languages, and hexadecimal.
            &"rechtsschutzversicherungsgesellschaften zwischenwahrscheinlichkeit kwaliteitsverbeteringsvoorstel anticonstitutionnellement ffffffffffffffda ffffffffffffffea".to_string(),
        ] {
            assert!(obfuscation(None, text).hash_busters.is_empty(), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = obfuscation(Some(&s), &s);
        }

        /// Words of up to 15 letters, plain numbers and punctuation, however
        /// often repeated, are never hash busters.
        #[test]
        fn prose_and_numbers_are_not_hash_busters(
            words in proptest::collection::vec("[A-Za-z]{1,15}[.,!?]?|[0-9]{1,9}|[0-9]{1,3}[.,][0-9]{1,3}", 0..200),
            repeats in 1usize..6,
        ) {
            let text = format!("{} ", words.join(" ")).repeat(repeats);
            proptest::prop_assert!(obfuscation(None, &text).hash_busters.is_empty());
        }
    }
}
