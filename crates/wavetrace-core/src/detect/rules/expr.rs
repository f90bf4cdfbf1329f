//! The condition AST, its parser (recursive descent, bounded depth) and its
//! canonical Display (used for evidence and the rule-set digest).

use std::collections::HashSet;
use std::fmt;

use regex::{Regex, RegexBuilder};

use super::lexer::{tokenize, Symbol, SyntaxError, Tok, Token};

/// Longest condition accepted, in bytes: conditions come from users and imports.
pub(super) const MAX_CONDITION_BYTES: usize = 8 * 1024;
/// Deepest nesting of parentheses and `not` accepted.
pub(super) const MAX_DEPTH: usize = 64;
/// Most items in one list literal.
pub(super) const MAX_LIST_ITEMS: usize = 10_000;
/// Paths in one `any(...)`.
pub(super) const MAX_ANY_PATHS: usize = 16;
/// Compiled-size limit of one regex (bytes), so a rule cannot exhaust memory.
pub(super) const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Lists with more strings than this are looked up through a hash set.
const HASH_LIST_THRESHOLD: usize = 8;

/// Words that cannot start a path because they have a meaning of their own.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "matches",
    "contains",
    "starts_with",
    "ends_with",
    "true",
    "false",
    "null",
];

/// One step of a path: an object key, then any number of `[N]` indices.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Segment {
    pub key: Box<str>,
    pub indices: Vec<usize>,
}

/// A field path such as `urls.host` or `received[0].from`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Path {
    pub segments: Vec<Segment>,
    /// Byte offset of the path in the condition (for check_paths errors).
    pub offset: usize,
}

impl Path {
    /// The dotted field name without indices, as given to `check_paths`.
    pub(super) fn field_name(&self) -> String {
        let mut out = String::new();
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(&seg.key);
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&seg.key)?;
            for idx in &seg.indices {
                write!(f, "[{idx}]")?;
            }
        }
        Ok(())
    }
}

/// A literal value on the right side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl Literal {
    fn is_number(&self) -> bool {
        matches!(self, Literal::Int(_) | Literal::Float(_))
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write_quoted(f, s),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// Writes a double-quoted string that the lexer reads back to the same value.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A list literal; strings also sit in a hash set when the list is long.
#[derive(Debug, Clone)]
pub(super) struct List {
    pub items: Vec<Literal>,
    pub string_set: Option<HashSet<Box<str>>>,
    pub has_null: bool,
}

impl List {
    fn new(items: Vec<Literal>) -> List {
        let strings = items
            .iter()
            .filter(|l| matches!(l, Literal::Str(_)))
            .count();
        let string_set = (strings > HASH_LIST_THRESHOLD).then(|| {
            items
                .iter()
                .filter_map(|l| match l {
                    Literal::Str(s) => Some(Box::from(s.as_str())),
                    _ => None,
                })
                .collect()
        });
        let has_null = items.contains(&Literal::Null);
        List {
            items,
            string_set,
            has_null,
        }
    }
}

/// What a comparison's left side computes from the record.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    /// The values at a path.
    Path(Path),
    /// The number of values at a path.
    Count(Path),
    /// The length of the first string or array at a path.
    Len(Path),
    /// The values at a path, strings lower-cased.
    Lower(Path),
}

impl Operand {
    pub(super) fn path(&self) -> &Path {
        match self {
            Operand::Path(p) | Operand::Count(p) | Operand::Len(p) | Operand::Lower(p) => p,
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Operand::Count(_) | Operand::Len(_))
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(p) => write!(f, "{p}"),
            Operand::Count(p) => write!(f, "count({p})"),
            Operand::Len(p) => write!(f, "len({p})"),
            Operand::Lower(p) => write!(f, "lower({p})"),
        }
    }
}

