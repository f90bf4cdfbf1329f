//! The verifier: built once per scan for a DNS mode, called from many threads.
//!
//! It owns ONE tokio current-thread runtime, driven by one dedicated thread
//! (`wavetrace-dns`) that runs the loopback DNS server and the resolver's
//! sockets. [`Verifier::verify`] is synchronous: each caller (a rayon worker)
//! polls its own verification future with `Handle::block_on`, so the
//! cryptography runs in parallel on the callers' threads while all I/O is
//! driven by the runtime thread.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use mail_auth::common::crypto::Algorithm;
use mail_auth::common::verify::VerifySignature;
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::SpfReason;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, DnsError, Error as MailAuthError,
    MessageAuthenticator, SpfOutput, SpfResult,
};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::claims::{self, HeaderField, TrustContext};
use crate::dmarc_record::{self, DmarcDiscovery};
use crate::snapshot::{Answer, RecordType, Snapshot};
use crate::time::{format_rfc3339, now_unix};
use crate::verdict::*;
use crate::{server, AuthError};

/// What origin tracing hands to authentication for one message.
#[derive(Debug, Clone, Copy)]
pub struct AuthInput<'a> {
    /// The connecting IP of the first trusted hop (the origin), if known.
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO name the origin gave, if known.
    pub helo: Option<&'a str>,
    /// The envelope sender (MAIL FROM, from Return-Path); `Some("")` is the
    /// null sender `<>`, for which SPF checks the HELO (RFC 7208 2.4).
    pub mail_from: Option<&'a str>,
    /// Arrival time at the trusted receiver, Unix seconds.
    pub arrival: Option<u64>,
    /// Index in the Received list (0 = topmost) of the field written by the
    /// first trusted receiver: claims below it were inserted before receipt.
    pub boundary: Option<usize>,
    /// authserv-ids of the trusted receiving organisation.
    pub trusted_authserv_ids: &'a [String],
    /// The raw message.
    pub raw: &'a [u8],
}

/// How to build a [`Verifier`]: the `--dns*` and `--verify-at` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// `--dns off|live|snapshot|record`.
    pub mode: DnsMode,
    /// `--dns-file`: read in `snapshot` mode, written in `record` mode.
    pub dns_file: Option<PathBuf>,
    /// `--dns-server IP:PORT`: the resolver for `live` and `record` (system
    /// configuration when absent).
    pub dns_server: Option<SocketAddr>,
    /// `--verify-at`.
    pub verify_at: VerifyAt,
    /// Per-query timeout.
    pub timeout: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            mode: DnsMode::Off,
            dns_file: None,
            dns_server: None,
            verify_at: VerifyAt::Arrival,
            timeout: Duration::from_secs(3),
        }
    }
}

struct Runtime {
    handle: Handle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Dns {
    authenticator: MessageAuthenticator,
    runtime: Runtime,
}

/// Verifies SPF, DKIM, DMARC and ARC for a scan. Safe to share between threads.
pub struct Verifier {
    config: VerifierConfig,
    dns: Option<Dns>,
    snapshot: Option<Arc<Snapshot>>,
    recording: Option<(Arc<Mutex<Snapshot>>, SocketAddr)>,
    psl: Option<publicsuffix::List>,
}

/// The public suffix list shipped in `data/` (RFC 7489 3.2 organisational domains).
const PUBLIC_SUFFIX_LIST: &str = include_str!("../../../data/public_suffix_list.dat");

impl Verifier {
    /// Builds a verifier for `config`: reads the snapshot, starts the loopback
    /// server and the runtime thread as the mode requires.
    pub fn new(config: VerifierConfig) -> Result<Self, AuthError> {
        match config.mode {
            DnsMode::Off => Self::build(config, None, None),
            DnsMode::Snapshot => {
                let path = config.dns_file.clone().ok_or(AuthError::MissingDnsFile)?;
                let text = std::fs::read_to_string(&path).map_err(|source| AuthError::Io {
                    path: path.clone(),
                    source,
                })?;
                let snapshot = Snapshot::parse(&text)?;
                Self::build(config, Some(snapshot), None)
            }
            DnsMode::Record => {
                if config.dns_file.is_none() {
                    return Err(AuthError::MissingDnsFile);
                }
                let upstream = match config.dns_server {
                    Some(server) => server,
                    None => system_nameserver()?,
                };
                Self::build(config, None, Some(upstream))
            }
            DnsMode::Live => Self::build(config, None, None),
        }
    }

    /// A `snapshot`-mode verifier over an in-memory snapshot (tests, suites).
    pub fn from_snapshot(
        snapshot: Snapshot,
        verify_at: VerifyAt,
        timeout: Duration,
    ) -> Result<Self, AuthError> {
        let config = VerifierConfig {
            mode: DnsMode::Snapshot,
            verify_at,
            timeout,
            ..VerifierConfig::default()
        };
        Self::build(config, Some(snapshot), None)
    }

