//! Who the message says it is from, against where it really is from: free
//! mail, diverging Reply-To, and display names that claim an organisation
//! or another address.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::{is_under, registrable_domain, same_organisation};
use crate::record::{Mailbox, MessageRecord};

use super::lookalike::fold_name;

/// Facts about the sender's identity that rules weigh.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SenderSignals {
    /// The From address is at a free mail provider (anyone can open one).
    pub from_freemail: bool,
    /// Reply-To domains that belong to another organisation than From's:
    /// answers go somewhere else than the sender claims to be.
    pub reply_to_other_domain: Vec<String>,
    /// A Reply-To address is at a free mail provider while From is not.
    pub reply_to_freemail: bool,
    /// An address or domain written inside the display name
    /// (`"service@paypal.com" <x@evil.example>`) of another organisation
    /// than the real From address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name_domain: Option<String>,
    /// The display name claims an organisation (words such as `Support`,
    /// `Security Team`, `Kundenservice`): with a free mail address this is a
    /// claim nobody checked.
    pub display_name_organisation: bool,
    /// The display name spells the From domain's name (`Example Bank`
    /// <alerts@examplebank.com>): the sender poses as the domain's owner, so
    /// a failed authentication of that domain is impersonation.
    pub display_name_names_domain: bool,
    /// The From address is under a free app or site hosting platform
    /// (`data/free_hosting_domains.txt`, e.g. `*.firebaseapp.com`).
    #[serde(default)]
    pub from_free_hosting: bool,
    /// Where characters that only serve to defeat filters appear
    /// (`display_name`, `subject`): invisible format characters (zero-width,
    /// tag characters, bidi controls), mathematical alphanumerics (`𝗡𝘂𝘁𝗲𝗹𝗹𝗮`),
    /// small capitals (`ᴇɴᴇʀɢɪᴇ`), combining overlays, another script's
    /// combining marks on Latin letters (`amܿazoܿn`). No legitimate sender
    /// writes a name that way.
    #[serde(default)]
    pub obfuscated_text: Vec<String>,
    /// The From local part is random-looking mixed case (`lqKmKvmNIFpnVjd`):
    /// generated per message by bulk senders; 186 of phishing_pot, 4 of the
    /// 7,695 ham messages.
    #[serde(default)]
    pub random_local_part: bool,
    /// The display name is built from symbols (`❗️❗️[SEHR WICHTIG]❗️❗`,
    /// `[`.WeightLoss--]`): three or more and over 15% of its characters.
    #[serde(default)]
    pub display_name_symbols: bool,
    /// The From header has no usable address: none at all, a domain
    /// under no known public suffix (`support@cocacola`,
    /// `x@𝗩𝗲𝗿𝗸𝗮𝗱𝗲.𝗻𝗹`), or an address nobody can deliver to (see
    /// `malformed_address`). No mail system sends that; 617 of the
    /// phishing_pot tuning split, 1 of the 7,695 ham messages.
    #[serde(default)]
    pub from_address_invalid: bool,
}

const FREEMAIL: &str = include_str!("../../../../data/freemail_domains.txt");
const FREE_HOSTING: &str = include_str!("../../../../data/free_hosting_domains.txt");

/// Is `domain` under a free hosting platform?
pub fn is_free_hosting(domain: &str) -> bool {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        FREE_HOSTING
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.to_ascii_lowercase())
            .collect()
    });
    // Called for every link: lower-case only the rare name that needs it.
    let domain = domain.trim_end_matches('.');
    let domain = if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(domain.to_ascii_lowercase())
    } else {
        Cow::Borrowed(domain)
    };
    list.iter().any(|suffix| is_under(&domain, suffix))
}

/// Characters used to defeat filters rather than to write: Unicode format
/// characters other than the joiners emoji need (zero-width space, tag
/// characters U+E0000.., bidi controls), mathematical alphanumerics, Latin
/// small capitals and letter-overlaying combining marks.
fn obfuscating(c: char) -> bool {
    let o = c as u32;
    matches!(o,
        0x200B | 0x200C | 0x2060..=0x2064 | 0xFEFF | 0x00AD
        | 0x202A..=0x202E | 0x2066..=0x2069 | 0xE0000..=0xE007F
        | 0x1D400..=0x1D7FF
        | 0x0334..=0x0338
        | 0x1D00..=0x1D22 | 0xA730..=0xA731 | 0x0280 | 0x0299 | 0x029C | 0x029F
        | 0x0262 | 0x026A | 0x0274 | 0x028F)
}

