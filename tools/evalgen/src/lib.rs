//! evalgen: writes wavetrace's labelled campaign evaluation set from a fixed
//! seed (see README.md). No dependencies: the PRNG and the MIME writer are
//! here, so the output is the same bytes for the same seed forever.

mod texts;

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use texts::{
    Body, CampaignSpec, CAMPAIGNS, CITIES, FILLER, FIRST_NAMES, LAST_NAMES, MAIL_DOMAINS, STREETS,
    STREET_SUFFIXES,
};

/// splitmix64: small, fixed, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }
    fn lower_token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }
}

/// One fake recipient.
struct Person {
    first: String,
    last: String,
    street: String,
    city: String,
    email: String,
}

fn roster(rng: &mut Rng, n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| {
            let first = rng.pick(FIRST_NAMES).to_string();
            let last = rng.pick(LAST_NAMES).to_string();
            let street = format!(
                "{} {} {}",
                1 + rng.below(4999),
                rng.pick(STREETS),
                rng.pick(STREET_SUFFIXES)
            );
            let city = rng.pick(CITIES).to_string();
            let email = format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase().replace(' ', ""),
                i % 97,
                rng.pick(MAIL_DOMAINS)
            );
            Person {
                first,
                last,
                street,
                city,
                email,
            }
        })
        .collect()
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// RFC 5322 date-time in UTC.
fn rfc5322(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A date written the way a given campaign writes it.
fn written_date(t: i64, style: usize) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    match style % 3 {
        0 => format!("{m:02}/{d:02}/{y}"),
        1 => format!("{} {d}, {y}", LONG_MONTHS[(m - 1) as usize]),
        _ => format!("{y}-{m:02}-{d:02}"),
    }
}

/// Expands `{a|b|c}` spintax and `[field]` placeholders; returns the text
/// and the true template (`{other}` for spintax, `{type}` for fields).
fn expand(
    template: &str,
    rng: &mut Rng,
    field: &mut dyn FnMut(&str, &mut Rng) -> String,
) -> (String, String) {
    let mut text = String::new();
    let mut truth = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '{' {
            if let Some(end) = rest.find('}') {
                let options: Vec<&str> = rest[1..end].split('|').collect();
                text.push_str(options[rng.below(options.len())]);
                truth.push_str("{other}");
                rest = &rest[end + 1..];
                continue;
            }
        }
        if c == '[' {
            if let Some(end) = rest.find(']') {
                let name = &rest[1..end];
                text.push_str(&field(name, rng));
                truth.push('{');
                truth.push_str(field_type(name));
                truth.push('}');
                rest = &rest[end + 1..];
                continue;
            }
        }
        text.push(c);
        truth.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (text, truth)
}

/// The slot type a placeholder stands for.
fn field_type(name: &str) -> &'static str {
    match name {
        "name" | "first" => "name",
        "addr" => "street_address",
        "email" => "email",
        "phone" => "phone",
        "amount" => "amount",
        "date" => "date",
        "url" => "url",
        "ref" | "tracking" => "token",
        "number" => "number",
        _ => "other",
    }
}

