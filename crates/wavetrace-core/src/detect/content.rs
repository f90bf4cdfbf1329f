//! Detection: content classifiers.
//!
//! What a message *says*: threats, extortion, claims of data access,
//! election talk, credential phishing, payment fraud, advance-fee fraud,
//! urgency and commercial spam, in English, Spanish, Portuguese, German,
//! Dutch and French. Each classifier is a lexicon (`data/lexicons/*.toml`,
//! compiled in) of weighted phrases and optional regex patterns.
//!
//! How a message is scored:
//! * The subject and the first [`MAX_TEXT_BYTES`] of the body text are
//!   *folded* once (lower case, NFKD with the accents dropped, `ß` -> `ss`,
//!   typographic quotes and dashes mapped to ASCII, Cyrillic and Greek
//!   lookalikes mapped to the Latin letter they imitate, zero-width
//!   characters removed, every run of whitespace collapsed to one space); the phrases
//!   were folded the same way when the lexicons were loaded.
//! * One Aho-Corasick automaton over all phrases of all classifiers finds
//!   every (overlapping) occurrence; an occurrence counts only on whole-word
//!   boundaries, and one that lies inside a longer hit of the same classifier
//!   is dropped (so "verify your account" does not also count "your
//!   account"). Each phrase counts once per message.
//! * Patterns run on the unfolded subject and text; a pattern may require a
//!   checksum (`check = "bitcoin"`) or context words nearby (`near`).
//! * A classifier's score is the noisy-or of the weights of its distinct
//!   hits: `1 - prod(1 - w)`. A phrase found in the subject counts
//!   [`SUBJECT_BONUS`] times its weight (at most 0.95): subjects are short
//!   and chosen by the sender, so a hit there says more; a multiplier keeps
//!   weak words weak.
//! * The language: when the stopwords of one of the six lexicon languages
//!   (counted by a small automaton of their own) clearly dominate the first
//!   [`LANGUAGE_SAMPLE_BYTES`] of the body, that language; otherwise
//!   whatlang's guess on the first [`WHATLANG_SAMPLE_BYTES`], reported only
//!   when whatlang calls it reliable. whatlang costs 70-300 µs per call whatever the length
//!   (measured), ten times this module's budget, hence the shortcut.
//! * Patterns with `triggers` only run when one of those words occurs
//!   (found on the automaton pass): a regex without a literal to search for
//!   costs tens of µs per message.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use crate::fxhash::FxBuildHasher;

/// Body text analysed per message: a 1 MB body is mostly repetition or
/// quoted material, and the cost must stay bounded; phishing and extortion
/// say what they want near the top.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Text given to whatlang: its cost grows with the length and 2 KB is
/// plenty for a reliable guess.
pub const LANGUAGE_SAMPLE_BYTES: usize = 2 * 1024;

/// Multiplier of the weight of a phrase found in the subject.
pub const SUBJECT_BONUS: f64 = 1.2;

/// Phrases reported per classifier (the strongest first).
pub const MAX_PHRASES_REPORTED: usize = 8;

/// Crypto addresses reported per message.
pub const MAX_CRYPTO_ADDRESSES: usize = 16;

/// Automaton matches examined per message: bounds
/// the work on adversarial text repeating one phrase a million times.
const MAX_OCCURRENCES: usize = 100_000;

/// Fewest body words for a stopword-based language guess.
const MIN_LANGUAGE_TOKENS: usize = 20;

/// Text given to whatlang when the stopwords did not settle the language.
pub const WHATLANG_SAMPLE_BYTES: usize = 1024;

/// Fewest words worth asking whatlang about (a subject, usually).
const MIN_WHATLANG_WORDS: usize = 4;

/// Characters around a pattern match searched for its `near` words.
const NEAR_WINDOW_BYTES: usize = 200;

/// The built-in lexicons, one per classifier: (origin, text).
const BUILTIN_LEXICONS: &[(&str, &str)] = &[
    (
        "data/lexicons/intimidation.toml",
        include_str!("../../../../data/lexicons/intimidation.toml"),
    ),
    (
        "data/lexicons/extortion.toml",
        include_str!("../../../../data/lexicons/extortion.toml"),
    ),
    (
        "data/lexicons/data_possession.toml",
        include_str!("../../../../data/lexicons/data_possession.toml"),
    ),
    (
        "data/lexicons/election.toml",
        include_str!("../../../../data/lexicons/election.toml"),
    ),
    (
        "data/lexicons/credential_phishing.toml",
        include_str!("../../../../data/lexicons/credential_phishing.toml"),
    ),
    (
        "data/lexicons/payment_fraud.toml",
        include_str!("../../../../data/lexicons/payment_fraud.toml"),
    ),
    (
        "data/lexicons/advance_fee.toml",
        include_str!("../../../../data/lexicons/advance_fee.toml"),
    ),
    (
        "data/lexicons/urgency.toml",
        include_str!("../../../../data/lexicons/urgency.toml"),
    ),
    (
        "data/lexicons/spam.toml",
        include_str!("../../../../data/lexicons/spam.toml"),
    ),
    (
        "data/lexicons/impersonal_greeting.toml",
        include_str!("../../../../data/lexicons/impersonal_greeting.toml"),
    ),
];

/// What the content classifiers found in one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentSignals {
    /// ISO 639-1 code of the detected language (whatlang), when reliable;
    /// the ISO 639-3 code for a language without a 639-1 code.
    pub language: Option<String>,
    /// One entry per classifier that found anything, keyed by classifier
    /// name (BTreeMap for stable JSON order).
    pub classes: BTreeMap<String, ClassScore>,
    /// Bitcoin/crypto wallet addresses found (extortion evidence),
    /// deduplicated, at most [`MAX_CRYPTO_ADDRESSES`].
    pub crypto_addresses: Vec<String>,
}

/// One classifier's verdict on a message, with the evidence for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    /// Noisy-or of the distinct hits' weights, 0..=1.
    pub score: f64,
    /// The matched phrases as written in the lexicon (pattern names for
    /// patterns), deduplicated, strongest first, at most
    /// [`MAX_PHRASES_REPORTED`].
    pub phrases: Vec<String>,
}

/// Why a lexicon could not be loaded, with where in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct LexiconError {
    /// The file (or other origin) the lexicon came from.
    pub origin: String,
    /// 1-based line of the offending item.
    pub line: usize,
    /// 1-based column (in characters) of the offending item.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// One parsed, validated lexicon: a classifier's phrases and patterns.
#[derive(Debug, Clone)]
pub struct Lexicon {
    /// The classifier's name, the key in [`ContentSignals::classes`].
    pub classifier: String,
    /// What the classifier detects, for people reading a report.
    pub description: String,
    origin: String,
    classifier_at: (usize, usize),
    phrases: Vec<LexiconPhrase>,
    patterns: Vec<LexiconPattern>,
}

impl Lexicon {
    /// Distinct phrases per language code, to check (and report) that a
    /// lexicon covers every supported language.
    pub fn phrases_per_language(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for phrase in &self.phrases {
            *counts.entry(phrase.language).or_insert(0) += 1;
        }
        counts
    }

    /// Number of regex patterns.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
}

#[derive(Debug, Clone)]
struct LexiconPhrase {
    folded: String,
    display: String,
    weight: f64,
    language: &'static str,
}

#[derive(Debug, Clone)]
struct LexiconPattern {
    name: String,
    weight: f64,
    regex: Regex,
    check: Option<Check>,
    near: Vec<String>,
    triggers: Vec<String>,
    crypto_address: bool,
}

