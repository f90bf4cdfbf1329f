/*
 * SPDX-FileCopyrightText: 2020 Stalwart Labs LLC <hello@stalw.art>
 *
 * SPDX-License-Identifier: Apache-2.0 OR MIT
 */

use super::{Directive, Macro, Mechanism, Qualifier, Spf, SpfReason, Variables};
use crate::DnsError;
use crate::Instant;
use crate::{
    Error, MX, MessageAuthenticator, Parameters, RecordSet, ResolverCache, SpfOutput, SpfResult,
    Txt, common::cache::NoCache,
};
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub struct SpfParameters<'x> {
    ip: IpAddr,
    domain: &'x str,
    helo_domain: &'x str,
    host_domain: &'x str,
    sender: Sender<'x>,
}

enum Sender<'x> {
    Ehlo(String),
    MailFrom(&'x str),
    Full(&'x str),
}

#[allow(clippy::iter_skip_zero)]
impl MessageAuthenticator {
    /// Verifies the SPF record of a domain
    pub async fn verify_spf<'x, TXT, MXX, IPV4, IPV6, PTR>(
        &self,
        params: impl Into<Parameters<'x, SpfParameters<'x>, TXT, MXX, IPV4, IPV6, PTR>>,
    ) -> SpfOutput
    where
        TXT: ResolverCache<Box<str>, Txt> + 'x,
        MXX: ResolverCache<Box<str>, RecordSet<MX>> + 'x,
        IPV4: ResolverCache<Box<str>, RecordSet<Ipv4Addr>> + 'x,
        IPV6: ResolverCache<Box<str>, RecordSet<Ipv6Addr>> + 'x,
        PTR: ResolverCache<IpAddr, RecordSet<Box<str>>> + 'x,
    {
        let params = params.into();
        match &params.params.sender {
            Sender::Full(sender) => {
                let helo_output = self
                    .check_host(params.clone_with(SpfParameters::verify_ehlo(
                        params.params.ip,
                        params.params.helo_domain,
                        params.params.host_domain,
                    )))
                    .await;
                if sender.is_empty() || helo_output.result() == SpfResult::Fail {
                    helo_output
                } else {
                    self.check_host(params.clone_with(SpfParameters::verify_mail_from(
                        params.params.ip,
                        params.params.helo_domain,
                        params.params.host_domain,
                        sender,
                    )))
                    .await
                }
            }
            _ => self.check_host(params).await,
        }
    }

    #[allow(clippy::while_let_on_iterator)]
    #[allow(clippy::iter_skip_zero)]
    pub async fn check_host<'x, TXT, MXX, IPV4, IPV6, PTR>(
        &self,
        params: Parameters<'x, SpfParameters<'x>, TXT, MXX, IPV4, IPV6, PTR>,
    ) -> SpfOutput
    where
        TXT: ResolverCache<Box<str>, Txt>,
        MXX: ResolverCache<Box<str>, RecordSet<MX>>,
        IPV4: ResolverCache<Box<str>, RecordSet<Ipv4Addr>>,
        IPV6: ResolverCache<Box<str>, RecordSet<Ipv6Addr>>,
        PTR: ResolverCache<IpAddr, RecordSet<Box<str>>>,
    {
        let domain = params.params.domain;
        let ip = params.params.ip;
        let helo_domain = params.params.helo_domain;
        let host_domain = params.params.host_domain;
        let sender = match &params.params.sender {
            Sender::Ehlo(sender) => sender.as_str(),
            Sender::MailFrom(sender) => sender,
            Sender::Full(sender) => sender,
        };

        let output = SpfOutput::new(domain.to_string());
        if domain.is_empty() || domain.len() > 255 || !domain.has_valid_labels() {
            return output
                .with_result(SpfResult::None)
                .with_reason(SpfReason::InvalidDomain);
        }
        let mut vars = Variables::new();
        let mut has_p_var = false;
        vars.set_ip(&ip);
        if !sender.is_empty() {
            vars.set_sender(sender.as_bytes());
        } else {
            vars.set_sender(postmaster_at(domain).into_bytes());
        }
        vars.set_domain(domain.as_bytes());
        vars.set_host_domain(host_domain.as_bytes());
        vars.set_helo_domain(helo_domain.as_bytes());

        let mut lookup_limit = LookupLimit::new();
        let mut void_lookups = VoidLookups::default();
        let mut spf_record = match self.spf_record_lookup(domain).await {
            Ok(spf_record) => spf_record,
            Err((result, reason)) => return output.with_result(result).with_reason(reason),
        };

        let mut domain = Cow::Borrowed(domain);
        let mut include_stack = Vec::new();

        let mut result = None;
        let mut matched = None;
        let mut directives = spf_record.directives.iter().enumerate().skip(0);

        loop {
            while let Some((pos, directive)) = directives.next() {
                if !has_p_var && directive.mechanism.needs_ptr() {
                    if !lookup_limit.can_lookup() {
                        return output
                            .with_result(SpfResult::PermError)
                            .with_reason(SpfReason::LookupLimit)
                            .with_report(&spf_record);
                    }
                    if let Some(ptr) = self
                        .ptr_lookup(ip, params.cache_ptr)
                        .await
                        .ok()
                        .and_then(|ptrs| ptrs.rrset.first().map(|ptr| ptr.as_bytes().to_vec()))
                    {
                        vars.set_validated_domain(ptr);
                    }
                    has_p_var = true;
                }

                let matches = match &directive.mechanism {
                    Mechanism::All => true,
                    Mechanism::Ip4 { addr, mask } => ip.matches_ipv4_mask(addr, *mask),
                    Mechanism::Ip6 { addr, mask } => ip.matches_ipv6_mask(addr, *mask),
                    Mechanism::A {
                        macro_string,
                        ip4_mask,
                        ip6_mask,
                    } => {
                        if !lookup_limit.can_lookup() {
                            return output
                                .with_result(SpfResult::PermError)
                                .with_reason(SpfReason::LookupLimit)
                                .with_report(&spf_record);
                        }
                        let target_name = macro_string.eval(&vars, &domain, true);
                        match self
                            .ip_matches(
                                target_name.as_ref(),
                                ip,
                                *ip4_mask,
                                *ip6_mask,
                                params.cache_ipv4,
                                params.cache_ipv6,
                            )
                            .await
                        {
                            Ok(true) => true,
                            Ok(false) => false,
                            Err(Error::Dns(DnsError::RecordNotFound(_))) => {
                                if !void_lookups.can_lookup() {
                                    return output
                                        .with_result(SpfResult::PermError)
                                        .with_reason(SpfReason::VoidLookupLimit)
                                        .with_report(&spf_record);
                                }
                                false
                            }
                            Err(Error::ParseError) => {
                                return output
                                    .with_result(SpfResult::PermError)
                                    .with_reason(SpfReason::InvalidDomain)
                                    .with_report(&spf_record);
                            }
                            Err(err) => {
                                return output
                                    .with_result(SpfResult::TempError)
                                    .with_reason(dns_reason(target_name.as_ref(), &err))
                                    .with_report(&spf_record);
                            }
                        }
                    }
                    Mechanism::Mx {
                        macro_string,
                        ip4_mask,
                        ip6_mask,
                    } => {
                        if !lookup_limit.can_lookup() {
                            return output
                                .with_result(SpfResult::PermError)
                                .with_reason(SpfReason::LookupLimit)
                                .with_report(&spf_record);
                        }

                        let mut matches = false;
                        let target_name = macro_string.eval(&vars, &domain, true);
                        match self.mx_lookup(&*target_name, params.cache_mx).await {
                            Ok(records) => {
                                for (mx_num, exchange) in records
                                    .rrset
                                    .iter()
                                    .flat_map(|mx| mx.exchanges.iter())
                                    .enumerate()
                                {
                                    if mx_num > 9 {
                                        return output
                                            .with_result(SpfResult::PermError)
                                            .with_reason(SpfReason::MxLimit)
                                            .with_report(&spf_record);
                                    }

                                    match self
                                        .ip_matches(
                                            exchange,
                                            ip,
                                            *ip4_mask,
                                            *ip6_mask,
                                            params.cache_ipv4,
                                            params.cache_ipv6,
                                        )
                                        .await
                                    {
                                        Ok(true) => {
                                            matches = true;
                                            break;
                                        }
                                        Ok(false)
                                        | Err(Error::Dns(DnsError::RecordNotFound(_))) => (),
                                        Err(err) => {
                                            return output
                                                .with_result(SpfResult::TempError)
                                                .with_reason(dns_reason(exchange, &err))
                                                .with_report(&spf_record);
                                        }
                                    }
                                }
                            }
                            Err(Error::Dns(DnsError::RecordNotFound(_))) => {
                                if !void_lookups.can_lookup() {
                                    return output
                                        .with_result(SpfResult::PermError)
                                        .with_reason(SpfReason::VoidLookupLimit)
                                        .with_report(&spf_record);
                                }
                            }
                            Err(Error::ParseError) => {
                                return output
                                    .with_result(SpfResult::PermError)
                                    .with_reason(SpfReason::InvalidDomain)
                                    .with_report(&spf_record);
                            }
                            Err(err) => {
                                return output
                                    .with_result(SpfResult::TempError)
                                    .with_reason(dns_reason(target_name.as_ref(), &err))
                                    .with_report(&spf_record);
                            }
                        }
                        matches
                    }
                    Mechanism::Include { macro_string } => {
                        if !lookup_limit.can_lookup() {
                            return output
                                .with_result(SpfResult::PermError)
                                .with_reason(SpfReason::LookupLimit)
                                .with_report(&spf_record);
                        }

                        let target_name = macro_string.eval(&vars, &domain, true);
                        match self.spf_record_lookup(&target_name).await {
                            Ok(included_spf) => {
                                let new_domain = target_name.into_owned();
                                include_stack.push((
                                    std::mem::replace(&mut spf_record, included_spf),
                                    pos,
                                    domain,
                                ));
                                directives = spf_record.directives.iter().enumerate().skip(0);
                                vars.set_domain(new_domain.as_bytes().to_vec());
                                domain = Cow::Owned(new_domain);
                                continue;
                            }
                            Err((result, reason)) => {
                                return output
                                    .with_result(target_error(result))
                                    .with_reason(target_reason(reason))
                                    .with_report(&spf_record);
                            }
                        }
                    }
                    Mechanism::Ptr { macro_string } => {
                        if !lookup_limit.can_lookup() {
                            return output
                                .with_result(SpfResult::PermError)
                                .with_reason(SpfReason::LookupLimit)
                                .with_report(&spf_record);
                        }

                        let target_name = macro_string.eval(&vars, &domain, true);
                        let target_addr = to_lowercase(target_name.as_ref());
                        let target_addr = target_addr.as_ref();
                        let mut matches = false;

                        match self.ptr_lookup(ip, params.cache_ptr).await {
                            Ok(records) => {
                                for record in records.rrset.iter() {
                                    if lookup_limit.can_lookup()
                                        && let Ok(true) = self
                                            .ip_matches(
                                                record,
                                                ip,
                                                u32::MAX,
                                                u128::MAX,
                                                params.cache_ipv4,
                                                params.cache_ipv6,
                                            )
                                            .await
                                    {
                                        matches = record.as_ref() == target_addr
                                            || record
                                                .strip_suffix('.')
                                                .unwrap_or(record.as_ref())
                                                .strip_suffix(target_addr)
                                                .is_some_and(|prefix| prefix.ends_with('.'));
                                        if matches {
                                            break;
                                        }
                                    }
                                }
                            }
                            Err(Error::Dns(DnsError::RecordNotFound(_))) => {
                                if !void_lookups.can_lookup() {
                                    return output
                                        .with_result(SpfResult::PermError)
                                        .with_reason(SpfReason::VoidLookupLimit)
                                        .with_report(&spf_record);
                                }
                            }
                            // RFC 7208 5.5: a PTR lookup error does not abort check_host().
                            Err(_) => (),
                        }
                        matches
                    }
                    Mechanism::Exists { macro_string } => {
                        if !lookup_limit.can_lookup() {
                            return output
                                .with_result(SpfResult::PermError)
                                .with_reason(SpfReason::LookupLimit)
                                .with_report(&spf_record);
                        }

                        let target_name = macro_string.eval(&vars, &domain, true);
                        match self
                            .exists(&*target_name, params.cache_ipv4, params.cache_ipv6)
                            .await
                        {
                            Ok(true) => true,
                            Ok(false) => {
                                if !void_lookups.can_lookup() {
                                    return output
                                        .with_result(SpfResult::PermError)
                                        .with_reason(SpfReason::VoidLookupLimit)
                                        .with_report(&spf_record);
                                }
                                false
                            }
                            Err(Error::ParseError) => {
                                return output
                                    .with_result(SpfResult::PermError)
                                    .with_reason(SpfReason::InvalidDomain)
                                    .with_report(&spf_record);
                            }
                            Err(err) => {
                                return output
                                    .with_result(SpfResult::TempError)
                                    .with_reason(dns_reason(target_name.as_ref(), &err))
                                    .with_report(&spf_record);
                            }
                        }
                    }
                };

                if matches {
                    result = Some((&directive.qualifier).into());
                    matched = Some(SpfReason::Matched {
                        domain: domain.to_string(),
                        mechanism: directive_text(directive),
                    });
                    break;
                }
            }

            // Follow redirect
            if let (Some(macro_string), None) = (&spf_record.redirect, &result) {
                if !lookup_limit.can_lookup() {
                    return output
                        .with_result(SpfResult::PermError)
                        .with_reason(SpfReason::LookupLimit)
                        .with_report(&spf_record);
                }

                let target_name = macro_string.eval(&vars, &domain, true);
                match self.spf_record_lookup(&target_name).await {
                    Ok(redirect_spf) => {
                        let new_domain = target_name.into_owned();
                        spf_record = redirect_spf;
                        directives = spf_record.directives.iter().enumerate().skip(0);
                        vars.set_domain(new_domain.as_bytes().to_vec());
                        domain = Cow::Owned(new_domain);
                        continue;
                    }
                    Err((result, reason)) => {
                        return output
                            .with_result(target_error(result))
                            .with_reason(target_reason(reason))
                            .with_report(&spf_record);
                    }
                }
            }

            if let Some((prev_record, prev_pos, prev_domain)) = include_stack.pop() {
                spf_record = prev_record;
                directives = spf_record.directives.iter().enumerate().skip(prev_pos);
                let directive = directives.next().map(|(_, directive)| directive);

                if matches!(result, Some(SpfResult::Pass)) {
                    if let Some(directive) = directive {
                        result = Some((&directive.qualifier).into());
                        matched = Some(SpfReason::Matched {
                            domain: prev_domain.to_string(),
                            mechanism: directive_text(directive),
                        });
                    }
                    break;
                } else {
                    vars.set_domain(prev_domain.as_bytes().to_vec());
                    domain = prev_domain;
                    result = None;
                    matched = None;
                }
            } else {
                break;
            }
        }

        let reason = matched.unwrap_or_else(|| SpfReason::NoMatch {
            domain: domain.to_string(),
        });

        // Evaluate explain
        if let (Some(macro_string), Some(SpfResult::Fail)) = (&spf_record.exp, &result)
            && let Ok(macro_string) = self
                .txt_lookup::<Macro>(macro_string.eval(&vars, &domain, true), params.cache_txt)
                .await
        {
            return output
                .with_result(SpfResult::Fail)
                .with_reason(reason)
                .with_explanation(macro_string.eval(&vars, &domain, false).into_owned())
                .with_report(&spf_record);
        }

        output
            .with_result(result.unwrap_or(SpfResult::Neutral))
            .with_reason(reason)
            .with_report(&spf_record)
    }

    /// wavetrace patch: selects the SPF record of `name` as RFC 7208 4.5 says:
    /// records not starting with `v=spf1` are discarded, none left gives
    /// "none", two or more give "permerror", a syntax error or an unknown
    /// mechanism in the one left gives "permerror". (mail-auth 0.13.3 took
    /// the first record that parsed and skipped unknown mechanisms.)
    async fn spf_record_lookup(
        &self,
        name: &str,
    ) -> Result<std::sync::Arc<Spf>, (SpfResult, SpfReason)> {
        let records = match self.txt_records(name).await {
            Ok(records) => records,
            Err(Error::Dns(DnsError::RecordNotFound(_))) => Vec::new(),
            // wavetrace patch: a name that is not a valid domain is "none" at
            // the top (RFC 7208 4.3) and a permerror as a target (5.2, 6.1).
            Err(Error::ParseError) => return Err((SpfResult::None, SpfReason::InvalidDomain)),
            Err(err) => return Err((SpfResult::TempError, dns_reason(name, &err))),
        };
        let mut candidates = records.iter().filter(|record| is_spf1(record));
        let Some(record) = candidates.next() else {
            return Err((
                SpfResult::None,
                SpfReason::NoRecord {
                    domain: name.to_string(),
                },
            ));
        };
        if candidates.next().is_some() {
            return Err((
                SpfResult::PermError,
                SpfReason::MultipleRecords {
                    domain: name.to_string(),
                },
            ));
        }
        let detail = record_syntax_error(record);
        if detail.is_some() {
            return Err((
                SpfResult::PermError,
                SpfReason::InvalidRecord {
                    domain: name.to_string(),
                    detail,
                },
            ));
        }
        match <Spf as crate::common::parse::TxtRecordParser>::parse(record) {
            Ok(spf) => Ok(std::sync::Arc::new(spf)),
            Err(_) => Err((
                SpfResult::PermError,
                SpfReason::InvalidRecord {
                    domain: name.to_string(),
                    detail: None,
                },
            )),
        }
    }

    async fn ip_matches(
        &self,
        target_name: &str,
        ip: IpAddr,
        ip4_mask: u32,
        ip6_mask: u128,
        cache_ipv4: Option<&impl ResolverCache<Box<str>, RecordSet<Ipv4Addr>>>,
        cache_ipv6: Option<&impl ResolverCache<Box<str>, RecordSet<Ipv6Addr>>>,
    ) -> crate::Result<bool> {
        Ok(match ip {
            IpAddr::V4(ip) => self
                .ipv4_lookup(target_name, cache_ipv4)
                .await?
                .rrset
                .iter()
                .any(|addr| ip.matches_ipv4_mask(addr, ip4_mask)),
            IpAddr::V6(ip) => self
                .ipv6_lookup(target_name, cache_ipv6)
                .await?
                .rrset
                .iter()
                .any(|addr| ip.matches_ipv6_mask(addr, ip6_mask)),
        })
    }
}

