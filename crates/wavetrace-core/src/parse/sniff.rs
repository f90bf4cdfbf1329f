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
    (0, b"\xCE\xFA\xED\xFE", "application/x-mach-binary"),
    (0, b"\xFE\xED\xFA\xCE", "application/x-mach-binary"),
    (0, b"\xFE\xED\xFA\xCF", "application/x-mach-binary"),
    (
        0,
        b"\x4C\x00\x00\x00\x01\x14\x02\x00",
        "application/x-ms-shortcut",
    ),
    (
        0,
        b"\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D\xAE\xB1\x53\x78\xD0\x29\x96\xD3",
        "application/onenote",
    ),
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

/// What the headers of an archive (or PDF) tell without decompressing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Password protected: contents (or headers) encrypted.
    pub encrypted: bool,
    /// Names of the files inside (ZIP and RAR only), at most
    /// [`MAX_ARCHIVE_ENTRIES`], each cut to [`MAX_ENTRY_NAME_CHARS`].
    pub entries: Vec<String>,
}

/// File names kept per archive.
pub const MAX_ARCHIVE_ENTRIES: usize = 50;
/// Characters kept per file name.
pub const MAX_ENTRY_NAME_CHARS: usize = 255;
/// Archive headers examined (for the encryption flag) before giving up.
const MAX_ARCHIVE_HEADERS: usize = 1000;
/// Bytes at the end of a PDF searched for the trailer's `/Encrypt`.
const PDF_TAIL: usize = 64 * 1024;
/// Bytes of an OLE2 file searched for the `EncryptedPackage` stream name.
const OLE_SCAN: usize = 1 << 20;
/// Largest 7z header read (an encoded header is tens of bytes).
const MAX_7Z_HEADER: u64 = 64 * 1024;

/// Reads the headers of a ZIP, RAR (4 and 5), 7z, PDF or OLE2 file (chosen by
/// its sniffed type) for encryption and entry names. Bounded work, no
/// decompression; anything unreadable simply yields less.
pub fn inspect_container(data: &[u8], sniffed: Option<&str>) -> ContainerInfo {
    let mut info = ContainerInfo::default();
    match sniffed {
        Some("application/zip") => zip_info(data, &mut info, true),
        Some(t) if t.starts_with("application/vnd.openxmlformats") => {
            zip_info(data, &mut info, false)
        }
        Some("application/vnd.rar") => rar_info(data, &mut info),
        Some("application/x-7z-compressed") => info.encrypted = sevenz_encrypted(data),
        Some("application/pdf") => info.encrypted = pdf_encrypted(data),
        Some("application/x-ole-storage") => {
            // An encrypted Office Open XML document is an OLE2 file holding
            // an `EncryptedPackage` stream (MS-OFFCRYPTO 2.3.4.4).
            let head = &data[..data.len().min(OLE_SCAN)];
            info.encrypted = memchr::memmem::find(head, OLE_ENCRYPTED_PACKAGE).is_some();
        }
        _ => {}
    }
    info
}

/// `EncryptedPackage` in UTF-16LE, as an OLE2 directory entry names it.
const OLE_ENCRYPTED_PACKAGE: &[u8] = b"E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";

fn le16(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]) as usize)
}

