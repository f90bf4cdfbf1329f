//! The rule language of the detection stage.
//!
//! Detections are rules in TOML files (see `docs/rules.md`): each rule has an
//! id, a severity, a score, labels and a `when` condition over the message's
//! JSON record. This module loads and validates rule files (every error with
//! origin, line and column), compiles conditions once, orders rules so that
//! `rule("other")` references are ready, and evaluates a rule set over a
//! record, returning the rules that fired with their evidence.

mod eval;
mod expr;
mod lexer;
mod load;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use load::parse_rule_file;

use eval::{eval, evidence_path_line, FiredLookup, NoEvidence};
use expr::{Expr, Path};

/// The closed set of labels rules may carry; given by the caller so a typo in
/// a rule file is an error instead of a label nothing reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSet(BTreeSet<String>);

impl LabelSet {
    /// A label set holding exactly `labels`.
    pub fn new(labels: &[&str]) -> LabelSet {
        LabelSet(labels.iter().map(|l| (*l).to_owned()).collect())
    }

    /// Whether `label` is allowed.
    pub fn contains(&self, label: &str) -> bool {
        self.0.contains(label)
    }

    /// The allowed labels, sorted (for error messages and listings).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// How bad a rule's finding is; ordered so callers can take the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, not suspicious by itself.
    Info,
    /// Weakly suspicious.
    Low,
    /// Suspicious.
    Medium,
    /// Likely malicious.
    High,
    /// Malicious with near certainty.
    Critical,
}

impl Severity {
    /// The name used in rule files and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Reads a severity name as written in rule files.
    pub fn from_name(name: &str) -> Option<Severity> {
        Some(match name {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sample message stored with a rule, so `rules test` can check that the
/// rule fires (or not) on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Whether the rule is expected to fire on the message.
    pub expect_match: bool,
    /// Why the example is there.
    pub note: Option<String>,
    /// The raw message (headers, blank line, body).
    pub message: String,
    /// Line of the `[[rule.example]]` table, for reporting a failing example.
    pub line: usize,
}

/// Where a path or a reference sits in the rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Site {
    name: String,
    line: usize,
    column: usize,
}

/// One loaded, validated and compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id (`^[a-z0-9][a-z0-9-]{1,63}$`), the name records and `rule()` use.
    pub id: String,
    /// What the rule detects, for people.
    pub description: String,
    /// How bad a match is.
    pub severity: Severity,
    /// Contribution to the verdict score, -100..=100 (negative: mitigating).
    pub score: i32,
    /// Labels from the caller's closed set.
    pub labels: Vec<String>,
    /// Free tags (MITRE ATT&CK ids and the like).
    pub tags: Vec<String>,
    /// Sample messages with their expected outcome.
    pub examples: Vec<Example>,
    /// Paths whose values are reported as evidence when the rule fires.
    pub evidence: Vec<String>,
    /// Disabled rules stay in the set (and can be referenced) but never fire.
    pub enabled: bool,
    /// Name of the file the rule came from, as given by the caller.
    pub origin: String,
    /// Line of the rule's `[[rule]]` table.
    pub line: usize,
    /// The `when` condition as written.
    pub condition_source: String,
    condition: Condition,
    evidence_paths: Vec<Path>,
    path_sites: Vec<Site>,
    ref_sites: Vec<Site>,
    id_line: usize,
    id_column: usize,
}

impl Rule {
    /// The compiled condition (its Display is the canonical form).
    pub fn condition(&self) -> &Condition {
        &self.condition
    }
}

/// The rules of one file, in file order.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// The file name given by the caller.
    pub origin: String,
    /// The rules, in the order they appear.
    pub rules: Vec<Rule>,
}

/// A problem in a rule file or rule set, located for the person fixing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct RuleError {
    /// The file name given by the caller.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A compiled condition, as found in a rule's `when`.
#[derive(Debug, Clone)]
pub struct Condition {
    expr: Expr,
}

/// Origin used for errors of conditions parsed on their own.
const STANDALONE_ORIGIN: &str = "<condition>";

/// Parses a standalone condition (tests, the CLI's ad-hoc queries); errors
/// carry the origin `<condition>` and a line:column within `src`.
pub fn parse_condition(src: &str) -> Result<Condition, RuleError> {
    expr::parse(src)
        .map(|expr| Condition { expr })
        .map_err(|e| {
            let (line, column) = load::LineIndex::new(src).position(e.offset);
            RuleError {
                origin: STANDALONE_ORIGIN.to_owned(),
                line,
                column,
                message: e.message,
            }
        })
}

impl Condition {
    /// Whether the condition holds for `record`; `fired(id)` answers `rule("id")`.
    pub fn matches(&self, record: &Value, fired: &dyn Fn(&str) -> bool) -> bool {
        eval(
            &self.expr,
            record,
            &FiredLookup::ById(fired),
            &mut NoEvidence,
        )
    }

