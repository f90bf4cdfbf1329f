//! Campaigns end to end (issue 12, "Must show"), running the built binary:
//!
//! - the labelled evaluation set of `tools/evalgen` (seed 12) mixed into the
//!   real background it lists (SpamAssassin public corpus, linux_sparse),
//!   scored by `wavetrace eval` (B-cubed F1, intruders, wave counts) and by
//!   template slot F1 against its `templates.tsv`;
//! - real mail guards: ham, mailing-list threads and spam stay apart;
//! - incremental and order independence: chronological halves, reverse
//!   order and later-half-first give the one-shot partition and ids;
//! - aliases: two campaigns bridged by a later message keep the older id and
//!   the other id still resolves;
//! - the bundled sample: 180 election phish in 3 waves with their template,
//!   the 20 county notices apart.
//!
//! The evaluation set is generated and scanned once (about 10 s) and shared
//! through a `OnceLock`; the whole file runs in well under a minute in
//! release.
//!
//! The figures asserted here are the measured ones minus a small margin;
//! docs/campaigns.md records them with the commands that reproduce them.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{repo, Db};
use serde_json::Value;
use wavetrace_core::campaign::{evaluate, score_template, SlotScore, SlotType, Template};

/// The evaluation set's seed (tools/evalgen/README.md).
const SEED: u64 = 12;

/// The evaluation set, generated once into a temporary folder and scanned
/// with its background into one database.
struct Evalset {
    /// Holds `evalset/` (generated) and `truth-stored.tsv`.
    dir: tempfile::TempDir,
    /// The database of the synthetic messages plus the background.
    db: Db,
    /// Synthetic campaign messages evalgen wrote.
    campaign_messages: usize,
    /// Label of every stored source listed in the truth (`-` for background).
    label_of: HashMap<String, String>,
    /// The synthetic messages: (arrival time as stored, source).
    synthetic: Vec<(String, String)>,
}

impl Evalset {
    fn out(&self) -> PathBuf {
        self.dir.path().join("evalset")
    }

    fn messages(&self) -> PathBuf {
        self.out().join("messages")
    }

    /// The truth with every key written as the source the store recorded.
    fn truth(&self) -> PathBuf {
        self.dir.path().join("truth-stored.tsv")
    }
}

fn evalset() -> &'static Evalset {
    static EVALSET: OnceLock<Evalset> = OnceLock::new();
    EVALSET.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("evalset");
        let (generated, scan_paths) = common::evalset(SEED, &out);
        assert!(
            generated.background >= 5000,
            "the issue asks for at least 5,000 background messages, got {}",
            generated.background
        );
        let truth_text = std::fs::read_to_string(out.join("truth.tsv")).expect("truth.tsv");
        let truth: Vec<(&str, &str)> = truth_text
            .lines()
            .map(|l| l.split_once('\t').expect("truth line"))
            .collect();
        let messages = out.join("messages");
        let paths: Vec<&Path> = scan_paths.iter().map(PathBuf::as_path).collect();
        let db = Db::new();
        let summary = db.scan(&paths, &[]);
        assert_eq!(
            summary["stored"].as_u64(),
            Some(truth.len() as u64),
            "{summary}"
        );

        // Every SpamAssassin file starts with an mbox `From ` line, so the
        // scanner reads it as a one-message mbox and records `path#1`, while
        // evalgen lists `path`. `eval` would skip those background lines as
        // "not found" and could not count them as intruders: write the truth
        // with the stored sources, and require every line to resolve.
        let records = db.records();
        let stored: HashSet<&str> = records
            .iter()
            .flat_map(|r| r["sources"].as_array().expect("sources"))
            .map(|s| s.as_str().expect("source"))
            .collect();
        let mut label_of = HashMap::new();
        let mut resolved = String::new();
        for (key, label) in &truth {
            let mbox = format!("{key}#1");
            let source = if stored.contains(key) {
                key.to_string()
            } else if stored.contains(mbox.as_str()) {
                mbox
            } else {
                panic!("truth line {key} matches no stored source");
            };
            resolved.push_str(&format!("{source}\t{label}\n"));
            label_of.insert(source, label.to_string());
        }
        std::fs::write(dir.path().join("truth-stored.tsv"), resolved).expect("write truth");

        let messages_prefix = format!("{}/", messages.display());
        let synthetic: Vec<(String, String)> = records
            .iter()
            .filter_map(|r| {
                let source = r["source"].as_str()?;
                source.starts_with(&messages_prefix).then(|| {
                    let arrival = r["arrival_time"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{source} has no arrival time"));
                    (arrival.to_string(), source.to_string())
                })
            })
            .collect();
        assert_eq!(synthetic.len(), generated.campaign_messages);
        Evalset {
            dir,
            db,
            campaign_messages: generated.campaign_messages,
            label_of,
            synthetic,
        }
    })
}

