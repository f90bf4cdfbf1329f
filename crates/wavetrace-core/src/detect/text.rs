//! Text written to dodge filters: words that mix Latin letters with
//! lookalikes from another alphabet (`Deаr` with a Cyrillic `а`), and
//! invisible characters inside the text. People writing in Russian or
//! Greek write whole words in their alphabet, and brand names whole in
//! Latin; a word that switches alphabet mid-way is made for a filter.
//! Also text that opens with style-sheet rules, which no reader sees.

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
    found
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

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = obfuscation(Some(&s), &s);
        }
    }
}
