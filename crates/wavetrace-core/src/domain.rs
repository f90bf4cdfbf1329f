//! Registrable domains ("organisational domains") from the Public Suffix List.
//!
//! Origin tracing compares organisations, not host names: `mail-sor-f41.google.com`
//! and `google.com` are one organisation, `a.example.co.uk` and `b.example.co.uk` too.
//! The registrable domain is the public suffix plus one label (the PSL's definition,
//! also used by DMARC's organisational domain, RFC 7489 section 3.2).
//!
//! The list is the copy bundled in `data/public_suffix_list.dat` (Mozilla, MPL-2.0),
//! parsed once at first use. Both its ICANN and private sections apply, so a customer
//! host under a hosting suffix (`x.compute-1.amazonaws.com`) is its own organisation.
//! Unlike the list's default `*` rule, a name under a TLD the list does not know
//! (`host.example`, `mail.corp.local`) has no registrable domain here: such names are
//! internal or invented, and must not be mistaken for an organisation.

use std::sync::OnceLock;

use publicsuffix::{List, Psl};

use crate::recent::{self, Recent};

/// The bundled Public Suffix List text.
const PSL_TEXT: &str = include_str!("../../../data/public_suffix_list.dat");

fn list() -> Option<&'static List> {
    static LIST: OnceLock<Option<List>> = OnceLock::new();
    LIST.get_or_init(|| PSL_TEXT.parse::<List>().ok()).as_ref()
}

/// Longest host name accepted (RFC 1035 2.3.4: 253 characters in text form).
const MAX_NAME: usize = 253;

/// The registrable domain of `host`, lower-cased: `mail.example.co.uk` gives
/// `example.co.uk`.
///
/// `None` for an IP address or address literal, an empty or malformed name, a name
/// that is itself a public suffix (`co.uk`), or a name under a suffix the list does not
/// know (see the module documentation). A trailing dot is ignored.
pub fn registrable_domain(host: &str) -> Option<String> {
    // A message names the same hosts again and again (each hop's `by` is
    // the next one's `from`; a link host per link), and mail from one
    // provider names the same ones: the last answers are kept per thread.
    thread_local! {
        static RECENT: Recent<Option<String>> = recent::table(RECENT_SLOTS);
    }
    // A host longer than two names is looked up (trimming may still leave
    // a name) but not kept.
    recent::remembered(&RECENT, 0, host, 2 * MAX_NAME, || {
        look_up_registrable_domain(host)
    })
}

/// Hosts whose registrable domain is kept per thread.
const RECENT_SLOTS: usize = 256;

fn look_up_registrable_domain(host: &str) -> Option<String> {
    let (mut lower, suffix_len) = under_known_suffix(host)?;
    // The suffix and the label before it (psl's `List::domain`, without
    // looking the suffix up a second time).
    let before_suffix = lower.len().checked_sub(suffix_len + 1)?;
    let start = lower
        .get(..before_suffix)
        .filter(|labels| !labels.is_empty())?
        .rfind('.')
        .map_or(0, |dot| dot + 1);
    lower.replace_range(..start, "");
    Some(lower)
}

/// Whether `host` is a well-formed name under a suffix the list knows, the
/// suffix itself included (`iki.fi`, a public suffix that receives mail):
/// what a sender's domain must at least be.
pub fn has_known_suffix(host: &str) -> bool {
    under_known_suffix(host).is_some()
}

/// `host` lower-cased when it is a well-formed name (not an address
/// literal) whose public suffix the list knows, and that suffix's length.
fn under_known_suffix(host: &str) -> Option<(String, usize)> {
    let host = host.trim().trim_end_matches('.');
    if host.is_empty() || host.len() > MAX_NAME || host.starts_with('.') || host.starts_with('[') {
        return None;
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let valid = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c >= 0x80)
    });
    if !valid {
        return None;
    }
    let lower = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        host.to_lowercase()
    };
    let suffix = list()?.suffix(lower.as_bytes())?;
    let suffix_len = suffix.as_bytes().len();
    suffix.is_known().then_some((lower, suffix_len))
}