/// A scan of the synthetic messages alone, at once (the reference for the
/// incremental and order tests).
fn one_shot() -> &'static Db {
    static ONE_SHOT: OnceLock<Db> = OnceLock::new();
    ONE_SHOT.get_or_init(|| {
        let db = Db::new();
        db.scan(&[&evalset().messages()], &[]);
        db
    })
}

/// `(sha256, campaign id)` of every stored message.
fn partition(db: &Db) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in db.campaigns() {
        let id = c["id"].as_str().expect("id").to_string();
        for m in c["members"].as_array().expect("members") {
            out.push((
                m["sha256"].as_str().expect("sha256").to_string(),
                id.clone(),
            ));
        }
    }
    out.sort();
    out
}

/// For each label of the truth: the campaign holding most of its messages.
fn campaign_of_labels(db: &Db, label_of: &HashMap<String, String>) -> BTreeMap<String, String> {
    let mut votes: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for c in db.campaigns() {
        let id = c["id"].as_str().expect("id");
        for m in c["members"].as_array().expect("members") {
            let source = m["source"].as_str().expect("source");
            match label_of.get(source).map(String::as_str) {
                Some("-") | None => {}
                Some(label) => {
                    *votes
                        .entry(label.to_string())
                        .or_default()
                        .entry(id.to_string())
                        .or_default() += 1
                }
            }
        }
    }
    votes
        .into_iter()
        .map(|(label, ids)| {
            let best = ids
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .expect("votes")
                .0;
            (label, best)
        })
        .collect()
}

/// The synthetic messages in arrival order, split into two halves.
fn chronological_halves() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut synthetic = evalset().synthetic.clone();
    synthetic.sort();
    let mut paths: Vec<PathBuf> = synthetic.into_iter().map(|(_, s)| s.into()).collect();
    let later = paths.split_off(paths.len() / 2);
    (paths, later)
}

fn as_paths(paths: &[PathBuf]) -> Vec<&Path> {
    paths.iter().map(PathBuf::as_path).collect()
}

fn eval(db: &Db, truth: &Path, waves: &Path, min_f1: &str) -> std::process::Output {
    db.run(&[
        "eval",
        "--truth",
        &truth.display().to_string(),
        "--waves",
        &waves.display().to_string(),
        "--format",
        "json",
        "--min-f1",
        min_f1,
    ])
}

#[test]
fn labelled_evaluation_meets_the_targets() {
    let set = evalset();
    let out = eval(&set.db, &set.truth(), &set.out().join("waves.tsv"), "0.95");
    assert!(
        out.status.success(),
        "eval --min-f1 0.95 exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    eprintln!("{report:#}");
    let c = &report["clustering"];
    let f = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert_eq!(report["missing"], 0);
    assert_eq!(c["labelled_messages"], set.campaign_messages);
    assert_eq!(c["labels"], 10);
    assert_eq!(c["intruders"], 0, "background inside labelled campaigns");
    // Measured: B-cubed precision 1.0, recall 0.9939, F1 0.9969.
    assert!(f(&c["bcubed_f1"]) >= 0.99, "B-cubed F1 {}", c["bcubed_f1"]);
    assert!(
        f(&c["bcubed_precision"]) >= 0.995,
        "{}",
        c["bcubed_precision"]
    );
    for l in c["per_label"].as_array().expect("per_label") {
        assert!(f(&l["purity"]) >= 0.99, "{l}");
        assert!(f(&l["completeness"]) >= 0.95, "{l}");
    }
    // Measured: the right wave count for 10/10 campaigns, mean boundary error 2 s.
    let w = &report["waves"];
    assert_eq!(w["campaigns"], 10);
    assert_eq!(w["right_count"], 10, "{w}");
    assert!(f(&w["mean_boundary_error"]) <= 60.0, "{w}");

    // Template slot F1 (type and position) against templates.tsv, for the
    // campaign holding most of each label.
    let campaign_of: HashMap<&str, &str> = c["per_label"]
        .as_array()
        .expect("per_label")
        .iter()
        .map(|l| {
            (
                l["label"].as_str().expect("label"),
                l["campaign"].as_str().expect("campaign"),
            )
        })
        .collect();
    let templates =
        std::fs::read_to_string(set.out().join("templates.tsv")).expect("templates.tsv");
    let mut total = SlotScore::default();
    let mut per_label = Vec::new();
    for line in templates.lines() {
        let (label, true_text) = line.split_once('\t').expect("label<TAB>template");
        let id = campaign_of[label];
        let campaign = set.db.json(&["campaign", id, "--format", "json"]);
        let template: Template =
            serde_json::from_value(campaign["template"].clone()).expect("template");
        let score = score_template(true_text, &template);
        eprintln!(
            "{label:<20} slots true {:>3} found {:>3} matched {:>3} F1 {:.3}",
            score.true_slots,
            score.predicted_slots,
            score.matched,
            score.f1()
        );
        per_label.push((label, score.f1()));
        total.add(score);
    }
    eprintln!(
        "template slot F1 over {} campaigns: {:.3}",
        per_label.len(),
        total.f1()
    );
    assert_eq!(per_label.len(), 9, "templates.tsv lists 9 campaigns");
    // Measured: see docs/campaigns.md.
    assert!(
        total.f1() >= TEMPLATE_SLOT_F1_FLOOR,
        "slot F1 {}",
        total.f1()
    );
    for (label, f1) in per_label {
        assert!(f1 >= PER_LABEL_SLOT_F1_FLOOR, "{label}: slot F1 {f1}");
    }
}

/// Overall template slot F1 floor: measured 0.955 (42 slots matched of 45
/// true and 43 found), minus a margin.
const TEMPLATE_SLOT_F1_FLOOR: f64 = 0.93;
/// Per-campaign template slot F1 floor: the weakest measured is
/// invoice-attachment at 0.800 (spintax sites), minus a margin.
const PER_LABEL_SLOT_F1_FLOOR: f64 = 0.75;

#[test]
fn eval_exits_3_below_min_f1() {
    let set = evalset();
    let out = eval(&set.db, &set.truth(), &set.out().join("waves.tsv"), "1.01");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("below --min-f1"));
}

/// Where a stored source comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Origin {
    Synthetic,
    Ham,
    Spam,
    MailingList,
}