/// wavetrace patch: RFC 7208 4.6.4 recommends at most two void lookups.
#[derive(Default)]
struct VoidLookups(u32);

impl VoidLookups {
    fn can_lookup(&mut self) -> bool {
        self.0 += 1;
        self.0 <= 2
    }
}

/// wavetrace patch: a DNS error while evaluating a term, with the name asked.
fn dns_reason(name: &str, err: &Error) -> SpfReason {
    SpfReason::Dns {
        name: name.to_string(),
        error: err.to_string(),
    }
}

/// wavetrace patch: an `include:` or `redirect=` target without a record is
/// a permerror (RFC 7208 5.2, 6.1); its DNS errors stay temperrors.
fn target_error(result: SpfResult) -> SpfResult {
    match result {
        SpfResult::None => SpfResult::PermError,
        other => other,
    }
}

fn target_reason(reason: SpfReason) -> SpfReason {
    match reason {
        SpfReason::NoRecord { domain } => SpfReason::TargetWithoutRecord { domain },
        other => other,
    }
}

/// wavetrace patch: a directive rendered for an explanation, e.g. `-all`.
fn directive_text(directive: &Directive) -> String {
    let qualifier = match directive.qualifier {
        Qualifier::Pass => "+",
        Qualifier::Fail => "-",
        Qualifier::SoftFail => "~",
        Qualifier::Neutral => "?",
    };
    format!("{qualifier}{}", directive.mechanism.name())
}