/// A name mail can come from: under a known public suffix, or under a TLD
/// reserved for documentation and tests (`.example`, `.test`, `.invalid`,
/// `.localhost`; RFC 2606, RFC 6761), which only samples and fixtures use.
fn deliverable_name(domain: &str) -> bool {
    const RESERVED: [&str; 4] = ["example", "test", "invalid", "localhost"];
    let tld = domain
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or("");
    crate::domain::has_known_suffix(domain) || RESERVED.iter().any(|r| tld.eq_ignore_ascii_case(r))
}

/// A letters-only local part of six or more with at least two capitals
/// after the first letter and two lower-case letters: `UPBpDEOn`,
/// `caQIUAgQI`. CamelCase names (`JohnSmith`) have one.
fn random_case(local: &str) -> bool {
    let local = local.split('+').next().unwrap_or(local);
    if local.len() < 6 || !local.chars().all(|c| c.is_ascii_alphabetic()) {
        return false;
    }
    let upper_after_first = local
        .chars()
        .skip(1)
        .filter(char::is_ascii_uppercase)
        .count();
    let lower = local.chars().filter(char::is_ascii_lowercase).count();
    upper_after_first >= 2 && lower >= 2
}

/// Three or more symbols (not letters, digits, spaces or the punctuation of
/// names: `.`, `'`, `&`, `-`, `,`), over 15% of the characters.
fn symbol_heavy(name: &str) -> bool {
    let total = name.chars().count();
    let symbols = name
        .chars()
        .filter(|c| !(c.is_alphanumeric() || c.is_whitespace() || ".'&-,".contains(*c)))
        .count();
    symbols >= 3 && symbols * 100 > total * 15
}

/// Combining marks of Hebrew, Arabic, Syriac, Thaana, Devanagari and Thai,
/// and the supplementary and symbol combining blocks: on their own letters
/// they are writing; after a Latin letter, digit or dot (`amܿazoܿn.ܿcܿom`)
/// they only break the word for a filter.
fn foreign_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0591..=0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06ED
        | 0x0711 | 0x0730..=0x074A | 0x07A6..=0x07B0 | 0x0900..=0x0903 | 0x093A..=0x094F
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

fn obfuscated(text: &str) -> bool {
    text.chars().any(obfuscating)
        || text
            .chars()
            .zip(text.chars().skip(1))
            .any(|(before, c)| before.is_ascii_graphic() && foreign_combining_mark(c))
}

fn obfuscated_fields(name: &str, subject: &str) -> Vec<String> {
    let mut out = Vec::new();
    if obfuscated(name) {
        out.push("display_name".to_string());
    }
    if obfuscated(subject) {
        out.push("subject".to_string());
    }
    out
}

/// The free mail list, compiled: exact domains, `*.suffix` patterns, and
/// `name.*` patterns (any public suffix after `name`).
struct Freemail {
    exact: HashSet<String>,
    suffixes: Vec<String>,
    any_suffix: HashSet<String>,
}

fn freemail() -> &'static Freemail {
    static LIST: OnceLock<Freemail> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list = Freemail {
            exact: HashSet::new(),
            suffixes: Vec::new(),
            any_suffix: HashSet::new(),
        };
        for line in FREEMAIL.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.to_ascii_lowercase();
            if let Some(suffix) = line.strip_prefix('*') {
                list.suffixes.push(suffix.to_string());
            } else if let Some((name, _)) = line.split_once(".*").or(line.split_once(".co*")) {
                list.any_suffix.insert(name.to_string());
            } else {
                list.exact.insert(line);
            }
        }
        list
    })
}

/// Is `domain` a free mail provider's?
pub fn is_freemail(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let list = freemail();
    if list.exact.contains(&domain) || list.suffixes.iter().any(|s| domain.ends_with(s.as_str())) {
        return true;
    }
    registrable_domain(&domain)
        .and_then(|r| r.split('.').next().map(str::to_string))
        .is_some_and(|label| list.any_suffix.contains(&label))
}