/// Operators that take a string and test it against string values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextOp {
    Matches,
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    fn keyword(self) -> &'static str {
        match self {
            TextOp::Matches => "matches",
            TextOp::Contains => "contains",
            TextOp::StartsWith => "starts_with",
            TextOp::EndsWith => "ends_with",
        }
    }

    fn from_keyword(word: &str) -> Option<TextOp> {
        Some(match word {
            "matches" => TextOp::Matches,
            "contains" => TextOp::Contains,
            "starts_with" => TextOp::StartsWith,
            "ends_with" => TextOp::EndsWith,
            _ => return None,
        })
    }
}

/// The right side and operator of a comparison, compiled.
#[derive(Debug, Clone)]
pub(super) enum Test {
    /// `== != < <= > >=` against one literal.
    Cmp(Symbol, Literal),
    /// `in` / `not in` (negated) a list.
    In { negated: bool, list: List },
    /// `matches` / `contains` / `starts_with` / `ends_with`, as a compiled regex.
    Text {
        op: TextOp,
        pattern: String,
        regex: Regex,
    },
}

/// One comparison leaf.
#[derive(Debug, Clone)]
pub(super) struct Compare {
    pub lhs: Operand,
    pub test: Test,
    /// The leaf as evidence names it (canonical text, clipped), computed once.
    pub label: Box<str>,
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.lhs)?;
        match &self.test {
            Test::Cmp(sym, lit) => write!(f, "{} {lit}", sym.as_str()),
            Test::In { negated, list } => {
                f.write_str(if *negated { "not in [" } else { "in [" })?;
                for (i, item) in list.items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Test::Text { op, pattern, .. } => {
                write!(f, "{} ", op.keyword())?;
                write_quoted(f, pattern)
            }
        }
    }
}

/// A reference to another rule; `slot` is its index in the rule set's
/// evaluation order, filled in by `RuleSet::new`.
#[derive(Debug, Clone)]
pub(super) struct RuleRef {
    pub id: String,
    pub slot: Option<usize>,
    /// Byte offset of the id string in the condition.
    pub offset: usize,
    /// `rule("id")`, as evidence names it.
    pub label: Box<str>,
}

/// A boolean expression.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    /// Negation; the label is the evidence text when it holds.
    Not(Box<Expr>, Box<str>),
    /// A bare operand: true when any value is truthy.
    Truthy(Operand, Box<str>),
    Exists(Path, Box<str>),
    Rule(RuleRef),
    Compare(Box<Compare>),
}

impl Expr {
    /// Visits every path of the expression.
    pub(super) fn for_each_path<'a>(&'a self, f: &mut impl FnMut(&'a Path)) {
        match self {
            Expr::Or(v) | Expr::And(v) => v.iter().for_each(|e| e.for_each_path(f)),
            Expr::Not(e, _) => e.for_each_path(f),
            Expr::Truthy(op, _) => f(op.path()),
            Expr::Exists(p, _) => f(p),
            Expr::Rule(_) => {}
            Expr::Compare(c) => f(c.lhs.path()),
        }
    }

    /// Visits every `rule("...")` reference, mutably (to resolve slots).
    pub(super) fn for_each_rule_ref_mut(&mut self, f: &mut impl FnMut(&mut RuleRef)) {
        match self {
            Expr::Or(v) | Expr::And(v) => v.iter_mut().for_each(|e| e.for_each_rule_ref_mut(f)),
            Expr::Not(e, _) => e.for_each_rule_ref_mut(f),
            Expr::Rule(r) => f(r),
            Expr::Truthy(..) | Expr::Exists(..) | Expr::Compare(_) => {}
        }
    }

