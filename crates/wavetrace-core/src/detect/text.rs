//! Text written to dodge filters: words that mix Latin letters with
//! lookalikes from another alphabet (`Deаr` with a Cyrillic `а`), and
//! invisible characters inside the text. People writing in Russian or
//! Greek write whole words in their alphabet, and brand names whole in
//! Latin; a word that switches alphabet mid-way is made for a filter.

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
}

const MAX_TEXT: usize = 64 * 1024;
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
    for part in [subject.unwrap_or(""), body] {
        for word in part.split(|c: char| !(c.is_alphanumeric() || invisible(c))) {
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
    found
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

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = obfuscation(Some(&s), &s);
        }
    }
}
