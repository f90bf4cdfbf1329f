//! Evasion robustness: what senders do to make each copy look unique must not
//! separate the copies of one template, and topic-alike mail must stay apart.

use super::features::{fingerprint, MessageFeatures};
use super::link::{verify, Evidence};
use super::minhash::{similarity, splitmix64};
use super::{CampaignIndex, Fingerprint};

const NOTICE: &str = "Dear {name},\n\nOur records show that the voter registration for {address} is incomplete. \
To keep your right to vote in the upcoming general election you must confirm your details before {date}. \
Registrations that are not confirmed will be removed from the county roll and you will not receive a ballot.\n\n\
Confirm your registration now at {url} using reference {token}. If you have questions call {phone}.\n\n\
Sincerely,\nThe Election Verification Office";

fn personalised(
    name: &str,
    address: &str,
    date: &str,
    url: &str,
    token: &str,
    phone: &str,
) -> String {
    NOTICE
        .replace("{name}", name)
        .replace("{address}", address)
        .replace("{date}", date)
        .replace("{url}", url)
        .replace("{token}", token)
        .replace("{phone}", phone)
}

fn fp(body: &str) -> Fingerprint {
    fingerprint(&MessageFeatures {
        body_text: body.to_string(),
        ..MessageFeatures::default()
    })
}

fn text_similarity(a: &str, b: &str) -> f64 {
    similarity(&fp(a).signature, &fp(b).signature)
}

fn linked(a: &str, b: &str) -> bool {
    verify(&fp(a), &fp(b)).is_some()
}

fn first() -> String {
    personalised(
        "Jane Doe",
        "12 Elm Street",
        "10/03/2020",
        "https://vote-verify.example/r/8F3K2P?u=jane",
        "XK29QZ7",
        "+1-555-010-2030",
    )
}

fn second() -> String {
    personalised(
        "Omar Al Haddad",
        "301 North Oak Avenue",
        "2020-10-05",
        "https://vote-check.example/r/ZZ91AB?u=omar&s=4",
        "PL88MN2",
        "(555) 010-9999",
    )
}

#[test]
fn personalisation_is_masked_to_identical_text() {
    let (a, b) = (fp(&first()), fp(&second()));
    let evidence = verify(&a, &b).unwrap_or_default();
    assert!(
        matches!(evidence.first(), Some(Evidence::IdenticalText { .. })),
        "{evidence:?}"
    );
}

#[test]
fn zero_width_invisible_and_confusable_characters() {
    let mut state = 3u64;
    let noisy: String = first()
        .chars()
        .map(|c| {
            let r = splitmix64(&mut state) % 10;
            match (c, r) {
                ('a', 0..=4) => "\u{0430}".to_string(),
                ('o', 0..=4) => "\u{043E}".to_string(),
                ('e', 0..=2) => "\u{0435}\u{200B}".to_string(),
                (' ', 0) => "\u{00A0}".to_string(),
                (c, 9) => format!("{c}\u{200D}\u{FEFF}"),
                (c, _) => c.to_string(),
            }
        })
        .collect();
    assert_ne!(noisy, first());
    assert!(
        text_similarity(&noisy, &first()) > 0.95,
        "{}",
        text_similarity(&noisy, &first())
    );
}