    fn build(
        config: VerifierConfig,
        snapshot: Option<Snapshot>,
        upstream: Option<SocketAddr>,
    ) -> Result<Self, AuthError> {
        let psl = PUBLIC_SUFFIX_LIST.parse::<publicsuffix::List>().ok();
        if config.mode == DnsMode::Off {
            return Ok(Self {
                config,
                dns: None,
                snapshot: None,
                recording: None,
                psl,
            });
        }
        let runtime = start_runtime()?;
        let snapshot = snapshot.map(Arc::new);
        let mut recording = None;
        let resolver_addr = match (config.mode, &snapshot, upstream) {
            (DnsMode::Snapshot, Some(snapshot), _) => Some(
                server::start(
                    &runtime.handle,
                    server::Backend::Snapshot(Arc::clone(snapshot)),
                )
                .map_err(AuthError::Server)?,
            ),
            (DnsMode::Record, _, Some(upstream)) => {
                let recorded = Arc::new(Mutex::new(Snapshot::new()));
                let addr = server::start(
                    &runtime.handle,
                    server::Backend::Record {
                        upstream,
                        recorded: Arc::clone(&recorded),
                        timeout: config.timeout,
                    },
                )
                .map_err(AuthError::Server)?;
                recording = Some((recorded, upstream));
                Some(addr)
            }
            _ => config.dns_server,
        };
        let authenticator = {
            let _guard = runtime.handle.enter();
            build_authenticator(resolver_addr, config.timeout)?
        };
        Ok(Self {
            config,
            dns: Some(Dns {
                authenticator,
                runtime,
            }),
            snapshot,
            recording,
            psl,
        })
    }

    /// The provenance of this scan's verdicts, for the record's `analysis` block.
    pub fn provenance(&self) -> AuthProvenance {
        AuthProvenance {
            dns_mode: self.config.mode,
            dns_file: self
                .config
                .dns_file
                .as_ref()
                .map(|p| p.display().to_string()),
            snapshot_captured: self.snapshot.as_ref().and_then(|s| s.captured.clone()),
            resolver: match (&self.snapshot, &self.recording, self.config.dns_server) {
                (Some(s), _, _) => s.resolver.clone(),
                (_, Some((_, upstream)), _) => Some(upstream.to_string()),
                (_, _, Some(server)) => Some(server.to_string()),
                _ => None,
            },
            verify_at: self.config.verify_at,
        }
    }

    /// In `record` mode: everything recorded so far, with its header filled in.
    pub fn recorded(&self) -> Option<Snapshot> {
        let (recorded, upstream) = self.recording.as_ref()?;
        let mut snapshot = recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        snapshot.captured = Some(format_rfc3339(now_unix()));
        snapshot.resolver = Some(upstream.to_string());
        Some(snapshot)
    }

    /// In `record` mode: writes the recording to `--dns-file`. Call once the
    /// scan is done; calling it in other modes does nothing.
    pub fn write_recording(&self) -> Result<(), AuthError> {
        let (Some(snapshot), Some(path)) = (self.recorded(), self.config.dns_file.as_ref()) else {
            return Ok(());
        };
        std::fs::write(path, snapshot.render()).map_err(|source| AuthError::Io {
            path: path.clone(),
            source,
        })
    }

    /// The instant signatures are judged at for a message (`--verify-at`).
    pub fn verification_time(&self, arrival: Option<u64>) -> u64 {
        match self.config.verify_at {
            VerifyAt::Now => now_unix(),
            VerifyAt::Arrival => arrival.unwrap_or_else(now_unix),
            VerifyAt::Fixed(at) => at,
        }
    }

    /// Verifies one message. Never panics on input and never fails: what
    /// could not be checked is reported as such in the results.
    pub fn verify(&self, input: &AuthInput<'_>) -> AuthResults {
        let fields = claims::header_fields(input.raw);
        let trust = TrustContext {
            boundary_header: claims::boundary_header(&fields, input.boundary),
            trusted_ids: input.trusted_authserv_ids,
        };
        let claimed = claims::collect(&fields, trust);
        let from_domain = from_domain(&fields);
        let mut results = match &self.dns {
            None => AuthResults {
                spf: None,
                dkim: Vec::new(),
                dmarc: None,
                arc: None,
                claimed: Vec::new(),
                from_authenticated: FromAuthenticated::Unknown,
                verified_at: None,
            },
            Some(dns) => {
                let now = self.verification_time(input.arrival);
                dns.runtime
                    .handle
                    .block_on(self.compute(&dns.authenticator, input, now))
            }
        };
        results.claimed = claimed;
        fill_from_claims(&mut results, from_domain.as_deref(), self.psl.as_ref());
        results.from_authenticated = from_authenticated(&results);
        results
    }