    /// Visits every `rule("...")` reference.
    pub(super) fn for_each_rule_ref<'a>(&'a self, f: &mut impl FnMut(&'a RuleRef)) {
        match self {
            Expr::Or(v) | Expr::And(v) => v.iter().for_each(|e| e.for_each_rule_ref(f)),
            Expr::Not(e, _) => e.for_each_rule_ref(f),
            Expr::Rule(r) => f(r),
            Expr::Truthy(..) | Expr::Exists(..) | Expr::Compare(_) => {}
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(items) => write_joined(f, items, " or ", |e| matches!(e, Expr::Or(_))),
            Expr::And(items) => write_joined(f, items, " and ", |e| {
                matches!(e, Expr::Or(_) | Expr::And(_))
            }),
            Expr::Not(inner, _) => {
                if matches!(**inner, Expr::Or(_) | Expr::And(_)) {
                    write!(f, "not ({inner})")
                } else {
                    write!(f, "not {inner}")
                }
            }
            Expr::Truthy(op, _) => write!(f, "{op}"),
            Expr::Exists(p, _) => write!(f, "exists({p})"),
            Expr::Rule(r) => {
                f.write_str("rule(")?;
                write_quoted(f, &r.id)?;
                f.write_str(")")
            }
            Expr::Compare(c) => write!(f, "{c}"),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    items: &[Expr],
    sep: &str,
    needs_parens: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

/// Parses a condition into an expression.
pub(super) fn parse(src: &str) -> Result<Expr, SyntaxError> {
    parse_with_limit(src, MAX_CONDITION_BYTES)
}

/// [`parse`] with another length limit (tests reach the other limits with it).
pub(super) fn parse_with_limit(src: &str, max_bytes: usize) -> Result<Expr, SyntaxError> {
    if src.len() > max_bytes {
        return Err(SyntaxError::new(
            0,
            format!(
                "condition too long ({} bytes; the limit is {MAX_CONDITION_BYTES})",
                src.len()
            ),
        ));
    }
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    if parser.peek().tok == Tok::Eof {
        return Err(SyntaxError::new(0, "empty condition"));
    }
    let expr = parser.or_expr()?;
    let next = parser.peek();
    match next.tok {
        Tok::Eof => Ok(expr),
        Tok::RParen => Err(SyntaxError::new(next.start, "unmatched `)`")),
        ref other => Err(SyntaxError::new(
            next.start,
            format!("expected `and`, `or` or the end of the condition, found {other}"),
        )),
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

/// The Eof token returned when reading past the end (never happens: the
/// lexer always ends with Eof, and the parser never advances past it).
static EOF: Token<'static> = Token {
    tok: Tok::Eof,
    start: 0,
    end: 0,
};

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .unwrap_or(&EOF)
    }

    fn peek_at(&self, ahead: usize) -> &Token<'a> {
        self.tokens
            .get(self.pos + ahead)
            .or_else(|| self.tokens.last())
            .unwrap_or(&EOF)
    }

    fn advance(&mut self) -> Token<'a> {
        let tok = self.peek().clone();
        if tok.tok != Tok::Eof {
            self.pos += 1;
        }
        tok
    }

    fn is_word(&self, word: &str) -> bool {
        self.peek().tok == Tok::Ident(word)
    }

