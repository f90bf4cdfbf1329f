//! Tests of the rule language: parsing, evaluation, evidence, loading errors,
//! rule sets, and property tests.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

const TYPICAL: &str = include_str!("../../../tests/data/rules/typical.toml");

fn labels() -> LabelSet {
    LabelSet::new(&[
        "phishing",
        "spoofed-sender",
        "malware",
        "bec",
        "spam",
        "scam",
        "credential-theft",
        "benign",
    ])
}

fn cond(src: &str) -> Condition {
    parse_condition(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn canon(src: &str) -> String {
    cond(src).to_string()
}

fn parse_err(src: &str) -> String {
    match parse_condition(src) {
        Ok(c) => format!("parsed: {c}"),
        Err(e) => e.to_string(),
    }
}

fn holds(src: &str, record: &Value) -> bool {
    cond(src).matches(record, &|_| false)
}

fn evidence(src: &str, record: &Value) -> Option<Vec<String>> {
    cond(src).evaluate(record, &|_| false)
}

fn file_errors(text: &str) -> Vec<String> {
    match parse_rule_file(text, "r.toml", &labels()) {
        Ok(_) => vec!["no error".to_owned()],
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn file(text: &str, origin: &str) -> RuleFile {
    parse_rule_file(text, origin, &labels()).unwrap_or_else(|e| panic!("{e:?}"))
}

fn set_errors(files: &[(&str, &str)]) -> Vec<String> {
    let files = files
        .iter()
        .map(|(origin, text)| file(text, origin))
        .collect();
    match RuleSet::new(files) {
        Ok(_) => vec!["no error".to_owned()],
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// A rule table with the given id and condition.
fn rule_toml(id: &str, when: &str) -> String {
    format!("[[rule]]\nid = \"{id}\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = '''{when}'''\n\n")
}

// ---------------------------------------------------------------- parsing

#[test]
fn every_operator_parses_and_prints_canonically() {
    let cases = [
        ("a == 'x'", "a == \"x\""),
        ("a!=1", "a != 1"),
        ("a < 1.5", "a < 1.5"),
        ("a <= -3", "a <= -3"),
        ("a > 2e1", "a > 20.0"),
        ("a >= 0", "a >= 0"),
        ("a in ['x', 2, true, null,]", "a in [\"x\", 2, true, null]"),
        ("a not in []", "a not in []"),
        ("a matches '(?i)x'", "a matches \"(?i)x\""),
        ("a contains 'x'", "a contains \"x\""),
        ("a starts_with 'x'", "a starts_with \"x\""),
        ("a ends_with 'x'", "a ends_with \"x\""),
        ("a == true", "a == true"),
        ("a != false", "a != false"),
        ("a == null", "a == null"),
        ("exists(a.b)", "exists(a.b)"),
        ("count(urls) > 20", "count(urls) > 20"),
        ("len(subject) >= 3", "len(subject) >= 3"),
        (
            "lower(from.domain) in ['x']",
            "lower(from.domain) in [\"x\"]",
        ),
        ("rule('other-rule')", "rule(\"other-rule\")"),
        ("urls[0].host", "urls[0].host"),
        ("a.b[1][2].c", "a.b[1][2].c"),
        ("count(urls)", "count(urls)"),
        ("a.in == 1", "a.in == 1"),
    ];
    for (src, want) in cases {
        assert_eq!(canon(src), want, "{src}");
    }
}

#[test]
fn precedence_not_binds_tighter_than_and_than_or() {
    assert_eq!(canon("a or b and c"), "a or b and c");
    assert_eq!(canon("(a or b) and c"), "(a or b) and c");
    assert_eq!(canon("not a and b"), "not a and b");
    assert_eq!(canon("not (a and b)"), "not (a and b)");
    assert_eq!(canon("not not a"), "not not a");
    assert_eq!(canon("((a))"), "a");
    assert_eq!(canon("(a or b) or (c or d)"), "a or b or c or d");
    assert_eq!(canon("a and (b and c)"), "a and b and c");
    // Semantics agree with the printed precedence: a or (b and c).
    let r = json!({"a": true, "b": false, "c": false});
    assert!(holds("a or b and c", &r));
    assert!(!holds("(a or b) and c", &r));
    assert!(!holds("not a and b", &json!({"a": false, "b": false})));
}

#[test]
fn strings_escapes_and_comments() {
    assert_eq!(
        canon(r#"a == "q\"uote\\ \n\t""#),
        r#"a == "q\"uote\\ \n\t""#
    );
    assert_eq!(canon(r"a == 'it\'s'"), "a == \"it's\"");
    assert_eq!(
        canon("a == 1 # trailing\n# whole line\nand b"),
        "a == 1 and b"
    );
    let c = cond(r#"s matches "^\d+\.x$""#);
    assert!(c.matches(&json!({"s": "12.x"}), &|_| false));
    assert!(!c.matches(&json!({"s": "12ax"}), &|_| false));
}

#[test]
fn display_round_trips() {
    let sources = [
        "a or b and not (c or d)",
        r#"not x.y[0] in ["a", "b\n", 1, 2.5, false, null] and count(z) != 3"#,
        r#"rule("r1") or lower(q) contains "A\"" or exists(w)"#,
        "not not (a and (b or c))",
        "n >= -0.0001 and m < 1e30",
    ];
    for src in sources {
        let once = canon(src);
        assert_eq!(canon(&once), once, "{src}");
    }
}

#[test]
fn condition_syntax_errors_are_located_and_clear() {
    let cases = [
        ("a ==", "<condition>:1:5: missing operand: expected a value after `==`"),
        ("== 1", "<condition>:1:1: missing operand: expected a path before `==`"),
        ("a and", "<condition>:1:6: missing operand: the condition ends where a comparison was expected"),
        ("a is 'x'", "<condition>:1:3: unknown operator `is`; expected ==, !=, <, <=, >, >=, in, not in, matches, contains, starts_with, ends_with, `and` or `or`"),
        ("a === 'x'", "<condition>:1:3: unknown operator `===`"),
        ("a =~ 'x'", "<condition>:1:3: unknown operator `=~`"),
        ("foo(a) > 1", "<condition>:1:1: unknown function `foo`; the functions are any, exists, count, len, lower and rule"),
        ("a matches '('", "<condition>:1:11: invalid regex: regex parse error:\n    (\n    ^\nerror: unclosed group"),
        ("'x' == a", "<condition>:1:1: a condition cannot start with a value: write the path on the left, e.g. `from.domain == \"x\"`"),
        ("a == b", "<condition>:1:6: expected a value after `==`, found `b` (the right side is a literal: a quoted string, a number, true, false or null)"),
        ("a < 'x'", "<condition>:1:3: `<` compares numbers; `\"x\"` is not a number (strings compare only with == and !=)"),
        ("count(a) == 'x'", "<condition>:1:10: `count(a)` is a number and cannot be compared with `\"x\"`"),
        ("count(a) contains 'x'", "<condition>:1:10: `contains` needs strings but `count(a)` is a number"),
        ("lower(a) > 1", "<condition>:1:10: `lower(a)` yields strings; compare it with ==, !=, in, not in, matches, contains, starts_with or ends_with"),
        ("(a == 1", "<condition>:1:8: expected `)` to close the `(` at offset 0, found the end of the condition"),
        ("a == 1)", "<condition>:1:7: unmatched `)`"),
        ("a == 1 b", "<condition>:1:8: expected `and`, `or` or the end of the condition, found `b`"),
        ("a in 'x'", "<condition>:1:6: expected a list `[...]` after `in`, found a string"),
        ("a in ['x' 'y']", "<condition>:1:11: expected `,` or `]` in the list, found a string"),
        ("a in [[1]]", "<condition>:1:7: a list cannot follow `in`; use `in [...]`"),
        ("a not 'x'", "<condition>:1:3: expected `not in` after `a`; to negate a comparison write `not` before it"),
        ("a. b", "<condition>:1:3: expected a field name after `.`"),
        ("a[x]", "<condition>:1:3: expected an array index such as `[0]`"),
        ("rule(x)", "<condition>:1:6: rule() takes a rule id in quotes, found `x`"),
        ("exists('a')", "<condition>:1:8: exists() takes a path, found a string"),
        ("", "<condition>:1:1: empty condition"),
        ("  # only a comment", "<condition>:1:1: empty condition"),
        ("and", "<condition>:1:1: missing operand: expected a path or a function before `and`"),
        ("a == 'x\n  and b", "<condition>:1:6: unterminated string: the ' opened here is never closed"),
        ("a ==\n  $", "<condition>:2:3: unexpected character `$`"),
    ];
    for (src, want) in cases {
        assert_eq!(parse_err(src), want, "{src:?}");
    }
}

#[test]
fn limits_are_enforced() {
    let deep_ok = format!("{}a{}", "(".repeat(64), ")".repeat(64));
    assert!(parse_condition(&deep_ok).is_ok());
    let too_deep = format!("{}a{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(
        parse_err(&too_deep),
        "<condition>:1:65: condition nested too deeply (more than 64 levels of parentheses and `not`)"
    );
    let nots = format!("{}a", "not ".repeat(65));
    assert_eq!(
        parse_err(&nots),
        "<condition>:1:257: condition nested too deeply (more than 64 levels of parentheses and `not`)"
    );
    let long = format!("a == '{}'", "x".repeat(9000));
    assert_eq!(
        parse_err(&long),
        "<condition>:1:1: condition too long (9007 bytes; the limit is 8192)"
    );
    let items: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    let list = format!("a in [{}]", items.join(","));
    assert!(list.len() < 60_000);
    // Over the byte limit too, so check the list limit on the parser directly.
    assert_eq!(
        expr::parse(&list).err().map(|e| e.message),
        Some(format!(
            "condition too long ({} bytes; the limit is 8192)",
            list.len()
        ))
    );
    let regex = "a matches 'x{1000}{1000}'";
    assert!(
        parse_err(regex).contains("invalid regex"),
        "{}",
        parse_err(regex)
    );
}

#[test]
fn list_limit_is_enforced_by_the_parser() {
    // 10,001 items never fit in 8 KB, so the list limit is a second line of
    // defence; check it with the length limit lifted.
    let items = vec!["1"; expr::MAX_LIST_ITEMS + 1].join(",");
    let src = format!("a in [{items}]");
    let tokens = lexer::tokenize(&src).map(|t| t.len()).unwrap_or(0);
    assert!(tokens > expr::MAX_LIST_ITEMS);
    let err = expr::parse_with_limit(&src, usize::MAX)
        .err()
        .map(|e| e.message);
    assert_eq!(
        err.as_deref(),
        Some("list too long (the limit is 10000 items)")
    );
    let ok = vec!["1"; expr::MAX_LIST_ITEMS].join(",");
    assert!(expr::parse_with_limit(&format!("a in [{ok}]"), usize::MAX).is_ok());
}

// ------------------------------------------------------------- evaluation

fn record() -> Value {
    json!({
        "from": {"name": "PayPal Service", "address": "alerts@paypa1.example", "domain": "paypa1.example"},
        "to": [{"address": "a@corp.example", "domain": "corp.example"}, {"address": "b@other.example", "domain": "other.example"}],
        "subject": "URGENT: Verify your ACCOUNT",
        "auth": {"from_authenticated": "no", "dmarc": {"result": "fail", "reason": "no aligned pass"}, "dkim": [{"result": "none"}, {"result": "pass", "detail": {"weak": true}}]},
        "urls": [
            {"url": "https://a.example/x", "host": "a.example"},
            {"url": "http://1.2.3.4/login", "host": "1.2.3.4"},
            {"url": "https://b.example/", "host": null}
        ],
        "attachments": [],
        "to_count": 2,
        "size": 12345,
        "ratio": 0.82,
        "zero": 0,
        "empty": "",
        "flag": true,
        "nothing": null,
        "nested": [[1, 2], [3, [4]]],
        "big": 18446744073709551615u64,
        "signals": {"content": {"intimidation": {"score": 0.82}}}
    })
}

#[test]
fn arrays_are_flattened_along_paths() {
    let r = record();
    assert!(holds(r#"urls.host == "1.2.3.4""#, &r));
    assert!(holds(r#"to.domain == "other.example""#, &r));
    assert!(!holds(r#"to.domain == "third.example""#, &r));
    assert!(holds(r#"urls[1].host == "1.2.3.4""#, &r));
    assert!(!holds(r#"urls[0].host == "1.2.3.4""#, &r));
    assert!(!holds("urls[9].host", &r));
    assert!(holds("nested == 4", &r));
    assert!(holds("nested[1] == 3", &r));
    assert!(holds("auth.dkim.detail.weak", &r));
    assert!(holds(
        r#"auth.dkim.result == "pass" and auth.dkim.result == "none""#,
        &r
    ));
}

#[test]
fn missing_and_null_values_for_every_operator() {
    let r = record();
    for path in [
        "missing",
        "nothing",
        "urls[2].host",
        "from.missing.deeper",
        "size.x",
    ] {
        let positive = [
            format!("{path} == 'x'"),
            format!("{path} == 1"),
            format!("{path} < 1"),
            format!("{path} <= 1"),
            format!("{path} > 1"),
            format!("{path} >= 1"),
            format!("{path} in ['x', 1]"),
            format!("{path} matches '.*'"),
            format!("{path} contains ''"),
            format!("{path} starts_with ''"),
            format!("{path} ends_with ''"),
            format!("exists({path})"),
            path.to_string(),
            format!("count({path}) > 0"),
            format!("len({path}) > 0"),
            format!("lower({path}) == 'x'"),
            format!("{path} != null"),
        ];
        for src in &positive {
            assert!(!holds(src, &r), "{src} should be false");
        }
        let negative = [
            format!("{path} != 'x'"),
            format!("{path} != 1"),
            format!("{path} not in ['x', 1]"),
            format!("not exists({path})"),
            format!("count({path}) == 0"),
            format!("len({path}) == 0"),
            format!("{path} == null"),
            format!("{path} in [null]"),
        ];
        for src in &negative {
            assert!(holds(src, &r), "{src} should be true");
        }
    }
}

#[test]
fn negative_forms_are_negations_of_the_positive() {
    let r = record();
    // Any-semantics: one recipient domain equals, so != is false.
    assert!(!holds(r#"to.domain != "corp.example""#, &r));
    assert!(holds(r#"to.domain != "third.example""#, &r));
    assert!(!holds(r#"to.domain not in ["corp.example"]"#, &r));
    assert!(holds(r#"to.domain not in ["x.example", "y.example"]"#, &r));
}

#[test]
fn numbers_compare_across_ints_and_floats() {
    let r = record();
    assert!(holds("size == 12345", &r));
    assert!(holds("size == 12345.0", &r));
    assert!(holds("size > 12344.5", &r));
    assert!(holds("ratio >= 0.5 and ratio < 1", &r));
    assert!(holds("ratio > 0 and ratio <= 0.82", &r));
    assert!(!holds("ratio == 1", &r));
    assert!(holds("big > 9223372036854775807", &r));
    assert!(holds("to_count in [1, 2]", &r));
    assert!(holds("to_count not in [3]", &r));
    // A string never equals a number, and vice versa; no error.
    assert!(!holds("subject == 1", &r));
    assert!(!holds("size == '12345'", &r));
    assert!(!holds("subject > 1", &r));
    assert!(holds("flag == true", &r));
    assert!(!holds("flag == 1", &r));
}

#[test]
fn truthiness_of_bare_paths() {
    let r = record();
    assert!(holds("flag", &r));
    assert!(holds("size", &r));
    assert!(!holds("zero", &r));
    assert!(!holds("empty", &r));
    assert!(holds("subject", &r));
    assert!(holds("from", &r));
    assert!(!holds("attachments", &r));
    assert!(!holds("nothing", &r));
    assert!(holds("count(urls)", &r));
    assert!(!holds("count(attachments)", &r));
}

#[test]
fn regex_and_case_insensitive_text_operators() {
    let r = record();
    assert!(holds(r#"subject matches "(?i)verify""#, &r));
    assert!(!holds(r#"subject matches "verify""#, &r));
    assert!(holds(r#"subject contains "account""#, &r));
    assert!(holds(r#"subject contains "ACCOUNT""#, &r));
    assert!(holds(r#"subject starts_with "urgent:""#, &r));
    assert!(!holds(r#"subject starts_with "verify""#, &r));
    assert!(holds(r#"subject ends_with "account""#, &r));
    // Regex metacharacters in contains are literal.
    assert!(!holds(r#"subject contains ".*""#, &r));
    assert!(holds(r#"urls.url contains "/LOGIN""#, &r));
    assert!(holds(r#"from.name contains "paypal""#, &r));
    assert!(holds(r#"lower(from.name) == "paypal service""#, &r));
    assert!(holds(
        r#"lower(subject) in ["urgent: verify your account"]"#,
        &r
    ));
    assert!(holds(r#"lower(subject) matches "^urgent""#, &r));
    assert!(!holds(r#"size matches "1""#, &r));
    let unicode = json!({"s": "ÉCOLE Straße"});
    assert!(holds(r#"s contains "école""#, &unicode));
    assert!(holds(r#"lower(s) == "école straße""#, &unicode));
}

#[test]
fn count_len_and_exists() {
    let r = record();
    assert!(holds("count(urls) == 3", &r));
    assert!(holds("count(urls.host) == 2", &r));
    assert!(holds("count(to) == 2 and count(to.domain) == 2", &r));
    assert!(holds("count(nested) == 4", &r));
    assert!(holds("len(urls) == 3", &r));
    assert!(holds("len(subject) == 27", &r));
    assert!(holds("len(to.domain) == 12", &r));
    assert!(holds("exists(urls.host)", &r));
    assert!(holds("exists(flag) and exists(zero) and exists(empty)", &r));
    assert!(!holds("exists(attachments)", &r));
}

#[test]
fn large_lists_use_the_hash_set_and_agree_with_small_ones() {
    let many: Vec<String> = (0..50).map(|i| format!("'d{i}.example'")).collect();
    let big = cond(&format!(
        "to.domain in [{}, 'other.example', 7]",
        many.join(", ")
    ));
    let r = record();
    assert!(big.matches(&r, &|_| false));
    let miss = cond(&format!("to.domain in [{}]", many.join(", ")));
    assert!(!miss.matches(&r, &|_| false));
    let lower = cond(&format!(
        "lower(subject) in [{}, 'urgent: verify your account']",
        many.join(", ")
    ));
    assert!(lower.matches(&r, &|_| false));
    let numbers = cond(&format!("to_count in [{}, 2]", many.join(", ")));
    assert!(numbers.matches(&r, &|_| false));
}

#[test]
fn rule_references_ask_the_caller() {
    let c = cond(r#"rule("a") and not rule("b")"#);
    let r = json!({});
    assert!(c.matches(&r, &|id| id == "a"));
    assert!(!c.matches(&r, &|id| id == "a" || id == "b"));
    assert_eq!(c.rule_refs(), vec!["a".to_owned(), "b".to_owned()]);
}

// --------------------------------------------------------------- evidence

#[test]
fn any_tests_several_paths_as_the_written_out_or() {
    let r = record();
    let any = r#"any(to.domain, subject, from.name) matches "(?i)paypal|verify""#;
    let written = r#"to.domain matches "(?i)paypal|verify" or subject matches "(?i)paypal|verify" or from.name matches "(?i)paypal|verify""#;
    assert_eq!(canon(any), canon(written));
    assert!(holds(any, &r));
    assert_eq!(evidence(any, &r), evidence(written, &r));
    assert!(!holds(r#"any(to.domain, missing) contains "paypal""#, &r));
    // Every operator, and inside larger conditions.
    assert!(holds(r#"any(missing, to.domain) == "corp.example""#, &r));
    assert!(holds(r#"any(missing, to.domain) in ["corp.example"]"#, &r));
    assert!(holds(
        r#"not any(missing, to.domain) == "x" and any(subject, missing) starts_with "urgent""#,
        &r
    ));
}

#[test]
fn any_is_rejected_with_clear_errors() {
    let cases = [
        ("any(subject)", "<condition>:1:1: any() needs two paths or more; for one, write the path alone"),
        ("any(subject, )", "<condition>:1:14: any() takes paths separated by commas, found `)`"),
        ("any(subject body.text) matches 'x'", "<condition>:1:13: expected `,` or `)` in any(), found `body`"),
        ("any(subject, body.text)", "<condition>:1:24: any(...) needs an operator and a value after it, e.g. `any(subject, body.text) matches \"x\"`"),
        ("any(subject, body.text) and a", "<condition>:1:25: any(...) needs an operator and a value after it, e.g. `any(subject, body.text) matches \"x\"`"),
        ("any(count(a), b) > 1", "<condition>:1:5: any() takes plain paths, not functions: write the test once per function"),
        ("any('a', b) == 1", "<condition>:1:5: any() takes paths separated by commas, found a string"),
    ];
    for (src, want) in cases {
        assert_eq!(parse_err(src), want, "{src:?}");
    }
    let many = format!(
        "any({}) == 1",
        vec!["a"; expr::MAX_ANY_PATHS + 1].join(", ")
    );
    let limit = format!("any() takes at most {} paths", expr::MAX_ANY_PATHS);
    assert!(parse_err(&many).ends_with(&limit), "{}", parse_err(&many));
}

#[test]
fn evidence_names_the_leaves_that_made_the_rule_true() {
    let r = record();
    assert_eq!(
        evidence(r#"auth.from_authenticated == "no""#, &r),
        Some(vec![r#"auth.from_authenticated == "no": "no""#.to_owned()])
    );
    assert_eq!(
        evidence("signals.content.intimidation.score >= 0.5", &r),
        Some(vec![
            "signals.content.intimidation.score >= 0.5: 0.82".to_owned()
        ])
    );
    // Only the branch of the `or` that held, and both sides of the `and`.
    assert_eq!(
        evidence(
            r#"(size < 10 or urls.host matches "^\d") and count(urls) > 2"#,
            &r
        ),
        Some(vec![
            r#"urls.host matches "^\\d": "1.2.3.4""#.to_owned(),
            "count(urls) > 2: 3".to_owned()
        ])
    );
    assert_eq!(
        evidence(
            r#"missing != "x" and to.domain not in ["x"] and not exists(nothing)"#,
            &r
        ),
        Some(vec![
            r#"missing != "x": (no value)"#.to_owned(),
            r#"to.domain not in ["x"]: "corp.example""#.to_owned(),
            "not exists(nothing)".to_owned()
        ])
    );
    assert_eq!(
        evidence("flag and exists(from.name)", &r),
        Some(vec![
            "flag: true".to_owned(),
            r#"exists(from.name): "PayPal Service""#.to_owned()
        ])
    );
    assert_eq!(evidence("size < 10", &r), None);
    let c = cond(r#"rule("display-name-impersonation")"#);
    assert_eq!(
        c.evaluate(&r, &|_| true),
        Some(vec![r#"rule("display-name-impersonation")"#.to_owned()])
    );
}

#[test]
fn evidence_is_clipped_and_capped() {
    let long = "é".repeat(500);
    let r = json!({"s": long, "n": 1});
    let lines = evidence("exists(s)", &r).unwrap_or_default();
    assert_eq!(lines.len(), 1);
    let line = lines.first().cloned().unwrap_or_default();
    assert!(line.ends_with('…'), "{line}");
    assert_eq!(
        line.chars().count(),
        "exists(s): ".chars().count() + 200 + 1
    );
    let many = vec!["n == 1"; 40].join(" and ");
    let lines = evidence(&many, &r).unwrap_or_default();
    assert_eq!(lines.len(), eval::MAX_EVIDENCE_ENTRIES);
}

/// A regex test on a long string shows the match in its context, not the
/// string's first words.
#[test]
fn evidence_of_a_match_in_a_long_string_shows_the_match() {
    let text = format!(
        "{}You have 24 hours to withdraw +17,794$ now.{}",
        "a ".repeat(300),
        " z".repeat(300)
    );
    let r = json!({ "body": { "text": text } });
    let lines = evidence(r#"body.text matches "\\+\\d[\\d,]*\\$""#, &r).unwrap_or_default();
    let line = lines.first().cloned().unwrap_or_default();
    assert!(line.contains("withdraw +17,794$ now."), "{line}");
    assert!(line.contains(": \"…a a "), "{line}");
    assert!(line.ends_with(" z …\""), "{line}");
    assert!(line.chars().count() < 200, "{line}");

    // Lower-cased tests show the lower-cased text; short strings stay whole.
    let lines = evidence(r#"lower(body.text) contains "withdraw +17""#, &r).unwrap_or_default();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.contains("withdraw +17,794$")),
        "{lines:?}"
    );
    let r = json!({ "subject": "Withdraw +$83 today" });
    let lines = evidence(r#"subject matches "\\+\\$""#, &r).unwrap_or_default();
    assert_eq!(
        lines,
        [r#"subject matches "\\+\\$": "Withdraw +$83 today""#]
    );
}

// ------------------------------------------------------------ rule files

#[test]
fn the_typical_rule_set_loads() {
    let f = file(TYPICAL, "typical.toml");
    assert_eq!(f.rules.len(), 41);
    let first = f.rules.first().cloned();
    let Some(first) = first else {
        panic!("no rules")
    };
    assert_eq!(first.id, "spoofed-sender");
    assert_eq!(first.severity, Severity::High);
    assert_eq!(first.score, 40);
    assert_eq!(first.labels, vec!["spoofed-sender".to_owned()]);
    assert_eq!(first.tags, vec!["attack.t1566.002".to_owned()]);
    assert_eq!(
        first.evidence,
        vec!["from.address".to_owned(), "auth.dmarc.reason".to_owned()]
    );
    assert_eq!(first.line, 5);
    assert_eq!(first.origin, "typical.toml");
    assert!(first.enabled);
    assert_eq!(first.condition_source, r#"auth.from_authenticated == "no""#);
    assert_eq!(
        first.examples,
        vec![
            Example {
                expect_match: true,
                note: Some("bank lookalike sender that fails DMARC".to_owned()),
                message:
                    "From: Bank <alerts@bank.example>\nSubject: Your account\n\nPlease log in.\n"
                        .to_owned(),
                line: 15
            },
            Example {
                expect_match: false,
                note: None,
                message: "From: Partner <a@partner.example>\nSubject: Minutes\n\nAttached.\n"
                    .to_owned(),
                line: 25
            }
        ]
    );
    let set = RuleSet::new(vec![f]).unwrap_or_else(|e| panic!("{e:?}"));
    // phish-combo and bec-combo come after the rules they reference.
    let pos = |id: &str| {
        set.rules()
            .iter()
            .position(|r| r.id == id)
            .unwrap_or(usize::MAX)
    };
    assert!(pos("phish-combo") > pos("credential-request"));
    assert!(pos("bec-combo") > pos("urgent-subject"));
}

#[test]
fn semantic_errors_are_all_reported_at_their_values() {
    let text = r#"[[rule]]
id = "Bad_Id"
description = ""
severity = "severe"
score = 101
labels = ["phishing", "nonsense"]
when = "a == 1"
colour = "red"

[[rule]]
id = "ok-rule"
description = "fine"
severity = "low"
score = "5"
enabled = 1
when = 'a'
evidence = ["a.b", "x y"]

[[rule.example]]
expect = "maybe"
messsage = "x"

[[rule]]
description = "no id, no when"
severity = "info"
score = 0
"#;
    assert_eq!(
        file_errors(text),
        vec![
            "r.toml:2:6: invalid rule id `Bad_Id`: use 2 to 64 characters from a-z, 0-9 and `-`, not starting with `-`",
            "r.toml:3:15: `description` must not be empty",
            "r.toml:4:12: unknown severity `severe`; expected info, low, medium, high or critical",
            "r.toml:5:9: score 101 is out of range; it must be between -100 and 100",
            "r.toml:6:23: unknown label `nonsense`; allowed labels: bec, benign, credential-theft, malware, phishing, scam, spam, spoofed-sender",
            "r.toml:8:1: unknown key `colour` in rule; the keys are id, description, severity, score, labels, tags, when, evidence, enabled, example",
            "r.toml:14:9: `score` must be an integer between -100 and 100, found string",
            "r.toml:15:11: `enabled` must be true or false, found integer",
            "r.toml:17:23: invalid evidence path: expected the end of the path, found `y`",
            "r.toml:19:1: example is missing the required key `message`",
            "r.toml:20:10: unknown expectation `maybe`; expected `match` or `no-match`",
            "r.toml:21:1: unknown key `messsage` in example; the keys are expect, note, message",
            "r.toml:23:1: rule is missing the required key `id`",
            "r.toml:23:1: rule is missing the required key `when`",
        ]
    );
}

#[test]
fn toml_syntax_errors_are_one_located_error() {
    let errors = file_errors("[[rule]]\nid = \"x\nscore = 1\n");
    assert_eq!(errors.len(), 1);
    let first = errors.first().cloned().unwrap_or_default();
    assert!(
        first.starts_with("r.toml:2:8: TOML syntax error: "),
        "{first}"
    );
    assert_eq!(
        file_errors("title = 1\n"),
        vec!["r.toml:1:1: unknown key `title`; a rule file holds only [[rule]] tables"]
    );
    assert_eq!(
        file_errors("[rule]\nid = 'x'\n"),
        vec!["r.toml:1:1: `rule` must be an array of tables: write each rule under [[rule]]"]
    );
}

#[test]
fn condition_errors_point_inside_the_file() {
    // Unterminated string inside a multi-line literal `when`.
    let text = "[[rule]]\nid = \"r1\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = '''\nfrom.domain == \"a.example\"\n  and subject contains \"unclosed\n'''\n";
    assert_eq!(
        file_errors(text),
        vec!["r.toml:8:24: unterminated string: the \" opened here is never closed"]
    );
    // Same, with the opening newline written as CRLF.
    let crlf = text.replace("'''\n", "'''\r\n");
    assert_eq!(
        file_errors(&crlf),
        vec!["r.toml:8:24: unterminated string: the \" opened here is never closed"]
    );
    // Unknown operator on the first line of a single-line literal string.
    assert_eq!(
        file_errors(&rule_toml("r1", "a.b <> 1")),
        vec!["r.toml:6:15: unknown operator `<>`"]
    );
    // Basic string with escapes before the error: mapped exactly.
    let basic = "[[rule]]\nid = \"r1\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = \"s == \\\"\\u00e9\\\" and foo(x)\"\n";
    assert_eq!(
        file_errors(basic),
        vec!["r.toml:6:29: unknown function `foo`; the functions are any, exists, count, len, lower and rule"]
    );
    // Multi-line basic string with a line-ending backslash.
    let multi = "[[rule]]\nid = \"r1\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = \"\"\"\na == 1 and \\\n    b ==\"\"\"\n";
    assert_eq!(
        file_errors(multi),
        vec!["r.toml:8:9: missing operand: expected a value after `==`"]
    );
    // Bad regex.
    assert_eq!(
        file_errors(&rule_toml("r1", "subject matches \"[a-\"")),
        vec!["r.toml:6:27: invalid regex: regex parse error:\n    [a-\n    ^\nerror: unclosed character class"]
    );
    // Missing operand and a depth bomb.
    assert_eq!(
        file_errors(&rule_toml("r1", "a == 1 and")),
        vec!["r.toml:6:21: missing operand: the condition ends where a comparison was expected"]
    );
    let deep = format!("{}a{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(
        file_errors(&rule_toml("r1", &deep)),
        vec!["r.toml:6:75: condition nested too deeply (more than 64 levels of parentheses and `not`)"]
    );
}

#[test]
fn duplicate_ids_name_the_first_definition() {
    let one = rule_toml("dup", "a");
    let both = format!("{one}{one}");
    assert_eq!(
        file_errors(&both),
        vec!["r.toml:9:6: duplicate rule id `dup`; first defined at r.toml:2:6"]
    );
    assert_eq!(
        set_errors(&[
            ("a.toml", &one),
            ("b.toml", &format!("{}{one}", rule_toml("other", "b")))
        ]),
        vec!["b.toml:9:6: duplicate rule id `dup`; first defined at a.toml:2:6"]
    );
}

#[test]
fn unknown_references_and_cycles_are_rejected() {
    let text = rule_toml("r1", "a and rule(\"nope\")");
    assert_eq!(
        set_errors(&[("a.toml", &text)]),
        vec!["a.toml:6:22: unknown rule `nope` in rule(\"nope\")"]
    );
    let two = format!(
        "{}{}",
        rule_toml("aa", "rule('bb')"),
        rule_toml("bb", "x or rule('aa')")
    );
    assert_eq!(
        set_errors(&[("a.toml", &two)]),
        vec!["a.toml:6:16: dependency cycle between rules: aa -> bb -> aa"]
    );
    let three = format!(
        "{}{}{}",
        rule_toml("c1", "rule('c2')"),
        rule_toml("c2", "rule('c3')"),
        rule_toml("c3", "rule('c1')")
    );
    assert_eq!(
        set_errors(&[("x.toml", &three)]),
        vec!["x.toml:6:16: dependency cycle between rules: c1 -> c2 -> c3 -> c1"]
    );
    // Across files, starting the search in the middle of the cycle.
    let across = set_errors(&[
        ("a.toml", &rule_toml("c2", "rule('c3')")),
        (
            "b.toml",
            &format!(
                "{}{}",
                rule_toml("c3", "rule('c1')"),
                rule_toml("c1", "rule('c2')")
            ),
        ),
    ]);
    assert_eq!(
        across,
        vec!["a.toml:6:16: dependency cycle between rules: c2 -> c3 -> c1 -> c2"]
    );
    assert_eq!(
        set_errors(&[("s.toml", &rule_toml("self", "rule('self')"))]),
        vec!["s.toml:6:16: rule `self` depends on itself through rule(\"self\")"]
    );
}

#[test]
fn rules_are_evaluated_in_dependency_order() {
    let text = format!(
        "{}{}{}",
        rule_toml("combo", "rule('base') and rule('other')"),
        rule_toml("other", "n > 1"),
        rule_toml("base", "flag")
    );
    let set = RuleSet::new(vec![file(&text, "o.toml")]).unwrap_or_else(|e| panic!("{e:?}"));
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["other", "base", "combo"]);
    let fired = set.evaluate(&json!({"flag": true, "n": 2}));
    let names: Vec<(&str, Vec<String>)> = fired
        .iter()
        .map(|f| {
            (
                set.rules().get(f.rule).map_or("?", |r| r.id.as_str()),
                f.evidence.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("other", vec!["n > 1: 2".to_owned()]),
            ("base", vec!["flag: true".to_owned()]),
            (
                "combo",
                vec!["rule(\"base\")".to_owned(), "rule(\"other\")".to_owned()]
            ),
        ]
    );
    let fired = set.evaluate(&json!({"flag": true, "n": 0}));
    assert_eq!(fired.len(), 1);
}

#[test]
fn disabled_rules_never_fire_and_evidence_paths_are_reported() {
    let text = format!(
        "{}[[rule]]\nid = \"off\"\ndescription = \"d\"\nseverity = \"low\"\nscore = -5\nenabled = false\nwhen = 'flag'\n\n[[rule]]\nid = \"uses-off\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = 'flag and not rule(\"off\")'\nevidence = [\"to.domain\", \"subject\", \"missing\"]\n",
        rule_toml("base", "flag")
    );
    let set = RuleSet::new(vec![file(&text, "d.toml")]).unwrap_or_else(|e| panic!("{e:?}"));
    let r = json!({"flag": true, "subject": "hi", "to": [{"domain": "a.example"}, {"domain": "b.example"}]});
    let fired = set.evaluate(&r);
    let ids: Vec<&str> = fired
        .iter()
        .filter_map(|f| set.rules().get(f.rule).map(|r| r.id.as_str()))
        .collect();
    assert_eq!(ids, vec!["base", "uses-off"]);
    assert_eq!(
        fired.get(1).map(|f| f.evidence.clone()),
        Some(vec![
            "flag: true".to_owned(),
            "not rule(\"off\")".to_owned(),
            "to.domain: [\"a.example\", \"b.example\"]".to_owned(),
            "subject: \"hi\"".to_owned(),
        ])
    );
}

#[test]
fn digest_follows_semantics_not_formatting() {
    let a = format!(
        "{}{}",
        rule_toml("one", "a == 1 and b"),
        rule_toml("two", "c")
    );
    let reformatted = format!(
        "# comment\n{}{}",
        rule_toml("two", "c # same"),
        rule_toml("one", "(a==1)\n   and b")
            .replace("description = \"d\"", "description = \"other words\"")
    );
    let changed = format!(
        "{}{}",
        rule_toml("one", "a == 2 and b"),
        rule_toml("two", "c")
    );
    let digest = |t: &str| {
        RuleSet::new(vec![file(t, "x.toml")])
            .map(|s| s.digest())
            .unwrap_or_default()
    };
    assert_eq!(digest(&a).len(), 16);
    assert_eq!(digest(&a), digest(&reformatted));
    assert_ne!(digest(&a), digest(&changed));
    assert_ne!(digest(&a), digest(&a.replace("score = 1", "score = 2")));
}

#[test]
fn check_paths_reports_unknown_fields_at_their_position() {
    let text = format!(
        "{}[[rule]]\nid = \"two\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = '''\nfrom.domain == \"x\"\n   or urls[0].hots == \"y\"'''\nevidence = [\"from.adress\"]\n",
        rule_toml("one", "count(urls) > 1")
    );
    let set = RuleSet::new(vec![file(&text, "p.toml")]).unwrap_or_else(|e| panic!("{e:?}"));
    let known = |p: &str| {
        (!matches!(p, "urls" | "urls.host" | "from.domain" | "from.address"))
            .then(|| format!("unknown field `{p}`"))
    };
    let errors: Vec<String> = set
        .check_paths(&known)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec![
            "p.toml:15:7: unknown field `urls.hots`",
            "p.toml:16:14: unknown field `from.adress`"
        ]
    );
}

#[test]
fn severity_is_ordered_and_serialises_snake_case() {
    assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
    assert_eq!(
        serde_json::to_string(&Severity::Critical).ok().as_deref(),
        Some("\"critical\"")
    );
    assert_eq!(Severity::from_name("medium"), Some(Severity::Medium));
}

// ------------------------------------------------------------ properties

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|x| json!(x)),
        "[a-zA-Z0-9 .É]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn parser_never_panics(s in ".*") {
        let _ = parse_condition(&s);
    }

    #[test]
    fn parser_never_panics_on_near_miss_conditions(s in r#"[a-c.()\[\]0-9 "'\\=!<>#-]{0,40}|(not |and |or |in |a |b\.c |== |"x" |\( |\) |\[1\] |count\(|any\(|rule\('|, ){0,12}"#) {
        if let Ok(c) = parse_condition(&s) {
            // Whatever parses prints to something that parses to the same text.
            let once = c.to_string();
            prop_assert_eq!(parse_condition(&once).map(|c| c.to_string()).ok(), Some(once));
        }
    }

    #[test]
    fn rule_files_never_panic(s in ".*") {
        let _ = parse_rule_file(&s, "p.toml", &labels());
        let wrapped = format!("[[rule]]\nid = \"p1\"\ndescription = \"d\"\nseverity = \"low\"\nscore = 1\nwhen = \"\"\"{s}\"\"\"\n");
        let _ = parse_rule_file(&wrapped, "p.toml", &labels());
    }

    #[test]
    fn evaluation_never_panics(v in json_value()) {
        let conditions = [
            "a == 'x' or a.b > 1 or c.a.b in ['a', 1, null]",
            "not exists(a) and count(b) >= 2 or len(c[0]) > 1",
            "lower(a.a) contains 'é' or b matches '^[0-9]+$' or a[1][0].c",
            "a != 1.5 and b not in [true] and c ends_with 'z'",
        ];
        for src in conditions {
            let c = cond(src);
            let _ = c.evaluate(&v, &|_| true);
            let wrapped = json!({"a": v.clone(), "b": [v.clone(), v.clone()], "c": {"a": v.clone()}});
            let _ = c.evaluate(&wrapped, &|_| false);
        }
    }
}

// ------------------------------------------------------------- benchmark

fn realistic_record() -> Value {
    json!({
        "size": 10_240,
        "source": "mbox:inbox#17",
        "message_id": "<abc123@mail.paypa1.example>",
        "date": "2024-05-01T10:00:00Z",
        "from": {"name": "PayPal Service", "address": "service@paypa1.example", "domain": "paypa1.example"},
        "reply_to": [{"name": null, "address": "help@gmail.com", "domain": "gmail.com"}],
        "return_path": "bounce@mailer.example",
        "to": [{"name": "Ann", "address": "ann@corp.example", "domain": "corp.example"}],
        "to_count": 1,
        "cc": [],
        "cc_count": 0,
        "subject": "Action required: your account is suspended",
        "received": [{"raw": "from mailer.example (1.2.3.4) by mx.corp.example"}, {"raw": "from localhost by mailer.example"}],
        "origin": {"ip": "1.2.3.4", "helo": "mailer.example", "rdns": "host-1-2-3-4.dyn.isp.example", "country": "NL", "org_domain": "isp.example"},
        "trace_anomalies": [],
        "auth": {
            "from_authenticated": "no",
            "spf": {"result": "softfail", "domain": "mailer.example", "reason": "not permitted"},
            "dkim": [{"result": "none", "domain": null, "detail": {"weak": false}}],
            "dmarc": {"result": "fail", "reason": "no aligned identifier", "detail": {"policy": "reject"}}
        },
        "list": null,
        "x_mailer": "PHPMailer 6.0",
        "mime": {"structure": "multipart/alternative", "part_count": 3, "max_depth": 1, "text_parts": 1, "html_parts": 1},
        "body": {"text": "Dear customer, your account has been suspended. Verify your identity within 24 hours or it will be closed. Click the link below to log in.", "truncated": false},
        "urls": [
            {"url": "https://paypa1-secure.example/login?id=1", "host": "paypa1-secure.example", "found_in": "html_href"},
            {"url": "https://www.paypal.com/privacy", "host": "www.paypal.com", "found_in": "html_href"},
            {"url": "http://bit.ly/abc", "host": "bit.ly", "found_in": "text"}
        ],
        "attachments": [{"filename": "invoice.pdf", "declared_type": "application/pdf", "sniffed_type": "application/pdf", "size": 20480, "inline": false}],
        "defects": [],
        "signals": {
            "content": {"intimidation": {"score": 0.82}, "urgency": {"score": 0.7}, "credentials": {"score": 0.6}},
            "lookalike": {"score": 0.91, "target": "paypal.com"},
            "links": {"lookalike_host": true, "text_mismatch": {"count": 1}}
        }
    })
}

#[test]
fn typical_rules_fire_on_the_realistic_record() {
    let set = RuleSet::new(vec![file(TYPICAL, "typical.toml")]).unwrap_or_else(|e| panic!("{e:?}"));
    let fired = set.evaluate(&realistic_record());
    let ids: Vec<&str> = fired
        .iter()
        .filter_map(|f| set.rules().get(f.rule).map(|r| r.id.as_str()))
        .collect();
    for expected in [
        "spoofed-sender",
        "dmarc-reject-fail",
        "display-name-brand",
        "credential-request",
        "phish-combo",
        "shortener-url",
        "origin-dynamic",
        "free-mail-reply",
    ] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }
    for unexpected in [
        "exec-attachment",
        "trusted-sender",
        "mailing-list",
        "ip-url",
        "many-urls",
    ] {
        assert!(!ids.contains(&unexpected), "{unexpected} fired: {ids:?}");
    }
    let spoofed = fired.iter().find(|f| {
        set.rules()
            .get(f.rule)
            .is_some_and(|r| r.id == "spoofed-sender")
    });
    assert_eq!(
        spoofed.map(|f| f.evidence.clone()),
        Some(vec![
            r#"auth.from_authenticated == "no": "no""#.to_owned(),
            r#"from.address: "service@paypa1.example""#.to_owned(),
            r#"auth.dmarc.reason: "no aligned identifier""#.to_owned(),
        ])
    );
}

/// Prints µs/record for the typical rule set; run with
/// `cargo test --release -p wavetrace-core --lib detect::rules::tests::bench -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run on demand"]
fn bench_typical_rule_set() {
    let set = RuleSet::new(vec![file(TYPICAL, "typical.toml")]).unwrap_or_else(|e| panic!("{e:?}"));
    let hot = realistic_record();
    let mut quiet = realistic_record();
    if let Some(obj) = quiet.as_object_mut() {
        obj.insert("auth".into(), json!({"from_authenticated": "yes", "spf": {"result": "pass"}, "dkim": [{"result": "pass"}], "dmarc": {"result": "pass"}}));
        obj.insert("signals".into(), json!({}));
        obj.insert("reply_to".into(), json!([]));
        obj.insert("subject".into(), json!("Minutes of Tuesday"));
        obj.insert(
            "from".into(),
            json!({"name": "Bob", "address": "bob@partner.example", "domain": "partner.example"}),
        );
    }
    for (name, record) in [("firing", &hot), ("quiet", &quiet)] {
        let n = 20_000;
        let mut fired = 0usize;
        let start = std::time::Instant::now();
        for _ in 0..n {
            fired += std::hint::black_box(set.evaluate(std::hint::black_box(record))).len();
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "{name}: {} rules, {} fired, {per:.2} µs/record",
            set.rules().len(),
            fired / n as usize
        );
    }
}
