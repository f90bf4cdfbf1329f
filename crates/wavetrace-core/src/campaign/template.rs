//! The template behind a campaign: the text its members share, with the
//! parts that vary as typed slots.
//!
//! Method: the members' texts (quotes stripped, invisible and confusable
//! characters cleaned) are split into tokens; the text of median length is
//! the reference, and every other text is aligned to it by longest common
//! subsequence. A reference token found in at least [`CONSTANT_SHARE`] of the
//! texts is template text; the stretches between template tokens are slots.
//! For each slot the values the texts put there are collected; a slot whose
//! values are all equal is text after all. Each slot's type is the majority
//! type of its values (`name`, `street_address`, `email`, `phone`, `number`,
//! `amount`, `date`, `url`, `token`, `other`), and the number of distinct
//! values says how the campaign was personalised: one value per recipient
//! means a data set with that field; three values means wording variants.
//!
//! At most [`MAX_TEXTS`] texts (evenly spread over the sorted distinct texts)
//! and [`MAX_TOKENS`] tokens per text are aligned, which bounds the cost.

use serde::{Deserialize, Serialize};

use super::normalise::{
    clean_characters, is_random_string, looks_like_date, strip_quoted, CURRENCY_CODES,
    CURRENCY_SYMBOLS, STREET_SUFFIXES,
};

/// Share of texts that must contain a reference token for it to be template text.
pub const CONSTANT_SHARE: f64 = 0.9;

/// Share of texts that must put something in a gap for it to be a slot:
/// hash-busting tokens inserted at random places fill each gap in only a few
/// texts and are noise, not a field of the template.
pub const MIN_SLOT_SHARE: f64 = 0.2;

/// Most texts aligned for one template.
pub const MAX_TEXTS: usize = 64;

/// Most tokens per text aligned.
pub const MAX_TOKENS: usize = 1_500;

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotType {
    /// A personal name.
    Name,
    /// A street address.
    StreetAddress,
    /// An e-mail address.
    Email,
    /// A telephone number.
    Phone,
    /// A number.
    Number,
    /// A money amount.
    Amount,
    /// A date.
    Date,
    /// A URL.
    Url,
    /// A random or tracking token.
    Token,
    /// Anything else: wording variants, filler.
    Other,
}

impl SlotType {
    /// The type's name as written in templates and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotType::Name => "name",
            SlotType::StreetAddress => "street_address",
            SlotType::Email => "email",
            SlotType::Phone => "phone",
            SlotType::Number => "number",
            SlotType::Amount => "amount",
            SlotType::Date => "date",
            SlotType::Url => "url",
            SlotType::Token => "token",
            SlotType::Other => "other",
        }
    }
}

/// One part of a template: shared text or a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateSegment {
    /// Text every member shares.
    Text {
        /// The text.
        text: String,
    },
    /// A part that varies between members.
    Slot {
        /// The slot's name in [`Template::text`] (its type, numbered from
        /// the second slot of a type on: `name`, `name_2`).
        slot: String,
        /// What the slot holds.
        #[serde(rename = "type")]
        slot_type: SlotType,
        /// How many distinct values members put there.
        distinct_values: usize,
    },
}

/// A campaign's template.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Template {
    /// Text and slots in order.
    pub segments: Vec<TemplateSegment>,
    /// The template as one string, slots as `{slot}` and literal braces doubled.
    pub text: String,
}

/// One token of a text with whether a space preceded it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    space_before: bool,
}

/// Splits text into tokens: whitespace-separated chunks with trailing
/// sentence punctuation and surrounding quotes as tokens of their own.
fn tokenise(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let mut core = chunk;
        let mut leading = Vec::new();
        while let Some(c) = core.chars().next().filter(|c| matches!(c, '"' | '\'')) {
            leading.push(c.to_string());
            core = &core[c.len_utf8()..];
        }
        let mut trailing = Vec::new();
        while let Some(c) = core
            .chars()
            .last()
            .filter(|c| matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '"' | '\''))
        {
            trailing.push(c.to_string());
            core = &core[..core.len() - c.len_utf8()];
        }
        let mut first = true;
        for t in leading
            .into_iter()
            .chain((!core.is_empty()).then(|| core.to_string()))
            .chain(trailing.into_iter().rev())
        {
            out.push(Token {
                text: t,
                space_before: first,
            });
            first = false;
        }
        if out.len() >= MAX_TOKENS {
            out.truncate(MAX_TOKENS);
            break;
        }
    }
    merge_written_dates(out)
}

