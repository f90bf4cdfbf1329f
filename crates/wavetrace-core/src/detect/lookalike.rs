//! Look-alike names and domains: the pure building blocks of impersonation matching.
//!
//! Phishing imitates a trusted name in two places: the display name a reader sees
//! (`"PаyPаl Service"` with a Cyrillic `а`) and the domains a reader or a filter
//! checks (`paypa1.com`, `xn--80ak6aa92e.com`, `paypal-security-login.com`). This
//! module turns both into comparable forms and names the technique that turned a
//! genuine domain into the one seen. Which names and domains are protected is the
//! business of [`super::entities`].
//!
//! Everything here is a pure function of its input; inputs are truncated to a few
//! hundred characters, so hostile text cannot make the work grow without bound.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// How a domain imitates a protected one. Written into records: the names are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Technique {
    /// Internationalised (non-ASCII or `xn--`) label whose confusable skeleton equals a
    /// protected label: `xn--80ak6aa92e.com` shows as "аррӏе.com".
    Homograph,
    /// ASCII label that looks the same after folding confusables: `paypa1`, `rnicrosoft`.
    Confusable,
    /// Damerau-Levenshtein distance 1 (2 for labels of 9 or more) that is none of the
    /// named typo kinds below, e.g. a substituted letter: `paypai`.
    EditDistance,
    /// Two adjacent characters transposed: `paypla`.
    Swap,
    /// One character left out: `paypl`.
    Omission,
    /// One character doubled: `paypall`.
    Doubling,
    /// Hyphens added or removed: `pay-pal`, `deutschebank` for `deutsche-bank`.
    Hyphen,
    /// The protected label under another public suffix: `paypal.co`.
    TldSwap,
    /// The brand combined with other words: `paypal-security-login`, `paypalsupport`.
    Combosquat,
    /// The protected domain written as subdomain of an unrelated one:
    /// `paypal.com.evil.net`, `login.paypal.com-secure.ru`.
    Subdomain,
}

/// Longest input (in characters) any function here looks at; the rest is ignored.
/// Names, labels and display names are far shorter; this bounds hostile input.
pub const MAX_INPUT_CHARS: usize = 512;

/// One pass of the UTS #39 skeleton mapping followed by lower-casing.
fn uts39_lower(s: &str, out: &mut String) {
    out.clear();
    for c in unicode_security::confusable_detection::skeleton(s) {
        out.extend(c.to_lowercase());
    }
}

/// Multi-character ASCII look-alikes folded after the UTS #39 mapping, and why only these.
///
/// UTS #39 maps single characters (`1`→`l`, `0`→`O`, `I`→`l`, Cyrillic `а`→`a`) and one
/// pair (`m`→`rn`). At the sizes mail is read, three more letter pairs are classic
/// look-alikes used in real squats: `rn`/`m` (`rnicrosoft`), `vv`/`w` (`vvellsfargo`),
/// `cl`/`d` (`clropbox`). We fold each to the single letter so the result stays readable.
/// Deliberately NOT folded: "leet" digits (`3`→e, `4`→a, `5`→s, `7`→t, `8`→b). They do
/// not look like the letter; a label with one of them is still caught as an edit
/// distance 1 typo, and folding them would make unrelated names (`top5`) collide.
const ASCII_PAIRS: [(&str, char); 3] = [("rn", 'm'), ("vv", 'w'), ("cl", 'd')];

fn fold_ascii_pairs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some((pair, folded)) = ASCII_PAIRS.iter().find(|(p, _)| rest.starts_with(p)) {
            out.push(*folded);
            rest = rest.get(pair.len()..).unwrap_or("");
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..).unwrap_or("");
        }
    }
    out
}