/// Extra validation of a pattern match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Base58Check (P2PKH/P2SH) or bech32/bech32m (`bc1`) checksum.
    Bitcoin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLexicon {
    classifier: Spanned<String>,
    description: String,
    #[serde(default)]
    phrases: Vec<RawGroup>,
    #[serde(default)]
    patterns: Vec<RawPattern>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    weight: Spanned<f64>,
    #[serde(default)]
    en: Vec<Spanned<String>>,
    #[serde(default)]
    es: Vec<Spanned<String>>,
    #[serde(default)]
    pt: Vec<Spanned<String>>,
    #[serde(default)]
    de: Vec<Spanned<String>>,
    #[serde(default)]
    nl: Vec<Spanned<String>>,
    #[serde(default)]
    fr: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    name: Spanned<String>,
    weight: Spanned<f64>,
    regex: Spanned<String>,
    #[serde(default)]
    check: Option<Spanned<String>>,
    #[serde(default)]
    near: Vec<Spanned<String>>,
    #[serde(default)]
    triggers: Vec<Spanned<String>>,
    #[serde(default)]
    crypto_address: bool,
}

/// Parses and validates one lexicon file. `origin` names it in errors,
/// which carry the line and column of the offending item so a
/// user-supplied lexicon can be fixed.
pub fn parse_lexicon(text: &str, origin: &str) -> Result<Lexicon, LexiconError> {
    let error_at = |span: Option<Range<usize>>, message: String| {
        let (line, column) = line_column(text, span.map_or(0, |s| s.start));
        LexiconError {
            origin: origin.to_string(),
            line,
            column,
            message,
        }
    };
    let raw: RawLexicon =
        toml::from_str(text).map_err(|e| error_at(e.span(), e.message().to_string()))?;
    let name = raw.classifier.get_ref();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(error_at(
            Some(raw.classifier.span()),
            format!("classifier name {name:?} must be non-empty snake_case"),
        ));
    }
    let mut phrases: Vec<LexiconPhrase> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for group in &raw.phrases {
        let weight =
            valid_weight(&group.weight).map_err(|m| error_at(Some(group.weight.span()), m))?;
        let languages: [(&'static str, &Vec<Spanned<String>>); 6] = [
            ("en", &group.en),
            ("es", &group.es),
            ("pt", &group.pt),
            ("de", &group.de),
            ("nl", &group.nl),
            ("fr", &group.fr),
        ];
        for (language, list) in languages {
            for phrase in list {
                let folded = fold(phrase.get_ref());
                if folded.is_empty() {
                    return Err(error_at(Some(phrase.span()), "empty phrase".to_string()));
                }
                // The same phrase in several languages (brand words such as
                // "bitcoin") or groups: one entry, the highest weight.
                match index.get(&folded).and_then(|&i| phrases.get_mut(i)) {
                    Some(existing) => existing.weight = existing.weight.max(weight),
                    None => {
                        index.insert(folded.clone(), phrases.len());
                        phrases.push(LexiconPhrase {
                            folded,
                            display: phrase.get_ref().clone(),
                            weight,
                            language,
                        });
                    }
                }
            }
        }
    }
    let mut patterns = Vec::with_capacity(raw.patterns.len());
    for pattern in &raw.patterns {
        let weight =
            valid_weight(&pattern.weight).map_err(|m| error_at(Some(pattern.weight.span()), m))?;
        if pattern.name.get_ref().trim().is_empty() {
            return Err(error_at(
                Some(pattern.name.span()),
                "empty pattern name".to_string(),
            ));
        }
        let regex = Regex::new(pattern.regex.get_ref())
            .map_err(|e| error_at(Some(pattern.regex.span()), format!("bad regex: {e}")))?;
        let check = match &pattern.check {
            None => None,
            Some(c) if c.get_ref() == "bitcoin" => Some(Check::Bitcoin),
            Some(c) => {
                return Err(error_at(
                    Some(c.span()),
                    format!("unknown check {:?} (known: \"bitcoin\")", c.get_ref()),
                ))
            }
        };
        let mut near = Vec::with_capacity(pattern.near.len());
        for word in &pattern.near {
            let folded = fold(word.get_ref());
            if folded.is_empty() {
                return Err(error_at(Some(word.span()), "empty near word".to_string()));
            }
            near.push(folded);
        }
        let mut triggers = Vec::with_capacity(pattern.triggers.len());
        for word in &pattern.triggers {
            let folded = fold(word.get_ref());
            if folded.is_empty() {
                return Err(error_at(Some(word.span()), "empty trigger".to_string()));
            }
            triggers.push(folded);
        }
        patterns.push(LexiconPattern {
            name: pattern.name.get_ref().clone(),
            weight,
            regex,
            check,
            near,
            triggers,
            crypto_address: pattern.crypto_address,
        });
    }
    if phrases.is_empty() && patterns.is_empty() {
        return Err(error_at(
            Some(raw.classifier.span()),
            "a lexicon needs at least one phrase or pattern".to_string(),
        ));
    }
    Ok(Lexicon {
        classifier: name.clone(),
        description: raw.description,
        origin: origin.to_string(),
        classifier_at: line_column(text, raw.classifier.span().start),
        phrases,
        patterns,
    })
}

fn valid_weight(weight: &Spanned<f64>) -> Result<f64, String> {
    let w = *weight.get_ref();
    if w > 0.0 && w <= 1.0 {
        Ok(w)
    } else {
        Err(format!("weight {w} must be in (0, 1]"))
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut cut = offset.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = text.get(..cut).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// What an automaton needle stands for.
#[derive(Debug)]
enum Entry {
    /// A phrase of one classifier.
    Phrase {
        classifier: usize,
        weight: f64,
        display: String,
    },
    /// A word that lets a pattern run (see `triggers` in the lexicon format).
    Trigger(usize),
}

/// An automaton needle: a distinct folded string and everything it stands
/// for (several classifiers may list the same phrase).
#[derive(Debug)]
struct Needle {
    entries: Range<usize>,
    word_start: bool,
    word_end: bool,
}

#[derive(Debug)]
struct CompiledPattern {
    classifier: usize,
    pattern: LexiconPattern,
}

/// The languages of the lexicons, in the order of [`STOPWORDS`].
const LANGUAGES: [&str; 6] = ["en", "es", "pt", "de", "nl", "fr"];

/// Frequent function words that tell the six lexicon languages apart
/// (folded; most words shared by two of them are left out). Counting them
/// costs a few µs, whereas whatlang costs 70-300 µs
/// per call whatever the length, so whatlang only runs when these do not
/// settle the language.
const STOPWORDS: [&[&str]; 6] = [
    &[
        "the", "and", "of", "to", "is", "you", "your", "with", "for", "this", "that", "are",
        "have", "will", "be", "it", "we", "our", "on", "not", "from", "by", "or", "was", "at",
        "please", "if", "can", "all", "has",
    ],
    &[
        "el", "los", "las", "del", "por", "y", "es", "una", "su", "sus", "usted", "esta", "con",
        "se", "lo", "al", "muy", "pero", "como", "mas", "su", "ha", "le", "este",
    ],
    &[
        "os", "do", "da", "dos", "das", "nao", "voce", "uma", "em", "no", "na", "com", "e", "ao",
        "seu", "sua", "mais", "foi", "pelo", "pela", "isso", "esta", "tem",
    ],
    &[
        "der", "die", "das", "und", "ist", "nicht", "sie", "ihr", "ihre", "mit", "fur", "auf",
        "ein", "eine", "wir", "bitte", "den", "dem", "zu", "von", "sich", "auch", "werden", "wird",
        "ihnen", "haben",
    ],
    &[
        "het", "een", "en", "van", "niet", "uw", "je", "met", "voor", "op", "wij", "zijn", "dat",
        "dit", "ook", "naar", "wordt", "bij", "aan", "te", "u", "heeft", "we", "kunt",
    ],
    &[
        "le", "la", "les", "des", "et", "est", "vous", "votre", "pour", "avec", "une", "du", "pas",
        "nous", "sur", "au", "aux", "ce", "cette", "qui", "vos", "dans", "sont",
    ],
];

/// [`STOPWORDS`] as a table of word to bit set of languages.
fn stopword_table() -> HashMap<&'static str, u8, FxBuildHasher> {
    let mut table: HashMap<&'static str, u8, FxBuildHasher> = HashMap::default();
    for (language, words) in STOPWORDS.iter().enumerate() {
        for word in *words {
            *table.entry(word).or_default() |= 1 << language;
        }
    }
    table
}

/// All classifiers compiled together: one automaton over every phrase,
/// stopword and pattern trigger, plus the patterns. Built once;
/// classification borrows it.
#[derive(Debug)]
pub struct Classifiers {
    names: Vec<String>,
    /// None only for the empty fallback (no lexicons).
    automaton: Option<AhoCorasick>,
    needles: Vec<Needle>,
    entries: Vec<Entry>,
    patterns: Vec<CompiledPattern>,
    /// The [`STOPWORDS`], each with the bit set of the [`LANGUAGES`] it
    /// counts for (one lookup per sample word).
    stopwords: HashMap<&'static str, u8, FxBuildHasher>,
}

/// A phrase occurrence that survived the word-boundary check.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    classifier: usize,
    entry: usize,
    start: usize,
    end: usize,
    in_subject: bool,
}