/// Whether `host` is `suffix` or a name under it (`a.pages.dev` under
/// `pages.dev`, not `notpages.dev`). Both as written: compare lower case.
pub fn is_under(host: &str, suffix: &str) -> bool {
    host.strip_suffix(suffix)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Whether two host names belong to the same registrable domain (both must have one).
pub fn same_organisation(a: &str, b: &str) -> bool {
    match (registrable_domain(a), registrable_domain(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The bundled list's version line (`2026-10-22_08-36-41_UTC`), recorded with results
/// for provenance: which organisation a name belongs to changes as the list changes.
pub fn psl_version() -> &'static str {
    PSL_TEXT
        .lines()
        .take(40)
        .find_map(|l| l.strip_prefix("// VERSION: "))
        .map(str::trim)
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_a_suffix() {
        assert!(is_under("pages.dev", "pages.dev"));
        assert!(is_under("a.b.pages.dev", "pages.dev"));
        assert!(!is_under("notpages.dev", "pages.dev"));
        assert!(!is_under("dev", "pages.dev"));
    }

    #[test]
    fn basic_names() {
        assert_eq!(
            registrable_domain("mail-sor-f41.google.com").as_deref(),
            Some("google.com")
        );
        assert_eq!(
            registrable_domain("A.Example.CO.UK.").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(registrable_domain("192.0.2.1"), None);
        assert_eq!(registrable_domain("[192.0.2.1]"), None);
        assert_eq!(registrable_domain("2001:db8::1"), None);
        assert_eq!(registrable_domain("mail.corp.invalidtld"), None);
        assert_eq!(registrable_domain("localhost"), None);
        assert_eq!(registrable_domain(""), None);
        assert_eq!(registrable_domain("a..b.com"), None);
        // private-section suffixes make each customer its own organisation
        assert_eq!(
            registrable_domain("www.someone.blogspot.com").as_deref(),
            Some("someone.blogspot.com")
        );
        assert_eq!(
            registrable_domain("ec2-1-2-3-4.compute-1.amazonaws.com"),
            None
        );
        assert!(same_organisation("a.outlook.com", "b.prod.outlook.com"));
        assert!(has_known_suffix("iki.fi") && registrable_domain("iki.fi").is_none());
        assert!(has_known_suffix("mail.example.org"));
        assert!(!has_known_suffix("cocacola") && !has_known_suffix("corp.local"));
        assert!(!same_organisation("outlook.com", "office365.com"));
        assert_eq!(psl_version(), "2026-10-22_08-36-41_UTC");
    }

    /// The list's own vectors (`test_psl.txt`, CC0). Our contract differs from the
    /// list's default `*` rule in one documented way: a name under a TLD the list does
    /// not know has no registrable domain (the vectors expect `example.example`).
    #[test]
    fn official_vectors() {
        let Some(dir) = crate::origin::testdata::shared() else {
            panic!("../shared/corpora not found (set WAVETRACE_SHARED_CORPORA)");
        };
        let file = dir.join("public_suffix_list/test_psl.txt");
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (mut pass, mut unknown_tld, mut fail) = (0, 0, Vec::new());
        for line in text.lines() {
            let Some(args) = line
                .trim()
                .strip_prefix("checkPublicSuffix(")
                .and_then(|r| r.strip_suffix(");"))
            else {
                continue;
            };
            let mut parts = args.split(", ");
            let (Some(input), Some(expected)) = (parts.next(), parts.next()) else {
                continue;
            };
            let unq = |s: &str| {
                if s == "null" {
                    None
                } else {
                    Some(s.trim_matches('\'').to_string())
                }
            };
            let (input, expected) = (unq(input), unq(expected));
            let got = input.as_deref().and_then(registrable_domain);
            if got == expected {
                pass += 1;
            } else if got.is_none() && input.as_deref().is_some_and(|i| i.ends_with(".example")) {
                unknown_tld += 1;
            } else {
                fail.push((input, expected, got));
            }
        }
        // Non-ASCII vectors (IDN in Unicode form) are matched as given; punycode ones too.
        assert!(fail.is_empty(), "{fail:?}");
        assert_eq!((pass, unknown_tld), (75, 3));
    }

    proptest::proptest! {
        /// One suffix lookup gives what psl's `List::domain` (two lookups) gives.
        #[test]
        fn registrable_domain_is_psls_domain(
            labels in proptest::collection::vec("(a|b|co|CO|uk|com|www|pages|dev|github|GitHub|io|ck|kawasaki|jp|city|é|É|İ|x-y|1)", 1..6)
        ) {
            let host = labels.join(".");
            let psl = under_known_suffix(&host).and_then(|(lower, _)| {
                let domain = list()?.domain(lower.as_bytes())?;
                std::str::from_utf8(domain.as_bytes()).ok().map(str::to_string)
            });
            proptest::prop_assert_eq!(registrable_domain(&host), psl);
        }
    }
}
