//! `wavetrace show`: one record as readable text. Every string from mail
//! goes through `one_line`, so no control character reaches the terminal.

use std::fmt::Write;

use wavetrace_core::origin::chain::PathSide;
use wavetrace_core::record::{json_token, Mailbox, MessageRecord};

use crate::{clip, one_line};

fn mailbox(m: &Mailbox) -> String {
    match (&m.name, &m.address) {
        (Some(n), Some(a)) => format!("\"{}\" <{}>", one_line(n), one_line(a)),
        (None, Some(a)) => one_line(a),
        (Some(n), None) => format!("\"{}\" (no address)", one_line(n)),
        (None, None) => "(empty)".to_string(),
    }
}

/// Renders a record for a terminal.
pub fn render(r: &MessageRecord) -> String {
    let mut s = String::new();
    let opt = |v: &Option<String>| v.as_deref().map(one_line).unwrap_or_else(|| "-".into());
    let _ = writeln!(s, "message     {}", r.sha256);
    let _ = writeln!(s, "source      {}", one_line(&r.source));
    for other in r.sources.iter().skip(1) {
        let _ = writeln!(s, "            also {}", one_line(other));
    }
    let _ = writeln!(s, "size        {} bytes", r.size);
    if let Some(c) = &r.campaign_id {
        let _ = writeln!(s, "campaign    {c} (wavetrace campaign {c})");
    }
    if let Some(v) = r.verdict {
        let labels: Vec<&str> = r.labels.iter().map(|l| l.as_str()).collect();
        let _ = writeln!(
            s,
            "verdict     {} (score {}){}",
            v.as_str(),
            r.score.unwrap_or(0),
            if labels.is_empty() {
                String::new()
            } else {
                format!(": {}", labels.join(", "))
            }
        );
    }
    let _ = writeln!(s, "message-id  {}", opt(&r.message_id));
    let _ = writeln!(s, "subject     {}", opt(&r.subject));
    let _ = writeln!(
        s,
        "from        {}",
        r.from.as_ref().map(mailbox).unwrap_or_else(|| "-".into())
    );
    if let Some(sender) = &r.sender {
        let _ = writeln!(s, "sender      {}", mailbox(sender));
    }
    for m in &r.reply_to {
        let _ = writeln!(s, "reply-to    {}", mailbox(m));
    }
    let _ = writeln!(s, "return-path {}", opt(&r.return_path));
    let _ = writeln!(
        s,
        "to          {} recipient(s){}",
        r.to_count,
        if r.cc_count > 0 {
            format!(", cc {}", r.cc_count)
        } else {
            String::new()
        }
    );
    let date = match (&r.date, &r.date_raw) {
        (Some(d), _) => d.clone(),
        (None, Some(raw)) => format!("unparseable: {}", one_line(raw)),
        (None, None) => "-".into(),
    };
    let _ = writeln!(s, "date        {date}");
    let arrival_from = r
        .arrival_time_source
        .map(|a| format!(" (from {})", json_token(&a)))
        .unwrap_or_default();
    let _ = writeln!(s, "arrival     {}{arrival_from}", opt(&r.arrival_time));
    if let Some(mailer) = r.x_mailer.as_ref().or(r.user_agent.as_ref()) {
        let _ = writeln!(s, "mailer      {}", one_line(mailer));
    }
    if let Some(list) = r.list.as_ref().and_then(|l| l.id.as_ref()) {
        let _ = writeln!(s, "list        {}", one_line(list));
    }
    let _ = writeln!(
        s,
        "mime        {} ({} parts)",
        one_line(&r.mime.structure),
        r.mime.part_count
    );
    let _ = writeln!(s, "\nreceived ({} hops, topmost first)", r.received.len());
    for (i, h) in r.received.iter().enumerate() {
        let _ = writeln!(s, "  [{i}] {}", clip(&one_line(&h.raw), 200));
    }
    render_origin(&mut s, r);
    render_auth(&mut s, r);
    render_judgement(&mut s, r);
    if !r.urls.is_empty() {
        let _ = writeln!(s, "\nurls ({})", r.urls.len());
        for u in r.urls.iter().take(30) {
            let ctx = json_token(&u.found_in);
            let _ = writeln!(s, "  {ctx:<10} {}", clip(&one_line(&u.url), 160));
        }
        if r.urls.len() > 30 {
            let _ = writeln!(s, "  ... {} more (--format json)", r.urls.len() - 30);
        }
    }
    if !r.attachments.is_empty() {
        let _ = writeln!(s, "\nattachments ({})", r.attachments.len());
        for a in &r.attachments {
            let sniffed = match &a.sniffed_type {
                Some(t) if t != &a.declared_type => format!(" (content is {t})"),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "  {} {} {} bytes{sniffed} sha256 {}",
                one_line(a.filename.as_deref().unwrap_or("(no name)")),
                a.declared_type,
                a.size,
                a.sha256
            );
        }
    }
    if !r.defects.is_empty() {
        let _ = writeln!(s, "\ndefects");
        for d in &r.defects {
            let _ = writeln!(
                s,
                "  {}{}",
                d.code.as_str(),
                d.detail
                    .as_deref()
                    .map(|x| format!(": {}", clip(&one_line(x), 120)))
                    .unwrap_or_default()
            );
        }
    }
    let text = r.body.text.trim();
    if !text.is_empty() {
        let _ = writeln!(s, "\nbody (first 600 characters)");
        for line in clip(text, 600).lines() {
            let _ = writeln!(s, "  {}", one_line(line));
        }
    }
    s
}