/// What one automaton pass over the folded text found.
#[derive(Debug, Default)]
struct Scan {
    occurrences: Vec<Occurrence>,
    triggered: Vec<bool>,
}

impl Classifiers {
    /// The lexicons shipped in `data/lexicons`, parsed once. A malformed
    /// built-in lexicon is a programming error, caught by this module's
    /// tests; should one slip through, the classifiers are empty rather
    /// than the analysis failing.
    pub fn builtin() -> &'static Classifiers {
        static BUILTIN: OnceLock<Classifiers> = OnceLock::new();
        BUILTIN.get_or_init(|| match load_builtin() {
            Ok(classifiers) => classifiers,
            Err(_) => Classifiers::empty(),
        })
    }

    fn empty() -> Classifiers {
        Classifiers {
            names: Vec::new(),
            automaton: None,
            needles: Vec::new(),
            entries: Vec::new(),
            patterns: Vec::new(),
            stopwords: stopword_table(),
        }
    }

    /// Compiles lexicons (e.g. the built-in ones plus a user directory).
    /// Fails when two lexicons name the same classifier or the automaton
    /// cannot be built.
    pub fn from_lexicons(lexicons: Vec<Lexicon>) -> Result<Classifiers, LexiconError> {
        let mut names: Vec<String> = Vec::with_capacity(lexicons.len());
        let mut by_needle: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        let mut patterns = Vec::new();
        for lexicon in lexicons {
            if names.contains(&lexicon.classifier) {
                let (line, column) = lexicon.classifier_at;
                return Err(LexiconError {
                    origin: lexicon.origin,
                    line,
                    column,
                    message: format!("classifier {:?} defined twice", lexicon.classifier),
                });
            }
            let classifier = names.len();
            names.push(lexicon.classifier.clone());
            for phrase in lexicon.phrases {
                by_needle
                    .entry(phrase.folded)
                    .or_default()
                    .push(Entry::Phrase {
                        classifier,
                        weight: phrase.weight,
                        display: phrase.display,
                    });
            }
            for pattern in lexicon.patterns {
                for trigger in &pattern.triggers {
                    by_needle
                        .entry(trigger.clone())
                        .or_default()
                        .push(Entry::Trigger(patterns.len()));
                }
                patterns.push(CompiledPattern {
                    classifier,
                    pattern,
                });
            }
        }
        let mut needles = Vec::with_capacity(by_needle.len());
        let mut entries = Vec::new();
        let mut texts = Vec::with_capacity(by_needle.len());
        for (text, list) in by_needle {
            let start = entries.len();
            entries.extend(list);
            needles.push(Needle {
                entries: start..entries.len(),
                word_start: text.chars().next().is_some_and(char::is_alphanumeric),
                word_end: text.chars().next_back().is_some_and(char::is_alphanumeric),
            });
            texts.push(text);
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            // The DFA (about 8 MB for the built-in lexicons) scans twice as
            // fast as the contiguous NFA (measured on the SpamAssassin ham).
            .kind(Some(AhoCorasickKind::DFA))
            .build(&texts)
            .map_err(|e| LexiconError {
                origin: "lexicons".to_string(),
                line: 1,
                column: 1,
                message: format!("cannot build the phrase automaton: {e}"),
            })?;
        Ok(Classifiers {
            names,
            automaton: Some(automaton),
            needles,
            entries,
            patterns,
            stopwords: stopword_table(),
        })
    }

    /// The classifier names, in lexicon order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Classifies one message: `subject` as decoded, `text` the decoded
    /// text of all body parts (only its first [`MAX_TEXT_BYTES`] are read).
    pub fn classify(&self, subject: Option<&str>, text: &str) -> ContentSignals {
        let subject = subject.unwrap_or("");
        let body = decode_entities(prefix(text, MAX_TEXT_BYTES));
        let body = body.as_ref();
        let mut folded = String::with_capacity(subject.len() + body.len() + 2);
        fold_into(subject, &mut folded);
        let subject_end = folded.len();
        // A newline never survives folding, so no phrase spans it.
        folded.push('\n');
        fold_into(body, &mut folded);

        let scan = self.scan(&folded, subject_end);
        // Per (classifier, entry): did any surviving occurrence lie in the subject.
        let mut found: BTreeMap<(usize, usize), bool> = BTreeMap::new();
        for o in surviving(scan.occurrences) {
            let in_subject = found.entry((o.classifier, o.entry)).or_insert(false);
            *in_subject |= o.in_subject;
        }
        let mut hits: Vec<Vec<(f64, &str)>> = vec![Vec::new(); self.names.len()];
        for ((classifier, entry), in_subject) in found {
            let Some(Entry::Phrase {
                weight, display, ..
            }) = self.entries.get(entry)
            else {
                continue;
            };
            if let Some(list) = hits.get_mut(classifier) {
                let weight = if in_subject {
                    (weight * SUBJECT_BONUS).min(0.95).max(*weight)
                } else {
                    *weight
                };
                list.push((weight, display.as_str()));
            }
        }
        let mut crypto_addresses: Vec<String> = Vec::new();
        for (index, compiled) in self.patterns.iter().enumerate() {
            let pattern = &compiled.pattern;
            if !pattern.triggers.is_empty() && !scan.triggered.get(index).copied().unwrap_or(false)
            {
                continue;
            }
            if run_pattern(pattern, [subject, body], &mut crypto_addresses) {
                if let Some(list) = hits.get_mut(compiled.classifier) {
                    list.push((pattern.weight, pattern.name.as_str()));
                }
            }
        }
        let mut classes = BTreeMap::new();
        for (name, list) in self.names.iter().zip(hits) {
            if let Some(score) = class_score(list) {
                classes.insert(name.clone(), score);
            }
        }
        let sample = folded
            .get(subject_end + 1..floor_boundary(&folded, subject_end + 1 + LANGUAGE_SAMPLE_BYTES))
            .unwrap_or("");
        let (stopwords, sample_tokens) = self.count_stopwords(sample);
        ContentSignals {
            language: language_from_stopwords(&stopwords, sample_tokens)
                .map(str::to_string)
                .or_else(|| whatlang_language(subject, body, sample_tokens)),
            classes,
            crypto_addresses,
        }
    }

    /// Stopwords per language in a folded sample, and its number of words.
    fn count_stopwords(&self, sample: &str) -> ([usize; 6], usize) {
        let mut counts = [0usize; 6];
        let mut words = 0;
        for token in sample.split_ascii_whitespace() {
            let word = token.trim_matches(|c: char| !c.is_alphanumeric());
            if word.is_empty() {
                continue;
            }
            words += 1;
            let Some(&languages) = self.stopwords.get(word) else {
                continue;
            };
            for (bit, count) in counts.iter_mut().enumerate() {
                if languages & (1 << bit) != 0 {
                    *count += 1;
                }
            }
        }
        (counts, words)
    }

    /// One automaton pass: phrase occurrences on word boundaries (at most
    /// [`MAX_OCCURRENCES`] automaton matches are examined) and the patterns
    /// whose trigger words occur.
    fn scan(&self, folded: &str, subject_end: usize) -> Scan {
        let mut scan = Scan {
            triggered: vec![false; self.patterns.len()],
            ..Scan::default()
        };
        let Some(automaton) = &self.automaton else {
            return scan;
        };
        for m in automaton
            .find_overlapping_iter(folded)
            .take(MAX_OCCURRENCES)
        {
            let (start, end) = (m.start(), m.end());
            if start < subject_end && end > subject_end {
                continue;
            }
            let Some(needle) = self.needles.get(m.pattern().as_usize()) else {
                continue;
            };
            if needle.word_start && ends_in_word_char(folded.get(..start)) {
                continue;
            }
            if needle.word_end && starts_with_word_char(folded.get(end..)) {
                continue;
            }
            for entry in needle.entries.clone() {
                match self.entries.get(entry) {
                    Some(Entry::Phrase { classifier, .. }) => scan.occurrences.push(Occurrence {
                        classifier: *classifier,
                        entry,
                        start,
                        end,
                        in_subject: end <= subject_end,
                    }),
                    Some(Entry::Trigger(pattern)) => {
                        if let Some(flag) = scan.triggered.get_mut(*pattern) {
                            *flag = true;
                        }
                    }
                    None => {}
                }
            }
        }
        scan
    }
}

