//! Text an HTML part hides from its reader, and content pushed out of view.
//!
//! Bulk-mail kits pad a message with words nobody sees (`display:none`,
//! `font-size:0`, `visibility:hidden`) so that each copy differs and word
//! filters read a harmless letter, and push the real content thousands of
//! pixels down or aside. A newsletter's hidden preheader repeats a few
//! words of its visible text; padding adds words of its own.
//!
//! Hiding counts from inline styles, the `hidden` attribute, and style-sheet
//! rules that hide an element type outright (`q { display:none }`); rules
//! on classes are not worked out, since newsletters hide their mobile and
//! desktop copies by class.
//!
//! A measurement only: `body.text` keeps every word, hidden or not, so that
//! a mistaken reading of hostile markup can never hide text from the
//! classifiers. One linear pass; the element stack and the search for an
//! end tag are bounded.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use super::html::{end_of_element, find, tag_end};
use super::urls::{decode_entities, scan_attributes};
use crate::record::HiddenText;

/// Characters of hidden text kept as a sample.
pub const SAMPLE_CHARS: usize = 160;

/// Open elements tracked; deeper ones are read as part of their parent.
const MAX_DEPTH: usize = 256;

/// Open elements searched for an end tag's match: a stray end tag costs a
/// bounded amount, however deep the document.
const MAX_POP_SEARCH: usize = 32;

/// Element types a page's style sheets may hide; more are ignored.
const MAX_HIDDEN_TYPES: usize = 16;

/// What an element is to this scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Content is raw text up to the end tag, never shown (`style`, `script`).
    RawText,
    /// Content never shown, hidden or not (`head`, `title`, `template`).
    NotShown,
    /// No content and no end tag (`br`, `img`).
    Void,
    /// Anything else.
    Other,
}

impl Kind {
    /// A `match` rather than a list search: it runs for every tag.
    fn of(name: &[u8]) -> Kind {
        match name {
            b"style" | b"script" => Kind::RawText,
            b"head" | b"title" | b"template" => Kind::NotShown,
            b"area" | b"base" | b"br" | b"col" | b"embed" | b"hr" | b"img" | b"input" | b"link"
            | b"meta" | b"param" | b"source" | b"track" | b"wbr" => Kind::Void,
            _ => Kind::Other,
        }
    }
}

/// How an element shows its content, inherited from its parent and then
/// changed by its own style.
#[derive(Debug, Clone, Copy, Default)]
struct Visibility {
    /// `display:none`, `opacity:0`, `max-height:0`, `hidden`: no
    /// descendant can undo it.
    removed: bool,
    /// `visibility:hidden`, until a descendant says `visible`.
    invisible: bool,
    /// `font-size` of zero or one pixel, until a descendant sets a size.
    tiny_font: bool,
    /// Inside an element whose content is never shown at all.
    not_shown: bool,
}

impl Visibility {
    fn hidden(self) -> bool {
        self.removed || self.invisible || self.tiny_font
    }
}

/// An open element: its name (lower case, cut to [`NAME_BYTES`]) and how
/// it shows its content.
struct Frame {
    name: TagName,
    visibility: Visibility,
}

/// Bytes of a tag name compared; longer names are cut.
const NAME_BYTES: usize = 16;

/// A lower-case tag name, cut to [`NAME_BYTES`], without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TagName {
    bytes: [u8; NAME_BYTES],
    len: usize,
}

