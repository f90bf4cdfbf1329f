//! mail-parser's HTML-to-text conversion, same output, in fewer steps.
//!
//! `mail_parser::decoders::html::html_to_text` walks every byte through a
//! dozen state flags, validates each word as UTF-8 again, and reads the
//! whole of a style sheet, a script or the head byte by byte only to find
//! where it ends. This is the same state machine, but it jumps: to the next
//! `<` where nothing is shown, to the end of a tag once its name is known,
//! to the next `>` in a comment, to the end of a word in text. A property
//! test checks that both give the same text on tag soup and on any string.

use mail_parser::decoders::html::add_html_token;

/// Bytes that end a word of text: a tag, white space, or a character
/// reference's start or end.
const ENDS_WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = matches!(i as u8, b'<' | b' ' | b'\t' | b'\r' | b'\n' | b'&' | b';');
        i += 1;
    }
    table
};

/// The text of `html` exactly as mail-parser's `html_to_text` gives it.
pub(super) fn html_to_text(html: &str) -> String {
    let mut converter = Converter {
        html,
        bytes: html.as_bytes(),
        out: String::with_capacity(html.len()),
        in_tag: false,
        in_comment: false,
        hidden: Hidden::default(),
        token_start: 0,
        token_end: 0,
        is_token_start: true,
        is_after_space: false,
        is_new_line: true,
        is_tag_close: false,
        tag_token_pos: 0,
    };
    converter.run();
    let mut out = converter.out;
    out.shrink_to_fit();
    out
}

/// Which elements whose content is not shown are open (mail-parser tracks
/// each on its own, by tag name alone).
#[derive(Debug, Default, Clone, Copy)]
struct Hidden {
    head: bool,
    style: bool,
    script: bool,
    template: bool,
}

impl Hidden {
    fn any(self) -> bool {
        self.head || self.style || self.script || self.template
    }
}

/// mail-parser's state, field for field.
struct Converter<'a> {
    html: &'a str,
    bytes: &'a [u8],
    out: String,
    in_tag: bool,
    in_comment: bool,
    hidden: Hidden,
    /// The current word (or tag token): `token_start..=token_end`.
    token_start: usize,
    token_end: usize,
    is_token_start: bool,
    is_after_space: bool,
    is_new_line: bool,
    is_tag_close: bool,
    /// Tokens seen in the current tag: 1 while only its name was read.
    tag_token_pos: usize,
}

