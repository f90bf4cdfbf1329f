//! Detection setup for the commands (which rules, protected entities and
//! thresholds: shipped, `wavetrace.toml`'s `[detect]`, and the flags), and
//! `wavetrace rules check | test | list`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::DetectSection;
use wavetrace_core::detect::entities::{Entity, ProtectedEntities};
use wavetrace_core::detect::rules::{parse_rule_file, RuleError, RuleFile};
use wavetrace_core::detect::{self, Detector, Thresholds};
use wavetrace_core::parse::Sighting;

/// `--rules`, `--no-default-rules`, `--entities`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DetectArgs {
    /// A rule file, or a directory of `*.toml` rule files, added to the shipped rules (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Judge with the given rules only, without the shipped set.
    #[arg(long)]
    pub no_default_rules: bool,
    /// A protected-entities file added to the shipped list (repeatable; format of data/protected_entities.toml).
    #[arg(long = "entities", value_name = "FILE")]
    pub entities: Vec<PathBuf>,
}

/// Every rule error of a rule set, located; `wavetrace rules` exits 3 on it.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_errors(.0))]
pub struct RuleErrors(pub Vec<RuleError>);

fn render_errors(errors: &[RuleError]) -> String {
    let mut out = format!("{} rule error(s):", errors.len());
    for e in errors {
        out.push_str(&format!("\n  {e}"));
    }
    out
}

/// The configuration file's `[detect]` section, its paths made relative
/// to the file's folder.
fn detect_section(config: Option<&Path>) -> anyhow::Result<DetectSection> {
    let (file, file_path) = crate::config::file_config(config)?;
    let base = file_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut section = file.detect;
    for path in section.rules.iter_mut().chain(section.entities.iter_mut()) {
        *path = base.join(&*path);
    }
    Ok(section)
}

/// The rule files in effect: the shipped ones (unless `--no-default-rules`),
/// the configuration file's, then the flags'.
fn rule_files(section: &DetectSection, args: &DetectArgs) -> anyhow::Result<Vec<RuleFile>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    if !args.no_default_rules {
        match detect::builtin_rule_files() {
            Ok(f) => files.extend(f),
            Err(e) => errors.extend(e),
        }
    }
    let paths = section.rules.iter().chain(&args.rules);
    let labels = detect::label_set();
    for path in paths {
        for file in toml_files(path)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            match parse_rule_file(&text, &file.display().to_string(), &labels) {
                Ok(f) => files.push(f),
                Err(e) => errors.extend(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RuleErrors(errors).into())
    }
}

/// A file, or the `*.toml` files of a directory in name order.
fn toml_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        if !path.exists() {
            anyhow::bail!("{}: no such rule file or directory", path.display());
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The organisation's protected entities (configuration file, then flags).
fn extra_entities(section: &DetectSection, args: &DetectArgs) -> anyhow::Result<Vec<Entity>> {
    let mut out = Vec::new();
    for path in section.entities.iter().chain(&args.entities) {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        out.extend(ProtectedEntities::parse(
            &text,
            &path.display().to_string(),
        )?);
    }
    Ok(out)
}

/// The thresholds: shipped, with the configuration file's overrides.
fn thresholds(section: &DetectSection) -> anyhow::Result<Thresholds> {
    let shipped = Thresholds::builtin();
    Thresholds {
        suspicious: section.suspicious.unwrap_or(shipped.suspicious),
        malicious: section.malicious.unwrap_or(shipped.malicious),
    }
    .checked()
    .map_err(|e| anyhow::anyhow!("[detect] thresholds: {e}"))
}

/// The detector for `scan`, `reanalyse` and `rules test`.
pub fn detector(config: Option<&Path>, args: &DetectArgs) -> anyhow::Result<Detector> {
    let section = detect_section(config)?;
    let files = rule_files(&section, args)?;
    Detector::new(
        files,
        extra_entities(&section, args)?,
        thresholds(&section)?,
    )
    .map_err(|e| RuleErrors(e).into())
}

/// `wavetrace rules check`: every file parses, every condition compiles,
/// ids are unique, references resolve, no cycles.
pub fn check(config: Option<&Path>, args: &DetectArgs) -> anyhow::Result<ExitCode> {
    match detector(config, args) {
        Ok(d) => {
            let p = d.provenance();
            outln!(
                "ok: {} rules from {} files, rule set {}",
                p.count,
                p.sources.len(),
                p.digest
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.downcast_ref::<RuleErrors>().is_some() => {
            eprintln!("{e}");
            Ok(ExitCode::from(3))
        }
        Err(e) => Err(e),
    }
}

/// `wavetrace rules list`: one line per rule.
pub fn list(config: Option<&Path>, args: &DetectArgs) -> anyhow::Result<ExitCode> {
    let d = detector(config, args)?;
    outln!(
        "{:<34} {:<9} {:>5}  {:<40} source",
        "id",
        "severity",
        "score",
        "labels"
    )?;
    for r in d.rules().rules() {
        outln!(
            "{:<34} {:<9} {:>5}  {:<40} {}:{}",
            r.id,
            wavetrace_core::record::json_token(&r.severity),
            r.score,
            r.labels.join(","),
            r.origin,
            r.line
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `wavetrace rules test`: runs every rule's examples through the same
/// pipeline as `scan` (DNS off, trust inferred, no configuration file
/// trust settings, so examples judge the same everywhere) and checks that
/// the rule fires on `match` examples and stays quiet on `no-match` ones.
pub fn test(
    config: Option<&Path>,
    args: &DetectArgs,
    only: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let detector = detector(config, args)?;
    if let Some(id) = only {
        if !detector.rules().rules().iter().any(|r| r.id == id) {
            eprintln!("no rule has the id {id:?} (wavetrace rules list)");
            return Ok(ExitCode::from(3));
        }
    }
    let pipeline = crate::pipeline::Pipeline::for_examples(detector)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for rule in pipeline.detector().rules().rules() {
        if only.is_some_and(|id| id != rule.id) {
            continue;
        }
        for (n, example) in rule.examples.iter().enumerate() {
            let sighting = Sighting {
                source: format!("{}:{}", rule.origin, example.line),
                ..Sighting::default()
            };
            let outcome = match pipeline.analyse(example.message.as_bytes(), &sighting) {
                Err(not_mail) => Err(format!("not mail: {not_mail}")),
                Ok(record) => {
                    let fired = record
                        .findings
                        .iter()
                        .any(|f| f.rule.as_ref().is_some_and(|h| h.id == rule.id));
                    if fired == example.expect_match {
                        Ok(())
                    } else {
                        let others: Vec<&str> = record
                            .findings
                            .iter()
                            .filter_map(|f| f.rule.as_ref().map(|h| h.id.as_str()))
                            .collect();
                        Err(format!(
                            "expected {}, but it {} (rules that fired: {})",
                            if example.expect_match {
                                "a match"
                            } else {
                                "no match"
                            },
                            if fired { "fired" } else { "did not fire" },
                            if others.is_empty() {
                                "none".to_string()
                            } else {
                                others.join(", ")
                            }
                        ))
                    }
                }
            };
            match outcome {
                Ok(()) => passed += 1,
                Err(why) => {
                    failed += 1;
                    outln!(
                        "FAIL {} example {} ({}:{}): {why}",
                        rule.id,
                        n + 1,
                        rule.origin,
                        example.line
                    )?;
                }
            }
        }
    }
    outln!("rule examples: {passed} passed, {failed} failed")?;
    Ok(if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