impl TagName {
    fn new(name: &[u8]) -> TagName {
        let mut bytes = [0; NAME_BYTES];
        let len = name.len().min(NAME_BYTES);
        for (to, from) in bytes.iter_mut().zip(name) {
            *to = from.to_ascii_lowercase();
        }
        TagName { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Measures one HTML part and adds it to `total`.
pub fn measure(html: &str, total: &mut HiddenText) {
    let part = Scan::run(html);
    total.visible_words = total.visible_words.saturating_add(part.visible_words);
    total.hidden_words = total.hidden_words.saturating_add(part.hidden_words);
    total.offset_px = total.offset_px.max(part.offset_px);
    if part.hidden_words == 0 {
        return;
    }
    total.novel_words = total
        .novel_words
        .saturating_add(novel_words(html, &part.segments));
    if total.sample.is_none() {
        total.sample = sample(html, &part.segments);
    }
}

/// The result of one pass over a part.
#[derive(Default)]
struct Scan {
    visible_words: u32,
    hidden_words: u32,
    offset_px: u32,
    /// Text segments with words, and whether each is hidden.
    segments: Vec<(Range<usize>, bool)>,
}

impl Scan {
    fn run(html: &str) -> Scan {
        let bytes = html.as_bytes();
        let mut scan = Scan::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut hidden_types: Vec<(TagName, SheetRule)> = Vec::new();
        let mut text_start = 0;
        let mut at = 0;
        while let Some(found) = memchr::memchr(b'<', bytes.get(at..).unwrap_or(&[])) {
            let open = at + found;
            let current = stack.last().map(|f| f.visibility).unwrap_or_default();
            scan.text(html, text_start..open, current);
            if bytes.get(open + 1..open + 4) == Some(b"!--") {
                // `<!-->` and `<!--->` end where they start, as in browsers.
                at = if bytes.get(open + 4) == Some(&b'>') {
                    open + 5
                } else if bytes.get(open + 4..open + 6) == Some(b"->") {
                    open + 6
                } else {
                    find(bytes, open + 4, b"-->").map_or(bytes.len(), |end| end + 3)
                };
                text_start = at;
                continue;
            }
            let closing = bytes.get(open + 1) == Some(&b'/');
            let name_start = open + 1 + usize::from(closing);
            let name_len = bytes
                .get(name_start..)
                .unwrap_or(&[])
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if name_len == 0 {
                // `<!DOCTYPE`, `<?xml`: markup up to the next `>` (or the
                // end: then nothing follows, and the scan stays linear).
                // A `<` in text is text.
                if bytes
                    .get(open + 1)
                    .is_some_and(|b| matches!(b, b'!' | b'?'))
                {
                    at = tag_end(bytes, open).unwrap_or(bytes.len());
                    text_start = at;
                } else {
                    at = open + 1;
                    text_start = open;
                }
                continue;
            }
            let name = TagName::new(&bytes[name_start..name_start + name_len]);
            if closing {
                at = tag_end(bytes, name_start + name_len).unwrap_or(bytes.len());
                text_start = at;
                pop(&mut stack, name);
                continue;
            }
            let (end, attributes) = scan_attributes(html, name_start + name_len);
            at = end.max(open + 1);
            text_start = at;
            let kind = Kind::of(name.as_bytes());
            if kind == Kind::RawText {
                let content = at;
                at = end_of_element(bytes, at, name.as_bytes()).unwrap_or(bytes.len());
                text_start = at;
                if name.as_bytes() == b"style" {
                    let css = html.get(content..at).unwrap_or("");
                    scan.offset_px = scan.offset_px.max(style_sheet_offset(css));
                    if for_screens(&attributes) {
                        hidden_element_types(css, &mut hidden_types);
                    }
                }
                continue;
            }
            if name.as_bytes() == b"body" {
                // The body ends an unclosed head.
                if let Some(head) = stack.iter().position(|f| f.name.as_bytes() == b"head") {
                    stack.truncate(head);
                }
            }
            let mut visibility = stack.last().map(|f| f.visibility).unwrap_or_default();
            if kind == Kind::NotShown {
                visibility.not_shown = true;
            }
            // The style sheet's rule for the element type, then the inline
            // style, which overrides it (unless the sheet's `display:none`
            // is `!important` and the inline `display` is not).
            let by_sheet = hidden_types
                .iter()
                .find(|(hidden, _)| *hidden == name)
                .map(|&(_, sheet)| sheet);
            if let Some(sheet) = by_sheet {
                visibility.invisible |= sheet.invisible;
            }
            let mut inline = Declared::default();
            for (attribute, value) in attributes {
                if attribute.eq_ignore_ascii_case("style") {
                    inline = apply_style(&clean_style(value), &mut visibility, Offsets::All);
                    scan.offset_px = scan.offset_px.max(inline.offset);
                } else if attribute.eq_ignore_ascii_case("hidden") {
                    visibility.removed = true;
                } else if attribute.eq_ignore_ascii_case("height") {
                    scan.offset_px = scan.offset_px.max(pixels(value));
                }
            }
            let shown_inline = |sheet: SheetRule| {
                inline.display_shown && (inline.display_important || !sheet.important)
            };
            if by_sheet.is_some_and(|sheet| sheet.display_none && !shown_inline(sheet)) {
                visibility.removed = true;
            }
            // `<div/>` opens a div in HTML, as browsers read it: only void
            // elements have no content.
            if kind == Kind::Void {
                continue;
            }
            if stack.len() < MAX_DEPTH {
                stack.push(Frame { name, visibility });
            } else if let Some(top) = stack.last_mut() {
                // Too deep to track: the innermost tracked element takes on
                // the hiding, so that nesting cannot hide padding.
                top.visibility = visibility;
            }
        }
        let current = stack.last().map(|f| f.visibility).unwrap_or_default();
        scan.text(html, text_start..bytes.len(), current);
        scan
    }

    /// Counts the words of a text segment as seen or hidden.
    fn text(&mut self, html: &str, range: Range<usize>, visibility: Visibility) {
        if visibility.not_shown || range.is_empty() {
            return;
        }
        let words = count_words(html.get(range.clone()).unwrap_or(""));
        if words == 0 {
            return;
        }
        let hidden = visibility.hidden();
        if hidden {
            self.hidden_words = self.hidden_words.saturating_add(words);
        } else {
            self.visible_words = self.visible_words.saturating_add(words);
        }
        self.segments.push((range, hidden));
    }
}

/// Closes the innermost open element named `name`, and every element
/// opened inside it; an end tag that matches none is ignored.
fn pop(stack: &mut Vec<Frame>, name: TagName) {
    let found = stack
        .iter()
        .rev()
        .take(MAX_POP_SEARCH)
        .position(|f| f.name == name);
    if let Some(from_top) = found {
        stack.truncate(stack.len() - from_top - 1);
    }
}

/// What a style declares besides what it does to a [`Visibility`].
#[derive(Debug, Clone, Copy, Default)]
struct Declared {
    /// The largest offset in pixels.
    offset: u32,
    /// `display: none`.
    display_none: bool,
    /// `display` set to a box that shows (`block`, `inline`, ...): an inline
    /// style that shows what a style sheet hid. An unknown value is ignored
    /// by browsers, and here.
    display_shown: bool,
    /// The `display` declaration is `!important`.
    display_important: bool,
}

/// What a style sheet's rule does to every element of a type.
#[derive(Debug, Clone, Copy)]
struct SheetRule {
    display_none: bool,
    /// Its `display: none` is `!important`: an inline `display` does not
    /// override it unless it is too.
    important: bool,
    /// `visibility: hidden`, until a descendant says `visible`.
    invisible: bool,
}

/// `display` values that show an element's box, the global keywords
/// included (for `display`, each resolves to a shown box or to the parent's).
const SHOWN_DISPLAYS: &[&str] = &[
    "inline",
    "block",
    "inline-block",
    "flex",
    "inline-flex",
    "grid",
    "inline-grid",
    "table",
    "inline-table",
    "table-row",
    "table-cell",
    "table-row-group",
    "table-header-group",
    "table-footer-group",
    "table-column",
    "table-column-group",
    "table-caption",
    "list-item",
    "contents",
    "flow-root",
    "flow",
    "run-in",
    "ruby",
    "initial",
    "inherit",
    "unset",
    "revert",
    "revert-layer",
];

/// A style attribute as a browser reads it: character references decoded
/// (`display&colon;none`) and comments removed (`display:/**/none`).
/// Borrowed when there is neither, as in nearly every style.
fn clean_style(style: &str) -> Cow<'_, str> {
    let mut style = Cow::Borrowed(style);
    if style.contains('&') {
        style = Cow::Owned(decode_entities(&style));
    }
    if let Cow::Owned(bare) = without_comments(&style) {
        style = Cow::Owned(bare);
    }
    style
}

/// CSS text without its `/* ... */` comments; an unclosed comment runs to
/// the end. Borrowed when there is none, as in most styles.
fn without_comments(css: &str) -> Cow<'_, str> {
    let bytes = css.as_bytes();
    let Some(first) = find(bytes, 0, b"/*") else {
        return Cow::Borrowed(css);
    };
    let mut out = String::with_capacity(css.len());
    let (mut kept, mut open) = (0, Some(first));
    while let Some(at) = open {
        out.push_str(&css[kept..at]);
        kept = find(bytes, at + 2, b"*/").map_or(bytes.len(), |close| close + 2);
        open = find(bytes, kept, b"/*");
    }
    out.push_str(&css[kept..]);
    Cow::Owned(out)
}

/// Applies a style's declarations to `visibility`. A byte loop: it runs
/// for every declaration of every inline style, and most declarations
/// (`color`, `font-family`, `text-align`) are passed over on their first
/// letter.
fn apply_style(style: &str, visibility: &mut Visibility, offsets: Offsets) -> Declared {
    let mut declared = Declared::default();
    let mut rest = style.as_bytes();
    while !rest.is_empty() {
        let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let declaration = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        let Some(colon) = memchr::memchr(b':', declaration) else {
            continue;
        };
        let property = declaration[..colon].trim_ascii();
        let interesting = property.first().is_some_and(|b| {
            matches!(
                b.to_ascii_lowercase(),
                b'd' | b'o' | b'm' | b'v' | b'f' | b'p' | b't' | b'l' | b'h' | b'w'
            )
        });
        if !interesting {
            continue;
        }
        let mut lower = [0u8; PROPERTY_BYTES];
        let Some(property) = lower_case(property, &mut lower) else {
            continue;
        };
        // `!important`, `! important`: no value these properties take has
        // a `!` of its own.
        let value = declaration[colon + 1..].trim_ascii();
        let bang = memchr::memchr(b'!', value);
        let important = bang.is_some_and(|at| {
            value[at + 1..]
                .trim_ascii()
                .eq_ignore_ascii_case(b"important")
        });
        let value = bang.map_or(value, |at| value[..at].trim_ascii_end());
        let value = std::str::from_utf8(value).unwrap_or_default();
        match property {
            b"display" => {
                let first = value.split_ascii_whitespace().next().unwrap_or("");
                let none = first.eq_ignore_ascii_case("none");
                let shown = SHOWN_DISPLAYS.iter().any(|d| d.eq_ignore_ascii_case(first));
                visibility.removed |= none;
                if none || shown {
                    declared.display_none = none;
                    declared.display_shown = shown;
                    declared.display_important = important;
                }
            }
            b"opacity" | b"max-height" => {
                visibility.removed |= numeric(value).is_some_and(|n| n == 0.0);
            }
            b"visibility" => {
                visibility.invisible =
                    value.eq_ignore_ascii_case("hidden") || value.eq_ignore_ascii_case("collapse");
            }
            b"font-size" => visibility.tiny_font = tiny_font(value),
            // Properties whose size moves content down (the offset check);
            // `margin` and `padding` start with the top.
            b"margin" | b"margin-top" | b"padding" | b"padding-top" | b"top" | b"height"
            | b"min-height" | b"line-height" => {
                declared.offset = declared.offset.max(pixels(value));
            }
            // And aside: in a style sheet, `.sr-only { left: -10000px }` is
            // how pages keep text for screen readers, so these count inline only.
            b"margin-left" | b"padding-left" | b"left" | b"text-indent" | b"width"
                if offsets == Offsets::All =>
            {
                declared.offset = declared.offset.max(pixels(value));
            }
            _ => {}
        }
    }
    declared
}

/// Which offsets a style counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offsets {
    /// Every offset (inline styles).
    All,
    /// Only those that push content down (style sheets).
    Vertical,
}

