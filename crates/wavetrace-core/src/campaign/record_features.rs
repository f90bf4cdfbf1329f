//! From a stored [`MessageRecord`] to the [`MessageFeatures`] clustering
//! reads: the one place that knows both shapes.

use crate::record::MessageRecord;

use super::MessageFeatures;

/// Unix seconds of an RFC 3339 UTC time as the record writes it.
pub fn unix_time(rfc3339: &str) -> Option<i64> {
    mail_parser::DateTime::parse_rfc3339(rfc3339)
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp())
}

/// The features of one analysed message.
///
/// Images are told from other attachments by the declared or sniffed type;
/// empty parts are skipped (the hash of nothing would link everything). The
/// mailing-list marker is List-Id, else the older `Mailing-List`, `X-Loop`
/// or `Precedence: list`. The relay is the origin's host (the server that
/// handed the message to the receiving side), the sender domain the
/// envelope sender's, else the From domain's.
pub fn features(record: &MessageRecord) -> MessageFeatures {
    let mut attachment_sha256 = Vec::new();
    let mut image_sha256 = Vec::new();
    for a in record.attachments.iter().filter(|a| a.size > 0) {
        let is_image = a.declared_type.starts_with("image/")
            || a.sniffed_type
                .as_deref()
                .is_some_and(|t| t.starts_with("image/"));
        if is_image {
            image_sha256.push(a.sha256.clone());
        } else {
            attachment_sha256.push(a.sha256.clone());
        }
    }
    let list_id = record.list.as_ref().and_then(|l| {
        l.id.clone()
            .or_else(|| l.mailing_list.clone())
            .or_else(|| l.x_loop.clone())
    });
    let list_id = list_id.or_else(|| {
        record
            .precedence
            .as_deref()
            .filter(|p| p.trim().eq_ignore_ascii_case("list"))
            .map(str::to_string)
    });
    let from = record.from.as_ref();
    let origin = record.origin.as_ref();
    MessageFeatures {
        sha256: record.sha256.clone(),
        arrival_time: record.arrival_time.as_deref().and_then(unix_time),
        subject: record.subject.clone().unwrap_or_default(),
        body_text: record.body.text.clone(),
        urls: record.urls.iter().map(|u| u.url.clone()).collect(),
        attachment_sha256,
        image_sha256,
        reply_to: record
            .reply_to
            .iter()
            .filter_map(|m| m.address.clone())
            .collect(),
        from_address: from.and_then(|f| f.address.clone()),
        from_display_name: from.and_then(|f| f.name.clone()),
        is_reply: !record.in_reply_to.is_empty() || !record.references.is_empty(),
        list_id,
        origin_ip: origin.and_then(|o| o.ip).map(|ip| ip.to_string()),
        relay: origin.and_then(|o| o.rdns.clone().or_else(|| o.helo.clone())),
        sender_domain: record
            .return_path
            .as_deref()
            .and_then(crate::parse::address_domain)
            .or_else(|| from.and_then(|f| f.domain.clone())),
    }
}