/// True for a month name or its three-letter abbreviation.
fn is_month(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.len() >= 3
        && MONTHS.iter().any(|m| lower.starts_with(m))
        && LONG_MONTHS.iter().any(|m| m.starts_with(&lower))
}

/// Full month names, to check a word is a month and not "Mayor".
const LONG_MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Joins written dates ("October 3, 2020", "3 Oct 2020") into one token so a
/// date slot is one slot, not a month in the text and a number slot.
fn merge_written_dates(tokens: Vec<Token>) -> Vec<Token> {
    let digits = |t: Option<&Token>, lens: &[usize]| {
        t.is_some_and(|t| {
            lens.contains(&t.text.len()) && t.text.chars().all(|c| c.is_ascii_digit())
        })
    };
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = |k: usize| tokens.get(i + k);
        let len = if t(0).is_some_and(|w| is_month(&w.text)) && digits(t(1), &[1, 2]) {
            if t(2).is_some_and(|c| c.text == ",") && digits(t(3), &[4]) {
                4
            } else if digits(t(2), &[4]) {
                3
            } else {
                2
            }
        } else if digits(t(0), &[1, 2])
            && t(1).is_some_and(|w| is_month(&w.text))
            && digits(t(2), &[4])
        {
            3
        } else {
            1
        };
        let merged = tokens[i..(i + len).min(tokens.len())].to_vec();
        if let Some(first) = merged.first() {
            out.push(Token {
                text: join(&merged),
                space_before: first.space_before,
            });
        }
        i += len;
    }
    out
}

/// Texts whose alignment table is at most this big are aligned exactly.
const EXACT_ALIGN_CELLS: usize = 1 << 18;

/// For each token of `reference`, the index of the token of `other` it is
/// aligned with. Exact longest common subsequence for short texts; for long
/// ones, patience-style: tokens that occur once in each text are
/// anchors (their longest increasing run), and only the gaps between anchors
/// go through the quadratic longest-common-subsequence table. Copies of one
/// template share most of their words, so the gaps are small and the cost is
/// near linear instead of n*m per member.
fn align(reference: &[u32], other: &[u32]) -> Vec<Option<usize>> {
    // Short texts: the exact table is cheap and aligns slots best.
    if reference.len() * other.len() <= EXACT_ALIGN_CELLS {
        return lcs_align(reference, other);
    }
    let mut out = vec![None; reference.len()];
    let mut once_ref: std::collections::HashMap<u32, Option<usize>> =
        std::collections::HashMap::new();
    for (i, t) in reference.iter().enumerate() {
        once_ref
            .entry(*t)
            .and_modify(|v| *v = None)
            .or_insert(Some(i));
    }
    let mut once_other: std::collections::HashMap<u32, Option<usize>> =
        std::collections::HashMap::new();
    for (j, t) in other.iter().enumerate() {
        once_other
            .entry(*t)
            .and_modify(|v| *v = None)
            .or_insert(Some(j));
    }
    // Unique pairs in reference order; keep the longest run increasing in `other`.
    let pairs: Vec<(usize, usize)> = reference
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let j = (*once_other.get(t)?)?;
            once_ref.get(t).copied().flatten().map(|_| (i, j))
        })
        .collect();
    let anchors = longest_increasing(&pairs);
    let (mut ri, mut oj) = (0, 0);
    for &(i, j) in anchors
        .iter()
        .chain(std::iter::once(&(reference.len(), other.len())))
    {
        for (k, m) in lcs_align(&reference[ri..i], &other[oj..j])
            .into_iter()
            .enumerate()
        {
            out[ri + k] = m.map(|m| oj + m);
        }
        if i < reference.len() {
            out[i] = Some(j);
        }
        ri = i + 1;
        oj = j + 1;
    }
    out
}