/// wavetrace patch: whether a TXT record's version section is exactly
/// `v=spf1` (RFC 7208 4.5), case-insensitively, followed by a space or the end.
fn is_spf1(record: &[u8]) -> bool {
    record.len() >= 6
        && record[..6].eq_ignore_ascii_case(b"v=spf1")
        && record.get(6).is_none_or(|ch| *ch == b' ')
}

/// wavetrace patch: the first syntax error of a `v=spf1` record that
/// mail-auth's parser lets through, in words: an unknown mechanism (RFC 7208
/// 5: permerror, while unknown modifiers are ignored, 6), a modifier name that
/// is not `ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (12), a CIDR length out
/// of range or with a leading zero (5.6), or a domain-spec whose last label is
/// not a valid top label (7.1, 4.8).
fn record_syntax_error(record: &[u8]) -> Option<String> {
    const KNOWN: [&[u8]; 8] = [
        b"all", b"include", b"a", b"mx", b"ptr", b"ip4", b"ip6", b"exists",
    ];
    for term in record
        .get(6..)
        .unwrap_or_default()
        .split(|ch| *ch == b' ')
        .filter(|term| !term.is_empty())
    {
        let text = String::from_utf8_lossy(term).into_owned();
        let body = match term.first() {
            Some(b'+' | b'-' | b'~' | b'?') => term.get(1..).unwrap_or_default(),
            _ => term,
        };
        let end = body
            .iter()
            .position(|ch| matches!(ch, b':' | b'/' | b'='))
            .unwrap_or(body.len());
        let (name, rest) = (&body[..end], &body[end..]);
        if rest.first() == Some(&b'=') && body.len() == term.len() {
            let valid_name = name.first().is_some_and(u8::is_ascii_alphabetic)
                && name
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
            if !valid_name {
                return Some(format!("invalid modifier name in {text:?}"));
            }
            let value = &rest[1..];
            if (name.eq_ignore_ascii_case(b"redirect") || name.eq_ignore_ascii_case(b"exp"))
                && !valid_domain_spec(value)
            {
                return Some(format!("invalid domain in {text:?}"));
            }
            continue;
        }
        if !KNOWN.iter().any(|known| name.eq_ignore_ascii_case(known)) {
            return Some(format!("unknown mechanism {text:?}"));
        }
        let lower = name.to_ascii_lowercase();
        let (domain, cidr) = match rest.first() {
            Some(b':') => {
                let rest = &rest[1..];
                match lower.as_slice() {
                    b"ip4" | b"ip6" => (
                        None,
                        rest.iter().position(|c| *c == b'/').map(|p| &rest[p..]),
                    ),
                    _ => {
                        // The CIDR suffix is the first '/' followed only by
                        // digits and '/': a domain-spec may itself hold '/'.
                        let slash = (0..rest.len())
                            .find(|&p| {
                                rest[p] == b'/'
                                    && rest[p..].iter().all(|c| *c == b'/' || c.is_ascii_digit())
                            })
                            .unwrap_or(rest.len());
                        (
                            Some(&rest[..slash]),
                            Some(&rest[slash..]).filter(|c| !c.is_empty()),
                        )
                    }
                }
            }
            Some(b'/') => (None, Some(rest)),
            _ => (None, None),
        };
        if let Some(domain) = domain {
            if !valid_domain_spec(domain) {
                return Some(format!("invalid domain in {text:?}"));
            }
        }
        if let Some(cidr) = cidr {
            let ok = match lower.as_slice() {
                b"ip4" => valid_cidr(cidr, 32),
                b"ip6" => valid_cidr(cidr, 128),
                b"a" | b"mx" => valid_dual_cidr(cidr),
                _ => false,
            };
            if !ok {
                return Some(format!("invalid CIDR length in {text:?}"));
            }
        }
    }
    None
}