/// Words that make a display name an organisation's rather than a person's,
/// in the six languages the content lexicons cover. Folded (lower case, no
/// accents) and matched as whole words.
const ORGANISATION_WORDS: &[&str] = &[
    "support",
    "team",
    "service",
    "services",
    "security",
    "administrator",
    "admin",
    "helpdesk",
    "billing",
    "account",
    "accounts",
    "customer",
    "department",
    "notification",
    "notifications",
    "alert",
    "alerts",
    "bank",
    "banking",
    "office",
    "inc",
    "ltd",
    "llc",
    "corp",
    "gmbh",
    "webmaster",
    "postmaster",
    "mailbox",
    "administration",
    "verification",
    "it",
    "payroll",
    "hr",
    "delivery",
    "shipping",
    "tax",
    "refund",
    "soporte",
    "servicio",
    "equipo",
    "seguridad",
    "cuenta",
    "banco",
    "suporte",
    "atendimento",
    "equipe",
    "seguranca",
    "conta",
    "kundenservice",
    "kundendienst",
    "sicherheit",
    "konto",
    "sparkasse",
    "klantenservice",
    "beveiliging",
    "rekening",
    "klantendienst",
    "assistance",
    "equipe",
    "securite",
    "compte",
    "banque",
    "facturation",
    "client",
    "clients",
];

/// Reads the sender signals from a record.
pub fn sender_signals(record: &MessageRecord) -> SenderSignals {
    let from = record.from.as_ref();
    let from_domain = from.and_then(|f| f.domain.as_deref());
    let from_freemail = from_domain.is_some_and(is_freemail);
    let mut reply_to_other_domain = Vec::new();
    let mut reply_to_freemail = false;
    for domain in record.reply_to.iter().filter_map(|m| m.domain.as_deref()) {
        let other = from_domain.is_none_or(|f| !same_organisation(f, domain) && f != domain);
        if other {
            let d = registrable_domain(domain).unwrap_or_else(|| domain.to_string());
            if !reply_to_other_domain.contains(&d) {
                reply_to_other_domain.push(d);
            }
            reply_to_freemail |= !from_freemail && is_freemail(domain);
        }
    }
    let name = from.and_then(shown_name).unwrap_or("");
    let from_address = from.and_then(|f| f.address.as_deref());
    SenderSignals {
        from_freemail,
        reply_to_other_domain,
        reply_to_freemail,
        display_name_domain: domain_in_display_name(name, from_domain),
        display_name_organisation: names_organisation(name),
        display_name_names_domain: from_domain.is_some_and(|d| names_domain(name, d)),
        from_free_hosting: from_domain.is_some_and(is_free_hosting),
        obfuscated_text: obfuscated_fields(name, record.subject.as_deref().unwrap_or("")),
        random_local_part: from_address
            .and_then(|a| a.rsplit_once('@'))
            .is_some_and(|(local, _)| random_case(local)),
        display_name_symbols: symbol_heavy(name),
        from_address_invalid: from_domain.is_none_or(|d| !deliverable_name(d))
            || from_address.is_some_and(malformed_address),
    }
}

/// The name a mail program shows for a mailbox: its display name, or, when
/// it has none, the text of a quoted local part. `"PayPal"@evil.example`
/// is an address with no display name, and phishers write it so that the
/// reader sees `PayPal` (Nazario's 2004-2005 kits do).
pub fn shown_name(mailbox: &Mailbox) -> Option<&str> {
    mailbox.name.as_deref().or_else(|| {
        let (local, _) = mailbox.address.as_deref()?.rsplit_once('@')?;
        let quoted = local.strip_prefix('"')?.strip_suffix('"')?.trim();
        (!quoted.is_empty()).then_some(quoted)
    })
}

/// An address mail programs do not write and nobody can deliver to, which
/// bulk tools forge: an empty local part (`<@mx.example>`), an unquoted one
/// holding `@`, `<`, `>` or spaces (`support.x@y@shop.example`,
/// `vfuloCN@<noreply@digid.nl`), a domain with
/// an empty label (`a@b..example`) or a label of characters no host name
/// has, or a registered name with an underscore or an edge hyphen
/// (`x@pontos__bradesco.com`: registries refuse them, while subdomains may
/// hold `_`). Quoted local parts (`"Books@Books"@example.com`, kept whole
/// by the vendored parser's patch 6) pass. Left to other tests: a trailing
/// dot (rule `from-address-trailing-dot`), domain literals.
fn malformed_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let bad_local = local.is_empty()
        || (!quoted
            && local
                .chars()
                .any(|c| matches!(c, '@' | '<' | '>') || c.is_whitespace()));
    if bad_local {
        return true;
    }
    if domain.starts_with('[') {
        return false;
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let host_label = |label: &str| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_') || !c.is_ascii())
    };
    if !domain.split('.').all(host_label) {
        return true;
    }
    // `registrable_domain` lower-cases the name itself.
    let registered = registrable_domain(domain);
    let name = registered
        .as_deref()
        .and_then(|r| r.split('.').next())
        .unwrap_or("");
    name.contains('_') || name.starts_with('-') || name.ends_with('-')
}

