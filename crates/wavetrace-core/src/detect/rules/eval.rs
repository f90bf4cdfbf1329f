//! Evaluation of a compiled condition over a JSON record.
//!
//! Paths are walked with a callback over `&Value` (no allocation); a
//! comparison is true when any yielded value satisfies it. Evidence is only
//! gathered in a second pass for rules that fired, so the common case (the
//! rule does not fire) allocates nothing.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::ops::ControlFlow;

use serde_json::{Number, Value};

use super::expr::{Compare, Expr, Literal, Operand, Path, Test};
use super::lexer::Symbol;

/// Longest rendering of one value or one leaf in evidence, in characters.
pub(super) const MAX_EVIDENCE_CHARS: usize = 200;
/// Most evidence entries a condition contributes.
pub(super) const MAX_EVIDENCE_ENTRIES: usize = 16;
/// Nested arrays deeper than this are not flattened further (bounded recursion).
const MAX_ARRAY_NESTING: usize = 32;

/// How `rule("id")` learns whether another rule fired.
pub(super) enum FiredLookup<'a> {
    /// By the slot resolved at rule-set build time.
    Slots(&'a [bool]),
    /// By id, for standalone conditions.
    ById(&'a dyn Fn(&str) -> bool),
}

impl FiredLookup<'_> {
    fn fired(&self, id: &str, slot: Option<usize>) -> bool {
        match self {
            FiredLookup::Slots(flags) => slot.and_then(|s| flags.get(s)).copied().unwrap_or(false),
            FiredLookup::ById(f) => f(id),
        }
    }
}