/// `"/" ("0" / %x31-39 0*nDIGIT)` no larger than `max` (RFC 7208 5.6).
fn valid_cidr(cidr: &[u8], max: u32) -> bool {
    let Some(digits) = cidr.strip_prefix(b"/") else {
        return false;
    };
    if digits.is_empty()
        || digits.len() > 3
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
    {
        return false;
    }
    let value = digits
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    value <= max
}

/// `[ ip4-cidr-length ] [ "/" ip6-cidr-length ]` (RFC 7208 5.6).
fn valid_dual_cidr(cidr: &[u8]) -> bool {
    if let Some(ip6) = cidr.strip_prefix(b"//") {
        return valid_cidr(&[b"/", ip6].concat(), 128);
    }
    match cidr
        .get(1..)
        .unwrap_or_default()
        .iter()
        .position(|c| *c == b'/')
    {
        Some(p) => {
            let (ip4, ip6) = cidr.split_at(p + 1);
            valid_cidr(ip4, 32)
                && ip6
                    .strip_prefix(b"/")
                    .is_some_and(|ip6| valid_cidr(ip6, 128))
        }
        None => valid_cidr(cidr, 32),
    }
}

/// A domain-spec (RFC 7208 7.1) ends with a macro or with a top label that
/// is alphanumeric with at least one letter, hyphens inside (RFC 7208 4.8).
fn valid_domain_spec(spec: &[u8]) -> bool {
    if spec.is_empty() {
        return false;
    }
    if spec.ends_with(b"}") || spec.contains(&b'%') {
        return true;
    }
    let spec = spec.strip_suffix(b".").unwrap_or(spec);
    let Some(dot) = spec.iter().rposition(|c| *c == b'.') else {
        return false;
    };
    let top = &spec[dot + 1..];
    !top.is_empty()
        && top.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && top.iter().any(u8::is_ascii_alphabetic)
        && top.first() != Some(&b'-')
        && top.last() != Some(&b'-')
}