    async fn compute(
        &self,
        authenticator: &MessageAuthenticator,
        input: &AuthInput<'_>,
        now: u64,
    ) -> AuthResults {
        let mail_from = input.mail_from.map(|m| {
            m.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
        });
        let helo = input.helo.map(str::trim).filter(|h| !h.is_empty());

        // SPF (RFC 7208): MAIL FROM, or HELO for the null sender.
        let spf_output = match (input.ip, mail_from, helo) {
            (Some(ip), Some(sender), helo) if !sender.is_empty() => Some((
                authenticator
                    .verify_spf(SpfParameters::verify_mail_from(
                        ip,
                        helo.unwrap_or(""),
                        "unknown",
                        sender,
                    ))
                    .await,
                SpfIdentity::Mailfrom,
                ip,
            )),
            (Some(ip), _, Some(helo)) => Some((
                authenticator
                    .verify_spf(SpfParameters::verify_ehlo(ip, helo, "unknown"))
                    .await,
                SpfIdentity::Helo,
                ip,
            )),
            _ => None,
        };
        let spf_domain_for_dmarc = spf_output
            .as_ref()
            .map(|(o, _, _)| o.domain().to_string())
            .unwrap_or_default();

        let Some(message) = AuthenticatedMessage::parse(input.raw) else {
            let spf = spf_output.map(|(o, id, ip)| self.spf_verdict(&o, id, ip, None));
            return AuthResults {
                spf,
                dkim: Vec::new(),
                dmarc: None,
                arc: None,
                claimed: Vec::new(),
                from_authenticated: FromAuthenticated::Unknown,
                verified_at: Some(now),
            };
        };

        let dkim_outputs = authenticator.verify_dkim_at(&message, now).await;
        let arc_output = authenticator.verify_arc_at(&message, now).await;
        let fallback_spf = SpfOutput::default();
        let spf_for_dmarc = spf_output
            .as_ref()
            .map(|(o, _, _)| o)
            .unwrap_or(&fallback_spf);
        let dmarc_output = authenticator
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim_outputs,
                &spf_domain_for_dmarc,
                spf_for_dmarc,
            ))
            .await;

        let from = from_of(&message);
        let discovery = match &from {
            Some(from) => {
                Some(dmarc_record::discover(authenticator, from, self.psl.as_ref()).await)
            }
            None => None,
        };
        let ctx = AlignCtx {
            from: from.as_deref(),
            discovery: discovery.as_ref(),
            psl: self.psl.as_ref(),
        };

        let spf = spf_output.map(|(o, id, ip)| self.spf_verdict(&o, id, ip, Some(&ctx)));
        let dkim = dkim_outputs
            .iter()
            .map(|o| self.dkim_verdict(o, now, &ctx))
            .collect::<Vec<_>>();
        let dmarc = self.dmarc_verdict(&dmarc_output, &message, &ctx);
        let mut arc = self.arc_verdict(&arc_output);
        if arc.result == AuthResult::Pass {
            arc.detail.oldest_pass = authenticator
                .arc_oldest_pass(&message, &arc_output, now)
                .await;
        }

