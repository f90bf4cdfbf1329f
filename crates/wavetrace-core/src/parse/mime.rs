//! One iterative walk over the MIME tree (nested messages included) that
//! yields the structure summary, the attachments, the URLs of HTML parts
//! and attached PDFs, and the MIME defects, within the part and depth
//! limits.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use super::defects::{DefectCode, DefectList};
use super::pdf::AttachedLinks;
use super::sniff::{inspect_container, sniff_content_type};
use super::{sha256_hex, ParseLimits};
use crate::record::{Attachment, HiddenText, MimeSummary};

/// The structure string is cut here; the part count stays exact.
const MAX_STRUCTURE_LEN: usize = 4096;

pub(super) struct MimeWalk {
    pub summary: MimeSummary,
    pub attachments: Vec<Attachment>,
    /// The URLs of HTML parts' attributes.
    pub urls: Vec<super::urls::RawUrl>,
    /// The links of attached PDFs.
    pub attachment_urls: Vec<super::urls::RawUrl>,
    /// What the message's own HTML body parts hide (not attachments, not
    /// forwarded messages); `None` without such a part.
    pub hidden_text: Option<HiddenText>,
}

enum Step<'m, 'x> {
    Token(&'static str),
    Part {
        message: &'m Message<'x>,
        id: u32,
        depth: usize,
    },
}

/// Walks the MIME tree of `root` once, iteratively, within `limits`.
/// `body_part`, a part of `root` read as the body although mail-parser
/// filed it among the attachments ([`stray_text`]), is not listed as
/// an attachment.
pub(super) fn walk(
    root: &Message<'_>,
    limits: &ParseLimits,
    defects: &mut DefectList,
    body_part: Option<u32>,
) -> MimeWalk {
    let mut summary = MimeSummary::default();
    let mut attachments = Vec::new();
    let mut urls = Vec::new();
    let mut pdfs = AttachedLinks::new();
    let mut hidden_text: Option<HiddenText> = None;
    let mut structure = String::new();
    let mut stack = vec![Step::Part {
        message: root,
        id: 0,
        depth: 1,
    }];

    while let Some(step) = stack.pop() {
        let (message, id, depth) = match step {
            Step::Token(t) => {
                push_structure(&mut structure, t);
                continue;
            }
            Step::Part { message, id, depth } => (message, id, depth),
        };
        let Some(part) = message.parts.get(id as usize) else {
            continue;
        };
        if summary.part_count == limits.max_parts {
            defects.add(
                DefectCode::LimitParts,
                Some(format!("first {} parts examined", limits.max_parts)),
            );
            break;
        }
        summary.part_count += 1;
        summary.max_depth = summary.max_depth.max(depth);
        let content_type = declared_type(part);
        push_structure(&mut structure, &content_type);
        if part.is_encoding_problem {
            defects.add(DefectCode::PartEncodingProblem, Some(content_type.clone()));
        }
        check_multipart(message, part, &content_type, defects);
        check_charset(part, defects);

        // mail-parser files attachments in part order.
        let is_attachment = message.attachments.binary_search(&id).is_ok()
            && !(std::ptr::eq(message, root) && body_part == Some(id));
        match &part.body {
            PartType::Multipart(children) => {
                if depth >= limits.max_depth {
                    defects.add(
                        DefectCode::LimitDepth,
                        Some(format!("nesting deeper than {}", limits.max_depth)),
                    );
                    continue;
                }
                push_structure(&mut structure, "(");
                stack.push(Step::Token(")"));
                for (i, &child) in children.iter().enumerate().rev() {
                    stack.push(Step::Part {
                        message,
                        id: child,
                        depth: depth + 1,
                    });
                    if i > 0 {
                        stack.push(Step::Token(","));
                    }
                }
            }
            PartType::Message(nested) => {
                attachments.push(attachment(
                    part,
                    &content_type,
                    nested_message_bytes(message, part),
                    &mut pdfs,
                ));
                if depth >= limits.max_depth {
                    defects.add(
                        DefectCode::LimitDepth,
                        Some(format!("nesting deeper than {}", limits.max_depth)),
                    );
                    continue;
                }
                push_structure(&mut structure, "(");
                stack.push(Step::Token(")"));
                stack.push(Step::Part {
                    message: nested,
                    id: 0,
                    depth: depth + 1,
                });
            }
            PartType::Html(html) => {
                summary.html_parts += 1;
                super::urls::html_attribute_urls(html, &mut urls);
                if !is_attachment && std::ptr::eq(message, root) {
                    super::hidden::measure(html, hidden_text.get_or_insert_default());
                }
                if is_attachment {
                    attachments.push(attachment(part, &content_type, part.contents(), &mut pdfs));
                }
            }
            PartType::Text(_) => {
                summary.text_parts += 1;
                if is_attachment {
                    attachments.push(attachment(part, &content_type, part.contents(), &mut pdfs));
                }
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => {
                attachments.push(attachment(part, &content_type, part.contents(), &mut pdfs));
            }
        }
    }
    if structure.len() > MAX_STRUCTURE_LEN {
        structure.truncate(structure.floor_char_boundary(MAX_STRUCTURE_LEN));
        structure.push('…');
    }
    summary.structure = structure;
    MimeWalk {
        summary,
        attachments,
        urls,
        attachment_urls: pdfs.urls,
        hidden_text,
    }
}

fn push_structure(structure: &mut String, token: &str) {
    if structure.len() <= MAX_STRUCTURE_LEN {
        structure.push_str(token);
    }
}

/// `type/subtype` in lower case; `text/plain` when there is no Content-Type
/// (RFC 2045 5.2).
fn declared_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let mut s = ct.c_type.to_ascii_lowercase();
            if let Some(sub) = &ct.c_subtype {
                s.push('/');
                s.push_str(&sub.to_ascii_lowercase());
            }
            s
        }
        None if part.is_message() => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

/// A multipart Content-Type whose body could not be split (no boundary
/// parameter, or the boundary never appears), and a multipart body that
/// ends without its close delimiter `--boundary--` (RFC 2046 5.1.1).
fn check_multipart(
    message: &Message<'_>,
    part: &MessagePart<'_>,
    content_type: &str,
    defects: &mut DefectList,
) {
    if !content_type.starts_with("multipart/") {
        return;
    }
    let boundary = part.content_type().and_then(|ct| ct.attribute("boundary"));
    if !part.is_multipart() {
        defects.add(
            DefectCode::MultipartBoundaryMissing,
            Some(content_type.to_string()),
        );
        return;
    }
    let Some(boundary) = boundary else { return };
    let raw = message.raw_message();
    let body = raw.get(part.offset_body as usize..).unwrap_or_default();
    let mut close = Vec::with_capacity(boundary.len() + 4);
    close.extend_from_slice(b"--");
    close.extend_from_slice(boundary.as_bytes());
    close.extend_from_slice(b"--");
    // A multipart cut off after its first delimiter has no parts either:
    // it is unterminated, not empty.
    if memchr::memmem::find(body, &close).is_none() {
        defects.add(
            DefectCode::MultipartUnterminated,
            Some(content_type.to_string()),
        );
    } else if matches!(&part.body, PartType::Multipart(parts) if parts.is_empty()) {
        defects.add(DefectCode::MultipartEmpty, Some(content_type.to_string()));
    }
}

fn check_charset(part: &MessagePart<'_>, defects: &mut DefectList) {
    if !part.is_text() {
        return;
    }
    let Some(charset) = part.content_type().and_then(|ct| ct.attribute("charset")) else {
        return;
    };
    let known = charset.eq_ignore_ascii_case("us-ascii")
        || charset.eq_ignore_ascii_case("utf-8")
        || mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes()).is_some();
    if !known {
        defects.add(
            DefectCode::UnknownCharset,
            Some(charset.chars().take(64).collect()),
        );
    }
}