/// A domain written in the display name (alone or in an address) that is
/// not the From address's organisation.
fn domain_in_display_name(name: &str, from_domain: Option<&str>) -> Option<String> {
    name.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '"' | ',' | '\''))
        .filter_map(|token| {
            let host = token.rsplit('@').next()?.trim_end_matches(['.', ':', ';']);
            // Only dotted names under a known suffix count as domains, and
            // every label has two characters or more: `R.Hughes` is an
            // initial, not the domain `r.hughes`.
            let labels_ok = host.split('.').all(|l| l.chars().count() >= 2);
            (host.contains('.') && labels_ok && host.chars().any(|c| c.is_ascii_alphabetic()))
                .then(|| registrable_domain(&host.to_ascii_lowercase()))
                .flatten()
        })
        .find(|d| from_domain.is_none_or(|f| !same_organisation(f, d) && f != d))
}

fn names_organisation(name: &str) -> bool {
    let folded = fold_name(name);
    folded
        .split(' ')
        .any(|word| ORGANISATION_WORDS.contains(&word))
}

/// Does the display name spell one of the domain's names (`Example Bank`
/// for `alerts.examplebank.com`), as one word or as consecutive words?
/// Every label but the last is tried, so a subdomain's owner counts too;
/// labels under four letters are too short to tell.
fn names_domain(name: &str, domain: &str) -> bool {
    let folded = fold_name(name);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let mut labels: Vec<&str> = domain.split('.').collect();
    labels.pop();
    labels
        .into_iter()
        .map(|l| l.replace('-', "").to_ascii_lowercase())
        .filter(|l| l.len() >= 4)
        .any(|label| spelled_by(&words, &label))
}

