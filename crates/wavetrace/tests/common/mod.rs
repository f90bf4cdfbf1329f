//! Helpers for the integration tests: run the built binary, find corpora.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Unpacked corpora (the archives of ../shared/corpora): `WAVETRACE_CORPORA`
/// or `target/corpora` (scripts/test.sh unpacks them there).
pub fn unpacked(name: &str) -> PathBuf {
    let base = std::env::var_os("WAVETRACE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/corpora"));
    let path = base.join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh (or ../shared/corpora/unpack.sh target/corpora) first",
        path.display()
    );
    path
}

/// Loose corpora in ../shared/corpora.
pub fn shared(name: &str) -> PathBuf {
    let base = std::env::var_os("WAVETRACE_SHARED_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/corpora"));
    let path = base.join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Bundled samples and fixtures in the repo.
pub fn repo(path: &str) -> PathBuf {
    workspace().join(path)
}

pub fn wavetrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wavetrace"))
}

pub struct Db {
    pub dir: tempfile::TempDir,
}

impl Db {
    pub fn new() -> Db {
        Db {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("wavetrace.db")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        wavetrace()
            .arg("--db")
            .arg(self.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run wavetrace")
    }

    /// Runs a scan with a JSON summary and returns it; panics unless exit 0.
    pub fn scan(&self, paths: &[&Path], extra: &[&str]) -> Value {
        let mut cmd = wavetrace();
        cmd.arg("--db")
            .arg(self.path())
            .arg("scan")
            .arg("--summary-format")
            .arg("json")
            .args(extra)
            .args(paths)
            .stdin(Stdio::null());
        let out = cmd.output().expect("run scan");
        assert!(
            out.status.success(),
            "scan failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("summary {last:?}: {e}"))
    }

    /// Every stored record.
    pub fn records(&self) -> Vec<Value> {
        let out = self.run(&["messages", "--format", "ndjson"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }
}

/// The counts of a scan summary, in a fixed order, for exact assertions.
pub fn counts(summary: &Value) -> [u64; 7] {
    let n = |k: &str| {
        summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {summary}"))
    };
    [
        n("analysed"),
        n("stored"),
        n("duplicates"),
        n("malformed"),
        n("not_mail"),
        n("too_large"),
        n("unreadable"),
    ]
}

impl Db {
    /// Runs a command that prints one JSON document on stdout and returns
    /// it; panics unless exit 0.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "wavetrace {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("wavetrace {args:?}: stdout is not JSON: {e}"))
    }

    /// Every stored campaign, singletons included (`campaigns --all --format json`).
    pub fn campaigns(&self) -> Vec<Value> {
        match self.json(&["campaigns", "--all", "--format", "json"]) {
            Value::Array(campaigns) => campaigns,
            other => panic!("campaigns --format json is not an array: {other}"),
        }
    }
}

/// The labelled evaluation set of `tools/evalgen` written into `out` with
/// `seed`, and what to scan for it: its messages folder, then the folders
/// its background lines come from (SpamAssassin's five folders,
/// linux-sparse's `msgs/`).
pub fn evalset(seed: u64, out: &Path) -> (evalgen::Generated, Vec<PathBuf>) {
    let corpora = unpacked("spamassassin_public_corpus")
        .parent()
        .expect("the corpora folder")
        .to_path_buf();
    unpacked("linux_sparse_list_archive");
    let generated = evalgen::generate(&evalgen::Options {
        seed,
        out: out.to_path_buf(),
        corpora,
    })
    .expect("evalgen");
    let truth = std::fs::read_to_string(out.join("truth.tsv")).expect("truth.tsv");
    let background: std::collections::BTreeSet<PathBuf> = truth
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, label)| *label == "-")
        .filter_map(|(path, _)| Path::new(path).parent().map(Path::to_path_buf))
        .collect();
    let mut paths = vec![out.join("messages")];
    paths.extend(background);
    (generated, paths)
}