/// The bytes of a nested message as they stand in the message: mail-parser
/// keeps the whole outer buffer as an unencoded nested message's
/// `raw_message`, so slice it by the part's offsets; an encoded (base64)
/// nested message owns its decoded bytes.
pub(crate) fn nested_message_bytes<'a>(
    outer: &'a Message<'_>,
    part: &'a MessagePart<'_>,
) -> &'a [u8] {
    if part.encoding == Encoding::None {
        let raw = outer.raw_message();
        let start = part.offset_body as usize;
        let end = part.offset_end as usize;
        if start < end && end <= raw.len() {
            return &raw[start..end];
        }
        if start < raw.len() {
            return &raw[start..];
        }
    }
    part.contents()
}

/// The attachment record of `content`; a PDF's links go to `pdfs`
/// (unless it is encrypted: its strings and streams are ciphertext).
fn attachment(
    part: &MessagePart<'_>,
    declared: &str,
    content: &[u8],
    pdfs: &mut AttachedLinks,
) -> Attachment {
    let sniffed = sniff_content_type(content);
    let container = inspect_container(content, sniffed);
    if sniffed == Some("application/pdf") && !container.encrypted {
        pdfs.read_pdf(content);
    }
    Attachment {
        filename: part
            .attachment_name()
            .map(|n| n.trim().chars().take(255).collect()),
        declared_type: declared.to_string(),
        sniffed_type: sniffed.map(str::to_string),
        size: content.len() as u64,
        sha256: sha256_hex(content),
        inline: matches!(part.body, PartType::InlineBinary(_)),
        encrypted: container.encrypted,
        archive_entries: container.entries,
    }
}

