//! Reports and exports on the labelled evaluation set of `tools/evalgen`
//! (seed 12) with its real background mail (SpamAssassin, linux_sparse):
//! - the STIX bundle passes the official validator (`stix2-validator`) with
//!   zero errors, and the MISP events load in PyMISP with every object
//!   checked against its bundled template (`scripts/check_exports.py`);
//! - the HTML report renders in headless Chromium with one shaded region
//!   per wave in each campaign's timeline;
//! - no recipient address or personal slot value (evalgen's `personal.tsv`)
//!   appears in any export or the report unless `--include-personal`; the
//!   purge lists name recipients and say so;
//! - re-exporting the same data gives the same bytes;
//! - the selection filters.
//!
//! The checking tools are installed by `scripts/test.sh` (Chromium from
//! Debian, the Python tools into `target/pyenv`); a test fails, never
//! skips, when one is missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{repo, workspace, Db};
use serde_json::Value;

/// The evaluation set's seed (tools/evalgen/README.md).
const SEED: u64 = 12;

/// The evaluation set scanned into one database.
struct Evalset {
    dir: tempfile::TempDir,
    db: Db,
    /// Personal values evalgen put in the messages: (kind, value).
    personal: Vec<(String, String)>,
}

fn evalset() -> &'static Evalset {
    static EVALSET: OnceLock<Evalset> = OnceLock::new();
    EVALSET.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("evalset");
        let (_, paths) = common::evalset(SEED, &out);
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let db = Db::new();
        db.scan(&paths, &[]);
        let personal = std::fs::read_to_string(out.join("personal.tsv"))
            .expect("personal.tsv")
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (_, kind, value) = (f.next()?, f.next()?, f.next()?);
                Some((kind.to_string(), value.to_string()))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Evalset { dir, db, personal }
    })
}

