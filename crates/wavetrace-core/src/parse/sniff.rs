//! Content-type sniffing from magic numbers.
//!
//! Attackers declare an executable as `application/pdf` or a ZIP as an
//! image; the first bytes tell the truth. The table covers what matters for
//! mail: documents, archives, executables, images, HTML and SVG.

/// (offset, magic, content type), tried in order; the first match wins.
const MAGIC: &[(usize, &[u8], &str)] = &[
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),
    (
        0,
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        "application/x-ole-storage",
    ),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\x7FELF", "application/x-executable"),
    (0, b"\xCA\xFE\xBA\xBE", "application/x-mach-binary"),
    (0, b"\xCF\xFA\xED\xFE", "application/x-mach-binary"),
    (0, b"Rar!\x1A\x07", "application/vnd.rar"),
    (0, b"7z\xBC\xAF\x27\x1C", "application/x-7z-compressed"),
    (0, b"\x1F\x8B", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xFD7zXZ\x00", "application/x-xz"),
    (0, b"MSCF", "application/vnd.ms-cab-compressed"),
    (257, b"ustar", "application/x-tar"),
    (0x8001, b"CD001", "application/x-iso9660-image"),
    (0, b"\x89PNG\r\n\x1A\n", "image/png"),
    (0, b"\xFF\xD8\xFF", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"BEGIN:VCALENDAR", "text/calendar"),
    (0, b"BEGIN:VCARD", "text/vcard"),
];

/// Returns the content type the bytes show, or None when unrecognised.
pub fn sniff_content_type(data: &[u8]) -> Option<&'static str> {
    for &(offset, magic, ty) in MAGIC {
        if data.get(offset..offset + magic.len()) == Some(magic) {
            return Some(refine_zip(ty, data));
        }
    }
    if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    sniff_markup(data)
}

/// Office Open XML and OpenDocument files are ZIPs; tell them apart by the
/// names of their first entries.
fn refine_zip(ty: &'static str, data: &[u8]) -> &'static str {
    if ty != "application/zip" {
        return ty;
    }
    let head = &data[..data.len().min(4096)];
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if has(b"[Content_Types].xml") || has(b"_rels/.rels") {
        if has(b"word/") {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        } else if has(b"xl/") {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        } else if has(b"ppt/") {
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        } else {
            "application/vnd.openxmlformats-officedocument"
        }
    } else if has(b"mimetypeapplication/vnd.oasis.opendocument") {
        "application/vnd.oasis.opendocument"
    } else {
        ty
    }
}

/// HTML and SVG by their first tag, after whitespace and a BOM.
fn sniff_markup(data: &[u8]) -> Option<&'static str> {
    let head = &data[..data.len().min(1024)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    let starts = |p: &[u8]| head.len() >= p.len() && head[..p.len()].eq_ignore_ascii_case(p);
    if starts(b"<svg") || (starts(b"<?xml") && contains_ci(head, b"<svg")) {
        Some("image/svg+xml")
    } else if starts(b"<!doctype html")
        || starts(b"<html")
        || starts(b"<head")
        || starts(b"<script")
        || starts(b"<body")
    {
        Some("text/html")
    } else if starts(b"<?xml") {
        Some("application/xml")
    } else {
        None
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_common_types() {
        assert_eq!(sniff_content_type(b"%PDF-1.7 ..."), Some("application/pdf"));
        assert_eq!(
            sniff_content_type(b"MZ\x90\x00"),
            Some("application/x-msdownload")
        );
        assert_eq!(sniff_content_type(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(
            sniff_content_type(b"  <!DOCTYPE html><p>"),
            Some("text/html")
        );
        assert_eq!(
            sniff_content_type(b"<?xml version='1.0'?><svg onload=x>"),
            Some("image/svg+xml")
        );
        assert_eq!(
            sniff_content_type(b"PK\x03\x04....[Content_Types].xml...word/document.xml"),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(sniff_content_type(b"hello"), None);
        assert_eq!(sniff_content_type(b""), None);
    }
}