/// The first `MAX_INPUT_CHARS` characters of `s`.
fn bounded(s: &str) -> &str {
    match s.char_indices().nth(MAX_INPUT_CHARS) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// The confusable skeleton of `s`: two names that look alike have the same skeleton.
///
/// UTS #39 skeleton (NFD, map every character to its prototype, NFD), lower-cased, the
/// mapping applied again (lower-casing exposes new prototypes: `M`→`m`→`rn`), then the
/// multi-character ASCII look-alikes folded (see `ASCII_PAIRS`). So `paypa1`, `PAYPAI`
/// and `pаypal` (Cyrillic `а`) all give `paypal`, and `rnicrosoft` gives `microsoft`.
/// Case-insensitive by construction.
pub fn skeleton(s: &str) -> String {
    let s = bounded(s);
    if s.is_ascii()
        || !s
            .chars()
            .any(unicode_normalization::char::is_combining_mark)
    {
        // Without combining marks nothing is reordered across characters, so
        // the mapping stays per character and the skeleton is the
        // concatenation of the characters' (pairs folded after): the table
        // for ASCII (host names, most of a display name or opening line),
        // the two passes for the rest.
        let table = ascii_skeletons();
        let mut mapped = String::with_capacity(s.len() + 4);
        let (mut first, mut second) = (String::new(), String::new());
        let mut buf = [0u8; 4];
        for c in s.chars() {
            match table.get(c as usize) {
                Some(ascii) => mapped.push_str(ascii),
                None => {
                    uts39_lower(c.encode_utf8(&mut buf), &mut first);
                    uts39_lower(&first, &mut second);
                    mapped.push_str(&second);
                }
            }
        }
        return fold_ascii_pairs(&mapped);
    }
    skeleton_slow(s)
}

/// The two-pass mapping of every ASCII character, computed once.
fn ascii_skeletons() -> &'static [String; 128] {
    static TABLE: OnceLock<[String; 128]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let c = char::from(u8::try_from(i).unwrap_or(0));
            let mut first = String::new();
            uts39_lower(&c.to_string(), &mut first);
            let mut second = String::new();
            uts39_lower(&first, &mut second);
            second
        })
    })
}

/// [`skeleton`] without the fast path, before the pair folding.
fn skeleton_slow(s: &str) -> String {
    let mut first = String::with_capacity(s.len());
    uts39_lower(s, &mut first);
    let mut second = String::with_capacity(first.len());
    uts39_lower(&first, &mut second);
    fold_ascii_pairs(&second)
}