fn origin(source: &str) -> Origin {
    if let Some((_, rest)) = source.split_once("spamassassin_public_corpus/") {
        if rest.starts_with("easy-ham-") || rest.starts_with("hard-ham-") {
            return Origin::Ham;
        }
        if rest.starts_with("spam-") {
            return Origin::Spam;
        }
    }
    if source.contains("linux_sparse_list_archive/") {
        return Origin::MailingList;
    }
    if source.contains("/evalset/messages/") {
        return Origin::Synthetic;
    }
    panic!("unexpected source {source}");
}

#[test]
fn real_mail_ham_lists_and_spam_stay_apart() {
    let campaigns = evalset().db.campaigns();
    let mut spam_campaigns_of_five = 0;
    let mut ham_or_list_campaigns_of_five = 0;
    for c in &campaigns {
        let size = c["size"].as_u64().expect("size");
        let mut count: BTreeMap<Origin, usize> = BTreeMap::new();
        for m in c["members"].as_array().expect("members") {
            *count
                .entry(origin(m["source"].as_str().expect("source")))
                .or_default() += 1;
        }
        let has = |o: Origin| count.contains_key(&o);
        assert!(
            !(has(Origin::Spam) && (has(Origin::Ham) || has(Origin::MailingList))),
            "campaign {} (size {size}) joins ham or list mail with spam: {count:?}",
            c["id"]
        );
        assert!(
            !(has(Origin::Synthetic) && count.len() > 1),
            "campaign {} joins synthetic and real mail: {count:?}",
            c["id"]
        );
        if size >= 5 {
            if has(Origin::Spam) {
                spam_campaigns_of_five += 1;
            }
            if has(Origin::Ham) || has(Origin::MailingList) {
                ham_or_list_campaigns_of_five += 1;
            }
        }
    }
    // The guards above are not vacuous: real campaigns of 5+ exist on both sides.
    assert!(spam_campaigns_of_five >= 3, "{spam_campaigns_of_five}");
    assert!(
        ham_or_list_campaigns_of_five >= 1,
        "{ham_or_list_campaigns_of_five}"
    );
}

#[test]
fn chronological_halves_give_the_one_shot_campaigns() {
    let set = evalset();
    let (earlier, later) = chronological_halves();
    let halves = Db::new();
    halves.scan(&as_paths(&earlier), &[]);
    halves.scan(&as_paths(&later), &[]);

    let reference = partition(one_shot());
    let incremental = partition(&halves);
    assert_eq!(incremental.len(), set.campaign_messages);
    let report = evaluate(&reference, &incremental);
    assert!(
        report.bcubed_f1 >= 0.99,
        "B-cubed F1 between the partitions {}",
        report.bcubed_f1
    );
    let ids = campaign_of_labels(&halves, &set.label_of);
    assert_eq!(ids.len(), 10);
    assert_eq!(ids, campaign_of_labels(one_shot(), &set.label_of));
    // Clustering depends only on the set of messages: the whole partition,
    // ids included, is the one-shot one.
    assert_eq!(incremental, reference);
}