/// Runs wavetrace on the evaluation database; panics unless exit 0.
fn run(db: &Db, args: &[&str]) -> String {
    let out = db.run(args);
    assert!(
        out.status.success(),
        "wavetrace {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh folder under the evaluation set's temporary directory.
fn folder(name: &str) -> PathBuf {
    let dir = evalset().dir.path().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create folder");
    dir
}

fn python() -> PathBuf {
    let python = std::env::var_os("WAVETRACE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pyenv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh, which installs stix2-validator and PyMISP",
        python.display()
    );
    python
}

/// Runs `scripts/check_exports.py KIND PATH`; returns its output, panics
/// (with the output) unless it exits 0.
fn check_exports(kind: &str, path: &Path) -> String {
    let out = Command::new(python())
        .arg(repo("scripts/check_exports.py"))
        .arg(kind)
        .arg(path)
        .output()
        .expect("run check_exports.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "check_exports.py {kind} failed:\n{text}"
    );
    text
}

/// Every file under `dir` (or the file itself), as text.
fn all_text(path: &Path) -> String {
    if path.is_file() {
        return std::fs::read_to_string(path).expect("read export");
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    entries
        .iter()
        .map(|p| all_text(p))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes every export and the report into `name`; returns the paths.
fn export_all(name: &str, extra: &[&str]) -> Vec<PathBuf> {
    let dir = folder(name);
    let (stix, misp, csv, html) = (
        dir.join("bundle.json"),
        dir.join("misp"),
        dir.join("csv"),
        dir.join("report.html"),
    );
    let db = &evalset().db;
    let path = |p: &Path| p.display().to_string();
    let mut args = vec![
        "export".to_string(),
        "--stix".into(),
        path(&stix),
        "--misp".into(),
        path(&misp),
        "--csv".into(),
        path(&csv),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(db, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut args = vec!["report".to_string(), "--html".into(), path(&html)];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(db, &args.iter().map(String::as_str).collect::<Vec<_>>());
    vec![stix, misp, csv, html]
}

fn default_exports() -> &'static Vec<PathBuf> {
    static EXPORTS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    EXPORTS.get_or_init(|| export_all("default", &[]))
}

#[test]
fn stix_bundle_passes_the_official_validator() {
    let stix = &default_exports()[0];
    let out = check_exports("stix", stix);
    println!("{out}");
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(stix).expect("bundle")).expect("JSON");
    let objects = bundle["objects"].as_array().expect("objects");
    let count = |t: &str| objects.iter().filter(|o| o["type"] == t).count();
    let campaigns = evalset().db.json(&["campaigns", "--format", "json"]);
    assert_eq!(
        count("campaign"),
        campaigns.as_array().expect("campaigns").len()
    );
    assert!(count("indicator") > 0 && count("observed-data") > 0 && count("relationship") > 0);
    assert_eq!(count("identity"), 1);
    // amber by default
    assert!(std::fs::read_to_string(stix)
        .expect("bundle")
        .contains("TLP:AMBER"));
}

#[test]
fn misp_events_load_in_pymisp_against_their_templates() {
    let misp = &default_exports()[1];
    let out = check_exports("misp", misp);
    println!("{out}");
    let events = std::fs::read_dir(misp).expect("misp dir").count();
    let campaigns = evalset().db.json(&["campaigns", "--format", "json"]);
    assert_eq!(events, campaigns.as_array().expect("campaigns").len());
    assert!(all_text(misp).contains("\"tlp:amber\""));
}

#[test]
fn report_renders_one_shaded_region_per_wave() {
    let html = &default_exports()[3];
    let (dom, _) = wavetrace_report::testdata::dump_dom(html);
    let campaigns = evalset().db.json(&["campaigns", "--format", "json"]);
    let campaigns = campaigns.as_array().expect("campaigns");
    assert!(dom.contains("TLP:AMBER"), "no TLP banner");
    for c in campaigns {
        let id = c["id"].as_str().expect("id");
        let start = dom
            .find(&format!("id=\"campaign-{id}\""))
            .unwrap_or_else(|| panic!("campaign {id} missing from the rendered report"));
        let section = &dom[start..];
        let end = section[1..]
            .find("id=\"campaign-")
            .map_or(section.len(), |e| e + 1);
        let waves = c["waves"].as_array().expect("waves").len();
        assert_eq!(
            section[..end].matches("class=\"wave\"").count(),
            waves,
            "campaign {id}"
        );
    }
}

/// Every personal value of the evaluation set that must not be shared.
fn leaked<'a>(text: &str, personal: &'a [(String, String)]) -> Vec<&'a (String, String)> {
    let lower = text.to_lowercase();
    personal
        .iter()
        .filter(|(_, v)| lower.contains(&v.to_lowercase()))
        .collect()
}

#[test]
fn nothing_personal_is_shared_unless_asked() {
    let set = evalset();
    assert!(set.personal.len() > 100, "{}", set.personal.len());
    let kinds: BTreeSet<&str> = set.personal.iter().map(|(k, _)| k.as_str()).collect();
    assert!(kinds.is_superset(&BTreeSet::from([
        "name",
        "email",
        "street_address",
        "phone"
    ])));
    for path in default_exports() {
        let text = all_text(path);
        let leaks = leaked(&text, &set.personal);
        assert!(
            leaks.is_empty(),
            "{}: {} personal values leaked, e.g. {:?}",
            path.display(),
            leaks.len(),
            &leaks[..leaks.len().min(5)]
        );
    }
    // Asked for, they are there: the recipients' addresses at least.
    let included = export_all("personal", &["--include-personal"]);
    let text = all_text(&included[2]);
    let emails: Vec<&(String, String)> =
        set.personal.iter().filter(|(k, _)| k == "email").collect();
    let present = emails
        .iter()
        .filter(|(_, v)| text.to_lowercase().contains(&v.to_lowercase()))
        .count();
    assert!(
        present * 10 >= emails.len() * 9,
        "{present} of {}",
        emails.len()
    );
    let html = std::fs::read_to_string(&included[3]).expect("report");
    assert!(
        html.to_lowercase().contains("personal data"),
        "no warning in the report"
    );
}

#[test]
fn purge_lists_name_recipients_and_say_so() {
    let set = evalset();
    let dir = folder("purge");
    let stderr = run(
        &set.db,
        &[
            "export",
            "--purge",
            &dir.display().to_string(),
            "--label",
            "election",
        ],
    );
    assert!(stderr.contains("NAME RECIPIENTS"), "{stderr}");
    let readme = std::fs::read_to_string(dir.join("README.txt")).expect("README.txt");
    assert!(readme.contains("NAME RECIPIENTS"));
    let lists: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("purge dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert!(!lists.is_empty());
    let text = all_text(&dir);
    assert!(text.starts_with("These purge lists"));
    let header = std::fs::read_to_string(&lists[0]).expect("list");
    assert!(header.starts_with(
        "campaign_id,message_id,arrival_time,date,from_address,return_path,subject,recipient,sha256\r\n"
    ));
    let emails = set.personal.iter().filter(|(k, _)| k == "email");
    assert!(emails.filter(|(_, v)| text.contains(v.as_str())).count() > 10);
}

#[test]
fn re_export_gives_the_same_bytes() {
    let again = export_all("again", &[]);
    for (a, b) in default_exports().iter().zip(&again) {
        assert!(
            all_text(a) == all_text(b),
            "{} and {} differ",
            a.display(),
            b.display()
        );
    }
}

/// The campaign ids in a campaigns.csv export with these selection flags.
fn selected(name: &str, flags: &[&str]) -> Vec<String> {
    let dir = folder(name);
    let mut args = vec!["export", "--csv"];
    let d = dir.display().to_string();
    args.push(&d);
    args.extend_from_slice(flags);
    run(&evalset().db, &args);
    std::fs::read_to_string(dir.join("campaigns.csv"))
        .expect("campaigns.csv")
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next().map(str::to_string))
        .collect()
}

#[test]
fn selection_filters() {
    let db = &evalset().db;
    let all: Vec<Value> = db.campaigns();
    let by_id: BTreeMap<&str, &Value> = all
        .iter()
        .map(|c| (c["id"].as_str().expect("id"), c))
        .collect();
    let default = selected("sel-default", &[]);
    assert!(default
        .iter()
        .all(|id| by_id[id.as_str()]["size"].as_u64() >= Some(2)));
    assert_eq!(
        selected("sel-all", &["--all"]).len(),
        all.len(),
        "--all includes single messages"
    );
    let malicious = selected("sel-mal", &["--verdict", "malicious"]);
    assert!(malicious
        .iter()
        .all(|id| by_id[id.as_str()]["verdict"] == "malicious"));
    let election = selected("sel-label", &["--label", "election"]);
    assert!(!election.is_empty());
    assert!(election.iter().all(|id| by_id[id.as_str()]["labels"]
        .as_array()
        .is_some_and(|l| l.iter().any(|l| l == "election"))));
    let one = &default[0];
    assert_eq!(selected("sel-one", &["--campaign", one]), vec![one.clone()]);
    let first_seen = by_id[one.as_str()]["first_seen"]
        .as_str()
        .expect("first_seen");
    assert!(selected("sel-until", &["--campaign", one, "--until", first_seen]).is_empty());
    let since = selected("sel-since", &["--since", "2020-09-01"]);
    assert!(since
        .iter()
        .all(|id| by_id[id.as_str()]["last_seen"].as_str() >= Some("2020-09-01")));
    assert!(since.len() < default.len());
    let unknown = db.run(&[
        "export",
        "--csv",
        "/nonexistent/x",
        "--campaign",
        "ffffffffffff",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    let bad_tlp = db.run(&["report", "--html", "x.html", "--tlp", "white"]);
    assert_eq!(bad_tlp.status.code(), Some(2));
}

/// Recipients who were Bcc'd (only the Received chain names them), whose
/// address sits inside encoded tracking links, or who appear in a campaign
/// other than the one exported (a victim's hijacked account sending) are
/// redacted too; the purge list still names the Bcc'd recipients.
#[test]
fn bcc_encoded_and_unselected_recipients_are_redacted() {
    let db = Db::new();
    db.scan(&[&repo("crates/wavetrace/tests/fixtures/report")], &[]);
    let secrets = [
        "carol.king88",
        "omar.haddad12",
        "li.wei55",
        "Carol King",
        "Omar Haddad",
        "41 Birch Lane",
        "7 Cedar Street",
        "Y2Fyb2wua2luZzg4",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |n: &str| dir.path().join(n).display().to_string();
    let out = db.run(&[
        "export",
        "--all",
        "--stix",
        &d("b.json"),
        "--misp",
        &d("misp"),
        "--csv",
        &d("csv"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = db.run(&["report", "--all", "--html", &d("r.html")]);
    assert!(out.status.success());
    // The hijacked account's message alone.
    let hijacked = db
        .campaigns()
        .into_iter()
        .find(|c| c["size"] == 1 && c["senders"][0]["value"] == "carol.king88@victim-org.example")
        .expect("the hijacked account's campaign");
    let id = hijacked["id"].as_str().expect("id");
    let out = db.run(&["export", "--campaign", id, "--csv", &d("one")]);
    assert!(out.status.success());
    for path in ["b.json", "misp", "csv", "r.html", "one"] {
        let text = all_text(&dir.path().join(path));
        for s in secrets {
            assert!(!text.contains(s), "{path}: {s} leaked");
        }
    }
    let out = db.run(&["export", "--all", "--purge", &d("purge")]);
    assert!(out.status.success());
    let purge = all_text(&dir.path().join("purge"));
    for a in ["carol.king88@", "omar.haddad12@", "li.wei55@"] {
        assert!(purge.contains(a), "purge list misses {a}");
    }
}