/// Whether consecutive words join to exactly `label`.
fn spelled_by(words: &[&str], label: &str) -> bool {
    (0..words.len()).any(|start| {
        let mut joined = String::new();
        words[start..].iter().any(|w| {
            joined.push_str(w);
            joined == label
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A message with only this From header, subject and one word of text.
    fn record_from(from: &str) -> MessageRecord {
        crate::parse::analyse(
            format!("From: {from}\nSubject: x\n\nx\n").as_bytes(),
            &crate::parse::Sighting::default(),
            &crate::parse::AnalysisConfig::default(),
        )
        .unwrap()
    }

    /// Whether a message with this From header has an unusable sender.
    fn invalid(from: &str) -> bool {
        sender_signals(&record_from(from)).from_address_invalid
    }

    #[test]
    fn freemail_matches_exact_and_pattern_entries() {
        assert!(is_freemail("gmail.com"));
        assert!(is_freemail("Yahoo.com"));
        assert!(is_freemail("aol.de"));
        assert!(is_freemail("tenant.onmicrosoft.com"));
        assert!(!is_freemail("kernel.org"));
        assert!(!is_freemail("paypal.com"));
    }

    #[test]
    fn invalid_from_addresses() {
        assert!(invalid("Coca <support@cocacola>"));
        assert!(invalid("Nobody"));
        assert!(!invalid("Jane <jane@example.org>"));
    }

    #[test]
    fn malformed_addresses() {
        for bad in [
            "a@b..example",
            "@mx2.example.jp",
            "support.jane@corp.example@shop.example",
            "vfuloCN@<noreply@digid.nl",
            "x@pontos__bradesco.com",
            "x@-shop.com",
            "x@shop-.co.uk.",
            "x@shop!.example",
            "john smith@example.org",
        ] {
            assert!(malformed_address(bad), "{bad}");
        }
        for good in [
            "jane@example.org",
            "Jane.Doe+tag@mail.example.co.uk",
            "\"Books@Books\"@example.com",
            "\"claire Yolanda\"@tiscali.fr",
            "x@xn--bcher-kva.example",
            "x@bücher.example",
            "x@my-shop.example",
            "x@em_1.sender.example",
            "x@MAIL.Example.COM",
            "x@123.example",
            "service@stayfriends.de.",
            "postmaster@[192.0.2.1]",
            "no-at-sign",
        ] {
            assert!(!malformed_address(good), "{good}");
        }
    }

    /// What the parser hands over decides the verdict: quoted local parts
    /// keep their quotes, inside `<>` or bare (vendored patch 6).
    #[test]
    fn malformed_addresses_through_the_parser() {
        assert!(invalid("<support.jane@corp.example@shop.example>"));
        assert!(invalid("\"Shop\" <x@pontos__bradesco.com>"));
        assert!(invalid("Shop <@shop.example>"));
        let shown = |from: &str| {
            record_from(from)
                .from
                .as_ref()
                .and_then(shown_name)
                .map(str::to_string)
        };
        assert_eq!(
            shown("\" PayPal \"@evil.example").as_deref(),
            Some("PayPal")
        );
        assert_eq!(shown("Jane <\"j d\"@example.org>").as_deref(), Some("Jane"));
        assert_eq!(shown("<jane@example.org>"), None);
        assert!(!invalid("<\"Books@Books\"@example.com>"));
        assert!(!invalid("\"Books@Books\"@example.com"));
        assert!(!invalid("Jane <jane@\n example.com>"));
        assert!(!invalid("Jane <jane@MAIL.EXAMPLE.COM>"));
        assert!(!invalid("Jane <jane@bücher.example>"));
        assert!(!invalid("Jane <jane@em_1.sender.example>"));
        assert!(!invalid("Service <service@stayfriends.de.>"));
    }

    proptest! {
        /// Every address RFC 5322's dot-atom form allows, with a host name
        /// of letters, digits and inner hyphens, is well formed.
        #[test]
        fn dot_atom_addresses_are_well_formed(
            local in "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\\.[A-Za-z0-9+_-]{1,8}){0,2}",
            labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..4),
            tld in "[a-z]{2,6}",
        ) {
            let address = format!("{local}@{}.{tld}", labels.join("."));
            prop_assert!(!malformed_address(&address), "{address}");
        }
    }

    #[test]
    fn random_local_parts_and_symbol_names() {
        assert!(random_case("lqKmKvmNIFpnVjd"));
        assert!(random_case("UPBpDEOn"));
        assert!(!random_case("JohnSmith"));
        assert!(!random_case("john.smith"));
        assert!(!random_case("info"));
        assert!(symbol_heavy("❗️❗️[SEHR WICHTIG]❗️❗"));
        assert!(symbol_heavy("[`.WeightLoss--]"));
        assert!(!symbol_heavy("O'Brien, Mary-Jane (Sales)"));
    }

    #[test]
    fn free_hosting_and_obfuscation() {
        assert!(is_free_hosting("robo01-3e016.firebaseapp.com"));
        assert!(!is_free_hosting("notfirebaseapp.com"));
        assert!(!is_free_hosting("example.com"));
        assert_eq!(
            obfuscated_fields("Gewinner Team 𝗡𝘂𝘁𝗲𝗹𝗹𝗮", "Hello"),
            vec!["display_name"]
        );
        assert_eq!(
            obfuscated_fields("Pay\u{200B}Pal", "ᴇɴᴇʀɢɪᴇ"),
            vec!["display_name", "subject"]
        );
        assert!(obfuscated_fields("Zoë Müller 👍", "Café ☕").is_empty());
        // Another script's combining marks on Latin letters, and on their own.
        assert_eq!(
            obfuscated_fields("customers@servicesܿ.ܿamznܿ.ܿcom", "Hello"),
            ["display_name"]
        );
        assert!(obfuscated_fields("שָׁלוֹם", "مَرْحَبًا ܫܠܵܡܵܐ").is_empty());
    }

    #[test]
    fn display_name_domains_of_another_organisation() {
        assert_eq!(
            domain_in_display_name("service@paypal.com", Some("evil.example")),
            Some("paypal.com".to_string())
        );
        assert_eq!(
            domain_in_display_name("PayPal.com Support", Some("mail.paypal.com")),
            None
        );
        assert_eq!(domain_in_display_name("John Smith", Some("x.org")), None);
        assert_eq!(domain_in_display_name("Dr. J. Smith", Some("x.org")), None);
        assert_eq!(
            domain_in_display_name("Craig R.Hughes", Some("deersoft.com")),
            None
        );
    }

    #[test]
    fn organisation_words_and_domain_names() {
        assert!(names_organisation("PayPal Security Team"));
        assert!(names_organisation("Atendimento Itaú"));
        assert!(!names_organisation("Jane Doe"));
        assert!(names_domain("Example Bank", "alerts.examplebank.com"));
        assert!(names_domain("The Proud Patriots", "proudpatriots.org"));
        assert!(!names_domain("Jane Doe", "examplebank.com"));
        assert!(!names_domain("IBM", "ibm.com"));
    }
}