/// Longest property name compared.
const PROPERTY_BYTES: usize = 16;

/// `name` in ASCII lower case in `buf`; `None` when longer than `buf`.
fn lower_case<'b>(name: &[u8], buf: &'b mut [u8; PROPERTY_BYTES]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..name.len())?;
    for (to, from) in out.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    Some(out)
}

/// The largest offset a style sheet's rules set (`.belowView { margin-top:
/// 470500px }`), when it is 1,000 pixels or more (else 0); which elements
/// they select is not worked out, so a style sheet never hides words here.
fn style_sheet_offset(css: &str) -> u32 {
    // Style sheets are long and their offsets small: read the rules only
    // when a number of four digits or more is there at all.
    let mut digits = 0;
    let has_large_number = css.bytes().any(|b| {
        digits = if b.is_ascii_digit() { digits + 1 } else { 0 };
        digits >= 4
    });
    if !has_large_number {
        return 0;
    }
    css.split('{')
        .skip(1)
        .map(|block| {
            let declarations = block.split('}').next().unwrap_or_default();
            apply_style(declarations, &mut Visibility::default(), Offsets::Vertical).offset
        })
        .max()
        .filter(|&px| px >= 1000)
        .unwrap_or(0)
}

/// Adds to `types` the element types a style sheet hides outright: a
/// top-level rule whose selector list names a bare type (`q`,
/// `blockquote`) and whose declarations hide (`display:none`,
/// `visibility:hidden`). Rules inside `@media` and other at-rules apply only
/// sometimes, and class or compound selectors (`.mobile_hide`, `div.x`)
/// only to some elements: neither counts. The scan is one pass, so a rule
/// reaches the elements after its style sheet, which in mail is in the head.
fn hidden_element_types(css: &str, types: &mut Vec<(TagName, SheetRule)>) {
    // Most style sheets hide nothing: read the rules only when they can.
    if find(css.as_bytes(), 0, b"none").is_none() && find(css.as_bytes(), 0, b"hidden").is_none() {
        return;
    }
    let css = without_comments(css);
    for (selectors, declarations) in top_level_rules(&css) {
        let bare_types = || {
            selectors
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= NAME_BYTES)
                .filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric()))
        };
        if bare_types().next().is_none() {
            continue;
        }
        let mut hides = Visibility::default();
        let declared = apply_style(declarations, &mut hides, Offsets::Vertical);
        let rule = SheetRule {
            display_none: declared.display_none,
            important: declared.display_important,
            invisible: hides.invisible,
        };
        if !(rule.display_none || rule.invisible) {
            continue;
        }
        for name in bare_types().map(|s| TagName::new(s.as_bytes())) {
            if types.len() < MAX_HIDDEN_TYPES && !types.iter().any(|(n, _)| *n == name) {
                types.push((name, rule));
            }
        }
    }
}