        AuthResults {
            spf,
            dkim,
            dmarc: Some(dmarc),
            arc: Some(arc),
            claimed: Vec::new(),
            from_authenticated: FromAuthenticated::Unknown,
            verified_at: Some(now),
        }
    }

    /// Explains a DNS failure: "no evidence in snapshot" when the snapshot
    /// has nothing for the question, otherwise the resolver's error.
    fn dns_failure(&self, name: &str, rtype: RecordType, error: &str) -> String {
        if let Some(snapshot) = &self.snapshot {
            if snapshot.answer(name, rtype) == Answer::NoEvidence {
                return format!(
                    "no evidence in snapshot for {} {}",
                    name.trim_end_matches('.'),
                    rtype.as_str()
                );
            }
        }
        format!("DNS error for {}: {error}", name.trim_end_matches('.'))
    }

    fn spf_verdict(
        &self,
        output: &SpfOutput,
        identity: SpfIdentity,
        ip: IpAddr,
        ctx: Option<&AlignCtx<'_>>,
    ) -> Verdict<SpfDetail> {
        let result = match output.result() {
            SpfResult::Pass => AuthResult::Pass,
            SpfResult::Fail => AuthResult::Fail,
            SpfResult::SoftFail => AuthResult::Softfail,
            SpfResult::Neutral => AuthResult::Neutral,
            SpfResult::TempError => AuthResult::Temperror,
            SpfResult::PermError => AuthResult::Permerror,
            SpfResult::None => AuthResult::None,
        };
        let reason = match output.reason() {
            None => format!("SPF {}", result.as_str()),
            Some(reason) => self.spf_reason(reason, ip),
        };
        let domain = output.domain().trim_end_matches('.').to_ascii_lowercase();
        let (aligned, alignment_mode) = match ctx {
            Some(ctx) if !domain.is_empty() => ctx.aligned(&domain, |d| d.aspf),
            _ => (None, None),
        };
        Verdict {
            result,
            domain: (!domain.is_empty()).then_some(domain),
            aligned,
            alignment_mode,
            reason,
            source: Source::Computed,
            detail: SpfDetail {
                identity: Some(identity),
                ip: Some(ip.to_string()),
            },
        }
    }

    fn spf_reason(&self, reason: &SpfReason, ip: IpAddr) -> String {
        match reason {
            SpfReason::InvalidDomain => "not a valid domain name (RFC 7208 4.3)".to_string(),
            SpfReason::NoRecord { domain } => format!("no SPF record at {domain}"),
            SpfReason::MultipleRecords { domain } => {
                format!("two SPF records at {domain} (RFC 7208 4.5)")
            }
            SpfReason::InvalidRecord {
                domain,
                detail: Some(detail),
            } => format!("{detail} in the SPF record of {domain} (RFC 7208)"),
            SpfReason::InvalidRecord { domain, .. } => {
                format!("syntax error in the SPF record of {domain}")
            }
            SpfReason::LookupLimit => "more than 10 DNS lookups (RFC 7208 4.6.4)".to_string(),
            SpfReason::VoidLookupLimit => {
                "more than 2 void DNS lookups (RFC 7208 4.6.4)".to_string()
            }
            SpfReason::MxLimit => "more than 10 MX names to look up (RFC 7208 4.6.4)".to_string(),
            SpfReason::TargetWithoutRecord { domain } => {
                format!("include or redirect target {domain} has no SPF record")
            }
            SpfReason::Dns { name, error } => {
                let rtype = if error.contains("TXT") {
                    RecordType::Txt
                } else {
                    RecordType::A
                };
                let mut text = self.dns_failure(name, RecordType::Txt, error);
                if !text.starts_with("no evidence") {
                    text = self.dns_failure(name, rtype, error);
                }
                text
            }
            SpfReason::Matched { domain, mechanism } => {
                format!("{ip} matched {mechanism} in the SPF record of {domain}")
            }
            SpfReason::NoMatch { domain } => {
                format!("{ip} matched no mechanism in the SPF record of {domain}")
            }
        }
    }

    fn dkim_verdict(
        &self,
        output: &DkimOutput<'_>,
        now: u64,
        ctx: &AlignCtx<'_>,
    ) -> Verdict<DkimDetail> {
        let signature = output.signature();
        let algorithm = signature.map(|s| match s.algorithm() {
            Algorithm::RsaSha1 => DkimAlgorithm::RsaSha1,
            Algorithm::RsaSha256 => DkimAlgorithm::RsaSha256,
            Algorithm::Ed25519Sha256 => DkimAlgorithm::Ed25519Sha256,
        });
        let weak = algorithm == Some(DkimAlgorithm::RsaSha1);
        let key_name = signature.map(|s| s.domain_key()).unwrap_or_default();
        let (result, reason) = match output.result() {
            DkimResult::Pass if weak => (
                AuthResult::Pass,
                "signature verified, but with rsa-sha1, which is weak (RFC 8301)".to_string(),
            ),
            DkimResult::Pass => (AuthResult::Pass, "signature verified".to_string()),
            DkimResult::Fail(err) => (
                AuthResult::Fail,
                self.dkim_reason(err, &key_name, now, signature),
            ),
            DkimResult::Neutral(err) => (
                AuthResult::Neutral,
                self.dkim_reason(err, &key_name, now, signature),
            ),
            DkimResult::PermError(err) => (
                AuthResult::Permerror,
                self.dkim_reason(err, &key_name, now, signature),
            ),
            DkimResult::TempError(err) => (
                AuthResult::Temperror,
                self.dkim_reason(err, &key_name, now, signature),
            ),
            DkimResult::None => (AuthResult::None, "no signature".to_string()),
        };
        let domain = signature.map(|s| s.d.trim_end_matches('.').to_ascii_lowercase());
        let (aligned, alignment_mode) = match &domain {
            Some(d) => ctx.aligned(d, |r| r.adkim),
            None => (None, None),
        };
        Verdict {
            result,
            domain,
            aligned,
            alignment_mode,
            reason,
            source: Source::Computed,
            detail: DkimDetail {
                selector: signature.map(|s| s.s.clone()),
                algorithm,
                weak,
                signed_at: signature.map(|s| s.t).filter(|t| *t != 0),
                expires_at: signature.map(|s| s.x).filter(|x| *x != 0),
                claimed_selector: None,
            },
        }
    }

    fn dkim_reason(
        &self,
        err: &MailAuthError,
        key_name: &str,
        now: u64,
        signature: Option<&mail_auth::dkim::Signature>,
    ) -> String {
        match err {
            MailAuthError::Dkim(DkimError::FailedBodyHashMatch) => "body hash mismatch".to_string(),
            MailAuthError::Dkim(DkimError::SignatureExpired) => format!(
                "signature expired at verification time {} (x={})",
                format_rfc3339(now),
                signature.map_or(String::new(), |s| format_rfc3339(s.x))
            ),
            MailAuthError::Dkim(DkimError::RevokedPublicKey) => {
                format!(
                    "key revoked: empty p= at {}",
                    key_name.trim_end_matches('.')
                )
            }
            MailAuthError::Dkim(DkimError::FailedAuidMatch) => {
                "i= is not d= although the key has t=s (RFC 6376 3.6.1)".to_string()
            }
            MailAuthError::Crypto(mail_auth::common::crypto::CryptoError::FailedVerification) => {
                "signature does not verify (headers changed or wrong key)".to_string()
            }
            MailAuthError::Dns(DnsError::RecordNotFound(_)) => {
                format!("no key record at {}", key_name.trim_end_matches('.'))
            }
            MailAuthError::Dns(DnsError::InvalidRecordType) | MailAuthError::ParseError => {
                format!("no valid key record at {}", key_name.trim_end_matches('.'))
            }
            MailAuthError::Dns(DnsError::Resolver(e)) => {
                self.dns_failure(key_name, RecordType::Txt, e)
            }
            other => other.to_string(),
        }
    }

    fn dmarc_verdict(
        &self,
        output: &mail_auth::DmarcOutput,
        message: &AuthenticatedMessage<'_>,
        ctx: &AlignCtx<'_>,
    ) -> Verdict<DmarcDetail> {
        let spf = output.spf_result();
        let dkim = output.dkim_result();
        let record = output.dmarc_record();
        let discovery = ctx.discovery;
        let mut detail = DmarcDetail::default();
        if let Some(d) = discovery {
            detail.published_policy = d.record.as_ref().and_then(|r| r.p);
            detail.subdomain_policy = d.record.as_ref().and_then(|r| r.sp);
            detail.nonexistent_policy = d.record.as_ref().and_then(|r| r.np);
            detail.pct = d.record.as_ref().and_then(|r| r.pct);
            detail.record_domain = d.record_domain.clone();
            detail.org_domain = d.org_domain.clone();
            if d.org_domain_psl != d.org_domain {
                detail.org_domain_psl = d.org_domain_psl.clone();
            }
        }
        let from = ctx.from.map(str::to_string);
        let is_temp = |r: &DmarcResult| matches!(r, DmarcResult::TempError(_));
        let is_perm = |r: &DmarcResult| matches!(r, DmarcResult::PermError(_));
        let (result, reason) = if message.from.is_empty() {
            (AuthResult::None, "no From address".to_string())
        } else if output.domain().is_empty() {
            (
                AuthResult::None,
                "From names several domains: exempt from DMARC (RFC 7489 6.6.1)".to_string(),
            )
        } else if let Some(record) = record {
            detail.testing = record.t;
            detail.policy = Some(policy_of(output.policy()));
            detail.spf_aligned = Some(*spf == DmarcResult::Pass);
            detail.dkim_aligned = Some(*dkim == DmarcResult::Pass);
            if *dkim == DmarcResult::Pass {
                (AuthResult::Pass, "aligned DKIM pass".to_string())
            } else if *spf == DmarcResult::Pass {
                (AuthResult::Pass, "aligned SPF pass".to_string())
            } else if is_temp(spf) || is_temp(dkim) {
                (
                    AuthResult::Temperror,
                    "a DNS error prevented a conclusive alignment check".to_string(),
                )
            } else {
                (
                    AuthResult::Fail,
                    format!(
                        "no aligned SPF or DKIM pass; policy {}{}",
                        policy_of(output.policy()).as_str(),
                        if detail.pct.is_some_and(|p| p < 100) {
                            " (pct reported, not applied)"
                        } else {
                            ""
                        }
                    ),
                )
            }
        } else if is_temp(spf) || is_temp(dkim) {
            let name = format!("_dmarc.{}.", output.domain());
            (
                AuthResult::Temperror,
                match (spf, &self.snapshot) {
                    (DmarcResult::TempError(MailAuthError::Dns(DnsError::Resolver(e))), _) => {
                        self.dns_failure(&name, RecordType::Txt, e)
                    }
                    _ => self.dns_failure(&name, RecordType::Txt, "temporary error"),
                },
            )
        } else if is_perm(spf) || is_perm(dkim) {
            (
                AuthResult::Permerror,
                "the DMARC record could not be parsed".to_string(),
            )
        } else {
            (
                AuthResult::None,
                format!("no DMARC policy published for {}", output.domain()),
            )
        };
        let aligned = match result {
            AuthResult::Pass => Some(true),
            AuthResult::Fail => Some(false),
            _ => None,
        };
        Verdict {
            result,
            domain: from,
            aligned,
            alignment_mode: None,
            reason,
            source: Source::Computed,
            detail,
        }
    }

    fn arc_verdict(&self, output: &mail_auth::ArcOutput<'_>) -> Verdict<ArcDetail> {
        let sets = output.sets();
        let last = sets.last();
        let domain = last.map(|s| s.signature.header.d.to_ascii_lowercase());
        let last_cv = last.map(|s| match s.seal.header.cv {
            mail_auth::arc::ChainValidation::None => AuthResult::None,
            mail_auth::arc::ChainValidation::Fail => AuthResult::Fail,
            mail_auth::arc::ChainValidation::Pass => AuthResult::Pass,
        });
        let instances = u32::try_from(sets.len()).unwrap_or(u32::MAX);
        let key_name = last.map(|s| s.seal.header.domain_key()).unwrap_or_default();
        let sha1 = sets.iter().any(|s| {
            s.signature.header.a == Algorithm::RsaSha1 || s.seal.header.a == Algorithm::RsaSha1
        });
        let (result, reason) = match output.result() {
            // RFC 8617 4.1.2 / 4.1.3 reference RFC 8301: only rsa-sha256 (and
            // ed25519) are valid for ARC; mail-auth accepts rsa-sha1.
            DkimResult::Pass if sha1 => (
                AuthResult::Fail,
                "an ARC set uses rsa-sha1, which ARC does not allow (RFC 8617, RFC 8301)"
                    .to_string(),
            ),
            DkimResult::None => (AuthResult::None, "no ARC sets".to_string()),
            DkimResult::Pass => (
                AuthResult::Pass,
                format!("chain of {instances} ARC sets validates"),
            ),
            DkimResult::TempError(MailAuthError::Dns(DnsError::Resolver(e))) => (
                AuthResult::Temperror,
                self.dns_failure(&key_name, RecordType::Txt, e),
            ),
            DkimResult::TempError(err) => (AuthResult::Temperror, err.to_string()),
            DkimResult::Fail(err) | DkimResult::Neutral(err) | DkimResult::PermError(err) => {
                (AuthResult::Fail, arc_reason(err))
            }
        };
        Verdict {
            result,
            domain,
            aligned: None,
            alignment_mode: None,
            reason,
            source: Source::Computed,
            detail: ArcDetail {
                instances,
                last_cv,
                oldest_pass: None,
            },
        }
    }
}