    fn enter(&mut self, offset: usize) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                offset,
                format!("condition nested too deeply (more than {MAX_DEPTH} levels of parentheses and `not`)"),
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut items = vec![self.and_expr()?];
        while self.is_word("or") {
            self.advance();
            items.push(self.and_expr()?);
        }
        Ok(flatten(items, true))
    }

    fn and_expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut items = vec![self.unary()?];
        while self.is_word("and") {
            self.advance();
            items.push(self.unary()?);
        }
        Ok(flatten(items, false))
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.is_word("not") {
            let not = self.advance();
            self.enter(not.start)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(labelled(Expr::Not(Box::new(inner), Box::default())));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let tok = self.peek().clone();
        match tok.tok {
            Tok::LParen => {
                self.advance();
                self.enter(tok.start)?;
                let inner = self.or_expr()?;
                let close = self.peek().clone();
                if close.tok != Tok::RParen {
                    return Err(SyntaxError::new(
                        close.start,
                        format!("expected `)` to close the `(` at offset {}, found {}", tok.start, close.tok),
                    ));
                }
                self.advance();
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Ident(word) if self.peek_at(1).tok == Tok::LParen => self.call(word, tok.start),
            Tok::Ident("true" | "false" | "null") | Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::LBracket => {
                Err(SyntaxError::new(
                    tok.start,
                    "a condition cannot start with a value: write the path on the left, e.g. `from.domain == \"x\"`",
                ))
            }
            Tok::Ident(word) if RESERVED.contains(&word) => Err(SyntaxError::new(
                tok.start,
                format!("missing operand: expected a path or a function before `{word}`"),
            )),
            Tok::Ident(_) => {
                let path = self.path()?;
                self.comparison(Operand::Path(path))
            }
            Tok::Cmp(sym) => Err(SyntaxError::new(
                tok.start,
                format!("missing operand: expected a path before `{}`", sym.as_str()),
            )),
            Tok::Eof => Err(SyntaxError::new(
                tok.start,
                "missing operand: the condition ends where a comparison was expected",
            )),
            ref other => Err(SyntaxError::new(
                tok.start,
                format!("expected a comparison, found {other}"),
            )),
        }
    }

    /// `exists(path)`, `rule("id")`, `count(path)`, `len(path)`, `lower(path)`,
    /// `any(path, ...)`.
    fn call(&mut self, name: &str, start: usize) -> Result<Expr, SyntaxError> {
        if name == "any" {
            return self.any_of();
        }
        if !matches!(name, "exists" | "rule" | "count" | "len" | "lower") {
            return Err(SyntaxError::new(
                start,
                format!("unknown function `{name}`; the functions are any, exists, count, len, lower and rule"),
            ));
        }
        self.advance(); // name
        self.advance(); // (
        let expr = if name == "rule" {
            let arg = self.advance();
            match arg.tok {
                Tok::Str(id) => Expr::Rule(RuleRef {
                    id,
                    slot: None,
                    offset: arg.start,
                    label: Box::default(),
                }),
                other => {
                    return Err(SyntaxError::new(
                        arg.start,
                        format!("rule() takes a rule id in quotes, found {other}"),
                    ))
                }
            }
        } else {
            if !matches!(self.peek().tok, Tok::Ident(_)) {
                let arg = self.peek();
                return Err(SyntaxError::new(
                    arg.start,
                    format!("{name}() takes a path, found {}", arg.tok),
                ));
            }
            let path = self.path()?;
            match name {
                "exists" => Expr::Exists(path, Box::default()),
                "count" => Expr::Truthy(Operand::Count(path), Box::default()),
                "len" => Expr::Truthy(Operand::Len(path), Box::default()),
                _ => Expr::Truthy(Operand::Lower(path), Box::default()),
            }
        };
        let close = self.peek().clone();
        if close.tok != Tok::RParen {
            return Err(SyntaxError::new(
                close.start,
                format!(
                    "expected `)` after the argument of {name}(), found {}",
                    close.tok
                ),
            ));
        }
        self.advance();
        match expr {
            Expr::Truthy(operand, _) => self.comparison(operand),
            other => Ok(labelled(other)),
        }
    }

    /// `any(p1, p2, ...) OP value`: the test once, on several paths; true when
    /// it holds for one of them. Read as `p1 OP value or p2 OP value ...`, so
    /// evaluation and evidence are those of the written-out form, with one
    /// compiled regex shared by every path.
    fn any_of(&mut self) -> Result<Expr, SyntaxError> {
        let name = self.advance();
        self.advance(); // (
        let mut paths = Vec::new();
        loop {
            let next = self.peek().clone();
            if !matches!(next.tok, Tok::Ident(_)) {
                return Err(SyntaxError::new(
                    next.start,
                    format!("any() takes paths separated by commas, found {}", next.tok),
                ));
            }
            if self.peek_at(1).tok == Tok::LParen {
                return Err(SyntaxError::new(
                    next.start,
                    "any() takes plain paths, not functions: write the test once per function",
                ));
            }
            if paths.len() == MAX_ANY_PATHS {
                return Err(SyntaxError::new(
                    next.start,
                    format!("any() takes at most {MAX_ANY_PATHS} paths"),
                ));
            }
            paths.push(self.path()?);
            if self.after_item(Tok::RParen, "any()")? {
                break;
            }
        }
        if paths.len() < 2 {
            return Err(SyntaxError::new(
                name.start,
                "any() needs two paths or more; for one, write the path alone",
            ));
        }
        // The operator and value are read once, against the first path.
        let Expr::Compare(first) = self.comparison(Operand::Path(paths[0].clone()))? else {
            return Err(SyntaxError::new(
                self.peek().start,
                "any(...) needs an operator and a value after it, e.g. `any(subject, body.text) matches \"x\"`",
            ));
        };
        let items = paths
            .into_iter()
            .map(|path| {
                labelled(Expr::Compare(Box::new(Compare {
                    lhs: Operand::Path(path),
                    test: first.test.clone(),
                    label: Box::default(),
                })))
            })
            .collect();
        Ok(Expr::Or(items))
    }

    /// After an item of a comma-separated sequence: `,` (another item
    /// follows) or `close` (the sequence ends: true).
    fn after_item(&mut self, close: Tok<'a>, within: &str) -> Result<bool, SyntaxError> {
        let sep = self.advance();
        match sep.tok {
            Tok::Comma => Ok(false),
            ref tok if *tok == close => Ok(true),
            other => Err(SyntaxError::new(
                sep.start,
                format!("expected `,` or {close} in {within}, found {other}"),
            )),
        }
    }

    /// `ident(.ident | [N])*`, written without spaces.
    fn path(&mut self) -> Result<Path, SyntaxError> {
        let first = self.advance();
        let Tok::Ident(word) = first.tok else {
            return Err(SyntaxError::new(
                first.start,
                format!("expected a path, found {}", first.tok),
            ));
        };
        if RESERVED.contains(&word) {
            return Err(SyntaxError::new(
                first.start,
                format!("`{word}` is a keyword and cannot start a path"),
            ));
        }
        let mut segments = vec![Segment {
            key: word.into(),
            indices: Vec::new(),
        }];
        let mut end = first.end;
        loop {
            let next = self.peek().clone();
            if next.start != end {
                break;
            }
            match next.tok {
                Tok::Dot => {
                    self.advance();
                    let key = self.advance();
                    match key.tok {
                        Tok::Ident(k) if key.start == next.end => {
                            segments.push(Segment {
                                key: k.into(),
                                indices: Vec::new(),
                            });
                            end = key.end;
                        }
                        _ => {
                            return Err(SyntaxError::new(
                                next.end,
                                "expected a field name after `.`",
                            ))
                        }
                    }
                }
                Tok::LBracket => {
                    self.advance();
                    let index = self.advance();
                    let close = self.advance();
                    match (index.tok, close.tok) {
                        (Tok::Int(n), Tok::RBracket) if n >= 0 => {
                            if let Some(seg) = segments.last_mut() {
                                seg.indices.push(usize::try_from(n).unwrap_or(usize::MAX));
                            }
                            end = close.end;
                        }
                        _ => {
                            return Err(SyntaxError::new(
                                index.start,
                                "expected an array index such as `[0]`",
                            ))
                        }
                    }
                }
                _ => break,
            }
        }
        Ok(Path {
            segments,
            offset: first.start,
        })
    }

    /// The operator and right side after an operand, or nothing (a bare operand).
    fn comparison(&mut self, lhs: Operand) -> Result<Expr, SyntaxError> {
        let op = self.peek().clone();
        let test = match op.tok {
            Tok::Cmp(sym) => {
                self.advance();
                let lit = self.literal(sym.as_str())?;
                check_cmp(&lhs, sym, &lit, op.start)?;
                Test::Cmp(sym, lit)
            }
            Tok::Ident("in") => {
                self.advance();
                Test::In {
                    negated: false,
                    list: self.list(&lhs, "in")?,
                }
            }
            Tok::Ident("not") => {
                self.advance();
                if !self.is_word("in") {
                    return Err(SyntaxError::new(
                        op.start,
                        format!("expected `not in` after `{lhs}`; to negate a comparison write `not` before it"),
                    ));
                }
                self.advance();
                Test::In {
                    negated: true,
                    list: self.list(&lhs, "not in")?,
                }
            }
            Tok::Ident(word) if TextOp::from_keyword(word).is_some() => {
                self.advance();
                let text_op = TextOp::from_keyword(word).unwrap_or(TextOp::Matches);
                if lhs.is_numeric() {
                    return Err(SyntaxError::new(
                        op.start,
                        format!("`{word}` needs strings but `{lhs}` is a number"),
                    ));
                }
                let arg = self.advance();
                let Tok::Str(pattern) = arg.tok else {
                    return Err(SyntaxError::new(
                        arg.start,
                        format!("expected a string after `{word}`, found {}", arg.tok),
                    ));
                };
                let regex = compile_text_op(text_op, &pattern).map_err(|e| {
                    SyntaxError::new(arg.start, format!("invalid regex: {e}"))
                })?;
                Test::Text {
                    op: text_op,
                    pattern,
                    regex,
                }
            }
            Tok::Ident("and" | "or") | Tok::RParen | Tok::Eof => return Ok(labelled(Expr::Truthy(lhs, Box::default()))),
            Tok::Ident(word) => {
                return Err(SyntaxError::new(
                    op.start,
                    format!("unknown operator `{word}`; expected ==, !=, <, <=, >, >=, in, not in, matches, contains, starts_with, ends_with, `and` or `or`"),
                ))
            }
            ref other => {
                return Err(SyntaxError::new(
                    op.start,
                    format!("expected an operator after `{lhs}`, found {other}"),
                ))
            }
        };
        Ok(labelled(Expr::Compare(Box::new(Compare {
            lhs,
            test,
            label: Box::default(),
        }))))
    }

    /// A scalar literal after an operator.
    fn literal(&mut self, after: &str) -> Result<Literal, SyntaxError> {
        let tok = self.advance();
        Ok(match tok.tok {
            Tok::Str(s) => Literal::Str(s),
            Tok::Int(n) => Literal::Int(n),
            Tok::Float(x) => Literal::Float(x),
            Tok::Ident("true") => Literal::Bool(true),
            Tok::Ident("false") => Literal::Bool(false),
            Tok::Ident("null") => Literal::Null,
            Tok::LBracket => {
                return Err(SyntaxError::new(
                    tok.start,
                    format!("a list cannot follow `{after}`; use `in [...]`"),
                ))
            }
            Tok::Eof => {
                return Err(SyntaxError::new(
                    tok.start,
                    format!("missing operand: expected a value after `{after}`"),
                ))
            }
            Tok::Ident(word) => {
                return Err(SyntaxError::new(
                    tok.start,
                    format!("expected a value after `{after}`, found `{word}` (the right side is a literal: a quoted string, a number, true, false or null)"),
                ))
            }
            other => {
                return Err(SyntaxError::new(
                    tok.start,
                    format!("missing operand: expected a value after `{after}`, found {other}"),
                ))
            }
        })
    }

    /// `[lit, lit, ...]` with an optional trailing comma.
    fn list(&mut self, lhs: &Operand, after: &str) -> Result<List, SyntaxError> {
        let open = self.advance();
        if open.tok != Tok::LBracket {
            return Err(SyntaxError::new(
                open.start,
                format!(
                    "expected a list `[...]` after `{after}`, found {}",
                    open.tok
                ),
            ));
        }
        let mut items = Vec::new();
        loop {
            if self.peek().tok == Tok::RBracket {
                self.advance();
                break;
            }
            let at = self.peek().start;
            if items.len() >= MAX_LIST_ITEMS {
                return Err(SyntaxError::new(
                    at,
                    format!("list too long (the limit is {MAX_LIST_ITEMS} items)"),
                ));
            }
            let item = self.literal(after)?;
            if lhs.is_numeric() && !item.is_number() {
                return Err(SyntaxError::new(
                    at,
                    format!("`{lhs}` is a number; the list may hold only numbers"),
                ));
            }
            items.push(item);
            if self.after_item(Tok::RBracket, "the list")? {
                break;
            }
        }
        Ok(List::new(items))
    }
}