/// NFKD with combining marks removed: `Crédit` → `Credit`, `ｐａｙ` → `pay`.
fn strip_marks(s: &str) -> String {
    let s = bounded(s);
    if s.is_ascii() {
        // NFKD leaves ASCII as it is, and it has no marks.
        return s.to_string();
    }
    s.nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

/// Every run of characters that are not alphanumeric becomes one space; trimmed.
fn words_only(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_alphanumeric() && !unicode_normalization::char::is_combining_mark(c) {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// A display name folded for comparison: accents stripped (NFKD), confusables folded
/// ([`skeleton`]), lower-case, every run of non-alphanumerics one space, trimmed.
///
/// `"Crédit  Agricole!"` → `"credit agricole"`, `"P.a.y-P a l"` → `"p a y p a l"`:
/// spacing tricks survive as single-letter words; [`compact_name`] removes them.
pub fn fold_name(s: &str) -> String {
    words_only(&skeleton(&strip_marks(s)))
}

/// [`fold_name`] without the spaces: `"P.a.y-P a l"` and `"Pay Pal"` both give `paypal`.
/// For comparing a name whatever its spacing and punctuation.
pub fn compact_name(s: &str) -> String {
    fold_name(s).replace(' ', "")
}

/// The words of a display name for phrase matching: like [`fold_name`], but a
/// lower-to-upper case change also splits (`PayPalService` → `pay pal service`), so a
/// brand glued to other words is still found by joining adjacent words.
pub(crate) fn name_words(s: &str) -> String {
    let base = strip_marks(s);
    let mut split = String::with_capacity(base.len() + 8);
    let mut prev_lower = false;
    for c in base.chars() {
        if prev_lower && c.is_uppercase() {
            split.push(' ');
        }
        prev_lower = c.is_lowercase();
        split.push(c);
    }
    words_only(&skeleton(&split))
}

/// The words of a display name written entirely in capitals, folded: `"DHL Express"`
/// gives `["dhl"]`. Short brand names (`UPS`, `ING`) only count in this form.
pub(crate) fn capital_words(s: &str) -> Vec<String> {
    strip_marks(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().any(char::is_uppercase) && !w.chars().any(char::is_lowercase))
        .map(compact_name)
        .filter(|w| !w.is_empty())
        .collect()
}

/// A registrable domain split for look-alike checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainParts {
    /// The registrable domain, lower-case, as the PSL gives it (`paypal.co.uk`).
    pub registrable: String,
    /// Its first label as written (`paypal`, or `xn--80ak6aa92e`).
    pub label: String,
    /// The public suffix (`co.uk`).
    pub suffix: String,
    /// The label in Unicode (`xn--` decoded); equal to `label` when plain ASCII.
    pub unicode_label: String,
}

impl DomainParts {
    /// Whether the label is internationalised: the precondition for a homograph.
    pub fn is_idn(&self) -> bool {
        !self.unicode_label.is_ascii()
    }
}

/// Split `host` at its registrable domain; `None` when it has none (IP address,
/// unknown TLD, a bare public suffix).
pub fn domain_parts(host: &str) -> Option<DomainParts> {
    let registrable = crate::domain::registrable_domain(bounded(host))?;
    let (label, suffix) = registrable.split_once('.')?;
    let unicode_label = if label.starts_with("xn--") {
        match idna::domain_to_unicode(label) {
            (decoded, Ok(())) => decoded,
            (_, Err(_)) => label.to_string(),
        }
    } else {
        label.to_string()
    };
    Some(DomainParts {
        label: label.to_string(),
        suffix: suffix.to_string(),
        unicode_label,
        registrable: registrable.clone(),
    })
}

/// Whether a public suffix makes a same-label domain suspicious ([`Technique::TldSwap`]).
///
/// A global brand owns its name under dozens of country codes (`google.cl`,
/// `paypal.ch`), more than any list keeps, so the same label under a country-code
/// suffix is most likely the brand's own. Squatters pick generic TLDs (`.xyz`,
/// `.online`, `.net`) or the country codes that are typos of `.com`: `.co`, `.cm`, `.om`.
pub fn tld_swap_suspicious(suffix: &str) -> bool {
    const COM_TYPOS: [&str; 4] = ["co", "cm", "om", "co.com"];
    if COM_TYPOS.contains(&suffix) {
        return true;
    }
    let last = suffix.rsplit('.').next().unwrap_or(suffix);
    !(last.len() == 2 && last.is_ascii())
}

/// Optimal-string-alignment (restricted Damerau-Levenshtein) distance between `a` and
/// `b`, or `None` when it exceeds `max`.
pub fn damerau_levenshtein_within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    // three rows: i-2, i-1, i
    let mut rows = vec![vec![0usize; width]; 3];
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (cur, prev, prev2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        let mut row_min = usize::MAX;
        let mut row = std::mem::take(&mut rows[cur]);
        row[0] = i;
        for j in 1..width {
            let ca = a.get(i - 1);
            let cb = b.get(j - 1);
            let cost = usize::from(ca != cb);
            let mut d = (rows[prev][j] + 1)
                .min(row[j - 1] + 1)
                .min(rows[prev][j - 1] + cost);
            if i > 1 && j > 1 && ca == b.get(j - 2) && a.get(i - 2) == cb {
                d = d.min(rows[prev2][j - 2] + 1);
            }
            row[j] = d;
            row_min = row_min.min(d);
        }
        rows[cur] = row;
        if row_min > max {
            return None;
        }
    }
    let d = rows[a.len() % 3]
        .get(b.len())
        .copied()
        .unwrap_or(usize::MAX);
    (d <= max).then_some(d)
}

/// Shortest protected label (in characters) for which typos count at all: shorter names
/// (`ups`, `dhl`, `ing`) are one edit away from countless unrelated names.
pub const TYPO_MIN_LEN: usize = 5;

/// Protected labels at least this long tolerate two edits.
pub const TYPO_TWO_EDITS_MIN_LEN: usize = 9;

/// The typo that turns protected label `brand` into `candidate` (both skeletons), with
/// a one-line detail. `None` when they are equal, too far apart, or `brand` is too
/// short (see [`TYPO_MIN_LEN`]; hyphen changes count from 4 characters). Apart from a
/// swap, a typo keeps the first letter.
pub fn typo(candidate: &str, brand: &str) -> Option<(Technique, String)> {
    let c: Vec<char> = candidate.chars().collect();
    let b: Vec<char> = brand.chars().collect();
    typo_chars(&c, &b)
}

/// Whether `candidate` could be a typo of `brand` at all: a cheap test on the first
/// two letters (every typo kind but a swap keeps the first one) and the lengths.
pub fn may_be_typo(c: &[char], b: &[char]) -> bool {
    let first = c.first() == b.first() || (c.first() == b.get(1) && c.get(1) == b.first());
    first && c.len().abs_diff(b.len()) <= 2
}

/// [`typo`] on characters, for callers that compare one candidate with many brands.
pub fn typo_chars(c: &[char], b: &[char]) -> Option<(Technique, String)> {
    if c == b {
        return None;
    }
    let text = |v: &[char]| v.iter().collect::<String>();
    let hyphens = |v: &[char]| v.contains(&'-');
    if hyphens(c) || hyphens(b) {
        let plain = |v: &[char]| v.iter().filter(|&&x| x != '-').copied().collect::<Vec<_>>();
        let (cp, bp) = (plain(c), plain(b));
        if cp == bp {
            return (bp.len() >= 4).then(|| {
                let detail = format!("'{}' is '{}' with hyphens changed", text(c), text(b));
                (Technique::Hyphen, detail)
            });
        }
    }
    if b.len() < TYPO_MIN_LEN {
        return None;
    }
    if c.len() == b.len() {
        let mut diff = (0..c.len()).filter(|&i| c.get(i) != b.get(i));
        if let (Some(i), Some(j), None) = (diff.next(), diff.next(), diff.next()) {
            if j == i + 1 && c.get(i) == b.get(j) && c.get(j) == b.get(i) {
                let detail = format!(
                    "'{}' is '{}' with two adjacent letters swapped",
                    text(c),
                    text(b)
                );
                return Some((Technique::Swap, detail));
            }
        }
    }
    // Readers anchor on the first letter, and squatters keep it: without this rule
    // every `xmail`, `email` and `mail` is a typo of `gmail`, `finance` one of `binance`.
    if c.first() != b.first() {
        return None;
    }
    if c.len() + 1 == b.len() {
        let omitted =
            (0..b.len()).find(|&i| b.get(..i) == c.get(..i) && b.get(i + 1..) == c.get(i..));
        if let Some(i) = omitted {
            let gone = b.get(i).copied().unwrap_or('?');
            let detail = format!("'{}' is '{}' without '{gone}'", text(c), text(b));
            return Some((Technique::Omission, detail));
        }
    }
    if c.len() == b.len() + 1 {
        let doubled = (1..c.len()).find(|&i| {
            c.get(i) == c.get(i - 1) && c.get(..i) == b.get(..i) && c.get(i + 1..) == b.get(i..)
        });
        if let Some(i) = doubled {
            let twice = c.get(i).copied().unwrap_or('?');
            let detail = format!("'{}' is '{}' with '{twice}' doubled", text(c), text(b));
            return Some((Technique::Doubling, detail));
        }
    }
    let max = if b.len() >= TYPO_TWO_EDITS_MIN_LEN {
        2
    } else {
        1
    };
    let d = damerau_levenshtein_within(c, b, max)?;
    let detail = format!("'{}' is {d} edit(s) from '{}'", text(c), text(b));
    Some((Technique::EditDistance, detail))
}

/// Words phishers glue to a brand (`paypal-secure-login`, `dhl-delivery`,
/// `wellsfargoalerts`), in the languages of the corpora we see (EN, DE, PT, ES, FR, NL).
/// A brand plus only such words is a combosquat even when the brand is a common word
/// (`apple-support`), while `pineapple` or `apple-pie` are not. Kept free of words that
/// legitimately follow brand-like words in company names (`info`: `zoominfo`).
const LURE_WORDS: &[&str] = &[
    "access",
    "account",
    "accounts",
    "activate",
    "activation",
    "alert",
    "alerts",
    "app",
    "apps",
    "auth",
    "authentication",
    "bank",
    "banking",
    "billing",
    "bonus",
    "business",
    "card",
    "cards",
    "care",
    "center",
    "centre",
    "check",
    "claim",
    "client",
    "cloud",
    "com",
    "confirm",
    "confirmation",
    "connect",
    "credit",
    "customer",
    "customers",
    "delivery",
    "deliveries",
    "desk",
    "dispute",
    "doc",
    "docs",
    "document",
    "documents",
    "drive",
    "email",
    "express",
    "fee",
    "file",
    "files",
    "gift",
    "gov",
    "help",
    "helpdesk",
    "id",
    "invoice",
    "invoices",
    "limited",
    "locked",
    "log",
    "login",
    "logon",
    "mail",
    "message",
    "messages",
    "mobile",
    "my",
    "net",
    "notice",
    "notification",
    "notifications",
    "now",
    "office",
    "official",
    "online",
    "order",
    "orders",
    "package",
    "parcel",
    "parcels",
    "password",
    "pay",
    "payment",
    "payments",
    "portal",
    "post",
    "prime",
    "protect",
    "protection",
    "recover",
    "recovery",
    "redelivery",
    "refund",
    "refunds",
    "reset",
    "resolution",
    "restore",
    "review",
    "reward",
    "rewards",
    "safe",
    "secure",
    "security",
    "service",
    "services",
    "shipment",
    "shipping",
    "sign",
    "signin",
    "signon",
    "status",
    "storage",
    "support",
    "suspended",
    "tax",
    "team",
    "the",
    "track",
    "tracking",
    "unlock",
    "update",
    "updates",
    "user",
    "verification",
    "verify",
    "wallet",
    "web",
    "webmail",
    // DE, PT, ES, FR, NL
    "aktualisierung",
    "anmelden",
    "konto",
    "kunden",
    "sicherheit",
    "sendung",
    "paket",
    "conta",
    "cliente",
    "clientes",
    "seguranca",
    "atualizar",
    "atualizacao",
    "acesso",
    "rastreio",
    "encomenda",
    "cuenta",
    "seguridad",
    "envio",
    "compte",
    "securite",
    "colis",
    "livraison",
    "rekening",
    "veilig",
    "pakket",
    "bezorging",
];

/// [`LURE_WORDS`] as skeletons (so they compare with skeleton labels), and the longest.
fn lure_words() -> &'static (HashSet<String>, usize) {
    static LURES: OnceLock<(HashSet<String>, usize)> = OnceLock::new();
    LURES.get_or_init(|| {
        let set: HashSet<String> = LURE_WORDS.iter().map(|w| skeleton(w)).collect();
        let longest = set.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        (set, longest)
    })
}