#[test]
fn order_of_input_does_not_matter() {
    let set = evalset();
    let reference = partition(one_shot());

    // Every file at once, in reverse name order.
    let mut files: Vec<PathBuf> = set.synthetic.iter().map(|(_, s)| s.into()).collect();
    files.sort();
    files.reverse();
    let reversed = Db::new();
    reversed.scan(&as_paths(&files), &[]);
    assert_eq!(partition(&reversed), reference);

    // The later half first: ids published then belong to later members;
    // once the earlier half arrives each campaign takes its earliest
    // member's id and the ids published before resolve to it as aliases.
    let (earlier, later) = chronological_halves();
    let backwards = Db::new();
    backwards.scan(&as_paths(&later), &[]);
    let published = campaign_of_labels(&backwards, &set.label_of);
    backwards.scan(&as_paths(&earlier), &[]);
    assert_eq!(partition(&backwards), reference);
    let now = campaign_of_labels(&backwards, &set.label_of);
    let mut renamed = 0;
    for (label, old) in &published {
        let resolved = backwards.json(&["campaign", old, "--format", "json"]);
        assert_eq!(resolved["id"], now[label].as_str(), "{label}: {old}");
        if *old != now[label] {
            renamed += 1;
            assert!(
                resolved["aliases"]
                    .as_array()
                    .expect("aliases")
                    .iter()
                    .any(|a| a == old.as_str()),
                "{label}: {old} is not an alias of {}",
                now[label]
            );
        }
    }
    // Campaigns spanning the split were renamed, so the alias path ran.
    assert!(renamed >= 1, "{published:?} {now:?}");
}

/// A plain-text message, with an optional attachment, arriving at `time`.
fn eml(
    from: &str,
    to: &str,
    time: &str,
    subject: &str,
    body: &str,
    attachment: Option<&str>,
) -> String {
    let head = format!(
        "Received: from mx.sender.example (mx.sender.example [198.51.100.7]) by mx.recipient.example with ESMTP id T1; {time}\r\n\
         Date: {time}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}.{}@sender.example>\r\nMIME-Version: 1.0\r\n",
        to.len(),
        time.replace([' ', ':', ','], "")
    );
    match attachment {
        None => format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"),
        Some(base64) => format!(
            "{head}Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
             --b1\r\nContent-Type: application/pdf; name=\"statement.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"statement.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{base64}\r\n--b1--\r\n"
        ),
    }
}

const PARCEL: &str = "Hello {NAME}, your parcel is waiting at our depot because the delivery address \
    on the label could not be read by the courier. Please confirm the address and choose a new delivery \
    day on the tracking page within five days, otherwise the parcel goes back to the sender and the \
    return postage is charged to you.";

const STATEMENT: &str = "Dear {NAME}, attached is the quarterly statement of your pension plan. \
    The fund closed the quarter above its benchmark and no contribution changes are needed on your \
    side. Keep the document with your tax papers; the annual summary follows in January.";

/// Base64 of a small fixed "PDF": the shared attachment.
const ATTACHMENT: &str = "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg==";

