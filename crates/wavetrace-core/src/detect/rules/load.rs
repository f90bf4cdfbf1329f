//! Rule files: TOML in, validated and compiled rules out, with every error
//! located at the offending value (conditions: at the exact character inside
//! the `when` string).
//!
//! The file is read with toml's spanned parse tree (`DeTable`) rather than
//! serde structs, so that one bad rule does not hide the errors of the others:
//! all problems of a file are reported at once.

use std::collections::HashMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::expr::{self, Expr};
use super::{Condition, Example, LabelSet, Rule, RuleError, RuleFile, Severity, Site};

/// Most `evidence` paths one rule may list.
const MAX_EVIDENCE_PATHS: usize = 16;

const RULE_KEYS: &str =
    "id, description, severity, score, labels, tags, when, evidence, enabled, example";
const EXAMPLE_KEYS: &str = "expect, note, message";

/// Byte offset -> 1-based line and column (in characters).
pub(super) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(super) fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { text, starts }
    }

    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => offset - start,
        };
        (line, column + 1)
    }
}

/// Maps byte offsets in a decoded TOML string back to byte offsets in the
/// file. Exact for literal strings (`'...'`, `'''...'''`) and for basic
/// strings whose escapes we decode identically to toml; otherwise the
/// offset into the raw content (approximate when escapes precede it).
struct StringMap {
    base: usize,
    exact: Option<Vec<usize>>,
}

impl StringMap {
    fn new(text: &str, span: &Range<usize>, value: &str) -> StringMap {
        let raw = text.get(span.clone()).unwrap_or_default();
        let (delim, literal) = if raw.starts_with("'''") {
            (3, true)
        } else if raw.starts_with("\"\"\"") {
            (3, false)
        } else if raw.starts_with('\'') {
            (1, true)
        } else {
            (1, false)
        };
        let mut start = span.start + delim;
        let end = span.end.saturating_sub(delim).max(start);
        let mut content = text.get(start..end).unwrap_or_default();
        if delim == 3 {
            for newline in ["\r\n", "\n"] {
                if let Some(rest) = content.strip_prefix(newline) {
                    start += newline.len();
                    content = rest;
                    break;
                }
            }
        }
        let decoded = if literal {
            (0..=content.len()).map(|i| start + i).collect::<Vec<_>>()
        } else {
            decode_basic(content, start)
        };
        let exact = if literal {
            (content == value).then_some(decoded)
        } else {
            (decoded.len() == value.len() + 1).then_some(decoded)
        };
        StringMap { base: start, exact }
    }

    fn file_offset(&self, i: usize) -> usize {
        match &self.exact {
            Some(map) => map.get(i).or(map.last()).copied().unwrap_or(self.base + i),
            None => self.base + i,
        }
    }
}

/// Decodes a TOML basic string's content, returning for each decoded byte the
/// file offset of the source character that produced it (plus one entry for
/// the end). Returns a map of the wrong length when it meets something it
/// does not decode, which makes the caller fall back to approximate offsets.
fn decode_basic(content: &str, start: usize) -> Vec<usize> {
    let mut map = Vec::with_capacity(content.len() + 1);
    let mut chars = content.char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        if c != '\\' {
            map.extend(std::iter::repeat_n(start + off, c.len_utf8()));
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        let produced = match e {
            'b' | 't' | 'n' | 'f' | 'r' | 'e' | '"' | '\\' => Some(1),
            'x' | 'u' | 'U' => {
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..digits)
                    .filter_map(|_| chars.next().map(|(_, h)| h))
                    .collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map(char::len_utf8)
            }
            c if c.is_whitespace() => {
                // Line-ending backslash: skip whitespace and newlines.
                while chars.peek().is_some_and(|(_, w)| w.is_whitespace()) {
                    chars.next();
                }
                Some(0)
            }
            _ => None,
        };
        match produced {
            Some(n) => map.extend(std::iter::repeat_n(start + off, n)),
            None => return Vec::new(),
        }
    }
    map.push(start + content.len());
    map
}