/// Whether a `<style>` element applies on screen: no `media` attribute, or
/// one that names `screen` or `all` (`media="print"` does not).
fn for_screens(attributes: &[(&str, &str)]) -> bool {
    attributes
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("media"))
        .all(|(_, media)| {
            let media = media.to_ascii_lowercase();
            media.trim().is_empty() || media.contains("screen") || media.contains("all")
        })
}

/// The rules of a style sheet (comments removed) that are not inside an
/// at-rule, as (selector list, declarations); at-rules themselves
/// (`@media ... { ... }`, `@import ...;`) are passed over.
fn top_level_rules(css: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = css.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let open = at + memchr::memchr(b'{', bytes.get(at..)?)?;
            // Closing braces before the opening one end nothing here (a
            // stray `}`); skip past them.
            let prelude = css.get(at..open)?;
            let selectors = prelude.rsplit(['}', ';']).next().unwrap_or(prelude);
            let mut depth = 1usize;
            let mut end = open + 1;
            let mut nested = false;
            while depth > 0 {
                let Some(next) = memchr::memchr2(b'{', b'}', bytes.get(end..)?) else {
                    at = bytes.len();
                    return None;
                };
                end += next;
                if bytes[end] == b'{' {
                    depth += 1;
                    nested = true;
                } else {
                    depth -= 1;
                }
                end += 1;
            }
            at = end;
            // Style sheets in mail are often wrapped in `<!-- ... -->`.
            let mut selectors = selectors.trim();
            while let Some(rest) = selectors
                .strip_prefix("<!--")
                .or_else(|| selectors.strip_prefix("-->"))
            {
                selectors = rest.trim_start();
            }
            if nested || selectors.starts_with('@') {
                continue;
            }
            return Some((selectors, css.get(open + 1..end - 1).unwrap_or("")));
        }
    })
}

