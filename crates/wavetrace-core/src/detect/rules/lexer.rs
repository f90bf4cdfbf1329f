//! Tokens of the condition language, with byte offsets into the condition
//! text so every error can point at the exact character.

use std::fmt;

/// A syntax error at a byte offset of the condition text; the loader maps the
/// offset to a line and column of the rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

impl SyntaxError {
    pub(super) fn new(offset: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            offset,
            message: message.into(),
        }
    }
}

/// The six comparison operators written with symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Symbol {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Symbol {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Symbol::Eq => "==",
            Symbol::Ne => "!=",
            Symbol::Lt => "<",
            Symbol::Le => "<=",
            Symbol::Gt => ">",
            Symbol::Ge => ">=",
        }
    }
}

/// What a token is; identifiers include the keywords, which the parser
/// recognises by position (so `auth.in` stays a valid path).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'a> {
    Ident(&'a str),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Cmp(Symbol),
    Eof,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Str(_) => f.write_str("a string"),
            Tok::Int(_) | Tok::Float(_) => f.write_str("a number"),
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
            Tok::LBracket => f.write_str("`[`"),
            Tok::RBracket => f.write_str("`]`"),
            Tok::Comma => f.write_str("`,`"),
            Tok::Dot => f.write_str("`.`"),
            Tok::Cmp(s) => write!(f, "`{}`", s.as_str()),
            Tok::Eof => f.write_str("the end of the condition"),
        }
    }
}

/// A token and where it is: `start..end` are byte offsets in the condition.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
    pub end: usize,
}

/// Splits a condition into tokens; the last token is always `Eof`.
pub(super) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, SyntaxError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let single = |tok| Token {
            tok,
            start,
            end: start + 1,
        };
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                i = memchr::memchr(b'\n', bytes.get(i..).unwrap_or_default())
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'(' => {
                out.push(single(Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push(single(Tok::RParen));
                i += 1;
            }
            b'[' => {
                out.push(single(Tok::LBracket));
                i += 1;
            }
            b']' => {
                out.push(single(Tok::RBracket));
                i += 1;
            }
            b',' => {
                out.push(single(Tok::Comma));
                i += 1;
            }
            b'.' => {
                out.push(single(Tok::Dot));
                i += 1;
            }
            b'=' | b'!' | b'<' | b'>' => {
                let (sym, len) = lex_symbol(bytes, i)?;
                out.push(Token {
                    tok: Tok::Cmp(sym),
                    start,
                    end: start + len,
                });
                i += len;
            }
            b'"' | b'\'' => {
                let (text, end) = lex_string(src, i)?;
                out.push(Token {
                    tok: Tok::Str(text),
                    start,
                    end,
                });
                i = end;
            }
            b'0'..=b'9' | b'-' => {
                let (tok, end) = lex_number(src, i)?;
                out.push(Token { tok, start, end });
                i = end;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = bytes
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(bytes.len(), |p| i + p);
                out.push(Token {
                    tok: Tok::Ident(src.get(start..end).unwrap_or_default()),
                    start,
                    end,
                });
                i = end;
            }
            _ => {
                let c = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                return Err(SyntaxError::new(i, format!("unexpected character `{c}`")));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

/// `==`, `!=`, `<`, `<=`, `>`, `>=`; other runs of operator characters
/// (`=`, `===`, `=~`, `<>`, `!`) are named in the error.
fn lex_symbol(bytes: &[u8], i: usize) -> Result<(Symbol, usize), SyntaxError> {
    let run = bytes
        .get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| matches!(c, b'=' | b'!' | b'<' | b'>' | b'~'))
        .count();
    let text = bytes.get(i..i + run).unwrap_or_default();
    let sym = match text {
        b"==" => Symbol::Eq,
        b"!=" => Symbol::Ne,
        b"<" => Symbol::Lt,
        b"<=" => Symbol::Le,
        b">" => Symbol::Gt,
        b">=" => Symbol::Ge,
        b"=" => {
            return Err(SyntaxError::new(
                i,
                "unknown operator `=`; use `==` to compare",
            ))
        }
        b"!" => {
            return Err(SyntaxError::new(
                i,
                "unknown operator `!`; use `not` to negate or `!=` to compare",
            ))
        }
        other => {
            let text = String::from_utf8_lossy(other);
            return Err(SyntaxError::new(i, format!("unknown operator `{text}`")));
        }
    };
    Ok((sym, run))
}

/// A quoted string starting at `start` (the quote); returns its value and the
/// offset after the closing quote. `\\ \" \' \n \t \r` are escapes; any other
/// backslash is kept as written, so regexes read naturally (`"\d+"`).
fn lex_string(src: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let rest = src.get(start..).unwrap_or_default();
    let mut chars = rest.char_indices();
    let quote = match chars.next() {
        Some((_, q)) => q,
        None => return Err(SyntaxError::new(start, "unterminated string")),
    };
    let mut value = String::new();
    while let Some((off, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, '\'')) => value.push('\''),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => break,
            },
            c if c == quote => return Ok((value, start + off + c.len_utf8())),
            c => value.push(c),
        }
    }
    Err(SyntaxError::new(
        start,
        format!("unterminated string: the {quote} opened here is never closed"),
    ))
}