#[test]
fn hash_busting_random_strings() {
    let mut state = 11u64;
    let busted: String = first()
        .split(' ')
        .map(|w| {
            let r = splitmix64(&mut state);
            if r.is_multiple_of(4) {
                format!("{w} {}", random_word(&mut state, true))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let s = text_similarity(&busted, &first());
    assert!(s > 0.75 && linked(&busted, &first()), "{s}");
}

fn random_word(state: &mut u64, mixed: bool) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let len = 8 + (splitmix64(state) % 6) as usize;
    let pool = if mixed { letters.len() } else { 26 };
    (0..len)
        .map(|_| letters[(splitmix64(state) % pool as u64) as usize] as char)
        .collect()
}

const FILLER_WORDS: [&str; 40] = [
    "harbour", "lantern", "orchard", "velvet", "granite", "meadow", "cobalt", "thimble", "saddle",
    "quarry", "willow", "ember", "falcon", "pewter", "juniper", "marble", "tundra", "cinder",
    "maple", "ribbon", "parcel", "hollow", "beacon", "canyon", "dapple", "fennel", "garnet",
    "hazel", "indigo", "jasper", "kettle", "linen", "mosaic", "nutmeg", "oyster", "pepper",
    "quill", "russet", "sorrel", "timber",
];

fn filler(state: &mut u64, words: usize) -> String {
    (0..words)
        .map(|_| FILLER_WORDS[(splitmix64(state) % 40) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn random_filler_text_on_both_sides() {
    let mut state = 5u64;
    let a = format!("{}\n\n{}", first(), filler(&mut state, 60));
    let b = format!("{}\n\n{}", second(), filler(&mut state, 60));
    assert!(linked(&a, &b), "similarity {}", text_similarity(&a, &b));
    let c = format!("{}\n\n{}", filler(&mut state, 40), second());
    assert!(linked(&a, &c));
}

#[test]
fn spintax_rewording() {
    let spun = |choice: usize| {
        let pick = |options: &[&str]| options[choice % options.len()].to_string();
        first()
            .replace(
                "Our records show that",
                &pick(&[
                    "Our records show that",
                    "We have found that",
                    "Our files indicate that",
                ]),
            )
            .replace(
                "is incomplete",
                &pick(&["is incomplete", "is not complete", "is missing information"]),
            )
            .replace(
                "you must confirm",
                &pick(&["you must confirm", "you need to verify", "please confirm"]),
            )
            .replace(
                "Confirm your registration now",
                &pick(&[
                    "Confirm your registration now",
                    "Verify your record today",
                    "Complete the confirmation",
                ]),
            )
            .replace("Sincerely", &pick(&["Sincerely", "Regards", "Thank you"]))
    };
    for (x, y) in [(0, 1), (1, 2), (0, 2)] {
        let s = text_similarity(&spun(x), &spun(y));
        assert!(linked(&spun(x), &spun(y)), "{x} {y}: {s}");
    }
}

#[test]
fn image_only_messages_with_random_text_link_by_image() {
    let mut state = 17u64;
    let image = "9f".repeat(32);
    let mut index = CampaignIndex::new();
    for i in 0..5 {
        let m = MessageFeatures {
            sha256: format!("{i:064x}"),
            body_text: filler(&mut state, 30),
            image_sha256: vec![image.clone()],
            ..MessageFeatures::default()
        };
        index.insert(&m.sha256, &fingerprint(&m), None);
    }
    assert_eq!(index.campaigns().len(), 1);
}

#[test]
fn per_recipient_url_parameters_share_a_skeleton() {
    let a = fp("click https://vote-verify.example/r/8F3K2P9?u=jane&t=1");
    let b = fp("click https://vote-verify.example/r/ZZ91AB4?t=2&u=omar");
    assert_eq!(a.content_keys, b.content_keys);
    assert_eq!(a.content_keys.len(), 1);
}

#[test]
fn same_topic_different_template_stays_apart() {
    let county = "The County Board of Elections reminds all residents that the general election will be held on \
        Tuesday. Polling places are open from seven in the morning until eight at night. You can check your \
        polling place and sample ballot on the county website. Registered voters who requested a mail ballot \
        should return it in person or by mail. Questions may be directed to the board office during business hours.";
    assert!(
        !linked(county, &first()),
        "{}",
        text_similarity(county, &first())
    );
}

#[test]
fn reply_threads_are_not_linked_by_quotes() {
    let original = first();
    let quoted: String = original.lines().map(|l| format!("> {l}\n")).collect();
    let reply_a = format!(
        "Is this legit? I never registered at that address.\n\nOn Monday, Jane wrote:\n{quoted}"
    );
    let reply_b = format!(
        "Looks like a scam to me, do not click anything.\n\nOn Monday, Bob wrote:\n{quoted}"
    );
    assert!(!linked(&reply_a, &reply_b));
}
