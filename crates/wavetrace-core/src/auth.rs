//! The `auth` object of a wavetrace record: verdicts, claims and their reasons.
//! Computed by the `wavetrace-auth` crate (which does the DNS); the types live
//! here so the record, the store and every later stage can read them.
//!
//! Everything here is plain data that serialises (snake_case) to the JSON
//! contract of issue 11. Results are enums; they become RFC 8601 tokens only
//! when serialised.

use serde::{Deserialize, Serialize};

/// An RFC 8601 result token (section 2.7), shared by SPF, DKIM, DMARC and ARC.
///
/// Not every method uses every token: `softfail` is SPF only (RFC 7208 2.6),
/// `policy` is SPF and DKIM only. Serialised lower case, as RFC 8601 writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// SPF: the domain believes the host is not authorised, weakly (RFC 7208 2.6.5).
    Softfail,
    /// The domain makes no assertion, or the signature could not be processed.
    Neutral,
    /// No evidence to check (no record, no signature).
    None,
    /// A transient error, usually DNS; a retry may succeed.
    Temperror,
    /// A permanent error: the published records could not be interpreted.
    Permerror,
    /// The check passed but local policy rejected it (RFC 8601 2.7.1).
    Policy,
}

impl AuthResult {
    /// Reads an RFC 8601 / RFC 7208 result token, case-insensitively. Legacy
    /// spellings seen in `Received-SPF` (RFC 4408 `hardfail`, `error`,
    /// `unknown`) map to their RFC 7208 equivalents.
    pub fn from_token(token: &str) -> Option<Self> {
        Some(match token.to_ascii_lowercase().as_str() {
            "pass" => Self::Pass,
            "fail" | "hardfail" => Self::Fail,
            "softfail" => Self::Softfail,
            "neutral" => Self::Neutral,
            "none" => Self::None,
            "temperror" | "error" => Self::Temperror,
            "permerror" | "unknown" => Self::Permerror,
            "policy" => Self::Policy,
            _ => return None,
        })
    }

    /// The RFC 8601 token, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Softfail => "softfail",
            Self::Neutral => "neutral",
            Self::None => "none",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
            Self::Policy => "policy",
        }
    }
}

/// Where a verdict came from: computed by wavetrace, or claimed by a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// wavetrace verified it itself (DNS mode `live`, `record` or `snapshot`).
    Computed,
    /// A trusted receiver wrote it in an `Authentication-Results`-like header.
    Claimed,
}

/// DMARC identifier alignment mode (RFC 7489 3.1, tags `adkim`/`aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignmentMode {
    /// Organisational domains must match.
    Relaxed,
    /// The domains must be identical.
    Strict,
}

/// Whether the RFC 5322 From domain is authenticated (an aligned SPF or DKIM
/// pass, RFC 7489 4.2), regardless of the domain's published DMARC policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromAuthenticated {
    /// An aligned SPF or DKIM pass was computed or claimed by a trusted receiver.
    Yes,
    /// The evidence was checked and no aligned pass exists.
    No,
    /// No evidence either way (no claims, DNS off, temporary errors): never "no".
    Unknown,
}

/// One verdict: a result with its domain, alignment and reason in words.
///
/// `D` holds the method's own details (flattened into the same JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict<D> {
    /// The RFC 8601 result.
    pub result: AuthResult,
    /// The domain the result is about (SPF identity, DKIM `d=`, From domain, ARC signer).
    pub domain: Option<String>,
    /// Whether `domain` aligns with the RFC 5322 From domain; `None` when unknown
    /// or not applicable.
    pub aligned: Option<bool>,
    /// The alignment mode used for `aligned` (from the DMARC record, relaxed by default).
    pub alignment_mode: Option<AlignmentMode>,
    /// Why, in words an analyst can defend.
    pub reason: String,
    /// Computed or claimed.
    pub source: Source,
    /// Method-specific details.
    #[serde(flatten)]
    pub detail: D,
}