fn postmaster_at(domain: &str) -> String {
    const POSTMASTER: &str = "postmaster@";
    let mut sender = String::with_capacity(POSTMASTER.len() + domain.len());
    sender.push_str(POSTMASTER);
    sender.push_str(domain);
    sender
}

fn to_lowercase(value: &str) -> Cow<'_, str> {
    if value.is_ascii() {
        if value.bytes().any(|byte| byte.is_ascii_uppercase()) {
            Cow::Owned(value.to_ascii_lowercase())
        } else {
            Cow::Borrowed(value)
        }
    } else {
        Cow::Owned(value.to_lowercase())
    }
}

impl<'x> SpfParameters<'x> {
    /// Verifies the SPF EHLO identity
    pub fn verify_ehlo(
        ip: IpAddr,
        helo_domain: &'x str,
        host_domain: &'x str,
    ) -> SpfParameters<'x> {
        SpfParameters {
            ip,
            domain: helo_domain,
            helo_domain,
            host_domain,
            sender: Sender::Ehlo(postmaster_at(helo_domain)),
        }
    }

    /// Verifies the SPF MAIL FROM identity
    pub fn verify_mail_from(
        ip: IpAddr,
        helo_domain: &'x str,
        host_domain: &'x str,
        sender: &'x str,
    ) -> SpfParameters<'x> {
        SpfParameters {
            ip,
            domain: sender.rsplit_once('@').map_or(helo_domain, |(_, d)| d),
            helo_domain,
            host_domain,
            sender: Sender::MailFrom(sender),
        }
    }

    /// Verifies both the SPF EHLO and MAIL FROM identities
    pub fn verify(
        ip: IpAddr,
        helo_domain: &'x str,
        host_domain: &'x str,
        sender: &'x str,
    ) -> SpfParameters<'x> {
        SpfParameters {
            ip,
            domain: sender.rsplit_once('@').map_or(helo_domain, |(_, d)| d),
            helo_domain,
            host_domain,
            sender: Sender::Full(sender),
        }
    }

    pub fn new(
        ip: IpAddr,
        domain: &'x str,
        helo_domain: &'x str,
        host_domain: &'x str,
        sender: &'x str,
    ) -> Self {
        SpfParameters {
            ip,
            domain,
            helo_domain,
            host_domain,
            sender: Sender::Full(sender),
        }
    }
}