/// Runs one pattern over the subject and body; true when it matched (and
/// passed its checks). Crypto addresses are collected along the way.
fn run_pattern(
    pattern: &LexiconPattern,
    haystacks: [&str; 2],
    crypto_addresses: &mut Vec<String>,
) -> bool {
    let mut matched = false;
    for haystack in haystacks {
        for m in pattern.regex.find_iter(haystack) {
            if !pattern_accepts(pattern, haystack, m.start(), m.end()) {
                continue;
            }
            matched = true;
            if !pattern.crypto_address {
                return true;
            }
            let address = m.as_str();
            if crypto_addresses.len() < MAX_CRYPTO_ADDRESSES
                && !crypto_addresses.iter().any(|a| a == address)
            {
                crypto_addresses.push(address.to_string());
            }
        }
    }
    matched
}

/// Noisy-or of the hits' weights (rounded to 4 decimals for stable JSON)
/// and the strongest distinct phrases; None without hits.
fn class_score(mut hits: Vec<(f64, &str)>) -> Option<ClassScore> {
    if hits.is_empty() {
        return None;
    }
    let miss: f64 = hits.iter().map(|(w, _)| 1.0 - w).product();
    let score = ((1.0 - miss).clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0;
    hits.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut phrases: Vec<String> = Vec::new();
    for (_, phrase) in hits {
        if phrases.len() >= MAX_PHRASES_REPORTED {
            break;
        }
        if !phrases.iter().any(|p| p == phrase) {
            phrases.push(phrase.to_string());
        }
    }
    Some(ClassScore { score, phrases })
}

/// The language whose stopwords dominate the body sample: at least one
/// word in sixteen and twice the runner-up's count, on at least
/// [`MIN_LANGUAGE_TOKENS`] words. (Running text in these languages has one
/// of these words in four or five; text in other languages matches a few
/// by accident and fails the ratio.)
fn language_from_stopwords(counts: &[usize; 6], tokens: usize) -> Option<&'static str> {
    if tokens < MIN_LANGUAGE_TOKENS {
        return None;
    }
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]));
    let best = *order.first()?;
    let runner_up = order.get(1).map_or(0, |&i| counts[i]);
    let top = counts[best];
    (top * 16 >= tokens && top >= runner_up * 2)
        .then(|| LANGUAGES.get(best).copied())
        .flatten()
}
/// Drops occurrences that lie inside a longer occurrence of the same
/// classifier, so nested phrases do not count twice.
fn surviving(mut occurrences: Vec<Occurrence>) -> impl Iterator<Item = Occurrence> {
    occurrences.sort_unstable_by(|a, b| {
        (a.classifier, a.start, std::cmp::Reverse(a.end)).cmp(&(
            b.classifier,
            b.start,
            std::cmp::Reverse(b.end),
        ))
    });
    let mut kept = Vec::with_capacity(occurrences.len());
    let mut current: Option<(usize, usize)> = None; // (classifier, furthest end)
    for o in occurrences {
        match current {
            Some((c, furthest)) if c == o.classifier => {
                let contained = o.end <= furthest;
                if !contained {
                    current = Some((c, o.end));
                }
                // Same span as the covering one (a phrase shared by two
                // groups) is not "inside" it.
                if !contained
                    || kept
                        .last()
                        .is_some_and(|k: &Occurrence| k.start == o.start && k.end == o.end)
                {
                    kept.push(o);
                }
            }
            _ => {
                current = Some((o.classifier, o.end));
                kept.push(o);
            }
        }
    }
    kept.into_iter()
}

fn ends_in_word_char(before: Option<&str>) -> bool {
    before
        .and_then(|s| s.chars().next_back())
        .is_some_and(char::is_alphanumeric)
}

fn starts_with_word_char(after: Option<&str>) -> bool {
    after
        .and_then(|s| s.chars().next())
        .is_some_and(char::is_alphanumeric)
}

/// Does a pattern match pass its checksum and context requirements.
fn pattern_accepts(pattern: &LexiconPattern, haystack: &str, start: usize, end: usize) -> bool {
    let text = haystack.get(start..end).unwrap_or("");
    if pattern.check == Some(Check::Bitcoin) && !valid_bitcoin_address(text) {
        return false;
    }
    if pattern.near.is_empty() {
        return true;
    }
    let from = floor_boundary(haystack, start.saturating_sub(NEAR_WINDOW_BYTES));
    let to = floor_boundary(haystack, end.saturating_add(NEAR_WINDOW_BYTES));
    let window = fold(haystack.get(from..to).unwrap_or(""));
    pattern.near.iter().any(|word| contains_word(&window, word))
}

/// Is `word` in `text` on word boundaries.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        !ends_in_word_char(text.get(..at)) && !starts_with_word_char(text.get(at + word.len()..))
    })
}

/// A Bitcoin address with a valid checksum: Base58Check with version 0
/// (P2PKH, `1...`) or 5 (P2SH, `3...`), or bech32/bech32m with the `bc`
/// prefix. Random base58-looking tokens (tracking ids) fail the checksum.
pub fn valid_bitcoin_address(text: &str) -> bool {
    if text.len() > 4 && text.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("bc1")) {
        return valid_bech32_bitcoin(text);
    }
    valid_base58check_bitcoin(text)
}

fn valid_base58check_bitcoin(text: &str) -> bool {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if !(25..=35).contains(&text.len()) {
        return false;
    }
    // Big-endian base-256 accumulator; 25 bytes is all a valid address needs.
    let mut bytes = [0u8; 25];
    for c in text.bytes() {
        let Some(digit) = ALPHABET.iter().position(|&a| a == c) else {
            return false;
        };
        let mut carry = digit as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let leading_ones = text.bytes().take_while(|&c| c == b'1').count();
    let leading_zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Each leading '1' stands for one leading zero byte, and the value
    // fills the rest of the 25 bytes exactly.
    if leading_ones != leading_zeros {
        return false;
    }
    if !matches!(bytes[0], 0 | 5) {
        return false;
    }
    let first = Sha256::digest(&bytes[..21]);
    let second = Sha256::digest(first);
    second.get(..4) == bytes.get(21..25)
}

fn valid_bech32_bitcoin(text: &str) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    const GENERATOR: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    const BECH32: u32 = 1;
    const BECH32M: u32 = 0x2bc8_30a3;
    if !(14..=90).contains(&text.len())
        || (text.bytes().any(|b| b.is_ascii_lowercase())
            && text.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let Some(data) = lower.strip_prefix("bc1") else {
        return false;
    };
    let mut values = Vec::with_capacity(data.len());
    for c in data.bytes() {
        match CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u32),
            None => return false,
        }
    }
    let polymod = |values: &[u32]| {
        let mut chk: u32 = 1;
        for v in values {
            let top = chk >> 25;
            chk = ((chk & 0x1ff_ffff) << 5) ^ v;
            for (i, g) in GENERATOR.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    };
    // hrp "bc" expanded: high bits, 0, low bits.
    let mut all = vec![3, 3, 0, 2, 3];
    all.extend_from_slice(&values);
    let witness_version = values.first().copied().unwrap_or(99);
    match polymod(&all) {
        BECH32 => witness_version == 0,
        BECH32M => (1..=16).contains(&witness_version),
        _ => false,
    }
}