/// Collects errors of one file, all located through the same line index.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
    lines: LineIndex<'a>,
    errors: Vec<RuleError>,
}

impl Ctx<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        self.lines.position(offset)
    }

    fn error(&mut self, offset: usize, message: impl Into<String>) {
        let (line, column) = self.position(offset);
        self.errors.push(RuleError {
            origin: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
        });
    }

    fn string<'v>(&mut self, key: &str, value: &'v Spanned<DeValue<'_>>) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.error(
                    value.span().start,
                    format!("`{key}` must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An array of strings, each with its span.
    fn strings<'v>(
        &mut self,
        key: &str,
        value: &'v Spanned<DeValue<'_>>,
    ) -> Option<Vec<(&'v str, Range<usize>)>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.error(
                value.span().start,
                format!(
                    "`{key}` must be an array of strings, found {}",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.as_ref(), item.span())),
                other => {
                    ok = false;
                    self.error(
                        item.span().start,
                        format!("`{key}` must hold strings, found {}", other.type_str()),
                    );
                }
            }
        }
        ok.then_some(out)
    }
}

/// Parses one rule file. `origin` names the file in errors; labels must come
/// from `labels`. All errors of the file are returned (a TOML syntax error is
/// a single error, since nothing after it can be trusted).
pub fn parse_rule_file(
    text: &str,
    origin: &str,
    labels: &LabelSet,
) -> Result<RuleFile, Vec<RuleError>> {
    let mut ctx = Ctx {
        text,
        origin,
        lines: LineIndex::new(text),
        errors: Vec::new(),
    };
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim_end().to_owned();
            ctx.error(offset, format!("TOML syntax error: {message}"));
            return Err(ctx.errors);
        }
    };
    let mut rules = Vec::new();
    for (key, value) in doc.get_ref().iter() {
        if key.get_ref() != "rule" {
            ctx.error(
                key.span().start,
                format!(
                    "unknown key `{}`; a rule file holds only [[rule]] tables",
                    key.get_ref()
                ),
            );
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            ctx.error(
                value.span().start,
                "`rule` must be an array of tables: write each rule under [[rule]]",
            );
            continue;
        };
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(table) => {
                    if let Some(rule) = load_rule(&mut ctx, table, item.span(), labels) {
                        rules.push(rule);
                    }
                }
                other => ctx.error(
                    item.span().start,
                    format!("each rule must be a table, found {}", other.type_str()),
                ),
            }
        }
    }
    let mut first_seen: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut duplicates = Vec::new();
    for rule in &rules {
        match first_seen.get(rule.id.as_str()) {
            Some(&(line, column)) => duplicates.push(RuleError {
                origin: origin.to_owned(),
                line: rule.id_line,
                column: rule.id_column,
                message: format!(
                    "duplicate rule id `{}`; first defined at {origin}:{line}:{column}",
                    rule.id
                ),
            }),
            None => {
                first_seen.insert(&rule.id, (rule.id_line, rule.id_column));
            }
        }
    }
    ctx.errors.extend(duplicates);
    if ctx.errors.is_empty() {
        Ok(RuleFile {
            origin: origin.to_owned(),
            rules,
        })
    } else {
        ctx.errors.sort_by_key(|e| (e.line, e.column));
        Err(ctx.errors)
    }
}

/// The fields of one `[[rule]]` table, each validated where it stands.
#[derive(Default)]
struct Fields {
    id: Option<(String, usize)>,
    description: Option<String>,
    severity: Option<Severity>,
    score: Option<i32>,
    labels: Vec<String>,
    tags: Vec<String>,
    when: Option<(String, Expr, StringMap)>,
    evidence: Vec<(String, expr::Path, usize)>,
    enabled: Option<bool>,
    examples: Vec<Example>,
}