/// Calls `f` with every non-null value at `path`, flattening arrays met on
/// the way (and at the end when `flatten_last`). Stops when `f` breaks.
pub(super) fn walk<'v, F>(
    root: &'v Value,
    path: &Path,
    flatten_last: bool,
    f: &mut F,
) -> ControlFlow<()>
where
    F: FnMut(&'v Value) -> ControlFlow<()>,
{
    walk_segments(root, &path.segments, flatten_last, 0, f)
}

fn walk_segments<'v, F>(
    value: &'v Value,
    segments: &[super::expr::Segment],
    flatten_last: bool,
    nesting: usize,
    f: &mut F,
) -> ControlFlow<()>
where
    F: FnMut(&'v Value) -> ControlFlow<()>,
{
    let Some((seg, rest)) = segments.split_first() else {
        return emit(value, flatten_last, nesting, f);
    };
    match value {
        Value::Array(items) if nesting < MAX_ARRAY_NESTING => {
            for item in items {
                walk_segments(item, segments, flatten_last, nesting + 1, f)?;
            }
            ControlFlow::Continue(())
        }
        Value::Object(map) => {
            let Some(mut child) = map.get(&*seg.key) else {
                return ControlFlow::Continue(());
            };
            for &index in &seg.indices {
                match child.as_array().and_then(|a| a.get(index)) {
                    Some(item) => child = item,
                    None => return ControlFlow::Continue(()),
                }
            }
            walk_segments(child, rest, flatten_last, 0, f)
        }
        _ => ControlFlow::Continue(()),
    }
}

fn emit<'v, F>(value: &'v Value, flatten: bool, nesting: usize, f: &mut F) -> ControlFlow<()>
where
    F: FnMut(&'v Value) -> ControlFlow<()>,
{
    match value {
        Value::Null => ControlFlow::Continue(()),
        Value::Array(items) if flatten && nesting < MAX_ARRAY_NESTING => {
            for item in items {
                emit(item, flatten, nesting + 1, f)?;
            }
            ControlFlow::Continue(())
        }
        other => f(other),
    }
}

/// The first value at `path` satisfying `pred`.
fn find<'v>(
    root: &'v Value,
    path: &Path,
    mut pred: impl FnMut(&Value) -> bool,
) -> Option<&'v Value> {
    let mut found = None;
    let _ = walk(root, path, true, &mut |v| {
        if pred(v) {
            found = Some(v);
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found
}

fn count(root: &Value, path: &Path) -> u64 {
    let mut n = 0u64;
    let _ = walk(root, path, true, &mut |_| {
        n += 1;
        ControlFlow::Continue(())
    });
    n
}

/// Length of the first string (in characters) or array at `path`; 0 if none.
fn len(root: &Value, path: &Path) -> u64 {
    let mut out = 0u64;
    let _ = walk(root, path, false, &mut |v| match v {
        Value::String(s) => {
            out = s.chars().count() as u64;
            ControlFlow::Break(())
        }
        Value::Array(a) => {
            out = a.len() as u64;
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    out
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Compares a JSON number with a literal number: exactly when both are
/// integers, as f64 otherwise.
fn cmp_number(n: &Number, lit: &Literal) -> Option<Ordering> {
    let as_int = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    match (lit, as_int) {
        (Literal::Int(l), Some(v)) => Some(v.cmp(&i128::from(*l))),
        (Literal::Int(l), None) => n.as_f64()?.partial_cmp(&(*l as f64)),
        (Literal::Float(l), _) => n.as_f64()?.partial_cmp(l),
        _ => None,
    }
}

fn cmp_u64(v: u64, lit: &Literal) -> Option<Ordering> {
    match lit {
        Literal::Int(l) => Some(i128::from(v).cmp(&i128::from(*l))),
        Literal::Float(l) => (v as f64).partial_cmp(l),
        _ => None,
    }
}

fn ordering_holds(sym: Symbol, ord: Option<Ordering>) -> bool {
    match (sym, ord) {
        (_, None) => false,
        (Symbol::Eq, Some(o)) => o == Ordering::Equal,
        (Symbol::Ne, Some(o)) => o != Ordering::Equal,
        (Symbol::Lt, Some(o)) => o == Ordering::Less,
        (Symbol::Le, Some(o)) => o != Ordering::Greater,
        (Symbol::Gt, Some(o)) => o == Ordering::Greater,
        (Symbol::Ge, Some(o)) => o != Ordering::Less,
    }
}

/// Lower-cases only when needed, so ASCII-lower strings stay borrowed.
fn lowered(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Does one value equal one literal? Strings compare exactly (lower-cased
/// first for `lower()`), numbers numerically, booleans as booleans.
fn equals(v: &Value, lit: &Literal, lower: bool) -> bool {
    match (v, lit) {
        (Value::String(s), Literal::Str(l)) => {
            if lower {
                lowered(s) == l.as_str()
            } else {
                s == l
            }
        }
        (Value::Number(n), Literal::Int(_) | Literal::Float(_)) => {
            cmp_number(n, lit) == Some(Ordering::Equal)
        }
        (Value::Bool(b), Literal::Bool(l)) => b == l,
        _ => false,
    }
}

fn in_list(v: &Value, list: &super::expr::List, lower: bool) -> bool {
    if let (Value::String(s), Some(set)) = (v, &list.string_set) {
        return if lower {
            set.contains(lowered(s).as_ref())
        } else {
            set.contains(s.as_str())
        };
    }
    list.items.iter().any(|lit| equals(v, lit, lower))
}

fn text_holds(v: &Value, regex: &regex::Regex, lower: bool) -> bool {
    match v {
        Value::String(s) if lower => regex.is_match(&lowered(s)),
        Value::String(s) => regex.is_match(s),
        _ => false,
    }
}

/// What made a leaf true, for the evidence line.
enum Witness<'v> {
    Value(&'v Value),
    /// A string a regex matched: shown around the match.
    Matched {
        value: &'v Value,
        regex: &'v regex::Regex,
        lower: bool,
    },
    Number(u64),
    NoValue,
}

/// The positive part of a comparison (`==` for `!=`, `in` for `not in`):
/// `Some(witness)` when it holds.
fn positive<'v>(c: &'v Compare, root: &'v Value) -> Option<Witness<'v>> {
    let lower = matches!(c.lhs, Operand::Lower(_));
    match (&c.lhs, &c.test) {
        (Operand::Count(p) | Operand::Len(p), test) => {
            let n = if matches!(c.lhs, Operand::Count(_)) {
                count(root, p)
            } else {
                len(root, p)
            };
            let holds = match test {
                Test::Cmp(sym, lit) => {
                    let sym = if *sym == Symbol::Ne { Symbol::Eq } else { *sym };
                    ordering_holds(sym, cmp_u64(n, lit))
                }
                Test::In { list, .. } => list
                    .items
                    .iter()
                    .any(|lit| cmp_u64(n, lit) == Some(Ordering::Equal)),
                Test::Text { .. } => false,
            };
            holds.then_some(Witness::Number(n))
        }
        (
            Operand::Path(p) | Operand::Lower(p),
            Test::Cmp(Symbol::Eq | Symbol::Ne, Literal::Null),
        ) => {
            // `x == null`: no value at all (missing or null).
            match find(root, p, |_| true) {
                None => Some(Witness::NoValue),
                Some(_) => None,
            }
        }
        (Operand::Path(p) | Operand::Lower(p), Test::Cmp(Symbol::Eq | Symbol::Ne, lit)) => {
            find(root, p, |v| equals(v, lit, lower)).map(Witness::Value)
        }
        (Operand::Path(p) | Operand::Lower(p), Test::Cmp(sym, lit)) => find(root, p, |v| match v {
            Value::Number(n) => ordering_holds(*sym, cmp_number(n, lit)),
            _ => false,
        })
        .map(Witness::Value),
        (Operand::Path(p) | Operand::Lower(p), Test::In { list, .. }) => {
            match find(root, p, |v| in_list(v, list, lower)) {
                Some(v) => Some(Witness::Value(v)),
                None if list.has_null && find(root, p, |_| true).is_none() => {
                    Some(Witness::NoValue)
                }
                None => None,
            }
        }
        (Operand::Path(p) | Operand::Lower(p), Test::Text { regex, .. }) => {
            find(root, p, |v| text_holds(v, regex, lower)).map(|value| Witness::Matched {
                value,
                regex,
                lower,
            })
        }
    }
}

fn is_negated(c: &Compare) -> bool {
    matches!(
        c.test,
        Test::Cmp(Symbol::Ne, _) | Test::In { negated: true, .. }
    )
}

/// Collects evidence lines, or nothing (the fast first pass).
pub(super) trait Sink {
    /// Whether evidence is wanted at all.
    const ACTIVE: bool;
    fn mark(&self) -> usize;
    fn reset(&mut self, mark: usize);
    fn push(&mut self, line: String);
}

/// The fast pass: no evidence.
pub(super) struct NoEvidence;

impl Sink for NoEvidence {
    const ACTIVE: bool = false;
    fn mark(&self) -> usize {
        0
    }
    fn reset(&mut self, _: usize) {}
    fn push(&mut self, _: String) {}
}

impl Sink for Vec<String> {
    const ACTIVE: bool = true;
    fn mark(&self) -> usize {
        self.len()
    }
    fn reset(&mut self, mark: usize) {
        self.truncate(mark);
    }
    fn push(&mut self, line: String) {
        if self.len() < MAX_EVIDENCE_ENTRIES {
            Vec::push(self, line);
        }
    }
}

/// Evaluates `expr`; when `S` is active, pushes one line for each leaf that
/// is true on the branch that made the whole expression true.
pub(super) fn eval<S: Sink>(
    expr: &Expr,
    root: &Value,
    fired: &FiredLookup<'_>,
    sink: &mut S,
) -> bool {
    match expr {
        Expr::Or(items) => {
            for item in items {
                let mark = sink.mark();
                if eval(item, root, fired, sink) {
                    return true;
                }
                sink.reset(mark);
            }
            false
        }
        Expr::And(items) => {
            let mark = sink.mark();
            for item in items {
                if !eval(item, root, fired, sink) {
                    sink.reset(mark);
                    return false;
                }
            }
            true
        }
        Expr::Not(inner, label) => {
            let holds = !eval(inner, root, fired, &mut NoEvidence);
            if holds && S::ACTIVE {
                sink.push(label.to_string());
            }
            holds
        }
        Expr::Rule(r) => {
            let holds = fired.fired(&r.id, r.slot);
            if holds && S::ACTIVE {
                sink.push(r.label.to_string());
            }
            holds
        }
        Expr::Exists(p, label) => match find(root, p, |_| true) {
            Some(v) => {
                if S::ACTIVE {
                    sink.push(leaf_line(label, &Witness::Value(v)));
                }
                true
            }
            None => false,
        },
        Expr::Truthy(op, label) => {
            let witness = match op {
                Operand::Count(p) => Some(count(root, p)).filter(|n| *n > 0).map(Witness::Number),
                Operand::Len(p) => Some(len(root, p)).filter(|n| *n > 0).map(Witness::Number),
                Operand::Path(p) | Operand::Lower(p) => find(root, p, truthy).map(Witness::Value),
            };
            match witness {
                Some(w) => {
                    if S::ACTIVE {
                        sink.push(leaf_line(label, &w));
                    }
                    true
                }
                None => false,
            }
        }
        Expr::Compare(c) => {
            let pos = positive(c, root);
            if is_negated(c) {
                if pos.is_some() {
                    return false;
                }
                if S::ACTIVE {
                    let seen = find(root, c.lhs.path(), |_| true);
                    let w = match (&c.lhs, seen) {
                        (Operand::Count(p), _) => Witness::Number(count(root, p)),
                        (Operand::Len(p), _) => Witness::Number(len(root, p)),
                        (_, Some(v)) => Witness::Value(v),
                        (_, None) => Witness::NoValue,
                    };
                    sink.push(leaf_line(&c.label, &w));
                }
                true
            } else {
                match pos {
                    Some(w) => {
                        if S::ACTIVE {
                            sink.push(leaf_line(&c.label, &w));
                        }
                        true
                    }
                    None => false,
                }
            }
        }
    }
}

/// `leaf: value`, each part clipped.
fn leaf_line(label: &str, witness: &Witness<'_>) -> String {
    let mut line = String::with_capacity(label.len() + 24);
    line.push_str(label);
    line.push_str(": ");
    match witness {
        Witness::Value(v) => render_value_into(v, &mut line),
        Witness::Matched {
            value,
            regex,
            lower,
        } => render_match_into(value, regex, *lower, &mut line),
        Witness::Number(n) => {
            let _ = write!(line, "{n}");
        }
        Witness::NoValue => line.push_str("(no value)"),
    }
    line
}

/// Bytes of context shown on each side of a regex match in a long string.
const MATCH_CONTEXT_BYTES: usize = 60;

/// A string a regex matched, as the match with some context on each side
/// when the string is too long to show whole: a body's evidence shows what
/// matched, not the body's first words. Cut ends are marked with `…`.
fn render_match_into(v: &Value, regex: &regex::Regex, lower: bool, out: &mut String) {
    let Value::String(s) = v else {
        return render_value_into(v, out);
    };
    if s.len() <= MAX_EVIDENCE_CHARS {
        return render_value_into(v, out);
    }
    let text = if lower {
        lowered(s)
    } else {
        Cow::Borrowed(s.as_str())
    };
    let Some(m) = regex.find(&text) else {
        return render_value_into(v, out);
    };
    let start = text.floor_char_boundary(m.start().saturating_sub(MATCH_CONTEXT_BYTES));
    // A long match is clipped below anyway: copy no more than can be shown.
    let shown = m
        .end()
        .saturating_add(MATCH_CONTEXT_BYTES)
        .min(start.saturating_add(4 * MAX_EVIDENCE_CHARS));
    let end = text.ceil_char_boundary(shown);
    let mut excerpt = String::with_capacity(end - start + 8);
    if start > 0 {
        excerpt.push('…');
    }
    excerpt.push_str(text.get(start..end).unwrap_or_default());
    if end < text.len() {
        excerpt.push('…');
    }
    render_value_into(&Value::String(excerpt), out);
}

/// Clips to MAX_EVIDENCE_CHARS characters, marking the cut with `…`.
pub(super) fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_EVIDENCE_CHARS) {
        Some((cut, _)) => {
            let mut out = s.get(..cut).unwrap_or_default().to_owned();
            out.push('…');
            out
        }
        None => s.to_owned(),
    }
}

/// A writer that stops accepting bytes past a limit, so rendering a huge
/// value for evidence costs a bounded amount.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.buf.len());
        if room == 0 {
            return Err(std::io::Error::other("evidence value limit reached"));
        }
        let take = data.len().min(room);
        self.buf
            .extend_from_slice(data.get(..take).unwrap_or_default());
        Ok(take)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The value as JSON (strings quoted), clipped.
pub(super) fn render_value(v: &Value) -> String {
    let mut out = String::new();
    render_value_into(v, &mut out);
    out
}

/// Appends the value as JSON (strings quoted), clipped; short strings and
/// numbers skip the bounded writer.
fn render_value_into(v: &Value, out: &mut String) {
    match v {
        Value::String(s)
            if s.len() <= MAX_EVIDENCE_CHARS
                && !s.contains(|c: char| c == '"' || c == '\\' || c.is_control()) =>
        {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        _ => {
            let mut w = Bounded {
                buf: Vec::new(),
                limit: MAX_EVIDENCE_CHARS * 4 + 4,
            };
            let _ = serde_json::to_writer(&mut w, v);
            out.push_str(&clip(&String::from_utf8_lossy(&w.buf)));
        }
    }
}

/// All values at an evidence path, rendered `path: value` (one value) or
/// `path: [v1, v2, ...]`; `None` when the path yields nothing.
pub(super) fn evidence_path_line(root: &Value, path: &Path) -> Option<String> {
    let mut values: Vec<&Value> = Vec::new();
    let mut total = 0usize;
    let _ = walk(root, path, true, &mut |v| {
        total += 1;
        if values.len() < 8 {
            values.push(v);
        }
        ControlFlow::Continue(())
    });
    let rendered = match values.as_slice() {
        [] => return None,
        [one] => render_value(one),
        many => {
            let mut s = String::from("[");
            for (i, v) in many.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&render_value(v));
            }
            if total > many.len() {
                let _ = write!(s, ", … {} more", total - many.len());
            }
            s.push(']');
            clip(&s)
        }
    };
    Some(format!("{path}: {rendered}"))
}