/// Stores a leaf's evidence label (its canonical text, clipped) in the leaf,
/// so evidence costs one small allocation when a rule fires.
fn labelled(mut expr: Expr) -> Expr {
    let text: Box<str> = super::eval::clip(&expr.to_string()).into();
    match &mut expr {
        Expr::Not(_, label) | Expr::Truthy(_, label) | Expr::Exists(_, label) => *label = text,
        Expr::Rule(r) => r.label = text,
        Expr::Compare(c) => c.label = text,
        Expr::Or(_) | Expr::And(_) => {}
    }
    expr
}

/// Joins operands of one `or` / `and` chain, flattening nested chains of the
/// same kind (`(a or b) or c` is `a or b or c`).
fn flatten(items: Vec<Expr>, is_or: bool) -> Expr {
    if items.len() == 1 {
        if let Some(only) = items.into_iter().next() {
            return only;
        }
        return Expr::And(Vec::new());
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match (item, is_or) {
            (Expr::Or(inner), true) | (Expr::And(inner), false) => out.extend(inner),
            (other, _) => out.push(other),
        }
    }
    if is_or {
        Expr::Or(out)
    } else {
        Expr::And(out)
    }
}

/// Static type checks of `lhs <sym> lit`, so mistakes fail at load.
fn check_cmp(lhs: &Operand, sym: Symbol, lit: &Literal, at: usize) -> Result<(), SyntaxError> {
    let ordering = !matches!(sym, Symbol::Eq | Symbol::Ne);
    if ordering && !lit.is_number() {
        return Err(SyntaxError::new(
            at,
            format!("`{}` compares numbers; `{lit}` is not a number (strings compare only with == and !=)", sym.as_str()),
        ));
    }
    if lhs.is_numeric() && !lit.is_number() {
        return Err(SyntaxError::new(
            at,
            format!("`{lhs}` is a number and cannot be compared with `{lit}`"),
        ));
    }
    if matches!(lhs, Operand::Lower(_)) && ordering {
        return Err(SyntaxError::new(
            at,
            format!("`{lhs}` yields strings; compare it with ==, !=, in, not in, matches, contains, starts_with or ends_with"),
        ));
    }
    Ok(())
}