/// The longest subsequence of `pairs` (sorted by `.0`) increasing in `.1`.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut tails: Vec<usize> = Vec::new(); // index into pairs of the tail of each length
    let mut prev: Vec<Option<usize>> = vec![None; pairs.len()];
    for (k, &(_, j)) in pairs.iter().enumerate() {
        let pos = tails.partition_point(|&t| pairs[t].1 < j);
        prev[k] = pos.checked_sub(1).map(|p| tails[p]);
        if pos == tails.len() {
            tails.push(k);
        } else {
            tails[pos] = k;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied();
    while let Some(k) = cur {
        out.push(pairs[k]);
        cur = prev[k];
    }
    out.reverse();
    out
}

/// Longest-common-subsequence alignment of two (short) token runs.
fn lcs_align(reference: &[u32], other: &[u32]) -> Vec<Option<usize>> {
    let (n, m) = (reference.len(), other.len());
    let width = m + 1;
    let mut table = vec![0u16; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i * width + j] = if reference[i] == other[j] {
                table[(i + 1) * width + j + 1].saturating_add(1)
            } else {
                table[(i + 1) * width + j].max(table[i * width + j + 1])
            };
        }
    }
    let mut out = vec![None; n];
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if reference[i] == other[j] {
            out[i] = Some(j);
            i += 1;
            j += 1;
        } else if table[(i + 1) * width + j] >= table[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Joins tokens back into text.
fn join(tokens: &[Token]) -> String {
    let mut s = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && t.space_before {
            s.push(' ');
        }
        s.push_str(&t.text);
    }
    s
}

/// Recovers the template of a campaign from its members' texts (see the
/// module documentation). Fewer than two distinct texts give the text itself
/// with no slots; no texts give an empty template.
pub fn template(texts: &[&str]) -> Template {
    let mut cleaned: Vec<String> = texts
        .iter()
        .map(|t| clean_characters(&strip_quoted(t)))
        .collect();
    let total = cleaned.len();
    cleaned.sort();
    let sample: Vec<&String> = if cleaned.len() > MAX_TEXTS {
        (0..MAX_TEXTS)
            .filter_map(|i| cleaned.get(i * cleaned.len() / MAX_TEXTS))
            .collect()
    } else {
        cleaned.iter().collect()
    };
    let tokenised: Vec<Vec<Token>> = sample.iter().map(|t| tokenise(t)).collect();
    let mut by_length: Vec<usize> = (0..tokenised.len()).collect();
    by_length.sort_by_key(|&i| (tokenised[i].len(), i));
    let Some(&reference_at) = by_length.get(by_length.len() / 2) else {
        return Template::default();
    };
    let reference = &tokenised[reference_at];
    if total < 2 {
        return render(vec![Part::Text(reference.clone())]);
    }

    // Tokens as small integers: the alignment compares them n*m times.
    let mut ids: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let token_ids: Vec<Vec<u32>> = tokenised
        .iter()
        .map(|t| {
            t.iter()
                .map(|tok| {
                    let next = ids.len() as u32;
                    *ids.entry(tok.text.as_str()).or_insert(next)
                })
                .collect()
        })
        .collect();
    let alignments: Vec<Vec<Option<usize>>> = token_ids
        .iter()
        .enumerate()
        .map(|(k, t)| {
            if k == reference_at {
                (0..reference.len()).map(Some).collect()
            } else {
                align(&token_ids[reference_at], t)
            }
        })
        .collect();
    let needed = (CONSTANT_SHARE * tokenised.len() as f64).ceil() as usize;
    let constant: Vec<usize> = (0..reference.len())
        .filter(|&i| {
            alignments
                .iter()
                .filter(|a| a.get(i).copied().flatten().is_some())
                .count()
                >= needed.max(1)
        })
        .collect();

    // Gap g lies before constant g (g == constant.len(): after the last one).
    let mut parts: Vec<Part> = Vec::new();
    for g in 0..=constant.len() {
        let values: Vec<Option<Vec<Token>>> = tokenised
            .iter()
            .zip(&alignments)
            .map(|(text, alignment)| gap_value(text, alignment, &constant, g))
            .collect();
        let known: Vec<&Vec<Token>> = values.iter().flatten().collect();
        let filled = known.iter().filter(|v| !v.is_empty()).count();
        if (filled as f64) < MIN_SLOT_SHARE * tokenised.len() as f64 {
            if let Some(&c) = constant.get(g) {
                if let Some(token) = reference.get(c) {
                    push_text(&mut parts, std::slice::from_ref(token));
                }
            }
            continue;
        }
        let mut distinct: Vec<String> = known.iter().map(|v| join(v)).collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() >= 2 {
            let space_before = known
                .iter()
                .find(|v| !v.is_empty())
                .and_then(|v| v.first())
                .is_none_or(|t| t.space_before);
            parts.push(Part::Slot {
                slot_type: slot_type_of(&known),
                distinct: distinct.len(),
                space_before,
            });
        } else if let Some(value) = known.first().filter(|v| !v.is_empty()) {
            push_text(&mut parts, value);
        }
        if let Some(&c) = constant.get(g) {
            if let Some(token) = reference.get(c) {
                push_text(&mut parts, std::slice::from_ref(token));
            }
        }
    }
    render(parts)
}