impl Converter<'_> {
    fn run(&mut self) {
        let len = self.bytes.len();
        let mut pos = 0;
        while pos < len {
            pos = if self.in_comment {
                self.in_comment_at(pos)
            } else if self.in_tag {
                self.in_tag_at(pos)
            } else if self.hidden.any() {
                // Nothing here is shown and nothing but `<` changes the state.
                match memchr::memchr(b'<', &self.bytes[pos..]) {
                    Some(found) => {
                        self.open_tag();
                        pos + found + 1
                    }
                    None => len,
                }
            } else {
                self.in_text_at(pos)
            };
        }
        if !self.in_tag && !self.is_token_start && !self.hidden.any() {
            self.flush(self.token_start, self.token_end + 1, self.spaced());
        }
    }

    /// A comment ends at the first `>` after exactly two dashes.
    fn in_comment_at(&mut self, pos: usize) -> usize {
        let Some(found) = memchr::memchr(b'>', &self.bytes[pos..]) else {
            return self.bytes.len();
        };
        let close = pos + found;
        // The byte that opened the comment is `!`, so the count stops there.
        let dashes = self.bytes[..close]
            .iter()
            .rev()
            .take(3)
            .take_while(|&&b| b == b'-')
            .count();
        if dashes == 2 {
            self.in_comment = false;
            self.in_tag = false;
            self.is_token_start = true;
        }
        close + 1
    }

    fn in_tag_at(&mut self, pos: usize) -> usize {
        if self.tag_token_pos >= 2 {
            // Past the tag's name only its end, or a new tag, matters.
            return match memchr::memchr2(b'<', b'>', &self.bytes[pos..]) {
                Some(found) => {
                    let at = pos + found;
                    if self.bytes[at] == b'<' {
                        self.open_tag();
                    } else {
                        self.in_tag = false;
                        self.is_token_start = true;
                    }
                    at + 1
                }
                None => self.bytes.len(),
            };
        }
        match self.bytes[pos] {
            b'<' => self.open_tag(),
            b'>' => {
                if self.tag_token_pos == 1 {
                    self.close_tag();
                }
                self.in_tag = false;
                self.is_token_start = true;
            }
            b'/' => {
                if self.tag_token_pos == 0 {
                    self.is_tag_close = true;
                }
            }
            b'!' if self.tag_token_pos == 0
                && self.bytes.get(pos + 1..pos + 3) == Some(b"--".as_slice()) =>
            {
                self.in_comment = true;
            }
            b' ' | b'\t' | b'\r' | b'\n' => self.is_token_start = true,
            _ => {
                if self.is_token_start {
                    self.token_start = pos;
                    self.is_token_start = false;
                    self.tag_token_pos += 1;
                }
                self.token_end = pos;
            }
        }
        pos + 1
    }

    fn in_text_at(&mut self, pos: usize) -> usize {
        match self.bytes[pos] {
            b'<' => {
                if !self.is_token_start {
                    self.flush(self.token_start, self.token_end + 1, self.is_after_space);
                    self.is_after_space = false;
                }
                self.open_tag();
                return pos + 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                if !self.is_token_start {
                    self.flush(self.token_start, self.token_end + 1, self.spaced());
                    self.is_new_line = false;
                }
                self.is_after_space = true;
                self.is_token_start = true;
                return pos + 1;
            }
            b'&' if !self.is_token_start => {
                self.flush(self.token_start, self.token_end + 1, self.spaced());
                self.is_new_line = false;
                self.is_token_start = true;
                self.is_after_space = false;
            }
            b';' if !self.is_token_start => {
                self.flush(self.token_start, pos + 1, self.spaced());
                self.is_token_start = true;
                self.is_after_space = false;
                self.is_new_line = false;
                return pos + 1;
            }
            _ => {}
        }
        // A word starts or goes on, up to the next byte that ends one.
        if self.is_token_start {
            self.token_start = pos;
            self.is_token_start = false;
        }
        let rest = &self.bytes[pos + 1..];
        let word = rest
            .iter()
            .take_while(|&&b| !ENDS_WORD[usize::from(b)])
            .count();
        self.token_end = pos + word;
        pos + word + 1
    }

    fn open_tag(&mut self) {
        self.tag_token_pos = 0;
        self.in_tag = true;
        self.is_token_start = true;
        self.is_tag_close = false;
    }

    /// A tag made of its name alone: a line break, or a hidden element
    /// opening or closing.
    fn close_tag(&mut self) {
        let Some(name) = self.bytes.get(self.token_start..self.token_end + 1) else {
            return;
        };
        let opens = !self.is_tag_close;
        if name.eq_ignore_ascii_case(b"br") || (name.eq_ignore_ascii_case(b"p") && !opens) {
            self.out.push('\n');
            self.is_after_space = false;
            self.is_new_line = true;
        } else if name.eq_ignore_ascii_case(b"head") {
            self.hidden.head = opens;
        } else if name.eq_ignore_ascii_case(b"style") {
            self.hidden.style = opens;
        } else if name.eq_ignore_ascii_case(b"script") {
            self.hidden.script = opens;
        } else if name.eq_ignore_ascii_case(b"template") {
            self.hidden.template = opens;
        }
    }

    fn spaced(&self) -> bool {
        self.is_after_space && !self.is_new_line
    }

    /// Appends the word `start..end`, a character reference decoded.
    fn flush(&mut self, start: usize, end: usize, add_space: bool) {
        let Some(token) = self.html.get(start..end) else {
            return;
        };
        if token.len() >= 2 && token.starts_with('&') && token.ends_with(';') {
            add_html_token(&mut self.out, token.as_bytes(), add_space);
            return;
        }
        if add_space {
            self.out.push(' ');
        }
        self.out.push_str(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::decoders::html::html_to_text as mail_parsers;

    #[test]
    fn reads_as_mail_parser_does() {
        for html in [
            "",
            "plain words",
            "<p>Dear customer,</p><br>Your account &amp; card&#33; &bogus; x&lt;y",
            "<html><head><title>T</title></head><body>A<br/>B</p>C</body></html>",
            "<style>p{}</style>shown<script>hidden</script> <template>t</template>end",
            "a <!-- c --> b <!--- c ---> still <!-- x --> d <!--> e",
            "<a href=\"x>y\">link</a> <b >bold</b > </ p> after",
            "<br><p>\n  spaced \t words\r\n</p>;lone; &",
            "x &nbsp;&nbsp; y &#x41;&#65; é<i>ü</i>ß",
            "<<p>>text<p<b>>",
            "unclosed <style",
            "<!-- never closed",
        ] {
            assert_eq!(html_to_text(html), mail_parsers(html), "{html:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn same_text_as_mail_parser_on_tag_soup(
            s in "(<|>|/|!|-|&|;|#|x|4|1|amp|lt|br|p|head|style|script|template|a|é| |\n|\t)*"
        ) {
            proptest::prop_assert_eq!(html_to_text(&s), mail_parsers(&s));
        }

        #[test]
        fn same_text_as_mail_parser_on_any_string(s in ".*") {
            proptest::prop_assert_eq!(html_to_text(&s), mail_parsers(&s));
        }
    }
}