/// Replaces some letters with Cyrillic lookalikes and adds zero-width characters.
fn disguise(text: &str, rng: &mut Rng) -> String {
    text.chars()
        .map(|c| match c {
            'a' if rng.chance(25) => "\u{0430}".to_string(),
            'o' if rng.chance(25) => "\u{043E}".to_string(),
            'e' if rng.chance(15) => "\u{0435}".to_string(),
            'i' if rng.chance(10) => "i\u{200B}".to_string(),
            ' ' if rng.chance(5) => "\u{00A0}".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Inserts a few hash-busting tokens between words at random places.
fn insert_tokens(text: &str, rng: &mut Rng, count: usize) -> String {
    let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
    for _ in 0..count {
        let at = rng.below(words.len() + 1);
        let len = 8 + rng.below(6);
        words.insert(at.min(words.len()), rng.lower_token(len));
    }
    words.join(" ")
}

fn filler(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| *rng.pick(FILLER))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quoted-printable-free MIME: 8bit text parts, base64 binaries.
fn base64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Deterministic binary content standing in for a campaign's image or PDF.
fn blob(seed: u64, header: &[u8], len: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = header.to_vec();
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

struct Written {
    file: String,
    label: &'static str,
}

/// The listings written beside the messages.
#[derive(Default)]
struct Listings {
    /// `waves.tsv`.
    waves: String,
    /// `templates.tsv`.
    templates: String,
    /// `personal.tsv`.
    personal: String,
}

fn write_campaign(
    spec: &CampaignSpec,
    index: usize,
    seed: u64,
    people: &[Person],
    dir: &Path,
    out: &mut Listings,
) -> io::Result<Vec<Written>> {
    let mut rng = Rng(seed ^ (index as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut written = Vec::new();
    let mut truth_template = None;
    let base_time = 1_601_280_000i64 + index as i64 * 3 * 86_400; // from 2020-09-28
    let binary = blob(
        seed ^ index as u64,
        if spec.body == Body::ImageOnly {
            b"\x89PNG\r\n\x1a\n"
        } else {
            b"%PDF-1.4\n"
        },
        6_000,
    );
    let mut number = 0;
    for (wave_no, wave) in spec.waves.iter().enumerate() {
        let start = base_time + wave.offset_hours * 3600 + rng.below(1800) as i64;
        let _ = writeln!(out.waves, "{}\t{}", spec.label, start);
        let duration = wave.duration_minutes * 60;
        let mut times: Vec<i64> = (0..wave.size)
            .map(|_| start + rng.below(duration as usize + 1) as i64)
            .collect();
        times.sort_unstable();
        if let Some(first) = times.first_mut() {
            *first = start;
        }
        let sender_domain = spec.sender_domains[wave_no % spec.sender_domains.len()];
        let relay = spec.relays[wave_no % spec.relays.len()];
        let url_domain = spec.url_domains[wave_no % spec.url_domains.len()];
        for &t in &times {
            number += 1;
            let person = &people[rng.below(people.len())];
            let deadline = written_date(t + (3 + rng.below(5) as i64) * 86_400, spec.date_style);
            let reference = rng.token(7);
            let mut phones: Vec<String> = Vec::new();
            let mut field = |name: &str, rng: &mut Rng| -> String {
                let value = match name {
                    "name" => format!("{} {}", person.first, person.last),
                    "first" => person.first.clone(),
                    "addr" => person.street.clone(),
                    "city" => person.city.clone(),
                    "email" => person.email.clone(),
                    "phone" => format!(
                        "+1-{}-{:03}-{:04}",
                        200 + rng.below(700),
                        rng.below(1000),
                        rng.below(10_000)
                    ),
                    "amount" => match spec.amount_style {
                        0 => format!("${}.{:02}", 1 + rng.below(4), rng.below(100)),
                        _ => format!("${},{:03}", 1 + rng.below(2), rng.below(1000)),
                    },
                    "date" => deadline.clone(),
                    "url" => format!(
                        "https://{url_domain}/{}/{}?id={}",
                        spec.url_path,
                        rng.lower_token(10),
                        rng.below(1_000_000)
                    ),
                    "ref" => reference.clone(),
                    "tracking" => {
                        format!("{}{}", rng.token(2), 100_000_000 + rng.below(899_999_999))
                    }
                    "number" => format!("{}", 10_000 + rng.below(90_000)),
                    _ => String::new(),
                };
                if name == "phone" {
                    phones.push(value.clone());
                }
                value
            };
            let (mut body, truth) = expand(spec.text, &mut rng, &mut field);
            let (subject, _) = expand(spec.subject, &mut rng, &mut field);
            if spec.body != Body::ImageOnly && truth_template.is_none() {
                truth_template = Some(truth);
            }
            if spec.tokens > 0 {
                let count = rng.below(spec.tokens + 1);
                body = insert_tokens(&body, &mut rng, count);
            }
            if spec.disguise_percent > 0 && rng.chance(spec.disguise_percent) {
                body = disguise(&body, &mut rng);
            }
            if spec.body == Body::ImageOnly {
                let len = 30 + rng.below(50);
                body = filler(&mut rng, len);
            }
            let hidden_filler = spec.filler_percent > 0 && rng.chance(spec.filler_percent);
            let filler_text = if hidden_filler {
                let len = 40 + rng.below(60);
                filler(&mut rng, len)
            } else {
                String::new()
            };
            let origin_ip = format!(
                "{}.{}.{}.{}",
                spec.ip_prefix[wave_no % spec.ip_prefix.len()],
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            );
            let local = spec.local_parts[rng.below(spec.local_parts.len())];
            let display = spec.display_names[rng.below(spec.display_names.len())];
            let message_id = format!("{}.{}@{}", rng.lower_token(16), t, sender_domain);
            let mut eml = String::new();
            let _ = write!(
                eml,
                "Return-Path: <bounce-{}@{sender_domain}>\r\nReceived: from mx.{} (mx.{} [{}]) by mx.recipient.example (Postfix) with ESMTPS id {}\r\n\tfor <{}>; {}\r\nReceived: from [{origin_ip}] (helo=client{}) by {relay} with ESMTPA id {}; {}\r\n",
                rng.lower_token(8),
                relay,
                relay,
                "198.51.100.".to_string() + &(10 + wave_no).to_string(),
                rng.token(10),
                person.email,
                rfc5322(t + 2),
                rng.below(100),
                rng.token(12),
                rfc5322(t),
            );
            if spec.legitimate {
                let _ = write!(
                    eml,
                    "Authentication-Results: mx.recipient.example; dkim=pass header.d={sender_domain}; spf=pass smtp.mailfrom={sender_domain}; dmarc=pass header.from={sender_domain}\r\nDKIM-Signature: v=1; a=rsa-sha256; d={sender_domain}; s=mail; h=from:to:subject:date; bh={}; b={}\r\nList-Unsubscribe: <https://{sender_domain}/unsubscribe>\r\n",
                    base64(&blob(t as u64, b"", 30)),
                    base64(&blob(t as u64 + 1, b"", 60)),
                );
            }
            let _ = write!(
                eml,
                "Date: {}\r\nFrom: \"{display}\" <{local}@{sender_domain}>\r\nTo: {} {} <{}>\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n",
                rfc5322(t),
                person.first,
                person.last,
                person.email,
            );
            if let Some(reply_to) = spec.reply_to {
                let _ = write!(eml, "Reply-To: {reply_to}\r\n");
            }
            let boundary = format!("=_{}", rng.lower_token(20));
            match spec.body {
                Body::Plain => {
                    let _ = write!(eml, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n", crlf(&body));
                    if hidden_filler {
                        let _ = write!(eml, "\r\n{filler_text}\r\n");
                    }
                }
                Body::Html => {
                    let paragraphs: String = body
                        .split("\n\n")
                        .map(|p| format!("<p>{}</p>\r\n", html_escape(p).replace('\n', "<br>\r\n")))
                        .collect();
                    let hidden = if hidden_filler {
                        format!("<div style=\"display:none\">{filler_text}</div>\r\n")
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        eml,
                        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<html><body>\r\n{paragraphs}{hidden}</body></html>\r\n"
                    );
                }
                Body::WithAttachment | Body::ImageOnly => {
                    let (ctype, name) = if spec.body == Body::ImageOnly {
                        ("image/png", "offer.png")
                    } else {
                        ("application/pdf", "invoice.pdf")
                    };
                    let _ = write!(
                        eml,
                        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--{boundary}--\r\n",
                        crlf(&body),
                        base64(&binary)
                    );
                }
            }
            let file = format!("{}-{:04}.eml", spec.label, number);
            fs::write(dir.join(&file), eml)?;
            // Every message is addressed to its person: name, address and
            // street are theirs whether or not the text uses them.
            let mut personal = vec![
                ("name", format!("{} {}", person.first, person.last)),
                ("email", person.email.clone()),
                ("street_address", person.street.clone()),
            ];
            personal.extend(phones.into_iter().map(|p| ("phone", p)));
            for (kind, value) in personal {
                let _ = writeln!(out.personal, "{file}\t{kind}\t{value}");
            }
            written.push(Written {
                file,
                label: spec.label,
            });
        }
    }
    if let Some(mut t) = truth_template {
        if spec.filler_percent > 0 {
            t.push_str(" {other}");
        }
        let _ = writeln!(
            out.templates,
            "{}\t{}",
            spec.label,
            t.replace(['\n', '\t'], " ")
        );
    }
    Ok(written)
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Background messages under the corpora root, sorted, by relative path.
fn background(corpora: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for folder in ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"] {
        let dir = corpora.join("spamassassin_public_corpus").join(folder);
        for entry in fs::read_dir(&dir)? {
            out.push(entry?.path());
        }
    }
    for entry in fs::read_dir(corpora.join("linux_sparse_list_archive").join("msgs"))? {
        out.push(entry?.path());
    }
    out.retain(|p| p.is_file());
    out.sort();
    Ok(out)
}

/// Where and how to write an evaluation set.
pub struct Options {
    /// The PRNG seed: the same seed gives the same bytes.
    pub seed: u64,
    /// The output folder (messages/, truth.tsv, waves.tsv, templates.tsv).
    pub out: PathBuf,
    /// The unpacked corpora (background messages are listed from there).
    pub corpora: PathBuf,
}

/// Reads `--seed N --out DIR --corpora DIR` from the command line.
pub fn options() -> Result<Options, String> {
    let mut seed = 12;
    let mut out = PathBuf::from("target/evalset");
    let mut corpora = PathBuf::from("target/corpora");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--seed" => seed = value.parse().map_err(|_| format!("bad seed {value}"))?,
            "--out" => out = PathBuf::from(value),
            "--corpora" => corpora = PathBuf::from(value),
            _ => {
                return Err(format!(
                    "unknown option {arg} (use --seed N --out DIR --corpora DIR)"
                ))
            }
        }
    }
    Ok(Options { seed, out, corpora })
}

/// What [`generate`] wrote.
pub struct Generated {
    /// Synthetic campaign messages written.
    pub campaign_messages: usize,
    /// Campaigns (labels, look-alikes included).
    pub campaigns: usize,
    /// Background messages listed in the truth file.
    pub background: usize,
}

/// Writes the evaluation set described by `o`.
pub fn generate(o: &Options) -> Result<Generated, String> {
    let messages = o.out.join("messages");
    fs::create_dir_all(&messages).map_err(|e| format!("{}: {e}", messages.display()))?;
    let mut rng = Rng(o.seed);
    let people = roster(&mut rng, 600);
    let mut listings = Listings::default();
    let mut truth = String::new();
    let mut count = 0;
    for (i, spec) in CAMPAIGNS.iter().enumerate() {
        let written = write_campaign(spec, i, o.seed, &people, &messages, &mut listings)
            .map_err(|e| e.to_string())?;
        count += written.len();
        for w in written {
            let _ = writeln!(truth, "{}\t{}", messages.join(&w.file).display(), w.label);
        }
    }
    let background = background(&o.corpora).map_err(|e| format!("{}: {e}", o.corpora.display()))?;
    for path in &background {
        let _ = writeln!(truth, "{}\t-", path.display());
    }
    for (name, data) in [
        ("truth.tsv", &truth),
        ("waves.tsv", &listings.waves),
        ("templates.tsv", &listings.templates),
        ("personal.tsv", &listings.personal),
    ] {
        fs::write(o.out.join(name), data).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(Generated {
        campaign_messages: count,
        campaigns: CAMPAIGNS.len(),
        background: background.len(),
    })
}