/// A font size nobody reads: zero in any unit, or at most one pixel
/// (`0`, `0em`, `1px`, `.5px`); `0.8em` is small print, not hidden.
fn tiny_font(value: &str) -> bool {
    let Some(size) = numeric(value) else {
        return false;
    };
    let unit = value.trim_start_matches(|c: char| c.is_ascii_digit() || "+-.".contains(c));
    size == 0.0 || (size <= 1.0 && (unit.is_empty() || unit.eq_ignore_ascii_case("px")))
}

/// The leading number of a CSS value (`0`, `0px`, `.5em`, `-9999px`).
fn numeric(value: &str) -> Option<f64> {
    let end = value
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(value.len(), |(i, _)| i);
    value.get(..end)?.parse().ok()
}

/// The size in whole pixels of a value written in pixels or as a bare
/// number (`12000px`, `-9999px`, `height="15000"`), absolute; 0 for other
/// units and for keywords.
fn pixels(value: &str) -> u32 {
    let first = value.split_whitespace().next().unwrap_or("");
    let digits = first.strip_prefix(['-', '+']).unwrap_or(first);
    let whole_len = digits.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = digits.split_at(whole_len);
    let unit = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if (whole.is_empty() && rest.len() == unit.len())
        || !(unit.is_empty() || unit.eq_ignore_ascii_case("px"))
    {
        return 0;
    }
    whole.bytes().fold(0u32, |n, d| {
        n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    })
}

/// Words of a text segment: runs of two or more letters, character
/// references (`&nbsp;`, `&#160;`) skipped.
fn words(text: &str) -> Words<'_> {
    Words {
        text,
        at: 0,
        ascii: text.is_ascii(),
    }
}

struct Words<'a> {
    text: &'a str,
    at: usize,
    /// The text is ASCII: read bytes, not characters.
    ascii: bool,
}

impl<'a> Words<'a> {
    /// [`Iterator::next`] for ASCII text, a byte loop.
    fn next_ascii(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        loop {
            let start = self.at
                + bytes
                    .get(self.at..)?
                    .iter()
                    .position(|b| b.is_ascii_alphabetic() || *b == b'&')?;
            let run_end = |from: usize, keep: fn(&u8) -> bool| {
                bytes[from..]
                    .iter()
                    .position(|b| !keep(b))
                    .map_or(bytes.len(), |n| from + n)
            };
            if bytes[start] == b'&' {
                self.at = run_end(start + 1, |b| b.is_ascii_alphanumeric() || *b == b'#');
                continue;
            }
            let end = run_end(start, u8::is_ascii_alphabetic);
            self.at = end;
            if end - start >= 2 {
                return self.text.get(start..end);
            }
        }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.ascii {
            return self.next_ascii();
        }
        loop {
            let rest = self.text.get(self.at..)?;
            let (offset, c) = rest
                .char_indices()
                .find(|&(_, c)| c.is_alphabetic() || c == '&')?;
            let start = self.at + offset;
            let after = &rest[offset + c.len_utf8()..];
            if c == '&' {
                let name = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
                    .unwrap_or(after.len());
                self.at = start + 1 + name;
                continue;
            }
            let len = c.len_utf8()
                + after
                    .find(|c: char| !c.is_alphabetic())
                    .unwrap_or(after.len());
            self.at = start + len;
            let word = &rest[offset..offset + len];
            if word.chars().nth(1).is_some() {
                return Some(word);
            }
        }
    }
}