/// Whether a slot's values differ from member to member, as a data set's
/// field does (a name per recipient), rather than being a few wording
/// variants: at least three distinct values, in at least half of the texts
/// the template was built from (at most [`MAX_TEXTS`]).
pub fn varies_per_member(distinct_values: usize, members: usize) -> bool {
    distinct_values >= 3 && distinct_values * 2 >= members.min(MAX_TEXTS)
}

/// Tokens of a slot's neighbouring text that locate it in a member's text.
const FILL_ANCHOR: usize = 3;
/// Most tokens taken as one slot value (a slot at the very end of the
/// template would otherwise take the member's whole tail).
const MAX_FILL_TOKENS: usize = 16;

/// The values one member's text puts in the template's slots: for each slot
/// whose neighbouring template text (up to [`FILL_ANCHOR`] tokens each side)
/// is found in the text, in order, the tokens between. Slots whose anchors
/// are not found are left out. Exports use this to find the personal values
/// (names, street addresses, phones) a campaign filled in per recipient.
pub fn fill(template: &Template, text: &str) -> Vec<(String, SlotType, String)> {
    let tokens = tokenise(&clean_characters(&strip_quoted(text)));
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    let segment_tokens: Vec<Vec<String>> = template
        .segments
        .iter()
        .map(|s| match s {
            TemplateSegment::Text { text } => tokenise(text).into_iter().map(|t| t.text).collect(),
            TemplateSegment::Slot { .. } => Vec::new(),
        })
        .collect();
    let mut values = Vec::new();
    let mut pos = 0;
    for (i, segment) in template.segments.iter().enumerate() {
        let TemplateSegment::Slot {
            slot, slot_type, ..
        } = segment
        else {
            continue;
        };
        let before = i.checked_sub(1).map_or(&[][..], |p| &segment_tokens[p][..]);
        let after = segment_tokens.get(i + 1).map_or(&[][..], |n| &n[..]);
        let left = &before[before.len().saturating_sub(FILL_ANCHOR)..];
        let right = &after[..after.len().min(FILL_ANCHOR)];
        let Some(start) = find_tokens(&words, left, pos).map(|at| at + left.len()) else {
            continue;
        };
        let end = if right.is_empty() {
            Some(words.len().min(start + MAX_FILL_TOKENS))
        } else {
            find_tokens(&words, right, start)
        };
        let Some(end) = end.filter(|&e| e > start && e - start <= MAX_FILL_TOKENS) else {
            continue;
        };
        values.push((slot.clone(), *slot_type, join(&tokens[start..end])));
        pos = end;
    }
    values
}

/// Where `needle` first occurs in `words` at or after `from`; an empty
/// needle is found at `from`.
fn find_tokens(words: &[&str], needle: &[String], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= words.len()).then_some(from);
    }
    (from..=words.len().checked_sub(needle.len())?).find(|&at| {
        words[at..at + needle.len()]
            .iter()
            .zip(needle)
            .all(|(w, n)| *w == n)
    })
}

/// A template part before naming.
enum Part {
    Text(Vec<Token>),
    Slot {
        slot_type: SlotType,
        distinct: usize,
        space_before: bool,
    },
}

/// Appends tokens to the last text part, or starts one.
fn push_text(parts: &mut Vec<Part>, tokens: &[Token]) {
    if let Some(Part::Text(last)) = parts.last_mut() {
        last.extend_from_slice(tokens);
    } else {
        parts.push(Part::Text(tokens.to_vec()));
    }
}

/// The tokens a text puts in gap `g`, when both bounding template tokens are
/// found in it; `None` when they are not (the value is unknown).
fn gap_value(
    text: &[Token],
    alignment: &[Option<usize>],
    constant: &[usize],
    g: usize,
) -> Option<Vec<Token>> {
    let start = if g == 0 {
        Some(0)
    } else {
        constant
            .get(g - 1)
            .and_then(|&c| alignment.get(c).copied().flatten())
            .map(|p| p + 1)
    };
    let end = match constant.get(g) {
        Some(&c) => alignment.get(c).copied().flatten(),
        None => Some(text.len()),
    };
    let (start, end) = (start?, end?);
    text.get(start..end.max(start)).map(<[Token]>::to_vec)
}