/// Compiles a text operator to a regex: `matches` as written, the other three
/// as an escaped, case-insensitive literal (anchored for starts/ends_with).
fn compile_text_op(op: TextOp, pattern: &str) -> Result<Regex, regex::Error> {
    let source = match op {
        TextOp::Matches => pattern.to_owned(),
        TextOp::Contains => format!("(?i){}", regex::escape(pattern)),
        TextOp::StartsWith => format!("(?i)\\A{}", regex::escape(pattern)),
        TextOp::EndsWith => format!("(?i){}\\z", regex::escape(pattern)),
    };
    RegexBuilder::new(&source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Parses a lone path (the `evidence` entries of a rule).
pub(super) fn parse_path(src: &str) -> Result<Path, SyntaxError> {
    if src.len() > MAX_CONDITION_BYTES {
        return Err(SyntaxError::new(0, "path too long"));
    }
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    if !matches!(parser.peek().tok, Tok::Ident(_)) {
        let t = parser.peek();
        return Err(SyntaxError::new(
            t.start,
            format!("expected a path, found {}", t.tok),
        ));
    }
    let path = parser.path()?;
    let next = parser.peek();
    if next.tok != Tok::Eof {
        return Err(SyntaxError::new(
            next.start,
            format!("expected the end of the path, found {}", next.tok),
        ));
    }
    Ok(path)
}