fn arc_reason(err: &MailAuthError) -> String {
    use mail_auth::arc::ArcError;
    match err {
        MailAuthError::Arc(ArcError::FailedBodyHashMatch) => {
            "body hash mismatch in the latest AMS".to_string()
        }
        MailAuthError::Arc(ArcError::SignatureExpired) => {
            "the latest AMS expired at verification time".to_string()
        }
        MailAuthError::Arc(ArcError::InvalidCV) => {
            "a seal's cv= breaks the chain (RFC 8617 5.2)".to_string()
        }
        MailAuthError::Arc(ArcError::BrokenChain) => "incomplete ARC set".to_string(),
        MailAuthError::Arc(ArcError::InvalidInstance(i)) => {
            format!("ARC instance {i} missing or out of order")
        }
        MailAuthError::Arc(ArcError::ChainTooLong) => "more than 50 ARC sets".to_string(),
        MailAuthError::Crypto(mail_auth::common::crypto::CryptoError::FailedVerification) => {
            "an ARC signature or seal does not verify".to_string()
        }
        MailAuthError::Dns(DnsError::RecordNotFound(_)) => {
            "no key record for an ARC signature".to_string()
        }
        other => other.to_string(),
    }
}

fn policy_of(policy: mail_auth::dmarc::Policy) -> DmarcPolicy {
    match policy {
        mail_auth::dmarc::Policy::Reject => DmarcPolicy::Reject,
        mail_auth::dmarc::Policy::Quarantine => DmarcPolicy::Quarantine,
        mail_auth::dmarc::Policy::None | mail_auth::dmarc::Policy::Unspecified => DmarcPolicy::None,
    }
}