impl<'x> From<SpfParameters<'x>>
    for Parameters<
        'x,
        SpfParameters<'x>,
        NoCache<Box<str>, Txt>,
        NoCache<Box<str>, RecordSet<MX>>,
        NoCache<Box<str>, RecordSet<Ipv4Addr>>,
        NoCache<Box<str>, RecordSet<Ipv6Addr>>,
        NoCache<IpAddr, RecordSet<Box<str>>>,
    >
{
    fn from(params: SpfParameters<'x>) -> Self {
        Parameters::new(params)
    }
}

trait IpMask {
    fn matches_ipv4_mask(&self, addr: &Ipv4Addr, mask: u32) -> bool;
    fn matches_ipv6_mask(&self, addr: &Ipv6Addr, mask: u128) -> bool;
}

impl IpMask for IpAddr {
    fn matches_ipv4_mask(&self, addr: &Ipv4Addr, mask: u32) -> bool {
        u32::from_be_bytes(match &self {
            IpAddr::V4(ip) => ip.octets(),
            IpAddr::V6(ip) => {
                if let Some(ip) = ip.to_ipv4_mapped() {
                    ip.octets()
                } else {
                    return false;
                }
            }
        }) & mask
            == u32::from_be_bytes(addr.octets()) & mask
    }

    fn matches_ipv6_mask(&self, addr: &Ipv6Addr, mask: u128) -> bool {
        u128::from_be_bytes(match &self {
            IpAddr::V6(ip) => ip.octets(),
            IpAddr::V4(ip) => ip.to_ipv6_mapped().octets(),
        }) & mask
            == u128::from_be_bytes(addr.octets()) & mask
    }
}