fn le32(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn le64(data: &[u8], at: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

fn push_entry(info: &mut ContainerInfo, name: &[u8], keep_names: bool) {
    if !keep_names || info.entries.len() >= MAX_ARCHIVE_ENTRIES {
        return;
    }
    let name = String::from_utf8_lossy(name);
    let name = name.trim_matches('\0');
    if name.is_empty() || name.ends_with('/') || name.ends_with('\\') {
        return; // directories name nothing that runs
    }
    info.entries
        .push(name.chars().take(MAX_ENTRY_NAME_CHARS).collect());
}

/// ZIP (APPNOTE.TXT): the central directory when it can be found, else the
/// local file headers from the start. General-purpose flag bit 0 marks an
/// encrypted entry (traditional PKWARE or WinZip AES alike).
fn zip_info(data: &[u8], info: &mut ContainerInfo, keep_names: bool) {
    if !zip_central_directory(data, info, keep_names) {
        zip_local_headers(data, info, keep_names);
    }
}

fn zip_central_directory(data: &[u8], info: &mut ContainerInfo, keep_names: bool) -> bool {
    // End of central directory: 22 bytes plus a comment of up to 64 KB.
    let tail_start = data.len().saturating_sub(22 + 0xFFFF);
    let Some(eocd) =
        memchr::memmem::rfind(&data[tail_start..], b"PK\x05\x06").map(|p| tail_start + p)
    else {
        return false;
    };
    let (Some(count), Some(cd_size), Some(cd_offset)) = (
        le16(data, eocd + 10),
        le32(data, eocd + 12),
        le32(data, eocd + 16),
    ) else {
        return false;
    };
    let is_central = |at: usize| data.get(at..at + 4) == Some(b"PK\x01\x02");
    // Self-extracting or prefixed archives shift every offset: the
    // directory then ends where the end record starts.
    let start = if is_central(cd_offset) {
        cd_offset
    } else {
        match eocd.checked_sub(cd_size) {
            Some(s) if is_central(s) => s,
            _ => return false,
        }
    };
    let mut pos = start;
    for _ in 0..count.min(MAX_ARCHIVE_HEADERS) {
        if !is_central(pos) {
            break;
        }
        let (Some(flags), Some(name_len), Some(extra_len), Some(comment_len)) = (
            le16(data, pos + 8),
            le16(data, pos + 28),
            le16(data, pos + 30),
            le16(data, pos + 32),
        ) else {
            break;
        };
        info.encrypted |= flags & 1 != 0;
        if let Some(name) = data.get(pos + 46..pos + 46 + name_len) {
            push_entry(info, name, keep_names);
        }
        pos += 46 + name_len + extra_len + comment_len;
    }
    true
}

fn zip_local_headers(data: &[u8], info: &mut ContainerInfo, keep_names: bool) {
    let mut pos = 0;
    for _ in 0..MAX_ARCHIVE_HEADERS {
        if data.get(pos..pos + 4) != Some(b"PK\x03\x04") {
            break;
        }
        let (Some(flags), Some(packed), Some(name_len), Some(extra_len)) = (
            le16(data, pos + 6),
            le32(data, pos + 18),
            le16(data, pos + 26),
            le16(data, pos + 28),
        ) else {
            break;
        };
        info.encrypted |= flags & 1 != 0;
        let name_start = pos + 30;
        if let Some(name) = data.get(name_start..name_start + name_len) {
            push_entry(info, name, keep_names);
        }
        let body = name_start + name_len + extra_len;
        pos = if flags & 8 != 0 && packed == 0 {
            // Sizes follow the data (streamed archive): find the next header.
            match data
                .get(body..)
                .and_then(|rest| memchr::memmem::find(rest, b"PK\x03\x04"))
            {
                Some(p) => body + p,
                None => break,
            }
        } else {
            body + packed
        };
    }
}

/// RAR5 variable-length integer: 7 bits a byte, high bit continues.
fn vint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in 0..10 {
        let b = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7F) << (7 * shift);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn rar_info(data: &[u8], info: &mut ContainerInfo) {
    if data.starts_with(b"Rar!\x1A\x07\x01\x00") {
        rar5_info(data, info);
    } else if data.starts_with(b"Rar!\x1A\x07\x00") {
        rar4_info(data, info);
    }
}

/// RAR 5.0 archive format (rarlab.com/technote.htm): blocks of CRC32, header
/// size, header type, flags. An archive encryption header (type 4) means
/// every following header is encrypted; a file header's extra area record
/// of type 1 means that file is.
fn rar5_info(data: &[u8], info: &mut ContainerInfo) {
    let mut pos = 8;
    for _ in 0..MAX_ARCHIVE_HEADERS {
        let mut p = pos + 4;
        let Some(header_size) = vint(data, &mut p) else {
            return;
        };
        let header_start = p;
        let Some(header_end) = usize::try_from(header_size)
            .ok()
            .and_then(|s| header_start.checked_add(s))
            .filter(|&e| e <= data.len())
        else {
            return;
        };
        let header = &data[..header_end];
        let (Some(kind), Some(flags)) = (vint(header, &mut p), vint(header, &mut p)) else {
            return;
        };
        let extra_size = if flags & 1 != 0 {
            vint(header, &mut p)
        } else {
            Some(0)
        };
        let data_size = if flags & 2 != 0 {
            vint(header, &mut p)
        } else {
            Some(0)
        };
        let (Some(extra_size), Some(data_size)) = (extra_size, data_size) else {
            return;
        };
        match kind {
            4 => {
                info.encrypted = true;
                return;
            }
            5 => return,
            2 => {
                let extra_start = usize::try_from(extra_size)
                    .ok()
                    .and_then(|s| header_end.checked_sub(s))
                    .unwrap_or(header_end);
                rar5_file(
                    &data[..extra_start.max(p)],
                    p,
                    &data[extra_start.min(header_end)..header_end],
                    info,
                );
            }
            _ => {}
        }
        let Some(next) = usize::try_from(data_size)
            .ok()
            .and_then(|d| header_end.checked_add(d))
        else {
            return;
        };
        pos = next;
    }
}

/// The fields of a RAR5 file header after the common ones, and its extra area.
fn rar5_file(header: &[u8], mut p: usize, extra: &[u8], info: &mut ContainerInfo) {
    let Some(file_flags) = vint(header, &mut p) else {
        return;
    };
    let _unpacked = vint(header, &mut p);
    let _attributes = vint(header, &mut p);
    if file_flags & 2 != 0 {
        p += 4; // mtime
    }
    if file_flags & 4 != 0 {
        p += 4; // CRC32
    }
    let _compression = vint(header, &mut p);
    let _host_os = vint(header, &mut p);
    if let Some(name_len) = vint(header, &mut p).and_then(|n| usize::try_from(n).ok()) {
        if let Some(name) = p.checked_add(name_len).and_then(|e| header.get(p..e)) {
            if file_flags & 1 == 0 {
                push_entry(info, name, true);
            }
        }
    }
    let mut q = 0;
    while q < extra.len() {
        let Some(size) = vint(extra, &mut q).and_then(|s| usize::try_from(s).ok()) else {
            return;
        };
        let record_end = q.saturating_add(size);
        if vint(extra, &mut q) == Some(1) {
            info.encrypted = true;
        }
        if record_end <= q {
            return;
        }
        q = record_end;
    }
}

/// RAR 1.5-4.x: 7-byte block headers (CRC16, type, flags, size). The main
/// header's 0x0080 flag encrypts all headers; a file header's 0x0004 flag
/// encrypts that file.
fn rar4_info(data: &[u8], info: &mut ContainerInfo) {
    let mut pos = 7;
    for _ in 0..MAX_ARCHIVE_HEADERS {
        let (Some(&kind), Some(flags), Some(head_size)) =
            (data.get(pos + 2), le16(data, pos + 3), le16(data, pos + 5))
        else {
            return;
        };
        if head_size < 7 {
            return;
        }
        let mut add_size = if flags & 0x8000 != 0 {
            le32(data, pos + 7).unwrap_or(0)
        } else {
            0
        };
        match kind {
            0x73 if flags & 0x0080 != 0 => {
                info.encrypted = true;
                return;
            }
            0x74 => {
                add_size = le32(data, pos + 7).unwrap_or(0);
                info.encrypted |= flags & 0x0004 != 0;
                let name_start = pos + if flags & 0x0100 != 0 { 40 } else { 32 };
                let is_dir = flags & 0x00E0 == 0x00E0;
                if let Some(name) =
                    le16(data, pos + 26).and_then(|len| data.get(name_start..name_start + len))
                {
                    if !is_dir {
                        // Unicode names: an ASCII form, a NUL, then the encoded form.
                        let ascii = name.split(|&b| b == 0).next().unwrap_or(name);
                        push_entry(info, ascii, true);
                    }
                }
            }
            0x7B => return,
            _ => {}
        }
        pos += head_size + add_size;
    }
}

/// 7z: the start header points at the next header; an encrypted header is
/// an encoded header whose coder is 7zAES (method id 06 F1 07 01). An
/// unencoded header lists the content coders, so AES content shows there
/// too; content encryption under an LZMA-compressed header is not seen.
fn sevenz_encrypted(data: &[u8]) -> bool {
    let (Some(offset), Some(size)) = (le64(data, 12), le64(data, 20)) else {
        return false;
    };
    if size == 0 || size > MAX_7Z_HEADER {
        return false;
    }
    let header = offset
        .checked_add(32)
        .and_then(|start| usize::try_from(start).ok())
        .and_then(|start| Some((start, start.checked_add(usize::try_from(size).ok()?)?)))
        .and_then(|(start, end)| data.get(start..end));
    header.is_some_and(|h| memchr::memmem::find(h, b"\x06\xF1\x07\x01").is_some())
}

/// A PDF with an `/Encrypt` entry in its trailer (or its xref stream
/// dictionary), searched in the last 64 KB and, for linearised files, the
/// first 16 KB. This includes permissions-only encryption, which opens
/// without a password.
fn pdf_encrypted(data: &[u8]) -> bool {
    let tail = &data[data.len().saturating_sub(PDF_TAIL)..];
    let head = &data[..data.len().min(16 * 1024)];
    memchr::memmem::find(tail, b"/Encrypt").is_some()
        || memchr::memmem::find(head, b"/Encrypt").is_some()
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
        assert_eq!(
            sniff_content_type(b"\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00"),
            Some("application/x-ms-shortcut")
        );
        assert_eq!(
            sniff_content_type(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00"),
            Some("application/x-ole-storage")
        );
        assert_eq!(
            sniff_content_type(b"\x7FELF\x02\x01"),
            Some("application/x-executable")
        );
    }

    /// A ZIP built by hand: (name, general-purpose flags) per entry, stored
    /// (no compression), with or without its central directory.
    fn zip(entries: &[(&str, u16)], central_directory: bool) -> Vec<u8> {
        let data = b"hello";
        let mut out = Vec::new();
        let mut central = Vec::new();
        for &(name, flags) in entries {
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04\x14\x00");
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&[0; 10]); // method, time, date, crc
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00");
            central.extend_from_slice(&flags.to_le_bytes());
            central.extend_from_slice(&[0; 10]);
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        if central_directory {
            let cd_offset = out.len() as u32;
            out.extend_from_slice(&central);
            out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
            out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
            out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
            out.extend_from_slice(&(central.len() as u32).to_le_bytes());
            out.extend_from_slice(&cd_offset.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        out
    }

    fn inspect(data: &[u8]) -> ContainerInfo {
        inspect_container(data, sniff_content_type(data))
    }

    #[test]
    fn zip_entries_and_encryption() {
        let plain = zip(
            &[("docs/", 0), ("docs/readme.txt", 0), ("setup.exe", 0)],
            true,
        );
        assert_eq!(sniff_content_type(&plain), Some("application/zip"));
        let info = inspect(&plain);
        assert!(!info.encrypted);
        assert_eq!(info.entries, vec!["docs/readme.txt", "setup.exe"]);
        let locked = zip(&[("a.txt", 0), ("invoice.js", 1)], true);
        let info = inspect(&locked);
        assert!(info.encrypted);
        assert_eq!(info.entries, vec!["a.txt", "invoice.js"]);
        // without a central directory (cut off): the local headers
        let info = inspect(&zip(&[("x.txt", 0), ("y.vbs", 0x0009)], false));
        assert!(info.encrypted);
        assert_eq!(info.entries, vec!["x.txt", "y.vbs"]);
        // a prefixed (self-extracting) archive: offsets shifted
        let mut sfx = b"MZ stub....".to_vec();
        sfx.extend_from_slice(&zip(&[("p.exe", 1)], true));
        let info = inspect_container(&sfx, Some("application/zip"));
        assert!(info.encrypted);
        assert_eq!(info.entries, vec!["p.exe"]);
        // names are capped in number and length
        let long = "n".repeat(400);
        let many: Vec<(&str, u16)> = (0..80).map(|_| (long.as_str(), 0)).collect();
        let info = inspect(&zip(&many, true));
        assert_eq!(info.entries.len(), MAX_ARCHIVE_ENTRIES);
        assert!(info
            .entries
            .iter()
            .all(|e| e.chars().count() == MAX_ENTRY_NAME_CHARS));
        // truncated and garbage input
        for n in 0..plain.len() {
            let _ = inspect(&plain[..n]);
        }
    }

    #[test]
    fn rar_encryption_and_names() {
        // RAR5 with encrypted headers: the archive encryption header (type 4)
        let mut rar5 = b"Rar!\x1A\x07\x01\x00".to_vec();
        rar5.extend_from_slice(&[0, 0, 0, 0, 4, 4, 0, 0, 0]);
        assert_eq!(sniff_content_type(&rar5), Some("application/vnd.rar"));
        assert!(inspect(&rar5).encrypted);
        // RAR5: main header, a file header with an encryption extra record, end
        let mut rar5 = b"Rar!\x1A\x07\x01\x00".to_vec();
        rar5.extend_from_slice(&[0, 0, 0, 0, 3, 1, 0, 0]);
        let mut header = vec![2, 3, 4, 5, 0, 5, 0, 0, 0, 7];
        header.extend_from_slice(b"doc.exe");
        header.extend_from_slice(&[3, 1, 0, 0]);
        rar5.extend_from_slice(&[0, 0, 0, 0, header.len() as u8]);
        rar5.extend_from_slice(&header);
        rar5.extend_from_slice(b"xxxxx");
        rar5.extend_from_slice(&[0, 0, 0, 0, 3, 5, 0, 0]);
        let info = inspect(&rar5);
        assert!(info.encrypted);
        assert_eq!(info.entries, vec!["doc.exe"]);
        // the same without the encryption record
        let plain: Vec<u8> = {
            let mut r = b"Rar!\x1A\x07\x01\x00".to_vec();
            let mut header = vec![2, 2, 5, 0, 5, 0, 0, 0, 7];
            header.extend_from_slice(b"doc.txt");
            r.extend_from_slice(&[0, 0, 0, 0, header.len() as u8]);
            r.extend_from_slice(&header);
            r.extend_from_slice(b"xxxxx");
            r
        };
        let info = inspect(&plain);
        assert!(!info.encrypted);
        assert_eq!(info.entries, vec!["doc.txt"]);
        // RAR4: main header with the encrypted-headers flag
        let mut rar4 = b"Rar!\x1A\x07\x00".to_vec();
        rar4.extend_from_slice(&[0, 0, 0x73, 0x80, 0x00, 13, 0, 0, 0, 0, 0, 0, 0]);
        assert!(inspect(&rar4).encrypted);
        // RAR4: plain main header, then an encrypted file
        let mut rar4 = b"Rar!\x1A\x07\x00".to_vec();
        rar4.extend_from_slice(&[0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
        let name = b"pay.scr";
        rar4.extend_from_slice(&[0, 0, 0x74, 0x04, 0x80]);
        rar4.extend_from_slice(&((32 + name.len()) as u16).to_le_bytes());
        rar4.extend_from_slice(&3u32.to_le_bytes()); // packed size
        rar4.extend_from_slice(&[0; 15]);
        rar4.extend_from_slice(&(name.len() as u16).to_le_bytes());
        rar4.extend_from_slice(&[0; 4]);
        rar4.extend_from_slice(name);
        rar4.extend_from_slice(b"abc");
        let info = inspect(&rar4);
        assert!(info.encrypted);
        assert_eq!(info.entries, vec!["pay.scr"]);
        for n in 0..rar4.len() {
            let _ = inspect(&rar4[..n]);
        }
    }

    #[test]
    fn sevenz_and_pdf_and_ole_encryption() {
        let sevenz = |next_header: &[u8]| {
            let mut v = b"7z\xBC\xAF\x27\x1C\x00\x04\x00\x00\x00\x00".to_vec();
            v.extend_from_slice(&0u64.to_le_bytes());
            v.extend_from_slice(&(next_header.len() as u64).to_le_bytes());
            v.extend_from_slice(&[0; 4]);
            v.extend_from_slice(next_header);
            v
        };
        // an encoded header whose coder is 7zAES
        let encrypted = sevenz(&[
            0x17, 0x06, 0x00, 0x01, 0x0B, 0x01, 0x00, 0x24, 0x06, 0xF1, 0x07, 0x01, 0x0A,
        ]);
        assert_eq!(
            sniff_content_type(&encrypted),
            Some("application/x-7z-compressed")
        );
        assert!(inspect(&encrypted).encrypted);
        let lzma = sevenz(&[
            0x17, 0x06, 0x00, 0x01, 0x0B, 0x01, 0x00, 0x23, 0x03, 0x01, 0x01, 0x05,
        ]);
        assert!(!inspect(&lzma).encrypted);
        assert!(!inspect(b"7z\xBC\xAF\x27\x1C\x00\x04").encrypted);

        let pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer\n<< /Root 1 0 R /Encrypt 5 0 R /ID [<a><b>] >>\n%%EOF\n";
        assert!(inspect(pdf).encrypted);
        assert!(!inspect(b"%PDF-1.7\ntrailer\n<< /Root 1 0 R >>\n%%EOF").encrypted);

        let mut ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        ole.extend_from_slice(&[0; 100]);
        assert!(!inspect(&ole).encrypted);
        ole.extend_from_slice(OLE_ENCRYPTED_PACKAGE);
        assert!(inspect(&ole).encrypted);
    }
}