/// What alignment needs: the From domain and the published modes.
struct AlignCtx<'a> {
    from: Option<&'a str>,
    discovery: Option<&'a DmarcDiscovery>,
    psl: Option<&'a publicsuffix::List>,
}

impl AlignCtx<'_> {
    /// Aligns `domain` with the From domain (RFC 7489 3.1): strict means equal,
    /// relaxed means the same organisational domain (by tree walk when known,
    /// else by the public suffix list).
    fn aligned(
        &self,
        domain: &str,
        mode: impl Fn(&dmarc_record::DmarcTags) -> Option<AlignmentMode>,
    ) -> (Option<bool>, Option<AlignmentMode>) {
        let Some(from) = self.from else {
            return (None, None);
        };
        let mode = self
            .discovery
            .and_then(|d| d.record.as_ref())
            .and_then(mode)
            .unwrap_or(AlignmentMode::Relaxed);
        let aligned = match mode {
            AlignmentMode::Strict => domain.eq_ignore_ascii_case(from),
            AlignmentMode::Relaxed => {
                let tree_walk_org = self.discovery.and_then(|d| d.org_domain.as_deref());
                relaxed_aligned(domain, from, tree_walk_org, self.psl)
            }
        };
        (Some(aligned), Some(mode))
    }
}

/// RFC 7489 3.1 relaxed alignment: the two domains share an organisational
/// domain (the tree walk's for the From domain when known, else the PSL's;
/// a domain under an unknown suffix is its own organisational domain).
fn relaxed_aligned(
    domain: &str,
    from: &str,
    from_org: Option<&str>,
    psl: Option<&publicsuffix::List>,
) -> bool {
    let from_org = from_org
        .map(str::to_string)
        .or_else(|| dmarc_record::psl_org_domain(psl, from))
        .unwrap_or_else(|| from.to_string());
    let org = dmarc_record::psl_org_domain(psl, domain).unwrap_or_else(|| domain.to_string());
    let under = |name: &str, parent: &str| name == parent || name.ends_with(&format!(".{parent}"));
    org == from_org || under(domain, &from_org) || under(from, &org)
}