/// How many [`words`] a text segment has; a byte loop for ASCII text,
/// which most segments are.
fn count_words(text: &str) -> u32 {
    if !text.is_ascii() {
        return u32::try_from(words(text).count()).unwrap_or(u32::MAX);
    }
    let bytes = text.as_bytes();
    let (mut count, mut run, mut at) = (0u32, 0usize, 0);
    while let Some(&b) = bytes.get(at) {
        at += 1;
        if b.is_ascii_alphabetic() {
            run += 1;
            continue;
        }
        count += u32::from(run >= 2);
        run = 0;
        if b == b'&' {
            while bytes
                .get(at)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'#')
            {
                at += 1;
            }
        }
    }
    count.saturating_add(u32::from(run >= 2))
}

/// Hidden words of three letters or more that no visible segment holds.
fn novel_words(html: &str, segments: &[(Range<usize>, bool)]) -> u32 {
    let words_of = |hidden: bool| {
        segments
            .iter()
            .filter(move |(_, h)| *h == hidden)
            .flat_map(|(range, _)| words(html.get(range.clone()).unwrap_or("")))
    };
    let visible: HashSet<u64> = words_of(false).map(folded_key).collect();
    let novel = words_of(true)
        .filter(|w| w.chars().nth(2).is_some() && !visible.contains(&folded_key(w)))
        .count();
    u32::try_from(novel).unwrap_or(u32::MAX)
}

/// A word's identity regardless of case, without allocating: FNV-1a over
/// its lower-case characters (a collision only makes a hidden word count as
/// seen).
fn folded_key(word: &str) -> u64 {
    const SEED: u64 = 0xcbf2_9ce4_8422_2325;
    let step = |hash: u64, c: u64| (hash ^ c).wrapping_mul(0x0100_0000_01b3);
    if word.is_ascii() {
        return word.bytes().fold(SEED, |hash, b| {
            step(hash, u64::from(b.to_ascii_lowercase()))
        });
    }
    word.chars()
        .flat_map(char::to_lowercase)
        .fold(SEED, |hash, c| step(hash, u64::from(c)))
}