/// Why the verdict: each fired rule with its score and evidence, in plain
/// words; then what receivers claimed (shown, never used).
fn render_judgement(s: &mut String, r: &MessageRecord) {
    let Some(verdict) = r.verdict else {
        return;
    };
    let rules: Vec<_> = r
        .findings
        .iter()
        .filter_map(|f| f.rule.as_ref().map(|hit| (f, hit)))
        .collect();
    let _ = writeln!(
        s,
        "
verdict: {} (score {})",
        verdict.as_str(),
        r.score.unwrap_or(0)
    );
    if rules.is_empty() {
        let _ = writeln!(s, "  no rule fired");
    }
    for (finding, hit) in rules {
        let _ = writeln!(
            s,
            "  {:+4} {} ({}): {}",
            hit.score,
            hit.id,
            json_token(&hit.severity),
            one_line(&finding.summary)
        );
        for e in finding.evidence.iter().take(8) {
            let _ = writeln!(s, "         {}", clip(&one_line(e), 160));
        }
    }
    if let Some(rules) = &r.analysis.rules {
        let _ = writeln!(s, "  rule set {} ({} rules)", rules.digest, rules.count);
    }
    if !r.receiver_verdicts.is_empty() {
        let _ = writeln!(
            s,
            "
receivers' spam verdicts (their claims; not used by wavetrace)"
        );
        for v in &r.receiver_verdicts {
            let said = match v.spam {
                Some(true) => "spam",
                Some(false) => "not spam",
                None => "no verdict",
            };
            let _ = writeln!(
                s,
                "  {}: {said}{}",
                one_line(&v.header),
                v.score.map(|x| format!(" (score {x})")).unwrap_or_default()
            );
        }
    }
}