fn from_of(message: &AuthenticatedMessage<'_>) -> Option<String> {
    let mut domains = message.from.iter().filter_map(|f| {
        f.rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
    });
    let first = domains.next()?;
    domains.all(|d| d == first).then_some(first)
}

/// The From domain read from the header fields, for claim alignment in `off` mode.
fn from_domain(fields: &[HeaderField]) -> Option<String> {
    let from = fields.iter().find(|f| f.name == "from")?;
    let value = &from.value;
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(start), Some(end)) if start < end => &value[start + 1..end],
        _ => value.as_str(),
    };
    let (_, domain) = addr.trim().rsplit_once('@')?;
    let domain = domain
        .trim()
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// Where nothing was computed, the best available verdict is a trusted claim.
fn fill_from_claims(
    results: &mut AuthResults,
    from: Option<&str>,
    psl: Option<&publicsuffix::List>,
) {
    let trusted: Vec<&Claim> = results.claimed.iter().filter(|c| c.trusted).collect();
    let aligned = |domain: Option<&str>| -> Option<bool> {
        let (domain, from) = (domain?, from?);
        let domain = domain
            .rsplit_once('@')
            .map_or(domain, |(_, d)| d)
            .to_ascii_lowercase();
        Some(relaxed_aligned(&domain, from, None, psl))
    };
    let claimed_reason = |c: &Claim| {
        let by = c.authserv_id.as_deref().unwrap_or("an unnamed receiver");
        match &c.reason {
            Some(r) => format!("claimed by {by}: {r}"),
            None => format!("claimed by {by}"),
        }
    };
    if results.spf.is_none() {
        if let Some(c) = trusted.iter().find(|c| c.method == ClaimMethod::Spf) {
            let domain = c
                .property("smtp.mailfrom")
                .or_else(|| c.property("smtp.helo"))
                .map(|d| {
                    d.rsplit_once('@')
                        .map_or(d, |(_, d)| d)
                        .to_ascii_lowercase()
                });
            results.spf = Some(Verdict {
                result: c.result.unwrap_or(AuthResult::Neutral),
                aligned: aligned(domain.as_deref()),
                alignment_mode: None,
                domain,
                reason: claimed_reason(c),
                source: Source::Claimed,
                detail: SpfDetail {
                    identity: if c.property("smtp.mailfrom").is_some() {
                        Some(SpfIdentity::Mailfrom)
                    } else if c.property("smtp.helo").is_some() {
                        Some(SpfIdentity::Helo)
                    } else {
                        None
                    },
                    ip: c.property("policy.client-ip").map(str::to_string),
                },
            });
        }
    }
    if results.dkim.is_empty() {
        for c in trusted.iter().filter(|c| c.method == ClaimMethod::Dkim) {
            let domain = c
                .property("header.d")
                .map(str::to_string)
                .or_else(|| {
                    c.property("header.i")
                        .map(|i| i.rsplit_once('@').map_or(i, |(_, d)| d).to_string())
                })
                .map(|d| d.to_ascii_lowercase());
            results.dkim.push(Verdict {
                result: c.result.unwrap_or(AuthResult::Neutral),
                aligned: aligned(domain.as_deref()),
                alignment_mode: None,
                domain,
                reason: claimed_reason(c),
                source: Source::Claimed,
                detail: DkimDetail {
                    selector: c.property("header.s").map(str::to_string),
                    claimed_selector: c.property("header.b").map(str::to_string),
                    ..DkimDetail::default()
                },
            });
        }
    }
    if results.dmarc.is_none() {
        if let Some(c) = trusted.iter().find(|c| c.method == ClaimMethod::Dmarc) {
            results.dmarc = Some(Verdict {
                result: c.result.unwrap_or(AuthResult::Neutral),
                domain: c.property("header.from").map(|d| d.to_ascii_lowercase()),
                aligned: match c.result {
                    Some(AuthResult::Pass) => Some(true),
                    Some(AuthResult::Fail) => Some(false),
                    _ => None,
                },
                alignment_mode: None,
                reason: claimed_reason(c),
                source: Source::Claimed,
                detail: DmarcDetail::default(),
            });
        }
    }
    if results.arc.is_none() {
        if let Some(c) = trusted.iter().find(|c| c.method == ClaimMethod::Arc) {
            results.arc = Some(Verdict {
                result: c.result.unwrap_or(AuthResult::Neutral),
                domain: None,
                aligned: None,
                alignment_mode: None,
                reason: claimed_reason(c),
                source: Source::Claimed,
                detail: ArcDetail::default(),
            });
        }
    }
}

