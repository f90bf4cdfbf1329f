//! What a reader sees of an HTML part: its text without style sheets,
//! scripts or the head, with the words of adjacent blocks kept apart.
//!
//! mail-parser's `html_to_text` conversion does the rest (our faster copy
//! of it, `html_to_text.rs`), but it recognises
//! `<style>`, `<script>` and `<head>` only when written without attributes
//! (`<style type="text/css">` passes its CSS into the text), and it joins
//! the words of adjacent blocks (`Notice</h1><p>Hello` reads
//! `NoticeHello`). One linear pass removes those elements and puts a space
//! before every block tag first.

/// Elements whose content a mail program never shows.
const HIDDEN: [&str; 4] = ["style", "script", "head", "template"];

/// Elements that start or end a block, line or cell.
const BLOCKS: [&str; 27] = [
    "address",
    "article",
    "blockquote",
    "br",
    "center",
    "dd",
    "div",
    "dt",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "section",
    "table",
    "td",
    "th",
    "title",
    "tr",
    "ul",
];

/// Longest tag name compared.
const MAX_NAME: usize = 16;

/// The text of an HTML document as a reader sees it.
pub fn html_text(html: &str) -> String {
    super::html_to_text::html_to_text(&prepare(html))
}

/// `html` without hidden elements, and with a space before block tags.
/// An element whose end tag is missing loses only its start tag. Comments
/// are copied as they are (the converter hides them), so markup inside a
/// comment never removes text outside it. Linear: once the search for an
/// element's end tag failed, it is not searched for again further on.
fn prepare(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut copied = 0;
    let mut at = 0;
    // Per entry of HIDDEN: there is no end tag after this offset.
    let mut unclosed_after = [usize::MAX; HIDDEN.len()];
    while let Some(found) = bytes.get(at..).and_then(|rest| memchr::memchr(b'<', rest)) {
        let open = at + found;
        if bytes.get(open + 1..open + 4) == Some(b"!--") {
            at = find(bytes, open + 4, b"-->").map_or(bytes.len(), |end| end + 3);
            continue;
        }
        let closing = bytes.get(open + 1) == Some(&b'/');
        let name_start = open + 1 + usize::from(closing);
        let (name, delimited) = tag_name(bytes, name_start);
        at = open + 1;
        if !delimited {
            continue;
        }
        let hidden = HIDDEN
            .iter()
            .position(|h| name.eq_ignore_ascii_case(h.as_bytes()));
        match (closing, hidden) {
            (false, Some(which)) => {
                out.push_str(html.get(copied..open).unwrap_or(""));
                out.push(' ');
                let from = name_start + name.len();
                let end = if from >= unclosed_after[which] {
                    None
                } else {
                    end_of_element(bytes, from, name)
                };
                if end.is_none() {
                    unclosed_after[which] = unclosed_after[which].min(from);
                }
                let resume = end.or_else(|| tag_end(bytes, open)).unwrap_or(bytes.len());
                copied = resume;
                at = resume;
            }
            _ if BLOCKS
                .iter()
                .any(|b| name.eq_ignore_ascii_case(b.as_bytes())) =>
            {
                out.push_str(html.get(copied..open).unwrap_or(""));
                out.push(' ');
                copied = open;
            }
            _ => {}
        }
    }
    out.push_str(html.get(copied..).unwrap_or(""));
    out
}

/// Where `needle` first occurs at or after `from`.
pub(super) fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let found = memchr::memmem::find(bytes.get(from..)?, needle)?;
    Some(from + found)
}

/// The tag name starting at `start` (ASCII letters and digits, at most
/// [`MAX_NAME`]), and whether it is followed by what ends a tag name.
fn tag_name(bytes: &[u8], start: usize) -> (&[u8], bool) {
    let rest = bytes.get(start..).unwrap_or(&[]);
    let len = rest
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let delimited = len > 0
        && len <= MAX_NAME
        && matches!(
            rest.get(len),
            None | Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n' | b'\x0c')
        );
    (&rest[..len.min(rest.len())], delimited)
}

/// Just past the `>` of the end tag `</name ...>` at or after `from`.
pub(super) fn end_of_element(bytes: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let start = find(bytes, at, b"</")? + 2;
        let (candidate, delimited) = tag_name(bytes, start);
        if delimited && candidate.eq_ignore_ascii_case(name) {
            return tag_end(bytes, start);
        }
        at = start;
    }
}

/// Just past the first `>` at or after `from`.
pub(super) fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let found = memchr::memchr(b'>', bytes.get(from..)?)?;
    Some(from + found + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(html: &str) -> String {
        html_text(html)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn style_script_and_head_with_attributes_are_not_text() {
        let html = r#"<html lang="en"><head lang="en"><title>T</title></head>
            <body class="x"><style type="text/css">h4{ text-align: center; }</style>
            <STYLE id=a>p {margin:0;}</STYLE ><script type="text/javascript">alert(1)</script>
            <p>Dear customer,</p><template id=t>hidden</template>win</body></html>"#;
        assert_eq!(words(html), "Dear customer, win");
    }

    #[test]
    fn blocks_keep_words_apart() {
        assert_eq!(
            words("<h1>Membership Renewal Notice</h1><p>Hello</p><div>A</div><div>B</div><table><tr><td>x</td><td>y</td></tr></table>"),
            "Membership Renewal Notice Hello A B x y"
        );
        assert_eq!(
            words("<b>bo</b>ld and <span>in</span>line"),
            "bold and inline"
        );
    }

    #[test]
    fn unclosed_or_odd_markup_loses_nothing_else() {
        assert_eq!(words("<style>p{} <p>after</p>"), "p{} after");
        assert_eq!(words("<head><p>body text"), "body text");
        assert_eq!(words("a <stylesheet> b"), "a b");
        assert_eq!(words("x &lt; y"), "x < y");
        assert_eq!(words("<scrip>é</scrip>"), "é");
    }

    #[test]
    fn markup_in_comments_hides_nothing_outside_them() {
        assert_eq!(
            words("<!-- <style> -->Win a prize<!-- </style> --> now"),
            "Win a prize now"
        );
        assert_eq!(
            words("<!--[if mso]><style>td{}</style><![endif]--><p>Hello</p>"),
            "Hello"
        );
    }

    #[test]
    fn many_unclosed_hidden_elements_cost_linear_work() {
        // Quadratic work (every <style> searching the rest of the part for
        // its end tag) would take minutes here, not milliseconds.
        let html = "<style>x".repeat(200_000) + "<p>end</p>";
        assert!(words(&html).ends_with("end"));
        let html = "<head><script>".repeat(100_000) + &"</b>".repeat(100_000);
        let _ = html_text(&html);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = html_text(&s);
        }

        #[test]
        fn never_panics_on_tag_soup(s in "(<|>|/|style|head|div|é| |a)*") {
            let _ = html_text(&s);
        }
    }
}