/// The longest HTML character reference decoded (`&thetasym;`, `&#x1F600;`).
const MAX_ENTITY_BYTES: usize = 10;

/// Text with its HTML character references decoded (`Voc&ecirc;` as
/// `Você`): senders paste HTML-escaped text into plain parts, and the
/// phrases must match what a reader sees. Unknown references stay as
/// written.
fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let reference = after
            .get(1..after.floor_char_boundary(MAX_ENTITY_BYTES))
            .and_then(|tail| tail.find(';'))
            .map(|semi| &after[..semi + 2])
            .filter(|r| {
                r[1..r.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'#')
            });
        match reference {
            Some(reference) if reference.len() > 2 => {
                mail_parser::decoders::html::add_html_token(&mut out, reference.as_bytes(), false);
                rest = &after[reference.len()..];
            }
            _ => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Lower case, accents stripped (NFKD minus combining marks), `ß` as `ss`,
/// typographic quotes/dashes as ASCII, Cyrillic/Greek lookalikes as the
/// Latin letter they imitate, zero-width characters dropped and
/// whitespace and underscore runs collapsed to one space; no leading or
/// trailing space.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// The bytes that end a run of ASCII copied as it is: non-ASCII, and the
/// separators (white space, controls, and the underscore: in
/// `Your_transfer__0.75_BTC` underscores space words out for a reader while
/// making one token for a filter).
const ENDS_ASCII_RUN: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0;
    while b < 128 {
        let byte = b as u8;
        table[b] = byte.is_ascii_whitespace() || byte.is_ascii_control() || byte == b'_';
        b += 1;
    }
    table
};

/// [`fold`] appending to `out` (which may already hold folded text).
/// Runs of ASCII are copied whole and lower-cased at the end: no folding
/// below makes an ASCII capital.
fn fold_into(text: &str, out: &mut String) {
    let base = out.len();
    let mut pending_space = false;
    let space_before = |out: &mut String, pending: &mut bool| {
        if *pending {
            if out.len() > base {
                out.push(' ');
            }
            *pending = false;
        }
    };
    let push = |out: &mut String, c: char, pending: &mut bool| {
        space_before(out, pending);
        out.push(c);
    };
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if b.is_ascii() {
            let run = bytes[at..]
                .iter()
                .position(|&b| ENDS_ASCII_RUN[usize::from(b)])
                .map_or(bytes.len(), |n| at + n);
            if run == at {
                pending_space = true;
                at += 1;
            } else {
                space_before(out, &mut pending_space);
                out.push_str(&text[at..run]);
                at = run;
            }
            continue;
        }
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        at += c.len_utf8();
        match c {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {}
            c if stand_in(c).is_some() => {
                if let Some(r) = stand_in(c) {
                    push(out, r, &mut pending_space)
                }
            }
            '\u{00DF}' | '\u{1E9E}' => {
                push(out, 's', &mut pending_space);
                push(out, 's', &mut pending_space);
            }
            c if c.is_whitespace() || c.is_control() => pending_space = true,
            c => decompose_compatible(c, |d| {
                if d.is_whitespace() {
                    pending_space = true;
                } else if !is_combining_mark(d) {
                    // `Ѐ` is `Е` with a grave accent, `ŉ` is `ʼn`: the
                    // parts fold as they would alone.
                    for l in d.to_lowercase() {
                        push(out, stand_in(l).unwrap_or(l), &mut pending_space);
                    }
                }
            }),
        }
    }
    out[base..].make_ascii_lowercase();
}

/// What a character folds to wherever it occurs, alone or as part of a
/// decomposed one: typographic quotes and dashes as ASCII, lookalike
/// letters as Latin; `None` for the rest.
fn stand_in(c: char) -> Option<char> {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{02BC}' | '\u{2032}' | '\u{00B4}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => Some('"'),
        '\u{2010}'..='\u{2015}' => Some('-'),
        c => latin_lookalike(c),
    }
}

/// The Latin letter a Cyrillic or Greek lookalike stands for, as spammers
/// mix them into Latin words ("acсоuпt") to dodge filters. The lexicons
/// have no Cyrillic or Greek phrases, so folding real Russian or Greek
/// text this way costs nothing; the language guess reads the raw text.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' => 'b',
        'с' | 'С' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ε' | 'Ε' => 'e',
        'һ' | 'Н' | 'Η' => 'h',
        'і' | 'І' | 'ι' | 'Ι' | 'ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'м' | 'М' | 'Μ' => 'm',
        'п' | 'ո' | 'η' | 'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' | 'σ' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'г' => 'r',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'γ' | 'Υ' => 'y',
        'Ζ' => 'z',
        _ => return None,
    })
}