/// RFC 7489 4.2: the From domain is authenticated by an aligned SPF or DKIM
/// pass. "No" needs conclusive evidence; missing or temporary evidence is "unknown".
fn from_authenticated(results: &AuthResults) -> FromAuthenticated {
    let aligned_pass = |r: AuthResult, a: Option<bool>| r == AuthResult::Pass && a == Some(true);
    if results
        .dmarc
        .as_ref()
        .is_some_and(|d| d.result == AuthResult::Pass)
        || results
            .spf
            .as_ref()
            .is_some_and(|s| aligned_pass(s.result, s.aligned))
        || results
            .dkim
            .iter()
            .any(|d| aligned_pass(d.result, d.aligned))
    {
        return FromAuthenticated::Yes;
    }
    if results
        .dmarc
        .as_ref()
        .is_some_and(|d| d.result == AuthResult::Fail)
    {
        return FromAuthenticated::No;
    }
    let conclusive = |r: AuthResult| !matches!(r, AuthResult::Temperror);
    match (&results.spf, results.dkim.is_empty()) {
        (Some(spf), _)
            if spf.source == Source::Computed
                && conclusive(spf.result)
                && results.dkim.iter().all(|d| conclusive(d.result)) =>
        {
            FromAuthenticated::No
        }
        _ => FromAuthenticated::Unknown,
    }
}

/// A snapshot served over UDP and TCP on 127.0.0.1 by its own runtime thread:
/// an upstream for `record`-mode tests, or a way to inspect a snapshot with
/// any DNS client (`dig @127.0.0.1 -p PORT`). Stops when dropped.
pub struct SnapshotServer {
    addr: SocketAddr,
    _runtime: Runtime,
}

impl SnapshotServer {
    /// Starts serving `snapshot` on an ephemeral loopback port.
    pub fn start(snapshot: Snapshot) -> Result<Self, AuthError> {
        let runtime = start_runtime()?;
        let addr = server::start(
            &runtime.handle,
            server::Backend::Snapshot(Arc::new(snapshot)),
        )
        .map_err(AuthError::Server)?;
        Ok(Self {
            addr,
            _runtime: runtime,
        })
    }

    /// The address (127.0.0.1 and the port) it answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn start_runtime() -> Result<Runtime, AuthError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(AuthError::Runtime)?;
    let handle = runtime.handle().clone();
    let (shutdown, wait) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("wavetrace-dns".to_string())
        .spawn(move || {
            let _ = runtime.block_on(wait);
        })
        .map_err(AuthError::Runtime)?;
    Ok(Runtime {
        handle,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

fn build_authenticator(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<MessageAuthenticator, AuthError> {
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.edns0 = true;
    opts.ndots = 0;
    match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for conn in &mut ns.connections {
                conn.port = addr.port();
            }
            let config = ResolverConfig::from_name_servers(vec![ns]);
            MessageAuthenticator::new(config, opts).map_err(|e| AuthError::Resolver(e.to_string()))
        }
        None => {
            // The system's resolvers, with wavetrace's timeout and attempts.
            let (config, _) = mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| AuthError::Resolver(e.to_string()))?;
            MessageAuthenticator::new(config, opts).map_err(|e| AuthError::Resolver(e.to_string()))
        }
    }
}

fn system_nameserver() -> Result<SocketAddr, AuthError> {
    let (config, _) = mail_auth::hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| AuthError::Resolver(e.to_string()))?;
    let ns = config.name_servers().first().ok_or_else(|| {
        AuthError::Resolver("no name server in the system configuration".to_string())
    })?;
    let port = ns.connections.first().map_or(53, |c| c.port);
    Ok(SocketAddr::new(ns.ip, port))
}