/// Whether `word` (a skeleton) is one of the lure words.
pub fn is_lure_word(word: &str) -> bool {
    lure_words().0.contains(word)
}

/// Whether `s` (a skeleton without hyphens) is made only of lure words and digits,
/// e.g. `securelogin24`. The empty string qualifies.
pub fn only_lure_words(s: &str) -> bool {
    let (set, longest) = lure_words();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let n = chars.len();
    let byte_at = |i: usize| chars.get(i).map_or(s.len(), |(b, _)| *b);
    // reachable[i]: the first i characters segment into words and digit runs
    let mut reachable = vec![false; n + 1];
    if let Some(first) = reachable.first_mut() {
        *first = true;
    }
    for i in 0..n {
        if !reachable.get(i).copied().unwrap_or(false) {
            continue;
        }
        let mut j = i;
        while chars.get(j).is_some_and(|(_, c)| c.is_ascii_digit()) {
            j += 1;
            if let Some(r) = reachable.get_mut(j) {
                *r = true;
            }
        }
        for len in 1..=(*longest).min(n - i) {
            let word = s.get(byte_at(i)..byte_at(i + len)).unwrap_or("");
            if set.contains(word) {
                if let Some(r) = reachable.get_mut(i + len) {
                    *r = true;
                }
            }
        }
    }
    reachable.get(n).copied().unwrap_or(false)
}