impl IpMask for Ipv6Addr {
    fn matches_ipv6_mask(&self, addr: &Ipv6Addr, mask: u128) -> bool {
        u128::from_be_bytes(self.octets()) & mask == u128::from_be_bytes(addr.octets()) & mask
    }

    fn matches_ipv4_mask(&self, _addr: &Ipv4Addr, _mask: u32) -> bool {
        unimplemented!()
    }
}

impl IpMask for Ipv4Addr {
    fn matches_ipv4_mask(&self, addr: &Ipv4Addr, mask: u32) -> bool {
        u32::from_be_bytes(self.octets()) & mask == u32::from_be_bytes(addr.octets()) & mask
    }

    fn matches_ipv6_mask(&self, _addr: &Ipv6Addr, _mask: u128) -> bool {
        unimplemented!()
    }
}

impl From<&Qualifier> for SpfResult {
    fn from(q: &Qualifier) -> Self {
        match q {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

impl From<Error> for SpfResult {
    fn from(err: Error) -> Self {
        match err {
            Error::Dns(DnsError::RecordNotFound(_)) | Error::Dns(DnsError::InvalidRecordType) => {
                SpfResult::None
            }
            Error::ParseError => SpfResult::PermError,
            _ => SpfResult::TempError,
        }
    }
}

struct LookupLimit {
    num_lookups: u32,
    timer: Instant,
}

impl LookupLimit {
    pub fn new() -> Self {
        LookupLimit {
            num_lookups: 1,
            timer: Instant::now(),
        }
    }

    #[inline(always)]
    fn can_lookup(&mut self) -> bool {
        if self.num_lookups <= 10 && self.timer.elapsed().as_secs() < 20 {
            self.num_lookups += 1;
            true
        } else {
            false
        }
    }
}

pub trait HasValidLabels {
    fn has_valid_labels(&self) -> bool;
}

impl HasValidLabels for &str {
    fn has_valid_labels(&self) -> bool {
        let mut has_dots = false;
        let mut has_chars = false;
        let mut label_len = 0;
        for ch in self.chars() {
            label_len += 1;

            if ch.is_alphanumeric() {
                has_chars = true;
            } else if ch == '.' {
                has_dots = true;
                label_len = 0;
            }

            if label_len > 63 {
                return false;
            }
        }
        if has_chars && has_dots {
            return true;
        }
        false
    }
}

#[cfg(test)]
#[allow(unused)]
mod test {

    use std::{
        fs,
        net::{IpAddr, Ipv4Addr, Ipv6Addr},
        path::PathBuf,
        time::{Duration, Instant},
    };

    use crate::{
        MX, MessageAuthenticator, SpfResult,
        common::{cache::test::DummyCaches, parse::TxtRecordParser},
        spf::{Macro, Spf},
    };

    use super::SpfParameters;

    #[tokio::test]
    async fn spf_verify() {
        let resolver = MessageAuthenticator::new_system_conf().unwrap();
        let valid_until = Instant::now() + Duration::from_secs(30);
        let mut test_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        test_dir.push("resources");
        test_dir.push("spf");

        for file_name in fs::read_dir(&test_dir).unwrap() {
            let file_name = file_name.unwrap().path();
            println!("===== {} =====", file_name.display());
            let test_suite = String::from_utf8(fs::read(&file_name).unwrap()).unwrap();
            let caches = DummyCaches::new();

            for test in test_suite.split("---\n") {
                let mut test_name = "";
                let mut last_test_name = "";
                let mut helo = "";
                let mut mail_from = "";
                let mut client_ip = "127.0.0.1".parse::<IpAddr>().unwrap();
                let mut test_num = 1;

                for line in test.split('\n') {
                    let line = line.trim();
                    let line = if let Some(line) = line.strip_prefix('-') {
                        line.trim()
                    } else {
                        line
                    };

                    if let Some(name) = line.strip_prefix("name:") {
                        test_name = name.trim();
                    } else if let Some(record) = line.strip_prefix("spf:") {
                        let (name, record) = record.trim().split_once(' ').unwrap();
                        caches.txt_add(
                            name.trim().to_string(),
                            Spf::parse(record.as_bytes()),
                            valid_until,
                        );
                    } else if let Some(record) = line.strip_prefix("exp:") {
                        let (name, record) = record.trim().split_once(' ').unwrap();
                        caches.txt_add(
                            name.trim().to_string(),
                            Macro::parse(record.as_bytes()),
                            valid_until,
                        );
                    } else if let Some(record) = line.strip_prefix("a:") {
                        let (name, record) = record.trim().split_once(' ').unwrap();
                        caches.ipv4_add(
                            name.trim().to_string(),
                            record
                                .split(',')
                                .map(|item| item.trim().parse::<Ipv4Addr>().unwrap())
                                .collect(),
                            valid_until,
                        );
                    } else if let Some(record) = line.strip_prefix("aaaa:") {
                        let (name, record) = record.trim().split_once(' ').unwrap();
                        caches.ipv6_add(
                            name.trim().to_string(),
                            record
                                .split(',')
                                .map(|item| item.trim().parse::<Ipv6Addr>().unwrap())
                                .collect(),
                            valid_until,
                        );
                    } else if let Some(record) = line.strip_prefix("ptr:") {
                        let (name, record) = record.trim().split_once(' ').unwrap();
                        caches.ptr_add(
                            name.trim().parse::<IpAddr>().unwrap(),
                            record
                                .split(',')
                                .map(|item| Box::from(item.trim()))
                                .collect(),
                            valid_until,
                        );
                    } else if let Some(record) = line.strip_prefix("mx:") {
                        let (name, record) = record.trim().split_once(' ').unwrap();
                        let mut mxs = Vec::new();
                        for (pos, item) in record.split(',').enumerate() {
                            let ip = item.trim().parse::<IpAddr>().unwrap();
                            let mx_name = format!("mx.{ip}.{pos}");
                            match ip {
                                IpAddr::V4(ip) => {
                                    caches.ipv4_add(mx_name.clone(), vec![ip], valid_until)
                                }
                                IpAddr::V6(ip) => {
                                    caches.ipv6_add(mx_name.clone(), vec![ip], valid_until)
                                }
                            }
                            mxs.push(MX {
                                exchanges: Box::new([mx_name.into_boxed_str()]),
                                preference: (pos + 1) as u16,
                            });
                        }
                        caches.mx_add(name.trim().to_string(), mxs, valid_until);
                    } else if let Some(value) = line.strip_prefix("domain:") {
                        helo = value.trim();
                    } else if let Some(value) = line.strip_prefix("sender:") {
                        mail_from = value.trim();
                    } else if let Some(value) = line.strip_prefix("ip:") {
                        client_ip = value.trim().parse().unwrap();
                    } else if let Some(value) = line.strip_prefix("expect:") {
                        let value = value.trim();
                        let (result, exp): (SpfResult, &str) =
                            if let Some((result, exp)) = value.split_once(' ') {
                                (result.trim().try_into().unwrap(), exp.trim())
                            } else {
                                (value.try_into().unwrap(), "")
                            };
                        let output = resolver
                            .verify_spf(caches.parameters(SpfParameters::verify(
                                client_ip,
                                helo,
                                "localdomain.org",
                                mail_from,
                            )))
                            .await;
                        assert_eq!(
                            output.result(),
                            result,
                            "Failed for {test_name:?}, test {test_num}, ehlo: {helo}, mail-from: {mail_from}.",
                        );

                        if !exp.is_empty() {
                            assert_eq!(Some(exp.to_string()).as_deref(), output.explanation());
                        }
                        test_num += 1;
                        if test_name != last_test_name {
                            println!("Passed test {test_name:?}");
                            last_test_name = test_name;
                        }
                    }
                }
            }
        }
    }
}