fn load_rule(
    ctx: &mut Ctx<'_>,
    table: &DeTable<'_>,
    span: Range<usize>,
    labels: &LabelSet,
) -> Option<Rule> {
    let errors_before = ctx.errors.len();
    let mut fields = Fields::default();
    let mut seen_when = false;
    for (key, value) in table.iter() {
        let at = value.span().start;
        match key.get_ref().as_ref() {
            "id" => {
                if let Some(id) = ctx.string("id", value) {
                    if valid_id(id) {
                        fields.id = Some((id.to_owned(), at));
                    } else {
                        ctx.error(at, format!("invalid rule id `{id}`: use 2 to 64 characters from a-z, 0-9 and `-`, not starting with `-`"));
                    }
                }
            }
            "description" => {
                if let Some(d) = ctx.string("description", value) {
                    if d.trim().is_empty() {
                        ctx.error(at, "`description` must not be empty");
                    } else {
                        fields.description = Some(d.to_owned());
                    }
                }
            }
            "severity" => {
                if let Some(s) = ctx.string("severity", value) {
                    match Severity::from_name(s) {
                        Some(sev) => fields.severity = Some(sev),
                        None => ctx.error(at, format!("unknown severity `{s}`; expected info, low, medium, high or critical")),
                    }
                }
            }
            "score" => match value.get_ref() {
                DeValue::Integer(n) => {
                    match i64::from_str_radix(n.as_str(), n.radix())
                        .ok()
                        .and_then(|n| i32::try_from(n).ok())
                    {
                        Some(n) if (-100..=100).contains(&n) => fields.score = Some(n),
                        _ => ctx.error(
                            at,
                            format!("score {n} is out of range; it must be between -100 and 100"),
                        ),
                    }
                }
                other => ctx.error(
                    at,
                    format!(
                        "`score` must be an integer between -100 and 100, found {}",
                        other.type_str()
                    ),
                ),
            },
            "labels" => {
                for (label, span) in ctx.strings("labels", value).unwrap_or_default() {
                    if !labels.contains(label) {
                        let allowed: Vec<&str> = labels.iter().collect();
                        ctx.error(
                            span.start,
                            format!(
                                "unknown label `{label}`; allowed labels: {}",
                                allowed.join(", ")
                            ),
                        );
                    } else if !fields.labels.iter().any(|l| l == label) {
                        fields.labels.push(label.to_owned());
                    }
                }
            }
            "tags" => {
                for (tag, span) in ctx.strings("tags", value).unwrap_or_default() {
                    if tag.trim().is_empty() {
                        ctx.error(span.start, "tags must not be empty");
                    } else {
                        fields.tags.push(tag.to_owned());
                    }
                }
            }
            "when" => {
                seen_when = true;
                if let Some(src) = ctx.string("when", value) {
                    let map = StringMap::new(ctx.text, &value.span(), src);
                    match expr::parse(src) {
                        Ok(expr) => fields.when = Some((src.to_owned(), expr, map)),
                        Err(e) => ctx.error(map.file_offset(e.offset), e.message),
                    }
                }
            }
            "evidence" => {
                let paths = ctx.strings("evidence", value).unwrap_or_default();
                if paths.len() > MAX_EVIDENCE_PATHS {
                    ctx.error(
                        at,
                        format!(
                            "too many evidence paths ({}; the limit is {MAX_EVIDENCE_PATHS})",
                            paths.len()
                        ),
                    );
                }
                for (src, span) in paths {
                    let map = StringMap::new(ctx.text, &span, src);
                    match expr::parse_path(src) {
                        Ok(path) => {
                            fields
                                .evidence
                                .push((src.to_owned(), path, map.file_offset(0)))
                        }
                        Err(e) => ctx.error(
                            map.file_offset(e.offset),
                            format!("invalid evidence path: {}", e.message),
                        ),
                    }
                }
            }
            "enabled" => match value.get_ref() {
                DeValue::Boolean(b) => fields.enabled = Some(*b),
                other => ctx.error(
                    at,
                    format!(
                        "`enabled` must be true or false, found {}",
                        other.type_str()
                    ),
                ),
            },
            "example" => fields.examples = load_examples(ctx, value),
            other => ctx.error(
                key.span().start,
                format!("unknown key `{other}` in rule; the keys are {RULE_KEYS}"),
            ),
        }
    }
    let mut missing = |name: &str, present: bool| {
        if !present {
            ctx.error(
                span.start,
                format!("rule is missing the required key `{name}`"),
            );
        }
    };
    missing("id", fields.id.is_some() || table_has(table, "id"));
    missing("description", table_has(table, "description"));
    missing("severity", table_has(table, "severity"));
    missing("score", table_has(table, "score"));
    missing("when", seen_when);
    if ctx.errors.len() != errors_before {
        return None;
    }
    let (id, id_at) = fields.id?;
    let (condition_source, expr, map) = fields.when?;
    let (id_line, id_column) = ctx.position(id_at);
    let mut path_sites = Vec::new();
    expr.for_each_path(&mut |p| {
        let (line, column) = ctx.position(map.file_offset(p.offset));
        path_sites.push(Site {
            name: p.field_name(),
            line,
            column,
        });
    });
    for (_, path, at) in &fields.evidence {
        let (line, column) = ctx.position(*at);
        path_sites.push(Site {
            name: path.field_name(),
            line,
            column,
        });
    }
    let mut ref_sites = Vec::new();
    expr.for_each_rule_ref(&mut |r| {
        let (line, column) = ctx.position(map.file_offset(r.offset));
        ref_sites.push(Site {
            name: r.id.clone(),
            line,
            column,
        });
    });
    let (line, _) = ctx.position(span.start);
    Some(Rule {
        id,
        description: fields.description?,
        severity: fields.severity?,
        score: fields.score?,
        labels: fields.labels,
        tags: fields.tags,
        examples: fields.examples,
        evidence: fields.evidence.iter().map(|(s, _, _)| s.clone()).collect(),
        enabled: fields.enabled.unwrap_or(true),
        origin: ctx.origin.to_owned(),
        line,
        condition_source,
        condition: Condition { expr },
        evidence_paths: fields.evidence.into_iter().map(|(_, p, _)| p).collect(),
        path_sites,
        ref_sites,
        id_line,
        id_column,
    })
}