/// The longest prefix of `text` of at most `max` bytes, cut at a character
/// boundary.
fn prefix(text: &str, max: usize) -> &str {
    text.get(..floor_boundary(text, max)).unwrap_or("")
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut cut = at.min(text.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// whatlang on the first [`WHATLANG_SAMPLE_BYTES`] of the body (the
/// subject when the body has fewer than [`MIN_LANGUAGE_TOKENS`] words);
/// None unless whatlang deems its guess reliable.
fn whatlang_language(subject: &str, body: &str, body_tokens: usize) -> Option<String> {
    let sample = if body_tokens >= MIN_LANGUAGE_TOKENS {
        prefix(body, WHATLANG_SAMPLE_BYTES)
    } else {
        subject
    };
    // Too short for a reliable guess: spare the fixed cost.
    sample.split_whitespace().nth(MIN_WHATLANG_WORDS)?;
    if !sample.chars().any(|c| !c.is_ascii() && c.is_alphabetic()) {
        // Plain-ASCII text that none of the six languages' stopwords fit:
        // mostly markup remains, lists or code, where whatlang is rarely
        // reliable; languages written in pure ASCII (Indonesian, Swahili)
        // go unreported rather than costing 100+ µs on every such message.
        return None;
    }
    let info = whatlang::detect(sample)?;
    if !info.is_reliable() {
        return None;
    }
    let code = info.lang().code();
    Some(iso639_1(code).unwrap_or(code).to_string())
}

/// ISO 639-1 for the ISO 639-3 codes whatlang knows.
fn iso639_1(code: &str) -> Option<&'static str> {
    Some(match code {
        "afr" => "af",
        "aka" => "ak",
        "amh" => "am",
        "ara" => "ar",
        "aze" => "az",
        "bel" => "be",
        "ben" => "bn",
        "bul" => "bg",
        "cat" => "ca",
        "ces" => "cs",
        "cmn" => "zh",
        "dan" => "da",
        "deu" => "de",
        "ell" => "el",
        "eng" => "en",
        "epo" => "eo",
        "est" => "et",
        "fin" => "fi",
        "fra" => "fr",
        "guj" => "gu",
        "heb" => "he",
        "hin" => "hi",
        "hrv" => "hr",
        "hun" => "hu",
        "hye" => "hy",
        "ind" => "id",
        "ita" => "it",
        "jav" => "jv",
        "jpn" => "ja",
        "kan" => "kn",
        "kat" => "ka",
        "khm" => "km",
        "kor" => "ko",
        "lat" => "la",
        "lav" => "lv",
        "lit" => "lt",
        "mal" => "ml",
        "mar" => "mr",
        "mkd" => "mk",
        "mya" => "my",
        "nep" => "ne",
        "nld" => "nl",
        "nob" => "nb",
        "ori" => "or",
        "pan" => "pa",
        "pes" => "fa",
        "pol" => "pl",
        "por" => "pt",
        "ron" => "ro",
        "rus" => "ru",
        "sin" => "si",
        "slk" => "sk",
        "slv" => "sl",
        "sna" => "sn",
        "spa" => "es",
        "srp" => "sr",
        "swe" => "sv",
        "tam" => "ta",
        "tel" => "te",
        "tgl" => "tl",
        "tha" => "th",
        "tuk" => "tk",
        "tur" => "tr",
        "ukr" => "uk",
        "urd" => "ur",
        "uzb" => "uz",
        "vie" => "vi",
        "yid" => "yi",
        "zul" => "zu",
        _ => return None,
    })
}

fn load_builtin() -> Result<Classifiers, LexiconError> {
    let lexicons = BUILTIN_LEXICONS
        .iter()
        .map(|(origin, text)| parse_lexicon(text, origin))
        .collect::<Result<Vec<_>, _>>()?;
    Classifiers::from_lexicons(lexicons)
}

/// Classifies one message with the built-in lexicons (see
/// [`Classifiers::classify`]).
pub fn classify(subject: Option<&str>, text: &str) -> ContentSignals {
    Classifiers::builtin().classify(subject, text)
}

#[cfg(test)]
mod tests {

    #[test]
    fn html_references_in_plain_text_are_decoded() {
        assert_eq!(
            decode_entities("Voc&ecirc; possui R$ 4.593,21 &agrave; restituir &#x41;&#66; &amp;"),
            "Você possui R$ 4.593,21 à restituir AB &"
        );
        for kept in ["AT&T", "a & b", "&unknownentity;", "&;", "&é;", "x&"] {
            assert_eq!(decode_entities(kept), kept);
        }
        let c = classify(None, "Voc&ecirc; foi selecionado! Resgate sua recompensa.");
        assert!(c.classes.contains_key("spam"));
    }
    use super::*;
    use proptest::prelude::*;

    const CLASSIFIERS: [&str; 10] = [
        "intimidation",
        "extortion",
        "data_possession",
        "election",
        "credential_phishing",
        "payment_fraud",
        "advance_fee",
        "urgency",
        "spam",
        "impersonal_greeting",
    ];

    fn score(signals: &ContentSignals, class: &str) -> f64 {
        signals.classes.get(class).map_or(0.0, |c| c.score)
    }

    fn lexicon(text: &str) -> Lexicon {
        match parse_lexicon(text, "test.toml") {
            Ok(lexicon) => lexicon,
            Err(e) => panic!("test lexicon: {e}"),
        }
    }

    fn classifiers(texts: &[&str]) -> Classifiers {
        match Classifiers::from_lexicons(texts.iter().map(|t| lexicon(t)).collect()) {
            Ok(c) => c,
            Err(e) => panic!("test classifiers: {e}"),
        }
    }

    #[test]
    fn builtin_lexicons_load_and_cover_all_six_languages() {
        let mut lexicons = Vec::new();
        for (origin, text) in BUILTIN_LEXICONS {
            let lexicon = match parse_lexicon(text, origin) {
                Ok(l) => l,
                Err(e) => panic!("{e}"),
            };
            let counts = lexicon.phrases_per_language();
            for language in LANGUAGES {
                assert!(
                    counts.get(language).copied().unwrap_or(0) >= 10,
                    "{origin}: too few {language} phrases: {counts:?}"
                );
            }
            lexicons.push(lexicon);
        }
        let built = Classifiers::from_lexicons(lexicons);
        assert!(built.is_ok(), "{:?}", built.err());
        assert_eq!(Classifiers::builtin().names(), CLASSIFIERS);
    }

    /// (classifier, language, subject, text): each must score >= 0.5.
    const EXAMPLES: &[(&str, &str, &str, &str)] = &[
        ("intimidation", "en", "", "We know where you live. Pay attention or else."),
        ("intimidation", "es", "", "Sabemos donde vives y te vas a arrepentir."),
        ("intimidation", "pt", "", "Sabemos onde você mora. Você vai se arrepender."),
        ("intimidation", "de", "", "Wir wissen, wo Sie wohnen. Das werden Sie bereuen."),
        ("intimidation", "nl", "", "Wij weten waar u woont. Dit is uw laatste waarschuwing."),
        ("intimidation", "fr", "", "Nous savons où vous habitez. Vous allez le regretter."),
        ("extortion", "en", "", "I recorded you through your webcam while you were watching adult videos. Pay in bitcoin, you have 48 hours."),
        ("extortion", "es", "", "Te grabé a través de tu cámara mientras veías videos para adultos. Tienes 48 horas."),
        ("extortion", "pt", "", "Eu gravei você através da sua webcam. Você tem 48 horas para pagar em bitcoin."),
        ("extortion", "de", "", "Ich habe Sie aufgenommen, über Ihre Webcam. Sie haben 48 Stunden, zahlen Sie an meine Bitcoin-Adresse."),
        ("extortion", "nl", "", "Ik heb u opgenomen via uw webcam. U heeft 48 uur om te betalen naar mijn bitcoin-adres."),
        ("extortion", "fr", "", "Je vous ai filmé via votre webcam. Vous avez 48 heures pour payer à mon adresse bitcoin."),
        ("data_possession", "en", "", "We are in possession of all your information and we have access to your device."),
        ("data_possession", "es", "", "Estamos en posesión de toda su información. Tengo acceso a tu dispositivo."),
        ("data_possession", "pt", "", "Temos todas as suas informações e acesso total ao seu dispositivo."),
        ("data_possession", "de", "", "Wir haben Ihre persönlichen Daten und ich habe Zugriff auf Ihr Gerät."),
        ("data_possession", "nl", "", "Wij zijn in het bezit van al uw gegevens. Ik heb toegang tot uw apparaat."),
        ("data_possession", "fr", "", "Nous avons toutes vos informations et j'ai accès à votre appareil."),
        ("election", "en", "", "Find your polling place before Election Day; registered voters may request an absentee ballot."),
        ("election", "es", "", "Consulte su centro de votación; los votantes registrados pueden pedir el voto por correo."),
        ("election", "pt", "", "Confira seu local de votação e leve o título de eleitor no dia da eleição."),
        ("election", "de", "", "Ihre Wahlbenachrichtigung nennt das Wahllokal; Briefwahl ist bis Freitag möglich."),
        ("election", "nl", "", "Neem uw stempas mee naar het stembureau op de dag van de verkiezingen."),
        ("election", "fr", "", "Votre bureau de vote est ouvert le jour du scrutin ; pensez à votre carte électorale."),
        ("credential_phishing", "en", "Action required", "Your password expires today. Verify your account to keep your current password."),
        ("credential_phishing", "es", "", "Su cuenta ha sido suspendida. Verifique su cuenta para restablecer el acceso."),
        ("credential_phishing", "pt", "", "Sua conta será bloqueada. Atualize seus dados e confirme sua identidade."),
        ("credential_phishing", "de", "", "Ihr Konto wurde gesperrt. Bestätigen Sie Ihre Identität, um es zu entsperren."),
        ("credential_phishing", "nl", "", "Uw rekening is geblokkeerd. Bevestig uw identiteit via onderstaande link."),
        ("credential_phishing", "fr", "", "Votre compte sera suspendu. Vérifiez votre compte et confirmez votre identité."),
        ("payment_fraud", "en", "", "Please note our bank details have changed. Kindly pay the overdue invoice by wire transfer."),
        ("payment_fraud", "es", "", "Le informamos del cambio de datos bancarios. Adjuntamos la factura vencida para su transferencia bancaria."),
        ("payment_fraud", "pt", "", "Segue o boleto vencido. Informamos a alteração de dados bancários para o pagamento pendente."),
        ("payment_fraud", "de", "", "Wir haben eine neue Bankverbindung. Bitte begleichen Sie die überfällige Rechnung; anbei die Rechnung."),
        ("payment_fraud", "nl", "", "Let op: gewijzigde bankgegevens. De openstaande factuur graag voldoen; laatste aanmaning."),
        ("payment_fraud", "fr", "", "Veuillez noter notre nouveau RIB. La facture impayée est jointe, merci d'effectuer le virement."),
        ("advance_fee", "en", "", "As the next of kin you will receive the inheritance fund of 10.5 million US dollars held in a dormant account."),
        ("advance_fee", "es", "", "Usted es el pariente más cercano y beneficiario de una herencia no reclamada de millones de dólares."),
        ("advance_fee", "pt", "", "Você é o parente mais próximo de uma herança não reclamada de milhões de dólares."),
        ("advance_fee", "de", "", "Sie sind der nächste Angehörige und Begünstigter eines nicht beanspruchtes Erbe von Millionen Euro."),
        ("advance_fee", "nl", "", "U bent de naaste verwant en begunstigde van een niet-opgeëiste erfenis van miljoen euro."),
        ("advance_fee", "fr", "", "Vous êtes le plus proche parent et bénéficiaire d'un héritage non réclamé de millions de dollars."),
        ("urgency", "en", "", "Final notice: act now, your account will be permanently deleted within 24 hours."),
        ("urgency", "es", "", "Último aviso: actúe ahora, en las próximas 24 horas su cuenta será eliminada."),
        ("urgency", "pt", "", "Último aviso: aja agora, nas próximas 24 horas sua conta será excluída."),
        ("urgency", "de", "", "Letzte Warnung: handeln Sie sofort, innerhalb von 24 Stunden wird Ihr Konto gelöscht."),
        ("urgency", "nl", "", "Laatste waarschuwing: binnen 24 uur wordt uw account permanent verwijderd."),
        ("urgency", "fr", "", "Dernier avertissement : agissez maintenant, dans les 24 heures votre compte sera supprimé."),
        ("spam", "en", "", "Online pharmacy: generic viagra without prescription, 100% free shipping."),
        ("spam", "es", "", "Farmacia online: compra sin receta y pierde peso rápido con nuestras pastillas para adelgazar."),
        ("spam", "pt", "", "Farmácia online sem receita: emagrecer rápido com pílulas para emagrecer."),
        ("spam", "de", "", "Online-Apotheke ohne Rezept: schnell abnehmen mit unseren Diätpillen."),
        ("spam", "nl", "", "Online apotheek zonder recept: snel afvallen met afslankpillen."),
        ("spam", "fr", "", "Pharmacie en ligne sans ordonnance : maigrir vite avec nos pilules minceur."),
        ("impersonal_greeting", "en", "", "Dear Customer, your statement is ready."),
        ("impersonal_greeting", "es", "", "Estimado cliente, su estado de cuenta está listo."),
        ("impersonal_greeting", "pt", "", "Prezado cliente, seu extrato está disponível."),
        ("impersonal_greeting", "de", "", "Sehr geehrter Kunde, Ihr Kontoauszug ist bereit."),
        ("impersonal_greeting", "nl", "", "Geachte klant, uw afschrift staat klaar."),
        ("impersonal_greeting", "fr", "", "Cher client, votre relevé est disponible."),
    ];

    #[test]
    fn every_classifier_fires_in_every_language() {
        let mut failures = Vec::new();
        for &(class, language, subject, text) in EXAMPLES {
            let signals = classify(Some(subject), text);
            if score(&signals, class) < 0.5 {
                failures.push(format!(
                    "{class}/{language}: {:?}",
                    signals.classes.get(class)
                ));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        for class in CLASSIFIERS {
            for language in LANGUAGES {
                assert!(
                    EXAMPLES.iter().any(|e| e.0 == class && e.1 == language),
                    "no example for {class}/{language}"
                );
            }
        }
    }

    #[test]
    fn voter_intimidation_fires_intimidation_data_possession_and_election() {
        let text = "You are currently registered as a Democrat and we know this because we have \
                    gained access into the entire voting infrastructure. You will vote for Trump \
                    on Election day or we will come after you.";
        let signals = classify(Some("Vote for Trump or else!"), text);
        for class in ["intimidation", "data_possession", "election"] {
            assert!(
                score(&signals, class) >= 0.5,
                "{class}: {:?}",
                signals.classes
            );
        }
        let phrases = signals
            .classes
            .get("intimidation")
            .map(|c| c.phrases.clone());
        // The longest matching phrase is the evidence ("or we will come after you").
        assert!(phrases.is_some_and(|p| p.iter().any(|x| x.ends_with("we will come after you"))));
    }

    #[test]
    fn county_elections_newsletter_fires_only_election() {
        let text = "The Franklin County Board of Elections reminds all registered voters that \
                    polling places are open from 6:30 a.m. to 7:30 p.m. on Election Day. Early \
                    voting begins October 8 at the elections office. To request an absentee \
                    ballot, visit our website or call our office. Poll workers are still needed; \
                    training sessions are held every Tuesday. Thank you for participating in our \
                    democracy.\n\nTo unsubscribe from this newsletter, click here.";
        let signals = classify(Some("Voting hours and early voting reminder"), text);
        assert!(score(&signals, "election") >= 0.5, "{:?}", signals.classes);
        for class in CLASSIFIERS.iter().filter(|c| **c != "election") {
            assert!(
                score(&signals, class) < 0.5,
                "{class}: {:?}",
                signals.classes
            );
        }
        assert_eq!(signals.language.as_deref(), Some("en"));
    }

    #[test]
    fn ordinary_business_mail_fires_nothing() {
        let text = "Hi Anna,\n\nthanks for sending the slides. I've added the Q3 numbers and a \
                    short section on the new warehouse in Rotterdam. Could you check the figures \
                    on page 4 before Thursday's meeting? The invoice from the printer arrived, I \
                    forwarded it to accounting. Please log in to the shared drive to see the \
                    latest version.\n\nBest regards,\nTom";
        let signals = classify(Some("Re: slides for Thursday"), text);
        for (class, s) in &signals.classes {
            assert!(s.score < 0.5, "{class}: {s:?}");
        }
    }

    const WORD_LEXICON: &str = "classifier = \"words\"\ndescription = \"test\"\n[[phrases]]\nweight = 0.5\nen = [\"scam\", \"gênant\", \"100%\"]\n";

    #[test]
    fn phrases_match_whole_words_only() {
        let c = classifiers(&[WORD_LEXICON]);
        assert!(c
            .classify(None, "We ate scampi and ascam.")
            .classes
            .is_empty());
        let hit = c.classify(None, "This is a scam!");
        assert_eq!(
            hit.classes.get("words").map(|s| s.phrases.clone()),
            Some(vec!["scam".to_string()])
        );
        // A phrase ending in punctuation needs no boundary after it.
        assert!(c.classify(None, "100%free").classes.contains_key("words"));
    }

    #[test]
    fn accents_case_zero_width_and_whitespace_are_folded() {
        let c = classifiers(&[WORD_LEXICON]);
        assert!(c
            .classify(None, "c'est GENANT")
            .classes
            .contains_key("words"));
        assert!(c
            .classify(None, "S\u{200B}CAM")
            .classes
            .contains_key("words"));
        let signals = classify(None, "SUA   CONTA\n SERÁ\tBLOQUEADA");
        assert!(signals
            .classes
            .get("urgency")
            .is_some_and(|c| c.phrases.iter().any(|p| p == "sera bloqueada")));
        assert_eq!(
            fold("  Straße\u{00A0}ÉTÉ \u{2019}n\u{2014}x  "),
            "strasse ete 'n-x"
        );
        // Cyrillic lookalikes inside Latin words.
        assert_eq!(fold("lоg іn to your acсоuпt"), "log in to your account");
        assert_eq!(
            fold("Your_transfer__0.7495_BTC"),
            "your transfer 0.7495 btc"
        );
    }

    #[test]
    fn each_phrase_counts_once_and_nested_phrases_do_not_add_up() {
        let once = classify(None, "verify your account");
        let thrice = classify(
            None,
            "verify your account. verify your account. verify your account",
        );
        assert_eq!(
            once.classes.get("credential_phishing"),
            thrice.classes.get("credential_phishing")
        );
        let phrases = once
            .classes
            .get("credential_phishing")
            .map(|c| c.phrases.clone());
        // "account" and "verify" (weak words) lie inside the longer hit.
        assert_eq!(phrases, Some(vec!["verify your account".to_string()]));
    }

    #[test]
    fn a_subject_hit_weighs_more_than_a_body_hit() {
        let body = classify(Some("hello"), "Verify your account");
        let subject = classify(Some("Verify your account"), "hello");
        assert!(score(&subject, "credential_phishing") > score(&body, "credential_phishing"));
        // Phrases do not span the subject/body seam.
        let seam = classify(Some("please verify your"), "account today");
        assert!(!seam
            .classes
            .get("credential_phishing")
            .is_some_and(|c| c.phrases.iter().any(|p| p == "verify your account")));
    }

    #[test]
    fn text_beyond_the_cap_is_not_read() {
        let mut text = "lorem ipsum ".repeat(MAX_TEXT_BYTES / 12 + 10);
        text.push_str(" we know where you live");
        assert!(!classify(None, &text).classes.contains_key("intimidation"));
    }

    #[test]
    fn bitcoin_addresses_need_a_valid_checksum() {
        for valid in [
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        ] {
            assert!(valid_bitcoin_address(valid), "{valid}");
        }
        for invalid in [
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8F3t4",
            "1111111111111111111111111111111111",
            "13KmxPq8Zr7wYbN2LcDf4HgJ5TuVaWsEoR",
        ] {
            assert!(!valid_bitcoin_address(invalid), "{invalid}");
        }
        let text = "Send 0.1 BTC to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa now. Tracking id \
                    13KmxPq8Zr7wYbN2LcDf4HgJ5TuVaWsEoR, again 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.";
        let signals = classify(None, text);
        assert_eq!(
            signals.crypto_addresses,
            vec!["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]
        );
        assert!(signals
            .classes
            .get("extortion")
            .is_some_and(|c| c.phrases.iter().any(|p| p == "bitcoin address")));
    }

    #[test]
    fn ethereum_addresses_need_wallet_context() {
        let address = "0x52908400098527886E0F7030069857D2E4169EE7";
        let bare = classify(None, &format!("tracking pixel id={address}"));
        assert!(bare.crypto_addresses.is_empty());
        let wallet = classify(None, &format!("Send 1 ETH to my wallet {address}"));
        assert_eq!(wallet.crypto_addresses, vec![address.to_string()]);
    }

    #[test]
    fn large_sums_are_found_when_triggered() {
        let signals = classify(None, "the sum of US$ 10.5 million is waiting");
        assert!(signals
            .classes
            .get("advance_fee")
            .is_some_and(|c| c.phrases.iter().any(|p| p == "large sum in millions")));
    }

    #[test]
    fn language_is_reported_when_clear() {
        let en = "Hello, this is a message about the meeting that we will have on Monday. \
                  Please bring your notes and the report from last week, if you can.";
        assert_eq!(classify(None, en).language.as_deref(), Some("en"));
        let pt = "Olá, esta mensagem é sobre a reunião que vamos ter na segunda-feira. Por \
                  favor traga as suas notas e o relatório da semana passada, se você puder.";
        assert_eq!(classify(None, pt).language.as_deref(), Some("pt"));
        let it = "Buongiorno, questo messaggio riguarda la riunione di lunedì prossimo. Porta \
                  per favore i tuoi appunti e la relazione della settimana scorsa, perché è \
                  importante che tutti siano preparati e che la discussione sia più rapida.";
        assert_eq!(classify(None, it).language.as_deref(), Some("it"));
        assert_eq!(classify(None, "ok").language, None);
    }

    #[test]
    fn signals_round_trip_through_json() {
        let signals = classify(
            Some("Urgent"),
            "We know where you live. Send bitcoin to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        );
        let json = serde_json::to_string(&signals).unwrap_or_default();
        let back: Result<ContentSignals, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(signals));
    }

    fn error_of(text: &str) -> LexiconError {
        match parse_lexicon(text, "user/x.toml") {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn loader_errors_carry_line_and_column() {
        let syntax = error_of("classifier = \"x\"\ndescription = \"d\"\n[[phrases]]\nweight = \n");
        assert_eq!((syntax.origin.as_str(), syntax.line), ("user/x.toml", 4));
        let weight = error_of(
            "classifier = \"x\"\ndescription = \"d\"\n[[phrases]]\nweight = 1.5\nen = [\"a\"]\n",
        );
        assert_eq!((weight.line, weight.column), (4, 10));
        assert!(weight.message.contains("weight"), "{weight}");
        let regex = error_of("classifier = \"x\"\ndescription = \"d\"\n[[patterns]]\nname = \"n\"\nweight = 0.5\nregex = '(unclosed'\n");
        assert_eq!((regex.line, regex.column), (6, 9));
        assert!(
            regex.to_string().starts_with("user/x.toml:6:9: bad regex"),
            "{regex}"
        );
        let check = error_of("classifier = \"x\"\ndescription = \"d\"\n[[patterns]]\nname = \"n\"\nweight = 0.5\nregex = 'a'\ncheck = \"luhn\"\n");
        assert_eq!((check.line, check.column), (7, 9));
        let unknown = error_of(
            "classifier = \"x\"\ndescription = \"d\"\n[[phrases]]\nweight = 0.5\nit = [\"ciao\"]\n",
        );
        assert_eq!(unknown.line, 5, "{unknown}");
        let empty = error_of("classifier = \"x\"\ndescription = \"d\"\n[[phrases]]\nweight = 0.5\nen = [\"ok\", \"  \"]\n");
        assert_eq!((empty.line, empty.column), (5, 13));
        let name = error_of("classifier = \"Bad Name\"\ndescription = \"d\"\n");
        assert_eq!((name.line, name.column), (1, 14));
        let twice = Classifiers::from_lexicons(vec![lexicon(WORD_LEXICON), lexicon(WORD_LEXICON)]);
        assert!(twice.is_err_and(|e| e.line == 1 && e.column == 14 && e.message.contains("twice")));
    }

    proptest! {
        #[test]
        fn classify_never_panics(subject in ".{0,80}", text in ".{0,600}") {
            let signals = classify(Some(&subject), &text);
            for s in signals.classes.values() {
                prop_assert!((0.0..=1.0).contains(&s.score));
                prop_assert!(s.phrases.len() <= MAX_PHRASES_REPORTED);
            }
        }

        /// ASCII folds to its words, lower-cased, one space apart; and
        /// folding is the same whether text comes whole or word by word.
        #[test]
        fn folding_ascii_is_lower_case_words(text in "[ -~\t\r\n_]{0,200}") {
            let words: Vec<String> = text
                .split(|c: char| c.is_ascii_whitespace() || c.is_ascii_control() || c == '_')
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            prop_assert_eq!(fold(&text), words.join(" "));
        }

        #[test]
        fn folding_mixed_text_is_idempotent(text in "[a-zA-Z _\u{c0}-\u{17f}\u{400}-\u{44f}\u{2018}-\u{201e}\u{200b}]{0,120}") {
            let once = fold(&text);
            prop_assert_eq!(fold(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            prop_assert!(!once.bytes().any(|b| b.is_ascii_uppercase()));
        }

        #[test]
        fn parse_lexicon_never_panics(text in ".{0,300}") {
            let _ = parse_lexicon(&text, "fuzz");
        }

        #[test]
        fn bitcoin_check_never_panics(text in "[13bBcC][a-zA-Z0-9]{0,90}") {
            let _ = valid_bitcoin_address(&text);
        }
    }
}