    /// `Some(evidence)` when the condition holds for `record`, `None` otherwise.
    pub fn evaluate(&self, record: &Value, fired: &dyn Fn(&str) -> bool) -> Option<Vec<String>> {
        let lookup = FiredLookup::ById(fired);
        if !eval(&self.expr, record, &lookup, &mut NoEvidence) {
            return None;
        }
        let mut evidence = Vec::new();
        eval(&self.expr, record, &lookup, &mut evidence);
        Some(evidence)
    }

    /// The field names (dotted, without indices) the condition reads.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.for_each_path(&mut |p| out.push(p.field_name()));
        out
    }

    /// The ids of the rules referenced with `rule("...")`.
    pub fn rule_refs(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.for_each_rule_ref(&mut |r| out.push(r.id.clone()));
        out
    }
}

impl fmt::Display for Condition {
    /// The canonical form: normalised spacing, no comments, minimal parentheses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

/// A rule that fired on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// Index into [`RuleSet::rules`].
    pub rule: usize,
    /// Why: one line per condition leaf that made the rule true
    /// (`path op literal: value`), then the rule's `evidence` paths (`path: value`).
    pub evidence: Vec<String>,
}

/// A validated set of rules from one or more files, in evaluation order
/// (every rule after the rules it references).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Builds a rule set: rejects duplicate ids across files, references to
    /// unknown rules and dependency cycles; orders the rules (file order,
    /// except that referenced rules come first).
    pub fn new(files: Vec<RuleFile>) -> Result<RuleSet, Vec<RuleError>> {
        let mut rules: Vec<Rule> = files.into_iter().flat_map(|f| f.rules).collect();
        let mut errors = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            if let Some(&first) = by_id.get(&rule.id) {
                let first = rules.get(first).map_or((String::new(), 0, 0), |r| {
                    (r.origin.clone(), r.id_line, r.id_column)
                });
                errors.push(error_at(
                    &rule.origin,
                    rule.id_line,
                    rule.id_column,
                    format!(
                        "duplicate rule id `{}`; first defined at {}:{}:{}",
                        rule.id, first.0, first.1, first.2
                    ),
                ));
            } else {
                by_id.insert(rule.id.clone(), i);
            }
        }
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); rules.len()];
        for (i, rule) in rules.iter().enumerate() {
            for site in &rule.ref_sites {
                match by_id.get(&site.name) {
                    Some(&j) => {
                        if let Some(d) = deps.get_mut(i) {
                            if !d.contains(&j) {
                                d.push(j);
                            }
                        }
                    }
                    None => errors.push(error_at(
                        &rule.origin,
                        site.line,
                        site.column,
                        format!("unknown rule `{}` in rule(\"{}\")", site.name, site.name),
                    )),
                }
            }
        }
        errors.extend(cycle_errors(&rules, &deps));
        if !errors.is_empty() {
            return Err(errors);
        }
        let order = evaluation_order(&deps);
        let mut slots = vec![0usize; rules.len()];
        for (slot, &i) in order.iter().enumerate() {
            if let Some(s) = slots.get_mut(i) {
                *s = slot;
            }
        }
        for rule in &mut rules {
            rule.condition.expr.for_each_rule_ref_mut(&mut |r| {
                r.slot = by_id.get(&r.id).and_then(|&i| slots.get(i)).copied();
            });
        }
        let mut indexed: Vec<(usize, Rule)> = rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| (slots.get(i).copied().unwrap_or(i), r))
            .collect();
        indexed.sort_by_key(|(slot, _)| *slot);
        Ok(RuleSet {
            rules: indexed.into_iter().map(|(_, r)| r).collect(),
        })
    }

    /// The rules, in evaluation order; [`Fired::rule`] indexes this slice.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The top-level record fields (`signals`, `auth`, `received`) that the
    /// enabled rules' conditions and evidence read.
    pub fn top_level_fields(&self) -> HashSet<String> {
        self.rules
            .iter()
            .filter(|r| r.enabled)
            .flat_map(|r| &r.path_sites)
            .map(|site| site.name.split('.').next().unwrap_or_default().to_owned())
            .collect()
    }

    /// A stable digest (first 16 hex chars of a SHA-256) of what decides the
    /// results: per rule, sorted by id, the id, enabled flag, severity, score,
    /// labels, evidence paths and canonical condition. Descriptions, tags,
    /// examples, comments and formatting do not change it. Records carry it to
    /// name the rule-set version they were judged with.
    pub fn digest(&self) -> String {
        let mut sorted: Vec<&Rule> = self.rules.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let mut hasher = Sha256::new();
        let mut field = |s: &str| {
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        };
        for rule in sorted {
            field(&rule.id);
            field(if rule.enabled { "enabled" } else { "disabled" });
            field(rule.severity.as_str());
            field(&rule.score.to_string());
            field(&rule.labels.len().to_string());
            for label in &rule.labels {
                field(label);
            }
            field(&rule.evidence.len().to_string());
            for path in &rule.evidence {
                field(path);
            }
            field(&rule.condition.to_string());
        }
        let hex = crate::parse::hex(&hasher.finalize());
        hex.get(..16).unwrap_or(&hex).to_owned()
    }

    /// Evaluates every enabled rule over `record`, in evaluation order, and
    /// returns the ones that fired with their evidence.
    pub fn evaluate(&self, record: &Value) -> Vec<Fired> {
        let mut flags = vec![false; self.rules.len()];
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.enabled {
                continue;
            }
            let lookup = FiredLookup::Slots(&flags);
            if !eval(&rule.condition.expr, record, &lookup, &mut NoEvidence) {
                continue;
            }
            let mut evidence: Vec<String> = Vec::new();
            eval(&rule.condition.expr, record, &lookup, &mut evidence);
            for path in &rule.evidence_paths {
                if let Some(line) = evidence_path_line(record, path) {
                    evidence.push(line);
                }
            }
            if let Some(flag) = flags.get_mut(i) {
                *flag = true;
            }
            out.push(Fired { rule: i, evidence });
        }
        out
    }

    /// Checks every path used by conditions and `evidence` lists with
    /// `problem` (given the dotted field name without indices, e.g.
    /// `urls.host`; it says what is wrong with a path, or None), returning an
    /// error at each refused path's line:column.
    pub fn check_paths(&self, problem: &dyn Fn(&str) -> Option<String>) -> Vec<RuleError> {
        let mut errors = Vec::new();
        for rule in &self.rules {
            for site in &rule.path_sites {
                if let Some(message) = problem(&site.name) {
                    errors.push(error_at(&rule.origin, site.line, site.column, message));
                }
            }
        }
        errors
    }
}