fn table_has(table: &DeTable<'_>, key: &str) -> bool {
    table.iter().any(|(k, _)| k.get_ref() == key)
}

/// `^[a-z0-9][a-z0-9-]{1,63}$`
fn valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (2..=64).contains(&bytes.len())
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The `[[rule.example]]` tables of a rule.
fn load_examples(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> Vec<Example> {
    let DeValue::Array(items) = value.get_ref() else {
        ctx.error(
            value.span().start,
            "`example` must be an array of tables: write each under [[rule.example]]",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let DeValue::Table(table) = item.get_ref() else {
            ctx.error(
                item.span().start,
                format!(
                    "each example must be a table, found {}",
                    item.get_ref().type_str()
                ),
            );
            continue;
        };
        let mut expect = None;
        let mut note = None;
        let mut message = None;
        for (key, value) in table.iter() {
            let at = value.span().start;
            match key.get_ref().as_ref() {
                "expect" => match ctx.string("expect", value) {
                    Some("match") => expect = Some(true),
                    Some("no-match") => expect = Some(false),
                    Some(other) => ctx.error(
                        at,
                        format!("unknown expectation `{other}`; expected `match` or `no-match`"),
                    ),
                    None => {}
                },
                "note" => note = ctx.string("note", value).map(str::to_owned),
                "message" => message = ctx.string("message", value).map(str::to_owned),
                other => ctx.error(
                    key.span().start,
                    format!("unknown key `{other}` in example; the keys are {EXAMPLE_KEYS}"),
                ),
            }
        }
        let start = item.span().start;
        if !table_has(table, "expect") {
            ctx.error(start, "example is missing the required key `expect`");
        }
        if !table_has(table, "message") {
            ctx.error(start, "example is missing the required key `message`");
        }
        if let (Some(expect_match), Some(message)) = (expect, message) {
            out.push(Example {
                expect_match,
                note,
                message,
                line: ctx.position(start).0,
            });
        }
    }
    out
}