/// The SPF identity checked (RFC 7208 2.3, 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpfIdentity {
    /// The RFC 5321 MAIL FROM domain.
    Mailfrom,
    /// The HELO/EHLO name (used when MAIL FROM is null, RFC 7208 2.4).
    Helo,
}

/// SPF details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SpfDetail {
    /// Which identity the result is for.
    pub identity: Option<SpfIdentity>,
    /// The connecting IP that was checked.
    pub ip: Option<String>,
}

/// A DKIM signing algorithm (RFC 6376 3.3, RFC 8463).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DkimAlgorithm {
    /// RSA with SHA-256.
    RsaSha256,
    /// RSA with SHA-1: weak, RFC 8301 forbids signing and verifying with it.
    RsaSha1,
    /// Ed25519 with SHA-256 (RFC 8463).
    Ed25519Sha256,
}

/// DKIM details of one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DkimDetail {
    /// The selector (`s=`).
    pub selector: Option<String>,
    /// The algorithm (`a=`).
    pub algorithm: Option<DkimAlgorithm>,
    /// True for rsa-sha1 (RFC 8301 3.1): a pass with it is weak evidence.
    pub weak: bool,
    /// Signature timestamp (`t=`), Unix seconds.
    pub signed_at: Option<u64>,
    /// Signature expiry (`x=`), Unix seconds.
    pub expires_at: Option<u64>,
    /// The header field claiming the result, for claimed verdicts (`header.b`/`header.s`).
    pub claimed_selector: Option<String>,
}

/// A DMARC policy (RFC 7489 6.3 `p=`, `sp=`, DMARCbis `np=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmarcPolicy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Reject failing mail.
    Reject,
}

impl DmarcPolicy {
    /// The policy's DMARC tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

/// DMARC details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DmarcDetail {
    /// The policy that applies to the From domain (after `sp=`/`np=` and `t=`).
    pub policy: Option<DmarcPolicy>,
    /// The published `p=`.
    pub published_policy: Option<DmarcPolicy>,
    /// The published `sp=`, if any.
    pub subdomain_policy: Option<DmarcPolicy>,
    /// The published `np=`, if any.
    pub nonexistent_policy: Option<DmarcPolicy>,
    /// `t=y`: test mode, the policy is lowered one step (DMARCbis).
    pub testing: bool,
    /// The published `pct=`, reported and NOT applied (RFC 7489 6.3; dropped by DMARCbis).
    pub pct: Option<u8>,
    /// Where the policy record was found (`_dmarc.` + this).
    pub record_domain: Option<String>,
    /// The organisational domain by the DNS tree walk (DMARCbis 4.10).
    pub org_domain: Option<String>,
    /// The organisational domain by the public suffix list (RFC 7489 3.2),
    /// present only when it differs from `org_domain`.
    pub org_domain_psl: Option<String>,
    /// SPF alignment result for DMARC.
    pub spf_aligned: Option<bool>,
    /// DKIM alignment result for DMARC.
    pub dkim_aligned: Option<bool>,
}

/// ARC details (RFC 8617).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ArcDetail {
    /// Number of ARC sets.
    pub instances: u32,
    /// The `cv=` of the most recent seal.
    pub last_cv: Option<AuthResult>,
    /// The oldest instance whose AMS still verifies (RFC 8617 5.2, "oldest-pass"),
    /// when the chain passes and it could be computed.
    pub oldest_pass: Option<u32>,
}

/// Which header field carried a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimHeader {
    /// `Authentication-Results` (RFC 8601).
    AuthenticationResults,
    /// `ARC-Authentication-Results` (RFC 8617 4.1.1).
    ArcAuthenticationResults,
    /// `Received-SPF` (RFC 7208 9.1).
    ReceivedSpf,
}