fn error_at(origin: &str, line: usize, column: usize, message: String) -> RuleError {
    RuleError {
        origin: origin.to_owned(),
        line,
        column,
        message,
    }
}

/// One error per dependency cycle found by a depth-first search, naming the
/// cycle (`a -> b -> a`) at the reference that starts it.
fn cycle_errors(rules: &[Rule], deps: &[Vec<usize>]) -> Vec<RuleError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; rules.len()];
    let mut seen_cycles: HashSet<Vec<usize>> = HashSet::new();
    let mut errors = Vec::new();
    for root in 0..rules.len() {
        if marks.get(root) != Some(&Mark::New) {
            continue;
        }
        // Iterative DFS: (node, next dependency to visit).
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(m) = marks.get_mut(root) {
            *m = Mark::Active;
        }
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let dep = deps.get(node).and_then(|d| d.get(*next)).copied();
            *next += 1;
            match dep {
                None => {
                    if let Some(m) = marks.get_mut(node) {
                        *m = Mark::Done;
                    }
                    stack.pop();
                }
                Some(d) => match marks.get(d).copied() {
                    Some(Mark::New) => {
                        if let Some(m) = marks.get_mut(d) {
                            *m = Mark::Active;
                        }
                        stack.push((d, 0));
                    }
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|(n, _)| *n == d).unwrap_or(0);
                        let cycle: Vec<usize> = stack
                            .get(from..)
                            .unwrap_or_default()
                            .iter()
                            .map(|(n, _)| *n)
                            .collect();
                        let mut key = cycle.clone();
                        key.sort_unstable();
                        if seen_cycles.insert(key) {
                            errors.push(cycle_error(rules, &cycle));
                        }
                    }
                    _ => {}
                },
            }
        }
    }
    errors
}

/// The error for one cycle, rotated to start at its earliest-defined rule.
fn cycle_error(rules: &[Rule], cycle: &[usize]) -> RuleError {
    let start = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, n)| **n)
        .map_or(0, |(i, _)| i);
    let rotated: Vec<usize> = cycle
        .iter()
        .skip(start)
        .chain(cycle.iter().take(start))
        .copied()
        .collect();
    let ids: Vec<&str> = rotated
        .iter()
        .filter_map(|&i| rules.get(i).map(|r| r.id.as_str()))
        .collect();
    let first = rotated.first().and_then(|&i| rules.get(i));
    let next_id = ids.get(1).or(ids.first()).copied().unwrap_or_default();
    let message = if ids.len() == 1 {
        format!("rule `{next_id}` depends on itself through rule(\"{next_id}\")")
    } else {
        let mut names = ids.join(" -> ");
        names.push_str(" -> ");
        names.push_str(ids.first().copied().unwrap_or_default());
        format!("dependency cycle between rules: {names}")
    };
    match first {
        Some(rule) => {
            let site = rule.ref_sites.iter().find(|s| s.name == next_id);
            let (line, column) = site.map_or((rule.line, 1), |s| (s.line, s.column));
            error_at(&rule.origin, line, column, message)
        }
        None => error_at("", 0, 0, message),
    }
}

/// A topological order of an acyclic dependency graph that keeps the input
/// order wherever the dependencies allow (Kahn's algorithm, smallest first).
fn evaluation_order(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut pending: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            if let Some(v) = dependents.get_mut(d) {
                v.push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n)
        .filter(|&i| pending.get(i) == Some(&0))
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &dependent in dependents.get(i).map(Vec::as_slice).unwrap_or_default() {
            if let Some(p) = pending.get_mut(dependent) {
                *p -= 1;
                if *p == 0 {
                    ready.push(Reverse(dependent));
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests;
