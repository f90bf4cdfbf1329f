//! One message through every stage: parse and trace (`wavetrace-core`),
//! authenticate (`wavetrace-auth`, which owns the DNS), then judge
//! (`wavetrace_core::detect`). Shared by `scan`, `reanalyse` and
//! `rules test` so all produce the same record.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use wavetrace_auth::{AuthInput, DnsMode, Verifier, VerifierConfig};
use wavetrace_core::auth::AuthProvenance;
use wavetrace_core::campaign::record_features::unix_time;
use wavetrace_core::detect::Detector;
use wavetrace_core::domain::registrable_domain;
use wavetrace_core::origin::ipdb::{IpDb, IpDbProvenance, IpDbSet};
use wavetrace_core::origin::providers;
use wavetrace_core::parse::{analyse, AnalysisConfig, NotMail, ParseLimits, Sighting};
use wavetrace_core::record::MessageRecord;

/// `--dns`, `--dns-file`, `--dns-server`, `--verify-at`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// DNS for authentication: `off` (receiver claims only, no lookups),
    /// `live`, `snapshot` (answers only from --dns-file, served on 127.0.0.1),
    /// `record` (live, every answer written to --dns-file).
    #[arg(long, value_enum, default_value_t = DnsModeArg::Off)]
    pub dns: DnsModeArg,
    /// The DNS snapshot read (snapshot) or written (record).
    #[arg(long, value_name = "FILE")]
    pub dns_file: Option<PathBuf>,
    /// The resolver for live and record (default: the system's).
    #[arg(long, value_name = "IP:PORT")]
    pub dns_server: Option<SocketAddr>,
    /// When signatures and keys are judged: `arrival` (default), `now`, or an RFC 3339 time.
    #[arg(long, default_value = "arrival")]
    pub verify_at: String,
}

/// `--dns` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DnsModeArg {
    Off,
    Live,
    Snapshot,
    Record,
}

/// Every flag that shapes the analysis, shared by `scan` and `reanalyse`.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub trust: crate::config::TrustArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub enrich: EnrichArgs,
    #[command(flatten)]
    pub detect: crate::detection::DetectArgs,
}

impl PipelineArgs {
    /// Builds the pipeline: `wavetrace.toml` (or `config`) merged with the
    /// flags, default limits, the current time for future-timestamp checks.
    pub fn build(&self, config: Option<&std::path::Path>) -> anyhow::Result<Pipeline> {
        let analysis = AnalysisConfig {
            limits: ParseLimits::default(),
            trust: crate::config::trust_config(config, &self.trust)?,
            now: Some(crate::now_unix()),
        };
        let detector = crate::detection::detector(config, &self.detect)?;
        Pipeline::new(analysis, &self.auth, &self.enrich, detector)
    }
}

/// `--ipdb PATH` (repeatable).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EnrichArgs {
    /// An IP database for the origin's ASN, organisation and country: MaxMind
    /// MMDB or a `start_ip,end_ip,...` CSV range table, plain or zstd (repeatable; the first that knows a field wins).
    #[arg(long, value_name = "PATH")]
    pub ipdb: Vec<PathBuf>,
}

/// Everything a message goes through, built once per command.
pub struct Pipeline {
    pub config: AnalysisConfig,
    pub verifier: Verifier,
    provenance: AuthProvenance,
    ipdb: IpDbSet,
    ipdb_provenance: Vec<IpDbProvenance>,
    detector: Detector,
}