/// Shortest brand for a combosquat with the brand glued to other words (no hyphen):
/// shorter ones hide inside ordinary words.
pub const COMBO_GLUED_MIN_LEN: usize = 4;

/// Brands at least this long are distinctive enough that any hyphenated combination
/// counts (`amazon-xyz`); shorter ones need a lure word beside them (`dhl-delivery`).
pub const COMBO_ANY_WORD_MIN_LEN: usize = 6;

/// Whether the label skeleton `label` (hyphens kept) combines the brand skeleton `brand`
/// (hyphens removed) with other words, and how: `None` when not.
///
/// The label with hyphens removed must contain the brand, with something else beside
/// it, and either:
/// * the brand stands as whole hyphen-separated word(s) and is at least
///   [`COMBO_ANY_WORD_MIN_LEN`] long (`amazon-prime-deals`), or stands as whole words,
///   is at least 3 long and a lure word is among the other words (`dhl-delivery`); or
/// * the rest is only lure words and digits and the brand is at least
///   [`COMBO_GLUED_MIN_LEN`] long (`paypalsupport`, `secure-paypal`, `wellsfargoalerts`).
pub fn combosquat(label: &str, brand: &str) -> Option<String> {
    let brand_len = brand.chars().count();
    if brand_len < 3 || brand.is_empty() {
        return None;
    }
    // hyphen-free label and the byte offsets where hyphens were
    let mut compact = String::with_capacity(label.len());
    let mut cuts = Vec::new();
    for c in label.chars() {
        if c == '-' {
            cuts.push(compact.len());
        } else {
            compact.push(c);
        }
    }
    if compact == brand {
        return None;
    }
    let words: Vec<&str> = label.split('-').filter(|w| !w.is_empty()).collect();
    for (start, _) in compact.match_indices(brand) {
        let end = start + brand.len();
        let left = compact.get(..start).unwrap_or("");
        let right = compact.get(end..).unwrap_or("");
        let aligned =
            (start == 0 || cuts.contains(&start)) && (end == compact.len() || cuts.contains(&end));
        if aligned && brand_len >= COMBO_ANY_WORD_MIN_LEN {
            return Some(format!("'{brand}' as a word of '{label}'"));
        }
        if aligned && words.iter().any(|w| is_lure_word(w)) {
            return Some(format!("'{brand}' beside a lure word in '{label}'"));
        }
        if brand_len >= COMBO_GLUED_MIN_LEN && only_lure_words(left) && only_lure_words(right) {
            return Some(format!("'{brand}' with only lure words in '{label}'"));
        }
    }
    None
}

