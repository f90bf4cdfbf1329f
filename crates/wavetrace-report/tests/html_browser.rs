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
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wavetrace_report::html::{content_security_policy, report};
use wavetrace_report::testdata::{campaigns_from, sample_campaigns, SALT};
use wavetrace_report::{prepare, ExportSet, ShareOptions};

/// One browser at a time: the machine is small and Chromium is not.
static BROWSER: Mutex<()> = Mutex::new(());

/// Longest a browser run may take before the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium binary, or a failure that says how to get one.
fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("WAVETRACE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string()),
    );
    assert!(
        path.is_file(),
        "headless Chromium not found at {}: the HTML report's browser test needs it. \
         Run scripts/test.sh (it installs Chromium), or set WAVETRACE_CHROMIUM to a Chromium binary.",
        path.display()
    );
    path
}

/// A new empty directory for this test run.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wavetrace-html-browser-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs headless Chromium on `page` with the extra arguments; returns its
/// standard output and error.
fn run_chromium(page: &Path, extra: &[String]) -> (String, String) {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let profile = temp_dir("profile");
    let out_dir = temp_dir("io");
    let (stdout_path, stderr_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--virtual-time-budget=3000")
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    (stdout, stderr)
}

/// The DOM of the page after loading, as Chromium serialises it, and the
/// browser's log.
fn dump_dom(page: &Path) -> (String, String) {
    let (dom, log) = run_chromium(page, &["--dump-dom".to_string()]);
    assert!(
        dom.contains("</html>"),
        "chromium dumped no document; its log: {log}"
    );
    (dom, log)
}

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