/// The path as a hop list, oldest first, with delays, the trust boundary
/// and the origin marked; then the anomalies and findings.
fn render_origin(s: &mut String, r: &MessageRecord) {
    let _ = writeln!(s, "\npath (oldest hop first)");
    for step in &r.path {
        let marker = match step.side {
            PathSide::Claimed => "claim  ",
            PathSide::Boundary => "ORIGIN>",
            PathSide::Trusted => "trusted",
        };
        let from = step
            .from
            .as_deref()
            .map(one_line)
            .unwrap_or_else(|| "?".into());
        let ip = step
            .from_ip
            .map(|ip| format!(" [{ip}]"))
            .unwrap_or_default();
        let by = step
            .by
            .as_deref()
            .map(one_line)
            .unwrap_or_else(|| "?".into());
        let delay = match step.delay_seconds {
            Some(d) if d < 0 => format!("  {d} s (clock went backwards)"),
            Some(d) => format!("  +{d} s"),
            None => String::new(),
        };
        let form = json_token(&step.form);
        let form = if form == "relay" {
            String::new()
        } else {
            format!(" ({form})")
        };
        let _ = writeln!(
            s,
            "  {marker} [{}] {}{ip} -> {}{form}  {}{delay}",
            step.hop_index,
            clip(&from, 60),
            clip(&by, 60),
            step.timestamp.as_deref().unwrap_or("-"),
        );
        if step.side == PathSide::Boundary {
            let _ = writeln!(
                s,
                "  ------- trust boundary: the hops above were written by the receiving side"
            );
        }
    }
    match &r.origin {
        Some(o) => {
            let ip = o.ip.map(|ip| ip.to_string()).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                s,
                "origin      {ip} helo {} rdns {} (hop {}, arrived {})",
                o.helo
                    .as_deref()
                    .map(one_line)
                    .unwrap_or_else(|| "-".into()),
                o.rdns
                    .as_deref()
                    .map(one_line)
                    .unwrap_or_else(|| "-".into()),
                o.hop_index,
                o.arrival_time.as_deref().unwrap_or("-"),
            );
            let relation: Vec<String> = o.relation.iter().map(json_token).collect();
            let _ = writeln!(
                s,
                "            organisation {}{}; related to: {}",
                o.org_domain.as_deref().unwrap_or("-"),
                o.provider
                    .as_deref()
                    .map(|p| format!(" (provider {p})"))
                    .unwrap_or_default(),
                relation.join(", "),
            );
            if let Some(c) = &o.client_ip {
                let _ = writeln!(s, "            client {} (from {})", c.ip, c.header);
            }
        }
        None => {
            let _ = writeln!(s, "origin      - (no trusted hop found)");
        }
    }
    for a in &r.trace_anomalies {
        let hop = a.hop_index.map(|h| format!(" [{h}]")).unwrap_or_default();
        let _ = writeln!(
            s,
            "  anomaly {}{hop}: {}",
            json_token(&a.code),
            clip(&one_line(&a.detail), 160)
        );
    }
    for f in r.findings.iter().filter(|f| f.rule.is_none()) {
        let _ = writeln!(
            s,
            "\nFINDING {}: {}",
            json_token(&f.code),
            one_line(&f.summary)
        );
        for e in &f.evidence {
            let _ = writeln!(s, "  - {}", clip(&one_line(e), 200));
        }
    }
}

/// The authentication section: each verdict with its source and reason,
/// then the receiver claims and whether each was trusted.
fn render_auth(s: &mut String, r: &MessageRecord) {
    let Some(auth) = &r.auth else { return };
    let _ = writeln!(
        s,
        "\nauthentication (From domain authenticated: {})",
        json_token(&auth.from_authenticated)
    );
    if let Some(v) = &auth.spf {
        verdict_line(s, "spf", v);
    }
    for v in &auth.dkim {
        verdict_line(s, "dkim", v);
    }
    if let Some(v) = &auth.dmarc {
        verdict_line(s, "dmarc", v);
    }
    if let Some(v) = &auth.arc {
        verdict_line(s, "arc", v);
    }
    for c in auth.claimed.iter().take(20) {
        let _ = writeln!(
            s,
            "  claim  {}={} by {} ({}): {}",
            one_line(&c.method_name),
            one_line(&c.result_text),
            c.authserv_id
                .as_deref()
                .map(one_line)
                .unwrap_or_else(|| "(no authserv-id)".into()),
            if c.trusted { "trusted" } else { "not trusted" },
            clip(&one_line(&c.trust_reason), 120)
        );
    }
}

/// One verdict: result, domain, alignment, source and reason.
fn verdict_line<D>(s: &mut String, name: &str, v: &wavetrace_core::auth::Verdict<D>) {
    let aligned = match v.aligned {
        Some(true) => ", aligned",
        Some(false) => ", not aligned",
        None => "",
    };
    let _ = writeln!(
        s,
        "  {name:<6} {:<9} {}{aligned} [{}] {}",
        json_token(&v.result),
        v.domain
            .as_deref()
            .map(one_line)
            .unwrap_or_else(|| "-".into()),
        json_token(&v.source),
        clip(&one_line(&v.reason), 160)
    );
}