/// Whether `host` (lower-case) contains `domain` as whole labels that start before its
/// registrable part (`registrable_len` bytes at the end), followed by a dot or a hyphen:
/// `paypal.com.evil.net`, `login.paypal.com-secure.ru`. With `under`, something must
/// also stand before it (`x.gov.evil.com` for suffix `gov`).
pub fn used_as_subdomain(host: &str, domain: &str, registrable_len: usize, under: bool) -> bool {
    let own_start = host.len().saturating_sub(registrable_len);
    host.match_indices(domain).any(|(start, _)| {
        let end = start + domain.len();
        let before_ok = if start == 0 {
            !under
        } else {
            host.as_bytes().get(start - 1) == Some(&b'.')
        };
        let after_ok = matches!(host.as_bytes().get(end), Some(b'.') | Some(b'-'));
        before_ok && after_ok && start < own_start
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::entities::ProtectedEntities;
    use proptest::prelude::*;

    #[test]
    fn per_character_skeletons_agree_with_the_whole_string() {
        for s in [
            "p\u{0430}ypal Сбербанк",
            "ＰａｙＰａｌ Ltd.",
            "Voce ganhou um premio 🎁 de R$ 500",
            "Ελληνικά τράπεζα ΣΟΦΙΑ",
            "東京 bank アマゾン",
            "ß ﬁnance İstanbul Ǆ",
        ] {
            assert_eq!(skeleton(s), skeleton_slow(s), "{s}");
        }
    }

    #[test]
    fn skeletons_fold_confusables_and_case() {
        let genuine = skeleton("paypal");
        assert_eq!(genuine, "paypal");
        for fake in [
            "paypa1",
            "PAYPAI",
            "p\u{0430}ypal",
            "PayPal",
            "pаypаl",
            "ＰａｙＰａｌ",
        ] {
            assert_eq!(skeleton(fake), genuine, "{fake}");
        }
        assert_eq!(skeleton("rnicrosoft"), skeleton("microsoft"));
        assert_eq!(skeleton("microsoft"), "microsoft");
        assert_eq!(skeleton("g00gle"), "google");
        assert_eq!(skeleton("vvellsfargo"), "wellsfargo");
        assert_eq!(skeleton("clropbox"), skeleton("dropbox"));
        assert_eq!(skeleton("arnazon"), "amazon");
        // Xudong Zheng's 2017 demonstration: all Cyrillic "аррӏе"
        assert_eq!(skeleton("аррӏе"), "apple");
        // leet digits are not folded (see ASCII_PAIRS)
        assert_ne!(skeleton("p4ypal"), genuine);
        assert_ne!(skeleton("hello"), skeleton("he11o world"));
    }

    /// Every confusables.txt line whose prototype is plain ASCII letters or digits:
    /// the source character must get the same skeleton as its prototype.
    #[test]
    fn confusables_file_latin_targets() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpora/unicode/confusables.txt"
        );
        let text = std::fs::read_to_string(path).expect("shared/corpora/unicode/confusables.txt");
        let hex = |h: &str| {
            u32::from_str_radix(h.trim(), 16)
                .ok()
                .and_then(char::from_u32)
        };
        let (mut checked, mut wrong) = (0, Vec::new());
        for line in text.lines() {
            let line = line.trim_start_matches('\u{feff}');
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split(';');
            let (Some(src), Some(dst)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some(src) = hex(src) else { continue };
            let target: Option<String> = dst.split_whitespace().map(hex).collect();
            let Some(target) = target else { continue };
            if !target.chars().all(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            checked += 1;
            if skeleton(&src.to_string()) != skeleton(&target) {
                wrong.push(format!("U+{:04X} -> {target}", src as u32));
            }
        }
        assert!(checked > 1000, "only {checked} Latin-target lines");
        // The crate's tables may be a Unicode version ahead of the file; allow a handful.
        assert!(
            wrong.len() * 200 < checked,
            "{} of {checked}: {:?}",
            wrong.len(),
            wrong
        );
    }

    #[test]
    fn fold_name_and_compact() {
        assert_eq!(fold_name("Crédit  Agricole!"), "credit agricole");
        assert_eq!(fold_name("P.a.y-P a l"), "p a y p a l");
        assert_eq!(compact_name("P.a.y-P a l"), "paypal");
        assert_eq!(compact_name("PаyPаl"), "paypal");
        assert_eq!(fold_name("  --  "), "");
        assert_eq!(name_words("PayPalService"), "pay pal service");
        assert_eq!(capital_words("DHL Express"), vec!["dhl".to_string()]);
        assert!(capital_words("Ups and downs").is_empty());
    }

    #[test]
    fn domain_parts_decode_idn() {
        let p = domain_parts("www.xn--80ak6aa92e.com").expect("parts");
        assert_eq!(p.registrable, "xn--80ak6aa92e.com");
        assert_eq!(p.suffix, "com");
        assert_eq!(p.unicode_label, "аррӏе");
        assert!(p.is_idn());
        let p = domain_parts("Login.PayPal.co.uk.").expect("parts");
        assert_eq!((p.label.as_str(), p.suffix.as_str()), ("paypal", "co.uk"));
        assert!(!p.is_idn());
        assert_eq!(domain_parts("192.0.2.1"), None);
    }

    #[test]
    fn typo_kinds() {
        let kind = |c: &str, b: &str| typo(c, b).map(|t| t.0);
        assert_eq!(kind("pyapal", "paypal"), Some(Technique::Swap));
        assert_eq!(kind("paypl", "paypal"), Some(Technique::Omission));
        assert_eq!(kind("paypall", "paypal"), Some(Technique::Doubling));
        assert_eq!(kind("pay-pal", "paypal"), Some(Technique::Hyphen));
        assert_eq!(kind("paypai", "paypal"), Some(Technique::EditDistance));
        assert_eq!(kind("paxpai", "paypal"), None);
        assert_eq!(
            kind("wellsfarqo", "wellsfargo"),
            Some(Technique::EditDistance)
        );
        assert_eq!(
            kind("welsfarqo", "wellsfargo"),
            Some(Technique::EditDistance)
        );
        assert_eq!(kind("wlsfarqo", "wellsfargo"), None);
        // short brands: no typos
        assert_eq!(kind("upss", "ups"), None);
        assert_eq!(kind("ebya", "ebay"), None);
        assert_eq!(kind("paypal", "paypal"), None);
    }

    #[test]
    fn osa_distance() {
        let d = |a: &str, b: &str, m| {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            damerau_levenshtein_within(&a, &b, m)
        };
        assert_eq!(d("kitten", "sitting", 3), Some(3));
        assert_eq!(d("kitten", "sitting", 2), None);
        assert_eq!(d("ab", "ba", 1), Some(1));
        assert_eq!(d("", "abc", 3), Some(3));
        assert_eq!(d("abc", "", 2), None);
    }

    #[test]
    fn combosquats() {
        assert!(combosquat("paypal-security-login", "paypal").is_some());
        assert!(combosquat("secure-paypal", "paypal").is_some());
        assert!(combosquat("paypalsupport", "paypal").is_some());
        assert!(combosquat("wells-fargo-alerts", "wellsfargo").is_some());
        assert!(combosquat("dhl-delivery", "dhl").is_some());
        assert!(combosquat("apple-support", "apple").is_some());
        assert!(combosquat("pineapple", "apple").is_none());
        assert!(combosquat("apple-pie", "apple").is_none());
        assert!(combosquat("purchase", "chase").is_none());
        assert!(combosquat("zoominfo", "zoom").is_none());
        assert!(combosquat("dhlx", "dhl").is_none());
        assert!(combosquat("paypal", "paypal").is_none());
        assert!(only_lure_words("securelogin24"));
        assert!(!only_lure_words("pine"));
    }

    #[test]
    fn subdomain_use() {
        let n = |h: &str| crate::domain::registrable_domain(h).map_or(0, |r| r.len());
        let h = "paypal.com.evil.net";
        assert!(used_as_subdomain(h, "paypal.com", n(h), false));
        let h = "login.paypal.com-secure.ru";
        assert!(used_as_subdomain(h, "paypal.com", n(h), false));
        let h = "www.paypal.com";
        assert!(!used_as_subdomain(h, "paypal.com", n(h), false));
        let h = "mypaypal.com.evil.net";
        assert!(!used_as_subdomain(h, "paypal.com", n(h), false));
        let h = "hmrc.gov.uk.refund.com";
        assert!(used_as_subdomain(h, "gov.uk", n(h), true));
        let h = "gov.uk.refund.com";
        assert!(!used_as_subdomain(h, "gov.uk", n(h), true));
    }

    #[test]
    fn tld_swaps() {
        assert!(tld_swap_suspicious("co"));
        assert!(tld_swap_suspicious("xyz"));
        assert!(tld_swap_suspicious("net"));
        assert!(!tld_swap_suspicious("cl"));
        assert!(!tld_swap_suspicious("com.au"));
    }

    /// One row of `tests/data/lookalike_cases.tsv`.
    #[test]
    fn lookalike_cases_table() {
        let table = include_str!("../../tests/data/lookalike_cases.tsv");
        let entities = ProtectedEntities::builtin();
        let (mut hits, mut misses, mut failures) = (0, 0, Vec::new());
        for (n, line) in table.lines().enumerate() {
            if n == 0 || line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let [host, expect, technique, _note] = cols[..] else {
                panic!("line {}: want 4 tab-separated columns: {line:?}", n + 1);
            };
            let got = entities.lookalike(host);
            let got_pair = got.as_ref().map(|m| {
                let t = serde_json::to_value(m.technique).unwrap_or_default();
                (m.entity.clone(), t.as_str().unwrap_or("").to_string())
            });
            let want = (expect != "-").then(|| (expect.to_string(), technique.to_string()));
            if want.is_some() {
                hits += 1;
            } else {
                misses += 1;
            }
            if got_pair != want {
                failures.push(format!("{host}: want {want:?}, got {got:?}"));
            }
        }
        assert!(
            hits >= 40 && misses >= 20,
            "{hits} look-alike rows, {misses} legitimate"
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    proptest! {
        #[test]
        fn the_per_character_skeleton_is_the_skeleton(s in "\\PM{0,40}") {
            prop_assert_eq!(skeleton(&s), skeleton_slow(bounded(&s)));
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = skeleton(&s);
            let _ = fold_name(&s);
            let _ = name_words(&s);
            let _ = capital_words(&s);
            let _ = domain_parts(&s);
            let _ = ProtectedEntities::builtin().lookalike(&s);
            let _ = ProtectedEntities::builtin().match_display_name(&s);
        }

        #[test]
        fn host_shaped_never_panics(s in "[a-z0-9\u{0430}-\u{044f}.-]{0,40}\\.(com|co\\.uk|de|xyz)") {
            let _ = ProtectedEntities::builtin().lookalike(&s);
            let _ = ProtectedEntities::builtin().lookalike(&format!("xn--{s}"));
        }

        #[test]
        fn typo_never_panics(a in ".{0,20}", b in ".{0,20}") {
            let _ = typo(&a, &b);
            let _ = combosquat(&a, &b);
        }
    }
}