/// The start of the hidden text, whitespace collapsed.
fn sample(html: &str, segments: &[(Range<usize>, bool)]) -> Option<String> {
    let mut out = String::new();
    let mut chars = 0;
    let hidden_text = segments
        .iter()
        .filter(|(_, hidden)| *hidden)
        .flat_map(|(range, _)| html.get(range.clone()).unwrap_or("").split_whitespace());
    for word in hidden_text {
        for c in (!out.is_empty())
            .then_some(' ')
            .into_iter()
            .chain(word.chars())
        {
            if chars == SAMPLE_CHARS {
                return Some(out);
            }
            out.push(c);
            chars += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(html: &str) -> HiddenText {
        let mut total = HiddenText::default();
        measure(html, &mut total);
        total
    }

    #[test]
    fn padding_in_hidden_elements_is_counted_and_sampled() {
        let html = r#"<html><head><title>Offer</title><style>p{color:red}</style></head><body>
            <p>Claim your reward now</p>
            <div style="display: none !important">lorem ipsum dolor sit amet <b>consectetur</b></div>
            <span style="font-size:0px">adipiscing elit</span>
            <p style="visibility:hidden">sed do <i style="visibility:visible">shown again</i></p>
            </body></html>"#;
        let m = measured(html);
        assert_eq!(m.visible_words, 4 + 2);
        assert_eq!(m.hidden_words, 6 + 2 + 2);
        assert_eq!(m.novel_words, 6 + 2 + 1);
        assert_eq!(
            m.sample.as_deref(),
            Some("lorem ipsum dolor sit amet consectetur adipiscing elit sed do")
        );
        assert_eq!(m.offset_px, 0);
    }

    #[test]
    fn a_preheader_repeating_the_text_is_hidden_but_not_novel() {
        let html = r#"<div style="display:none;max-height:0">Your October statement is ready</div>
            <h1>Your October statement is ready</h1>"#;
        let m = measured(html);
        assert_eq!((m.hidden_words, m.novel_words, m.visible_words), (5, 0, 5));
    }

    #[test]
    fn offsets_in_pixels_are_measured() {
        let html = r#"<div style="margin-top:12000px">x</div><td height="300">y</td>
            <p style="text-indent:-9999px;width:50%">z</p><p style="margin:2em">w</p>"#;
        assert_eq!(measured(html).offset_px, 12000);
        assert_eq!(
            measured(r#"<p style="line-height: 20px">a</p>"#).offset_px,
            20
        );
    }

    #[test]
    fn entities_comments_scripts_and_unclosed_tags_are_handled() {
        let html = "<!-- <div style=display:none> --><p>caf&eacute;&nbsp;bar</p>\
                    <script>var hidden = 'display:none';</script><p hidden>gone words";
        let m = measured(html);
        assert_eq!((m.visible_words, m.hidden_words), (2, 2));
        // A stray end tag closes nothing; an unclosed style hides the rest.
        let m = measured("</div><b>one two</b><style>three four");
        assert_eq!((m.visible_words, m.hidden_words), (2, 0));
    }

    #[test]
    fn what_browsers_do_with_odd_markup_is_followed() {
        // `<div/>` opens the div; an unclosed head ends at the body.
        let m = measured(r#"<div style="display:none"/>pad words</div><p>seen</p>"#);
        assert_eq!((m.hidden_words, m.visible_words), (2, 1));
        let m = measured("<head><title>t</title><body><p>seen text</p>");
        assert_eq!(m.visible_words, 2);
        // Empty comments end at once.
        let m = measured("<!--><p>one</p><!---><p>two</p>-->");
        assert_eq!(m.visible_words, 2);
        // Deeper than tracked, hiding still counts.
        let deep = "<b>".repeat(MAX_DEPTH + 10) + "<i style=display:none>pad words</i>";
        assert_eq!(measured(&deep).hidden_words, 2);
    }

    #[test]
    fn small_print_is_not_hidden_but_a_zero_font_is() {
        for (style, hidden) in [
            ("font-size:0", true),
            ("font-size:0em", true),
            ("font-size:1px", true),
            ("font-size:.5PX", true),
            ("font-size:1", true),
            ("font-size:0.8em", false),
            ("font-size:1rem", false),
            ("font-size:12px", false),
        ] {
            let m = measured(&format!(r#"<span style="{style}">small print</span>"#));
            assert_eq!(m.hidden_words == 2, hidden, "{style}");
        }
    }

    #[test]
    fn style_sheets_count_only_large_downward_offsets() {
        let sheet = |css: &str| measured(&format!("<style>{css}</style><p>x</p>")).offset_px;
        assert_eq!(sheet(".sr-only { position:absolute; left:-10000px }"), 0);
        assert_eq!(sheet("p { color: #000000; margin-top: 20px }"), 0);
        assert_eq!(sheet(".down { padding-top: 8000px }"), 8000);
    }

    #[test]
    fn style_sheets_hide_element_types_but_not_classes() {
        let page = |css: &str, body: &str| measured(&format!("<style>{css}</style>{body}"));
        let body = "<p>seen</p><q>pad words</q><blockquote>more pad</blockquote>";
        let m = page("q, blockquote { display: none }", body);
        assert_eq!((m.visible_words, m.hidden_words), (1, 4));
        // Classes, compound selectors and media queries do not count.
        let m = page(".mobile_hide, div.x, q.y { display:none } @media (max-width:600px) { q { display:none } }", body);
        assert_eq!(m.hidden_words, 0);
        // An inline style shows what the sheet hid; visibility is inherited
        // and undone as usual.
        let m = page(
            "q{display:none}",
            r#"<q style="display:inline">shown words</q>"#,
        );
        assert_eq!((m.visible_words, m.hidden_words), (2, 0));
        let m = page(
            "span{visibility:hidden}",
            r#"<span>pad <b style="visibility:visible">seen</b></span>"#,
        );
        assert_eq!((m.visible_words, m.hidden_words), (1, 1));
        // Comments, at-rules and stray braces do not confuse the rules.
        let m = page(
            "@import url(x.css); /* q{} */ } q /* c */ {display:/**/none}",
            body,
        );
        assert_eq!(m.hidden_words, 2);
        let m = page("q { display: none", body);
        assert_eq!(m.hidden_words, 0);
        // A sheet wrapped in an HTML comment, as Outlook writes them.
        let m = page("<!-- q { display:none } -->", body);
        assert_eq!(m.hidden_words, 2);
        // Print style sheets do not apply on screen.
        let m = measured(&format!(
            "<style media=\"print\">q{{display:none}}</style>{body}"
        ));
        assert_eq!(m.hidden_words, 0);
        let m = measured(&format!(
            "<style media=\"screen, print\">q{{display:none}}</style>{body}"
        ));
        assert_eq!(m.hidden_words, 2);
    }

    #[test]
    fn an_inline_display_overrides_a_sheet_as_in_browsers() {
        let page = |css: &str, style: &str| {
            measured(&format!(
                r#"<style>{css}</style><q style="{style}">pad words</q>"#
            ))
            .hidden_words
        };
        // An invalid value is ignored; a valid one shows the element.
        assert_eq!(page("q{display:none}", "display:xyz"), 2);
        assert_eq!(page("q{display:none}", "display:block"), 0);
        // An `!important` sheet wins over a plain inline display.
        assert_eq!(page("q{display:none!important}", "display:block"), 2);
        assert_eq!(
            page("q{display:none!important}", "display:block !important"),
            0
        );
        // Only display and visibility count from a sheet: an inline display
        // does not undo an opacity it never set, and none is taken.
        assert_eq!(page("q{opacity:0}", ""), 0);
        assert_eq!(page("q{visibility:hidden}", "display:block"), 2);
    }

    #[test]
    fn style_sheet_types_are_bounded_and_names_cut() {
        // More hidden types than tracked: the first ones count.
        let css: String = (0..MAX_HIDDEN_TYPES + 4)
            .map(|i| format!("x{i}{{display:none}}"))
            .collect();
        let body: String = (0..MAX_HIDDEN_TYPES + 4)
            .map(|i| format!("<x{i}>pad words</x{i}>"))
            .collect();
        let m = measured(&format!("<style>{css}</style>{body}"));
        assert_eq!(m.hidden_words as usize, 2 * MAX_HIDDEN_TYPES);
        // A selector longer than a tracked name is not a type.
        let long = "a".repeat(NAME_BYTES + 1);
        let m = measured(&format!(
            "<style>{long}{{display:none}}</style><{long}>pad words</{long}>"
        ));
        assert_eq!(m.hidden_words, 0);
    }

    #[test]
    fn style_attributes_are_read_as_browsers_read_them() {
        for style in [
            "display&colon;none",
            "display&#58;none",
            "display:/* x */none",
            "display:none ! important",
            "DISPLAY: NONE !IMPORTANT",
        ] {
            let m = measured(&format!(r#"<div style="{style}">pad words</div>"#));
            assert_eq!(m.hidden_words, 2, "{style}");
        }
        let m = measured(r#"<div style="display:/* none */block">seen words</div>"#);
        assert_eq!(m.hidden_words, 0);
    }

    #[test]
    fn unterminated_declarations_stay_linear() {
        // A bogus comment runs to the first `>`, as in browsers.
        let html = "<!".repeat(200_000) + "<p>after</p>";
        assert_eq!(measured(&html).visible_words, 1);
        let html = "<?".repeat(200_000);
        assert_eq!(measured(&html).visible_words, 0);
    }

    #[test]
    fn pixels_are_whole_absolute_and_only_pixels() {
        for (value, px) in [
            ("12000px", 12000),
            ("-9999PX", 9999),
            ("15000", 15000),
            ("12.7px 3px", 12),
            (".5px", 0),
            ("2em", 0),
            ("100%", 0),
            ("auto", 0),
            ("-", 0),
            ("99999999999999px", u32::MAX),
        ] {
            assert_eq!(pixels(value), px, "{value}");
        }
    }

    #[test]
    fn the_ascii_word_count_agrees_with_the_word_iterator() {
        for text in [
            "caf&eacute;&nbsp;bar AT&T a b cd",
            "&#160;x yz&amp;&",
            "  Hello, world! 3 dogs&cats;",
            "",
        ] {
            assert_eq!(count_words(text) as usize, words(text).count(), "{text}");
        }
    }

    proptest::proptest! {
        /// The byte loop for ASCII reads the words the character loop reads,
        /// and keys them alike.
        #[test]
        fn ascii_words_read_as_characters_do(text in "[ -~\t\n]{0,120}") {
            let by_chars = Words { text: &text, at: 0, ascii: false };
            let expected: Vec<&str> = by_chars.collect();
            proptest::prop_assert_eq!(words(&text).collect::<Vec<_>>(), expected.clone());
            for word in expected {
                let by_char_key = word
                    .chars()
                    .flat_map(char::to_lowercase)
                    .fold(0xcbf2_9ce4_8422_2325, |h: u64, c| (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3));
                proptest::prop_assert_eq!(folded_key(word), by_char_key);
            }
        }
    }

    #[test]
    fn hostile_nesting_stays_bounded() {
        let html =
            "<div style=display:none>".repeat(100_000) + "pad words" + &"</x>".repeat(100_000);
        let m = measured(&html);
        assert_eq!(m.hidden_words, 2);
        let html = "<style>".repeat(50_000);
        assert_eq!(measured(&html).visible_words, 0);
    }
}