/// Where a claim sits relative to the trust boundary given by origin tracing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimPosition {
    /// Added after the trusted receiver accepted the message.
    AboveBoundary,
    /// Already in the message when the trusted receiver got it: written by the
    /// sender or a relay it controls, so worth nothing as evidence.
    InsertedBeforeReceipt,
    /// Origin tracing found no trust boundary.
    NoBoundary,
}

/// The authentication method a claim is about (RFC 8601 2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimMethod {
    /// RFC 7208.
    Spf,
    /// RFC 6376.
    Dkim,
    /// RFC 7489.
    Dmarc,
    /// RFC 8617.
    Arc,
    /// Any other method (iprev, auth, compauth, ...): kept verbatim in `method_name`.
    Other,
}

/// One receiver claim: a method result written into the message by a receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The header field it came from.
    pub header: ClaimHeader,
    /// Index of that header field among all header fields (0 = topmost).
    pub header_index: usize,
    /// The authserv-id (RFC 8601 2.5), or the `receiver=` of `Received-SPF`.
    pub authserv_id: Option<String>,
    /// ARC instance (`i=`) for `ARC-Authentication-Results`.
    pub arc_instance: Option<u32>,
    /// The method.
    pub method: ClaimMethod,
    /// The method name as written, lower case.
    pub method_name: String,
    /// The result when it is an RFC 8601 token.
    pub result: Option<AuthResult>,
    /// The result as written, lower case.
    pub result_text: String,
    /// `reason=` or the comment following the result.
    pub reason: Option<String>,
    /// Properties such as `smtp.mailfrom`, `header.d`, `header.from`.
    pub properties: Vec<ClaimProperty>,
    /// True when above the trust boundary with a trusted authserv-id.
    pub trusted: bool,
    /// Position relative to the trust boundary.
    pub position: ClaimPosition,
    /// Why it is trusted or not, in words.
    pub trust_reason: String,
}

/// A `ptype.property=value` of a claim (RFC 8601 2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimProperty {
    /// `ptype.property`, lower case, e.g. `header.d`.
    pub name: String,
    /// The value as written (quotes removed).
    pub value: String,
}

impl Claim {
    /// The value of a property such as `header.d`, if present.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

/// The `auth` object of a record (issue 11 contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthResults {
    /// SPF for the origin IP and envelope sender (or HELO).
    pub spf: Option<Verdict<SpfDetail>>,
    /// One verdict per DKIM signature (or per trusted DKIM claim).
    pub dkim: Vec<Verdict<DkimDetail>>,
    /// DMARC for the From domain.
    pub dmarc: Option<Verdict<DmarcDetail>>,
    /// ARC chain validation.
    pub arc: Option<Verdict<ArcDetail>>,
    /// Every receiver claim, trusted or not.
    pub claimed: Vec<Claim>,
    /// Whether the From domain is authenticated.
    pub from_authenticated: FromAuthenticated,
    /// The time signatures were judged at, Unix seconds (`None` in `off` mode).
    pub verified_at: Option<u64>,
}

/// The DNS mode of a scan (`--dns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DnsMode {
    /// No lookups: receiver claims only.
    #[default]
    Off,
    /// Real lookups through a resolver.
    Live,
    /// Answers only from a snapshot file, served on loopback.
    Snapshot,
    /// Live lookups, every answer written to a snapshot file.
    Record,
}

/// How the verification time is chosen (`--verify-at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum VerifyAt {
    /// The wall clock at verification.
    Now,
    /// The message's arrival time (falls back to now when unknown).
    #[default]
    Arrival,
    /// A fixed instant, Unix seconds.
    Fixed(u64),
}

/// Provenance of the verdicts, for the record's `analysis` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthProvenance {
    /// The DNS mode.
    pub dns_mode: DnsMode,
    /// The snapshot file read or written.
    pub dns_file: Option<String>,
    /// The snapshot's capture time as written in its header.
    pub snapshot_captured: Option<String>,
    /// The resolver named in the snapshot header, or used live.
    pub resolver: Option<String>,
    /// The verification time policy.
    pub verify_at: VerifyAt,
}