/// The body of a text part mail-parser left among the attachments.
pub(super) struct RecoveredText {
    /// The part (an index into the message's parts).
    pub part: u32,
    /// Its text (HTML converted).
    pub text: String,
    /// The HTML it came from, for its links.
    pub html: Option<String>,
    /// Whether its raw body was cut at the text limit.
    pub truncated: bool,
}

/// The first text part of the message that mail-parser left among the
/// attachments, read as the body of a message that has no other text.
/// Two shapes of broken or odd MIME put it there:
/// - a multipart that never closes (spam cut short, a kit that forgets the
///   closing boundary) leaves its only text part undecoded
///   (`part_encoding_problem`); it is read here by its own transfer encoding
///   and charset;
/// - a text part after the root of a `multipart/related` (behind an empty
///   multipart, say) is decoded but filed as an attachment; its decoded text
///   is taken as it is.
///
/// Parts with a file name or an attachment disposition stay attachments; at
/// most `max_bytes` of raw body are read. Base64 is decoded leniently (what is
/// not of its alphabet is skipped), quoted-printable as mail-parser does a
/// body; a part that still does not decode is left alone, never read as its
/// encoded form.
pub(super) fn stray_text(
    message: &Message<'_>,
    max_bytes: usize,
    max_parts: usize,
) -> Option<RecoveredText> {
    // mail-parser files attachments in part order: a binary search each.
    let (part_index, part, is_html) = (0u32..)
        .zip(message.parts.iter())
        .take(max_parts)
        .find_map(|(index, p)| {
            let filed_as_attachment =
                p.is_encoding_problem || message.attachments.binary_search(&index).is_ok();
            let candidate = filed_as_attachment
                && matches!(p.body, PartType::Text(_) | PartType::Html(_))
                && p.attachment_name().is_none()
                && !p.content_disposition().is_some_and(|d| d.is_attachment());
            if !candidate {
                return None;
            }
            match declared_type(p).as_str() {
                "text/plain" => Some((index, p, false)),
                "text/html" => Some((index, p, true)),
                _ => None,
            }
        })?;
    if !part.is_encoding_problem {
        let decoded = part.text_contents()?;
        let kept = super::prefix(decoded, max_bytes);
        let truncated = kept.len() < decoded.len();
        return Some(recovered(part_index, kept.to_owned(), is_html, truncated));
    }
    let start = part.raw_body_offset() as usize;
    let raw_end = part.raw_end_offset() as usize;
    let end = raw_end.min(start.saturating_add(max_bytes));
    let raw = message.raw_message.get(start..end)?;
    let encoding = part
        .content_transfer_encoding()
        .map(|e| e.trim().to_ascii_lowercase());
    let decoded: Cow<'_, [u8]> = match encoding.as_deref() {
        Some("base64") => {
            let alphabet: Vec<u8> = raw
                .iter()
                .copied()
                .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                .collect();
            Cow::Owned(mail_parser::decoders::base64::base64_decode(&alphabet)?)
        }
        Some("quoted-printable") => {
            let (_, bytes) = MessageStream::new(raw).decode_quoted_printable_mime(b"");
            Cow::Owned(bytes.into_owned())
        }
        _ => Cow::Borrowed(raw),
    };
    let text = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|charset| {
            mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes())
        })
        .map_or_else(
            || String::from_utf8_lossy(&decoded).into_owned(),
            |decode| decode(&decoded),
        );
    Some(recovered(part_index, text, is_html, raw_end > end))
}

fn recovered(part: u32, text: String, is_html: bool, truncated: bool) -> RecoveredText {
    let (text, html) = if is_html {
        (super::html::html_text(&text), Some(text))
    } else {
        (text, None)
    };
    RecoveredText {
        part,
        text,
        html,
        truncated,
    }
}