impl Pipeline {
    /// Builds the verifier (and its loopback DNS server in snapshot mode).
    pub fn new(
        config: AnalysisConfig,
        args: &AuthArgs,
        enrich: &EnrichArgs,
        detector: Detector,
    ) -> anyhow::Result<Pipeline> {
        let mut databases = Vec::new();
        for path in &enrich.ipdb {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.to_string_lossy();
            databases.push(
                IpDb::from_bytes(&name, &bytes).with_context(|| format!("{}", path.display()))?,
            );
        }
        let ipdb = IpDbSet::new(databases);
        let ipdb_provenance = ipdb.provenance();
        let mode = match args.dns {
            DnsModeArg::Off => DnsMode::Off,
            DnsModeArg::Live => DnsMode::Live,
            DnsModeArg::Snapshot => DnsMode::Snapshot,
            DnsModeArg::Record => DnsMode::Record,
        };
        let verify_at = wavetrace_auth::parse_verify_at(&args.verify_at)?;
        let verifier = Verifier::new(VerifierConfig {
            mode,
            dns_file: args.dns_file.clone(),
            dns_server: args.dns_server,
            verify_at,
            ..VerifierConfig::default()
        })
        .context("setting up authentication")?;
        let provenance = verifier.provenance();
        Ok(Pipeline {
            config,
            verifier,
            provenance,
            ipdb,
            ipdb_provenance,
            detector,
        })
    }

    /// The pipeline `rules test` runs examples through: default limits and
    /// inferred trust, DNS off, no IP databases.
    pub fn for_examples(detector: Detector) -> anyhow::Result<Pipeline> {
        let auth = AuthArgs {
            dns: DnsModeArg::Off,
            dns_file: None,
            dns_server: None,
            verify_at: "arrival".to_string(),
        };
        Pipeline::new(
            AnalysisConfig::default(),
            &auth,
            &EnrichArgs::default(),
            detector,
        )
    }

    /// The detector judging the records.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Analyses one message: the record with its `auth`, or why it is not mail.
    pub fn analyse(&self, raw: &[u8], sighting: &Sighting) -> Result<MessageRecord, NotMail> {
        let mut record = analyse(raw, sighting, &self.config)?;
        self.enrich(&mut record);
        self.authenticate(&mut record, raw);
        self.detector.judge(&mut record);
        Ok(record)
    }

    fn enrich(&self, record: &mut MessageRecord) {
        if self.ipdb.is_empty() {
            return;
        }
        if let Some(origin) = record.origin.as_mut() {
            if let Some(ip) = origin.ip {
                let info = self.ipdb.lookup(ip);
                origin.network = (!info.is_empty()).then_some(info);
            }
        }
        record.analysis.ipdb = self.ipdb_provenance.clone();
    }

    fn authenticate(&self, record: &mut MessageRecord, raw: &[u8]) {
        let ids = self.trusted_authserv_ids(record);
        let origin = record.origin.as_ref();
        let input = AuthInput {
            ip: origin.and_then(|o| o.ip),
            helo: origin.and_then(|o| o.helo.as_deref()),
            mail_from: record.return_path.as_deref(),
            arrival: record
                .arrival_time
                .as_deref()
                .and_then(unix_time)
                .and_then(|t| u64::try_from(t).ok()),
            boundary: record.trust_boundary,
            trusted_authserv_ids: &ids,
            raw,
        };
        record.auth = Some(self.verifier.verify(&input));
        record.analysis.auth = Some(self.provenance.clone());
    }

    /// The receiving organisation's authserv-ids: the configured ones, plus
    /// what its own (trusted) servers are called: for a known provider
    /// (Microsoft writes `mx.microsoft.com` and `protection.outlook.com` from
    /// servers named `*.outlook.com`) all of the provider's domains, else the
    /// registrable domain of each trusted server's name.
    fn trusted_authserv_ids(&self, record: &MessageRecord) -> Vec<String> {
        let mut ids = self.config.trust.authserv_ids.clone();
        let Some(boundary) = record.trust_boundary else {
            return ids;
        };
        for host in record
            .received
            .iter()
            .take(boundary + 1)
            .filter_map(|h| h.hop.by_host.as_deref())
        {
            match providers::by_host(host) {
                Some(p) => ids.extend(p.domains.iter().cloned()),
                None => {
                    ids.extend(registrable_domain(host).or_else(|| Some(host.to_ascii_lowercase())))
                }
            }
        }
        ids.sort();
        ids.dedup();
        ids
    }

    /// Writes the DNS recording (`--dns record`); nothing in other modes.
    pub fn finish(&self) -> anyhow::Result<()> {
        self.verifier
            .write_recording()
            .context("writing the DNS recording")
    }
}
