//! The HTML report in a real browser: headless Chromium loads the report
//! written to a file and dumps the DOM after the page has had time to run
//! anything it could run. The hostile fixture (`tests/data/hostile`) puts
//! script, event handlers, `javascript:` links and style-breaking text in
//! subjects, display names, bodies and attachment names; none of it may
//! execute or become markup, with or without the Content-Security-Policy.
//! A positive control proves the harness sees execution when there is some.
//!
//! Chromium is required, never skipped: `scripts/test.sh` installs it, and
//! `WAVETRACE_CHROMIUM` names another binary.

use std::path::{Path, PathBuf};

use wavetrace_report::html::{content_security_policy, report};
use wavetrace_report::testdata::{
    campaigns_from, dump_dom, run_chromium, sample_campaigns, temp_dir, SALT,
};
use wavetrace_report::{prepare, ExportSet, ShareOptions};

/// Takes a screenshot of the page (1280 wide, 2400 tall) into `png`.
pub fn screenshot(page: &Path, png: &Path) {
    let _ = std::fs::remove_file(png);
    run_chromium(
        page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2400".to_string(),
            "--hide-scrollbars".to_string(),
        ],
    );
}

/// The hostile fixture's campaign and the synthetic sample's, redacted.
fn hostile_and_sample() -> ExportSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("hostile fixture")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut campaigns = campaigns_from(&files);
    assert_eq!(campaigns.len(), 1, "the fixture is one campaign");
    assert_eq!(campaigns[0].members.len(), 3);
    campaigns.extend(sample_campaigns());
    prepare(campaigns, 5_000, SALT, false)
}

/// The payloads as the dump shows them: text, escaped.
const PAYLOADS_AS_TEXT: [&str; 5] = [
    "&lt;script&gt;document.body.setAttribute('data-pwned','script')&lt;/script&gt;",
    "&lt;img src=x onerror=\"document.body.setAttribute('data-pwned','onerror')\"&gt;",
    "\"&gt;&lt;svg onload=document.body.setAttribute('data-pwned','svg')&gt;",
    "&lt;style&gt;body{display:none}&lt;/style&gt;",
    "&lt;/style&gt;&lt;script&gt;document.body.setAttribute('data-pwned','style')&lt;/script&gt;",
];

/// Everything the dumped DOM of a report of `set` must show.
fn assert_safe_and_rendered(dom: &str, set: &ExportSet, what: &str) {
    assert!(
        dom.contains("<title>Email campaign report (TLP:AMBER)</title>"),
        "{what}: no title"
    );
    assert!(
        dom.contains("<h1>Email campaign report</h1>"),
        "{what}: no heading"
    );
    assert!(dom.contains("<h2>Overview</h2>"), "{what}: no overview");
    assert!(
        !dom.contains("data-pwned="),
        "{what}: a payload ran (data-pwned set)"
    );
    for payload in PAYLOADS_AS_TEXT {
        assert!(
            dom.contains(payload),
            "{what}: payload not shown as text: {payload}"
        );
    }
    assert_eq!(
        dom.matches("<style").count(),
        1,
        "{what}: not exactly our one <style> element"
    );
    assert!(!dom.contains("<script"), "{what}: a script element");
    for anchor in dom.split("<a ").skip(1) {
        let tag = &anchor[..anchor.find('>').unwrap_or(anchor.len())];
        assert!(
            !tag.to_ascii_lowercase().contains("javascript:"),
            "{what}: javascript link <a {tag}>"
        );
        assert!(tag.contains("href=\"#campaign-"), "{what}: link <a {tag}>");
    }
    for c in &set.campaigns {
        let open = format!("id=\"campaign-{}\"", c.summary.id);
        let start = dom
            .find(&open)
            .unwrap_or_else(|| panic!("{what}: no section {open}"));
        let section = &dom[start..];
        let section = &section[..section.find("</section>").expect("section closed")];
        let waves = c.summary.waves.len();
        let svg_start = section
            .find("<svg")
            .unwrap_or_else(|| panic!("{what}: no timeline in {open}"));
        let svg = &section[svg_start..section.find("</svg>").expect("svg closed")];
        assert_eq!(
            svg.matches("class=\"wave\"").count(),
            waves,
            "{what}: shaded waves of campaign {}",
            c.summary.id
        );
        assert!(waves >= 1);
    }
}

/// The report with the Content-Security-Policy meta tag taken out.
fn without_csp(html: &str) -> String {
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        content_security_policy()
    );
    assert!(html.contains(&meta), "the report has no CSP meta tag");
    html.replace(&meta, "")
}

/// The report with a script of our own right after `<body>`.
fn with_control_script(html: &str) -> String {
    assert!(html.contains("<body>\n"));
    html.replacen(
        "<body>\n",
        "<body>\n<script>document.body.setAttribute('data-pwned','control')</script>\n",
        1,
    )
}

#[test]
fn hostile_mail_never_runs_in_a_browser() {
    let set = hostile_and_sample();
    let html = report(&set, &ShareOptions::default());
    let dir = temp_dir("hostile");

    let page = dir.join("report.html");
    std::fs::write(&page, &html).expect("write report");
    let (dom, log) = dump_dom(&page);
    assert_safe_and_rendered(&dom, &set, "report as written");
    // The style sheet's hash matches: the browser refused nothing.
    assert!(
        !log.contains("Content Security Policy"),
        "the browser refused something under the report's own policy: {log}"
    );

    let open = dir.join("report-without-csp.html");
    std::fs::write(&open, without_csp(&html)).expect("write copy");
    let (dom, _) = dump_dom(&open);
    assert_safe_and_rendered(&dom, &set, "report without CSP");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn positive_control_the_harness_sees_script_run() {
    let set = hostile_and_sample();
    let html = report(&set, &ShareOptions::default());
    let dir = temp_dir("control");

    // Without the policy, an injected script runs and the dump shows it.
    let page = dir.join("control.html");
    std::fs::write(&page, with_control_script(&without_csp(&html))).expect("write control");
    let (dom, _) = dump_dom(&page);
    assert!(
        dom.contains("data-pwned=\"control\""),
        "the positive control did not run: the harness cannot see execution"
    );

    // With the policy, the same script is refused, and the log says so.
    let guarded = dir.join("control-with-csp.html");
    std::fs::write(&guarded, with_control_script(&html)).expect("write guarded control");
    let (dom, log) = dump_dom(&guarded);
    assert!(
        !dom.contains("data-pwned="),
        "the Content-Security-Policy let an inline script run"
    );
    assert!(
        log.contains("Content Security Policy"),
        "the browser log does not show the refused script: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn screenshot_of_the_sample_report() {
    let set = prepare(sample_campaigns(), 200, SALT, false);
    let html = report(&set, &ShareOptions::default());
    let dir = temp_dir("screenshot");
    let page = dir.join("report.html");
    std::fs::write(&page, &html).expect("write report");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&target).expect("target dir");
    let png = target.join("report-screenshot.png");
    screenshot(&page, &png);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    // A blank 1280x2400 page compresses to a few kilobytes; a rendered
    // report with text, tables and a chart is far larger.
    assert!(
        bytes.len() > 50_000,
        "the screenshot is suspiciously small ({} bytes)",
        bytes.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