/// Names the slots and renders segments and text.
fn render(parts: Vec<Part>) -> Template {
    let mut segments = Vec::new();
    let mut text = String::new();
    let mut counts: std::collections::HashMap<SlotType, usize> = std::collections::HashMap::new();
    for part in parts {
        match part {
            Part::Text(tokens) => {
                let mut t = join(&tokens);
                if !text.is_empty() && tokens.first().is_some_and(|t| t.space_before) {
                    t.insert(0, ' ');
                }
                text.push_str(&t.replace('{', "{{").replace('}', "}}"));
                segments.push(TemplateSegment::Text { text: t });
            }
            Part::Slot {
                slot_type,
                distinct,
                space_before,
            } => {
                let n = counts.entry(slot_type).or_insert(0);
                *n += 1;
                let slot = if *n == 1 {
                    slot_type.as_str().to_string()
                } else {
                    format!("{}_{}", slot_type.as_str(), n)
                };
                if !text.is_empty() && space_before {
                    text.push(' ');
                    if let Some(TemplateSegment::Text { text: last }) = segments.last_mut() {
                        last.push(' ');
                    }
                }
                text.push('{');
                text.push_str(&slot);
                text.push('}');
                segments.push(TemplateSegment::Slot {
                    slot,
                    slot_type,
                    distinct_values: distinct,
                });
            }
        }
    }
    Template { segments, text }
}

/// The majority type of a slot's non-empty values; `Other` without a majority.
fn slot_type_of(values: &[&Vec<Token>]) -> SlotType {
    let mut counts: std::collections::BTreeMap<SlotType, usize> = std::collections::BTreeMap::new();
    let mut total = 0;
    for v in values.iter().filter(|v| !v.is_empty()) {
        *counts.entry(classify_value(&join(v))).or_insert(0) += 1;
        total += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(t, n)| (n, std::cmp::Reverse(t)))
        .filter(|&(_, n)| n * 2 > total)
        .map_or(SlotType::Other, |(t, _)| t)
}

/// Words that start greetings and closings, never names.
const NOT_NAMES: [&str; 14] = [
    "hello",
    "hi",
    "hey",
    "greetings",
    "dear",
    "good",
    "regards",
    "sincerely",
    "thanks",
    "thank",
    "best",
    "welcome",
    "attention",
    "urgent",
];