#[test]
fn merged_campaigns_keep_the_older_id_and_alias_the_other() {
    let db = Db::new();
    let dir = db.dir.path().join("mail");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let names = ["Ann Lee", "Bo Park", "Cy Diaz"];
    let mut first_wave = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let parcel = dir.join(format!("parcel-{i}.eml"));
        let to = format!("{name} <r{i}@recipient.example>");
        let text = PARCEL.replace("{NAME}", name);
        let time = format!("Mon, 1 Mar 2021 10:0{i}:00 +0000");
        std::fs::write(
            &parcel,
            eml(
                "Depot <depot@parcel.example>",
                &to,
                &time,
                "Parcel waiting",
                &text,
                None,
            ),
        )
        .expect("write");
        let statement = dir.join(format!("statement-{i}.eml"));
        let text = STATEMENT.replace("{NAME}", name);
        let time = format!("Tue, 2 Mar 2021 09:0{i}:00 +0000");
        std::fs::write(
            &statement,
            eml(
                "Plan <plan@pension.example>",
                &to,
                &time,
                "Your statement",
                &text,
                Some(ATTACHMENT),
            ),
        )
        .expect("write");
        first_wave.push(parcel);
        first_wave.push(statement);
    }
    db.scan(&as_paths(&first_wave), &[]);
    let before = db.campaigns();
    assert_eq!(before.len(), 2, "two campaigns of three before the bridge");
    let id_of = |campaigns: &[Value], file: &str| -> String {
        campaigns
            .iter()
            .find(|c| {
                c["members"]
                    .as_array()
                    .expect("members")
                    .iter()
                    .any(|m| m["source"].as_str().is_some_and(|s| s.ends_with(file)))
            })
            .and_then(|c| c["id"].as_str())
            .expect("campaign of file")
            .to_string()
    };
    let (parcel_id, statement_id) = (
        id_of(&before, "parcel-0.eml"),
        id_of(&before, "statement-0.eml"),
    );
    assert_ne!(parcel_id, statement_id);
    for c in &before {
        assert_eq!(c["size"], 3, "{}", c["id"]);
    }
    // The id is the earliest member's sha256 prefix.
    let earliest = db
        .records()
        .into_iter()
        .find(|r| {
            r["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("parcel-0.eml"))
        })
        .expect("parcel-0");
    assert_eq!(
        parcel_id,
        earliest["sha256"].as_str().expect("sha256")[..12]
    );

    // The parcel text with the statement's attachment links to both.
    let bridge = dir.join("bridge.eml");
    let text = PARCEL.replace("{NAME}", "Di Fox");
    std::fs::write(
        &bridge,
        eml(
            "Depot <depot@parcel.example>",
            "Di Fox <r9@recipient.example>",
            "Wed, 3 Mar 2021 08:00:00 +0000",
            "Parcel waiting",
            &text,
            Some(ATTACHMENT),
        ),
    )
    .expect("write");
    db.scan(&[&bridge], &[]);
    let after = db.campaigns();
    assert_eq!(after.len(), 1, "one campaign after the bridge");
    assert_eq!(after[0]["size"], 7);
    assert_eq!(after[0]["id"], parcel_id.as_str(), "the older id survives");
    assert_eq!(after[0]["aliases"], serde_json::json!([statement_id]));

    let resolved = db.json(&["campaign", &statement_id, "--format", "json"]);
    assert_eq!(resolved["id"], parcel_id.as_str());
    let text = db.run(&["campaign", &statement_id]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with(&format!("campaign    {parcel_id} (also {statement_id})")),
        "{text}"
    );
    assert_eq!(db.run(&["campaign", "000000000000"]).status.code(), Some(1));
}

#[test]
fn bundled_sample_shows_a_campaign_with_waves_and_template() {
    let db = Db::new();
    db.scan(&[&repo("samples")], &[]);
    let campaigns = db.campaigns();
    let with_prefix = |prefix: &str| -> Vec<&Value> {
        campaigns
            .iter()
            .filter(|c| {
                c["members"].as_array().expect("members").iter().any(|m| {
                    m["source"]
                        .as_str()
                        .is_some_and(|s| s.contains(&format!("synthetic/{prefix}-")))
                })
            })
            .collect()
    };
    let members_all = |c: &Value, prefix: &str| {
        c["members"].as_array().expect("members").iter().all(|m| {
            m["source"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("synthetic/{prefix}-")))
        })
    };

    let phish = with_prefix("election-phish");
    assert_eq!(phish.len(), 1, "the election phish are one campaign");
    let phish = phish[0];
    assert_eq!(phish["size"], 180);
    assert!(members_all(phish, "election-phish"));
    assert_eq!(phish["waves"].as_array().expect("waves").len(), 3);
    let template: Template = serde_json::from_value(phish["template"].clone()).expect("template");
    let types: BTreeSet<SlotType> = template
        .segments
        .iter()
        .filter_map(|s| match s {
            wavetrace_core::campaign::TemplateSegment::Slot { slot_type, .. } => Some(*slot_type),
            _ => None,
        })
        .collect();
    for wanted in [
        SlotType::Name,
        SlotType::StreetAddress,
        SlotType::Url,
        SlotType::Token,
    ] {
        assert!(
            types.contains(&wanted),
            "{wanted:?} missing: {}",
            template.text
        );
    }
    for slot in ["{name}", "{street_address}", "{url}", "{token}"] {
        assert!(template.text.contains(slot), "{slot}: {}", template.text);
    }

    let county = with_prefix("county-notice");
    assert_eq!(county.len(), 1, "the county notices are one campaign");
    assert_eq!(county[0]["size"], 20);
    assert!(members_all(county[0], "county-notice"));
    assert_ne!(county[0]["id"], phish["id"]);
}