/// `-?digits(.digits)?([eE][+-]?digits)?`; integers must fit i64, floats must be finite.
fn lex_number(src: &str, start: usize) -> Result<(Tok<'static>, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut i = start;
    if at(i) == b'-' {
        i += 1;
    }
    let digits = |mut i: usize| {
        while at(i).is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits(i);
    if int_end == i {
        return Err(SyntaxError::new(start, "`-` must be followed by a number"));
    }
    i = int_end;
    let mut is_float = false;
    if at(i) == b'.' && at(i + 1).is_ascii_digit() {
        is_float = true;
        i = digits(i + 1);
    }
    if matches!(at(i), b'e' | b'E') {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            is_float = true;
            i = exp_end;
        }
    }
    if at(i).is_ascii_alphanumeric() || at(i) == b'_' {
        return Err(SyntaxError::new(start, "invalid number"));
    }
    let text = src.get(start..i).unwrap_or_default();
    let tok = if is_float {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Tok::Float(f),
            _ => return Err(SyntaxError::new(start, "number out of range")),
        }
    } else {
        match text.parse::<i64>() {
            Ok(n) => Tok::Int(n),
            Err(_) => {
                return Err(SyntaxError::new(
                    start,
                    "integer out of range (a 64-bit signed integer)",
                ))
            }
        }
    };
    Ok((tok, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        tokenize(src)
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn tokens_of_a_typical_condition() {
        assert_eq!(
            kinds("urls[0].host != 'x' # comment\n and n >= -0.5"),
            vec![
                Tok::Ident("urls"),
                Tok::LBracket,
                Tok::Int(0),
                Tok::RBracket,
                Tok::Dot,
                Tok::Ident("host"),
                Tok::Cmp(Symbol::Ne),
                Tok::Str("x".into()),
                Tok::Ident("and"),
                Tok::Ident("n"),
                Tok::Cmp(Symbol::Ge),
                Tok::Float(-0.5),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn string_escapes_and_verbatim_backslashes() {
        assert_eq!(
            kinds(r#""a\"b\\c\n\t" 'it\'s' "\d+\.""#),
            vec![
                Tok::Str("a\"b\\c\n\t".into()),
                Tok::Str("it's".into()),
                Tok::Str("\\d+\\.".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("3 -3 0.5 1e3 2.5E-1"),
            vec![
                Tok::Int(3),
                Tok::Int(-3),
                Tok::Float(0.5),
                Tok::Float(1000.0),
                Tok::Float(0.25),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        let err = |s| {
            tokenize(s)
                .err()
                .unwrap_or(SyntaxError::new(99, "no error"))
        };
        assert_eq!(
            err("a == 'abc"),
            SyntaxError::new(5, "unterminated string: the ' opened here is never closed")
        );
        assert_eq!(
            err("a === 1"),
            SyntaxError::new(2, "unknown operator `===`")
        );
        assert_eq!(
            err("a = 1"),
            SyntaxError::new(2, "unknown operator `=`; use `==` to compare")
        );
        assert_eq!(
            err("a ~ 1"),
            SyntaxError::new(2, "unexpected character `~`")
        );
        assert_eq!(err("a > 3x"), SyntaxError::new(4, "invalid number"));
        assert_eq!(
            err("a > 99999999999999999999"),
            SyntaxError::new(4, "integer out of range (a 64-bit signed integer)")
        );
        assert_eq!(err("a > 1e999"), SyntaxError::new(4, "number out of range"));
    }
}