/// Month names and abbreviations, for written dates.
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The type of one slot value.
pub fn classify_value(value: &str) -> SlotType {
    let v = value
        .trim()
        .trim_end_matches(['.', ',', ';', ':', '!', '?']);
    let lower = v.to_ascii_lowercase();
    let words: Vec<&str> = v.split_whitespace().collect();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let letters = v.chars().filter(|c| c.is_alphabetic()).count();
    if words.len() == 1 && (lower.contains("://") || lower.starts_with("www.")) {
        return SlotType::Url;
    }
    if words.len() == 1
        && lower
            .find('@')
            .is_some_and(|at| at > 0 && lower[at + 1..].contains('.'))
    {
        return SlotType::Email;
    }
    if digits > 0
        && (v.starts_with(CURRENCY_SYMBOLS)
            || v.ends_with(CURRENCY_SYMBOLS)
            || words.len() <= 2
                && words
                    .iter()
                    .any(|w| CURRENCY_CODES.contains(&w.to_ascii_lowercase().as_str())))
    {
        return SlotType::Amount;
    }
    if words.len() == 1 && looks_like_date(v) {
        return SlotType::Date;
    }
    if (2..=3).contains(&words.len())
        && digits > 0
        && words
            .iter()
            .any(|w| MONTHS.iter().any(|m| w.to_ascii_lowercase().starts_with(m)))
        && words.iter().all(|w| {
            w.chars().any(char::is_alphabetic)
                || w.trim_end_matches(',').chars().all(|c| c.is_ascii_digit())
        })
    {
        return SlotType::Date;
    }
    if digits >= 7
        && letters == 0
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return SlotType::Phone;
    }
    if digits > 0
        && letters == 0
        && words.len() == 1
        && v.chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return SlotType::Number;
    }
    if words.len() >= 3 && words[0].chars().all(|c| c.is_ascii_digit()) {
        let street = words[1..].iter().any(|w| {
            STREET_SUFFIXES.contains(&w.trim_end_matches([',', '.']).to_ascii_lowercase().as_str())
        });
        if street {
            return SlotType::StreetAddress;
        }
    }
    if words.len() == 1 && v.len() >= 5 && (digits > 0 && letters > 0 || is_random_string(v)) {
        return SlotType::Token;
    }
    if (1..=4).contains(&words.len())
        && !words
            .iter()
            .any(|w| NOT_NAMES.contains(&w.trim_end_matches(',').to_lowercase().as_str()))
        && words.iter().all(|w| {
            let w = w.trim_end_matches(',');
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.')
        })
    {
        return SlotType::Name;
    }
    SlotType::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personalised_letters_give_typed_slots() {
        let texts = [
            "Dear Jane Doe, your ballot for 12 Elm Street is pending. Pay $4.99 by 10/03/2020 at https://v.example/a1 or call 555-010-2030.",
            "Dear Omar Haddad, your ballot for 7 Birch Lane is pending. Pay $2.50 by 10/05/2020 at https://v.example/b2 or call 555-010-9999.",
            "Dear Li Wei, your ballot for 301 North Oak Avenue is pending. Pay $7.10 by 10/04/2020 at https://v.example/c3 or call 555-011-0000.",
        ];
        let t = template(&texts);
        assert_eq!(
            t.text,
            "Dear {name}, your ballot for {street_address} is pending. Pay {amount} by {date} at {url} or call {phone}."
        );
        assert!(t.segments.contains(&TemplateSegment::Slot {
            slot: "name".into(),
            slot_type: SlotType::Name,
            distinct_values: 3
        }));
    }

    #[test]
    fn fill_recovers_each_members_values() {
        let texts = [
            "Dear Jane Doe, your ballot for 12 Elm Street is pending. Call 555-010-2030.",
            "Dear Omar Haddad, your ballot for 7 Birch Lane is pending. Call 555-010-9999.",
            "Dear Li Wei, your ballot for 301 North Oak Avenue is pending. Call 555-011-0000.",
        ];
        let t = template(&texts);
        let member =
            "Dear  Ada\nLovelace, your ballot for 9 Rue Street is pending.\nCall 555-000-1111.";
        let values: Vec<(SlotType, String)> = fill(&t, member)
            .into_iter()
            .map(|(_, ty, v)| (ty, v))
            .collect();
        assert_eq!(
            values,
            [
                (SlotType::Name, "Ada Lovelace".to_string()),
                (SlotType::StreetAddress, "9 Rue Street".to_string()),
                (SlotType::Phone, "555-000-1111".to_string()),
            ]
        );
        // A text that is not the template's fills nothing.
        assert!(fill(&t, "Something else entirely.").is_empty());
    }

    #[test]
    fn wording_variants_and_tokens() {
        let texts = [
            "Hello friend, act now ref XK29QZ7 to claim.",
            "Hi friend, act now ref PL88MN2 to claim.",
            "Greetings friend, act now ref AB12CD3 to claim.",
            "Hello friend, act now ref ZZ00YY1 to claim.",
        ];
        let t = template(&texts);
        assert_eq!(t.text, "{other} friend, act now ref {token} to claim.");
        assert_eq!(
            t.segments[0],
            TemplateSegment::Slot {
                slot: "other".into(),
                slot_type: SlotType::Other,
                distinct_values: 3
            }
        );
    }

    #[test]
    fn braces_are_doubled_and_repeated_types_numbered() {
        let t = template(&["a {b} 1 c 2", "a {b} 3 c 4"]);
        assert_eq!(t.text, "a {{b}} {number} c {number_2}");
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(template(&[]), Template::default());
        assert_eq!(template(&["only one"]).text, "only one");
        assert_eq!(template(&["", ""]).text, "");
        let json = serde_json::to_string(&template(&["x 1", "x 2"])).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"segments":[{"text":"x "},{"slot":"number","type":"number","distinct_values":2}],"text":"x {number}"}"#
        );
    }

    #[test]
    fn random_insertions_are_not_slots_and_written_dates_are_one() {
        let texts = [
            "Vote by October 3, 2020 xq7 please act now",
            "Vote by October 5, 2020 please act k2z9 now",
            "Vote by October 4, 2020 please act now",
            "Vote by October 9, 2020 please act now",
            "Vote by October 1, 2020 please zz81 act now",
            "Vote by October 2, 2020 please act now",
        ];
        assert_eq!(template(&texts).text, "Vote by {date} please act now");
    }

    #[test]
    fn value_types() {
        assert_eq!(classify_value("October 3, 2020"), SlotType::Date);
        assert_eq!(classify_value("jane.doe@mail.example"), SlotType::Email);
        assert_eq!(classify_value("0.0421 BTC"), SlotType::Amount);
        assert_eq!(classify_value("48213"), SlotType::Number);
        assert_eq!(classify_value("Mary-Ann O'Neil"), SlotType::Name);
        assert_eq!(classify_value("quick brown fox"), SlotType::Other);
    }
}
