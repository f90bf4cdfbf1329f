//! Property tests: no input makes the campaign stages panic, and clustering
//! does not depend on insertion order.

use proptest::prelude::*;

use super::features::{fingerprint, url_skeleton, MessageFeatures};
use super::{split_waves, template, CampaignIndex};

fn partition(messages: &[MessageFeatures]) -> Vec<Vec<String>> {
    let mut index = CampaignIndex::new();
    for m in messages {
        index.insert(&m.sha256, &fingerprint(m), m.arrival_time);
    }
    let mut out: Vec<Vec<String>> = index
        .campaigns()
        .into_iter()
        .map(|c| {
            let mut m = c.members;
            m.sort();
            m
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #[test]
    fn fingerprint_never_panics(body in any::<String>(), url in any::<String>(), subject in any::<String>()) {
        let m = MessageFeatures { body_text: body, urls: vec![url.clone()], subject, reply_to: vec![url], ..MessageFeatures::default() };
        let fp = fingerprint(&m);
        prop_assert!(fp.signature.is_empty() || fp.signature.len() == super::minhash::SIGNATURE_LEN);
    }

    #[test]
    fn url_skeleton_never_panics(url in "(https?://)?[a-zA-Z0-9.:@/?&=#%-]{0,60}") {
        let _ = url_skeleton(&url);
    }

    #[test]
    fn template_never_panics(texts in proptest::collection::vec(any::<String>(), 0..6)) {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let t = template(&refs);
        let has_slot = t.segments.iter().any(|s| matches!(s, super::TemplateSegment::Slot { .. }));
        prop_assert!(texts.len() > 1 || !has_slot);
    }

    #[test]
    fn waves_cover_every_time(times in proptest::collection::vec(any::<i64>(), 0..50)) {
        let waves = split_waves(&times);
        prop_assert_eq!(waves.iter().map(|w| w.size).sum::<usize>(), times.len());
        prop_assert!(waves.windows(2).all(|w| w[0].end < w[1].start));
    }

    #[test]
    fn clustering_is_order_independent(
        picks in proptest::collection::vec((0usize..4, 0usize..6, 0u8..3), 1..30),
        seed in any::<u64>(),
    ) {
        const BASES: [&str; 4] = [
            "your parcel could not be delivered because the customs fee was not paid please pay now at the link below within three days",
            "we detected unusual sign in activity on your bank account and suspended it verify your identity now to restore access today",
            "the quarterly planning meeting moved to thursday afternoon please bring the budget figures and the hiring plan for review",
            "attached is the invoice for last month kindly arrange payment this week and confirm when the transfer has been made thanks",
        ];
        let messages: Vec<MessageFeatures> = picks
            .iter()
            .enumerate()
            .map(|(i, &(base, edit, image))| {
                let words: Vec<&str> = BASES[base].split(' ').collect();
                let cut = words.len() - edit * 3;
                MessageFeatures {
                    sha256: format!("{:064x}", i as u64 * 7919 + 1),
                    arrival_time: Some(i as i64 * 60),
                    body_text: format!("{} extra{edit} words{image}", words[..cut].join(" ")),
                    image_sha256: if image == 2 { vec![format!("{base:064}")] } else { Vec::new() },
                    ..MessageFeatures::default()
                }
            })
            .collect();
        let mut shuffled = messages.clone();
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            let j = (super::minhash::splitmix64(&mut state) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(partition(&messages), partition(&shuffled));
    }
}
