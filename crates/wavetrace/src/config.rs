//! `wavetrace.toml`: the per-organisation configuration, merged with the
//! command line (command-line values are added to the file's).
//!
//! ```toml
//! [trust]
//! # The receiving organisation's own servers (host names; a leading dot
//! # matches the domain and every name under it).
//! trusted_hosts = ["mx1.example.org", ".corp.example.org"]
//! # Their networks (first match wins; a leading ! excludes).
//! trusted_networks = ["192.0.2.0/24", "!192.0.2.99/32"]
//! # The authserv-ids of the organisation's Authentication-Results.
//! authserv_ids = ["mx1.example.org"]
//! # Trusted mail submission agents (the client they accepted is trusted).
//! msa_networks = []
//! ```

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use wavetrace_core::origin::{IpNetwork, TrustConfig};

/// The file's contents; unknown keys are errors (a typo must not silently
/// change where trust ends).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub trust: TrustSection,
    #[serde(default)]
    pub detect: DetectSection,
}

/// `[detect]`: the organisation's own rules and protected entities.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSection {
    /// Rule files or directories of `*.toml` rule files, added to the shipped set.
    #[serde(default)]
    pub rules: Vec<std::path::PathBuf>,
    /// Protected-entities files (the format of `data/protected_entities.toml`).
    #[serde(default)]
    pub entities: Vec<std::path::PathBuf>,
    /// Lowest score judged suspicious (default: `data/verdict.toml`).
    pub suspicious: Option<i32>,
    /// Lowest score judged malicious.
    pub malicious: Option<i32>,
}

/// The configuration file in effect: `path` when given (it must exist),
/// else `./wavetrace.toml` when present, else the defaults.
pub fn file_config(
    path: Option<&Path>,
) -> anyhow::Result<(FileConfig, Option<std::path::PathBuf>)> {
    let default = Path::new("wavetrace.toml");
    let file = match path {
        Some(p) => Some(p),
        None if default.exists() => Some(default),
        None => None,
    };
    match file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let cfg =
                toml::from_str::<FileConfig>(&text).with_context(|| format!("{}", p.display()))?;
            Ok((cfg, Some(p.to_path_buf())))
        }
        None => Ok((FileConfig::default(), None)),
    }
}

/// `[trust]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    #[serde(default)]
    pub trusted_hosts: Vec<String>,
    #[serde(default)]
    pub trusted_networks: Vec<String>,
    #[serde(default)]
    pub authserv_ids: Vec<String>,
    #[serde(default)]
    pub msa_networks: Vec<String>,
}

/// Command-line trust settings, added to the file's.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct TrustArgs {
    /// A host name of the receiving organisation's own servers (repeatable; `.example.org` for a whole domain).
    #[arg(long = "trusted-host", value_name = "HOST")]
    pub trusted_hosts: Vec<String>,
    /// A network of the receiving organisation's own servers, CIDR (repeatable; `!` excludes).
    #[arg(long = "trusted-network", value_name = "CIDR")]
    pub trusted_networks: Vec<String>,
    /// An authserv-id of the organisation's Authentication-Results (repeatable).
    #[arg(long = "authserv-id", value_name = "ID")]
    pub authserv_ids: Vec<String>,
}

/// Reads `path` (when given, it must exist; otherwise `./wavetrace.toml` is
/// read if present) and merges the command line into a [`TrustConfig`].
pub fn trust_config(path: Option<&Path>, args: &TrustArgs) -> anyhow::Result<TrustConfig> {
    let mut cfg = file_config(path)?.0.trust;
    cfg.trusted_hosts.extend(args.trusted_hosts.iter().cloned());
    cfg.trusted_networks
        .extend(args.trusted_networks.iter().cloned());
    cfg.authserv_ids.extend(args.authserv_ids.iter().cloned());
    Ok(TrustConfig {
        trusted_hosts: cfg
            .trusted_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        trusted_networks: networks(&cfg.trusted_networks, "trusted_networks")?,
        authserv_ids: cfg
            .authserv_ids
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        msa_networks: networks(&cfg.msa_networks, "msa_networks")?,
    })
}

fn networks(list: &[String], what: &str) -> anyhow::Result<Vec<IpNetwork>> {
    list.iter()
        .map(|n| {
            n.parse::<IpNetwork>()
                .with_context(|| format!("{what}: {n:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_command_line_merge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wavetrace.toml");
        std::fs::write(&path, "[trust]\ntrusted_hosts = [\"MX1.example.org\"]\ntrusted_networks = [\"192.0.2.0/24\"]\n").unwrap();
        let args = TrustArgs {
            trusted_networks: vec!["!192.0.2.9/32".into()],
            ..Default::default()
        };
        let cfg = trust_config(Some(&path), &args).unwrap();
        assert_eq!(cfg.trusted_hosts, vec!["mx1.example.org"]);
        assert_eq!(cfg.trusted_networks.len(), 2);
    }

    #[test]
    fn typos_and_bad_networks_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wavetrace.toml");
        std::fs::write(&path, "[trust]\ntrusted_host = [\"x\"]\n").unwrap();
        assert!(trust_config(Some(&path), &TrustArgs::default()).is_err());
        std::fs::write(&path, "[trust]\ntrusted_networks = [\"300.0.0.0/8\"]\n").unwrap();
        let err = trust_config(Some(&path), &TrustArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("300.0.0.0/8"));
    }
}
