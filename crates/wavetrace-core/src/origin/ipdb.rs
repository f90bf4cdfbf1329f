//! Offline IP enrichment (`--ipdb`): AS number, AS organisation and country of an
//! address, read from local databases the analyst supplies.
//!
//! Enrichment is optional and never touches the network: the binary reads each
//! `--ipdb PATH` file and hands its bytes here with the file name. The format is
//! recognised from the bytes, not the name:
//!
//! - **zstd** (magic `28 B5 2F FD`, RFC 8878 section 3.1.1): decompressed first (all
//!   frames, skippable frames skipped, at most [`MAX_DECOMPRESSED_BYTES`]), then
//!   recognised again as one of the two below.
//! - **MaxMind DB** (the metadata marker `\xAB\xCD\xEFMaxMind.com` within the last
//!   128 KiB, as the MaxMind DB format specification places it): GeoIP2/GeoLite2 ASN,
//!   ISP, Country, City and Enterprise, DB-IP's, and the `country_code` / `asn` /
//!   `as_name` schemas of ip-location-db and IPinfo. Read with the `maxminddb` crate.
//! - **CSV range table** otherwise (RFC 4180 quoting): `start_ip,end_ip,asn,org`
//!   (an ASN table; `asn` may carry an `AS` prefix, `org` may be absent) or
//!   `start_ip,end_ip,cc` (a country table, ISO 3166-1 alpha-2). Ranges are inclusive.
//!   Endpoints are IPv4 or IPv6 text, or integers (the `-num` variants: a range whose
//!   end fits in 32 bits is IPv4). A first line that is not a range and whose first
//!   two fields are not addresses is a header and skipped; blank lines and lines
//!   starting with `#` are skipped. This is the layout of ip-location-db
//!   (`shared/corpora/ipdb/`), DB-IP lite CSV, and iptoasn.
//!
//! ASN ownership changes over the years, so a finding that names an organisation is
//! only as good as the data's date: [`IpDb::describe`] reports each database's
//! snapshot date for the record's `analysis` block.
//!
//! CSV tables are held as sorted, disjoint ranges in flat arrays (`u32` keys for
//! IPv4, `u128` for IPv6) with organisation names interned, so a lookup is one binary
//! search. Overlapping rows are resolved at load time (see [`IpDb::from_bytes`]).
//!
//! Pure: bytes in, data out; no file is opened here.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Most bytes a zstd-compressed database may decompress to (1 GiB). The largest real
/// databases (a full city MMDB) are a few hundred MiB; the limit stops a small
/// crafted file from exhausting memory.
pub const MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

/// zstd frame magic number, little-endian `0xFD2FB528` (RFC 8878 section 3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The MaxMind DB metadata section starts after this marker.
const MMDB_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// The MaxMind DB specification caps the metadata section at 128 KiB, so the marker
/// is searched for only that far from the end.
const MMDB_METADATA_MAX: usize = 128 * 1024;

/// At most this many characters of a rejected field are quoted in an error message.
const QUOTED_FIELD_MAX: usize = 40;

/// What the databases say about one address. Every field is optional: a database
/// knows some of them, or none, and an address may be in no database at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct IpInfo {
    /// Autonomous system number announcing or registered for the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// The autonomous system's organisation, as the database names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl IpInfo {
    /// True when no database knew anything about the address.
    pub fn is_empty(&self) -> bool {
        self.asn.is_none() && self.as_org.is_none() && self.country.is_none()
    }

    /// True when every field is known, so later databases cannot add anything.
    fn is_complete(&self) -> bool {
        self.asn.is_some() && self.as_org.is_some() && self.country.is_some()
    }

    /// Takes from `other` the fields still unknown here (the first that knows wins).
    fn fill_from(&mut self, other: IpInfo) {
        if self.asn.is_none() {
            self.asn = other.asn;
        }
        if self.as_org.is_none() {
            self.as_org = other.as_org;
        }
        if self.country.is_none() {
            self.country = other.country;
        }
    }
}

/// Which kind of database a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpDbKind {
    /// A MaxMind DB file (GeoIP2, GeoLite2, DB-IP, ip-location-db, IPinfo).
    Mmdb,
    /// A CSV table `start_ip,end_ip,asn,org`.
    CsvAsn,
    /// A CSV table `start_ip,end_ip,cc`.
    CsvCountry,
}

impl IpDbKind {
    /// The name used in records and messages: `mmdb`, `csv-asn`, `csv-country`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpDbKind::Mmdb => "mmdb",
            IpDbKind::CsvAsn => "csv-asn",
            IpDbKind::CsvCountry => "csv-country",
        }
    }
}

impl fmt::Display for IpDbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where enrichment data came from and how old it is, recorded in the record's
/// `analysis` block so an analyst can tell which year's ASN ownership a finding used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpDbProvenance {
    /// The name the caller gave (normally the path as given to `--ipdb`).
    pub name: String,
    /// What the file turned out to be.
    pub kind: IpDbKind,
    /// The data's date as an RFC 3339 `full-date` (`2026-06-10`), or a shorter
    /// `2026-06` / `2026` when only that is known: an MMDB's `build_epoch`, else a
    /// date found in the name (`GeoLite2-ASN_20260610`, `dbip-asn-lite-2026-06`,
    /// `ip_to_asn_2026/...`; the last one in the name wins). None when neither says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// CSV: data rows loaded (before overlapping rows are resolved). MMDB: nodes in
    /// the search tree, the only size the format records.
    pub entries: usize,
    /// MMDB only: the `database_type` from its metadata (`GeoLite2-ASN`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// The file was zstd-compressed.
    #[serde(default)]
    pub zstd: bool,
}

/// Why a database file was rejected. The binary prefixes the file's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpDbError {
    /// The file starts with the zstd magic but does not decompress.
    #[error("not valid zstd data: {0}")]
    Zstd(String),
    /// The file decompresses to more than the limit.
    #[error("decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes ([`MAX_DECOMPRESSED_BYTES`]).
        limit: usize,
    },
    /// The file carries the MaxMind DB marker but the reader rejected it.
    #[error("not a valid MaxMind DB: {0}")]
    Mmdb(String),
    /// A CSV line that could not be read.
    #[error("line {line}: {problem}")]
    Line {
        /// 1-based line number in the (decompressed) file.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// Nothing in the file was an IP range.
    #[error("no IP ranges found: neither a MaxMind DB nor a start_ip,end_ip,... CSV table")]
    NoRanges,
}

/// What is wrong with one CSV line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// The line is not valid UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// A quoted field has no closing quote on its line (fields spanning lines are
    /// not supported; no IP database uses them).
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    /// Characters follow a closing quote before the next comma (RFC 4180 section 2).
    #[error("text after the closing quote of a field")]
    TextAfterQuote,
    /// The first two fields are not an address range.
    #[error("not an IP range (expected start_ip,end_ip,...)")]
    NotARange,
    /// One end is IPv4, the other IPv6.
    #[error("range mixes IPv4 and IPv6")]
    MixedFamilies,
    /// The start is above the end.
    #[error("range starts after it ends")]
    Reversed,
    /// The third field is neither an AS number nor a country code.
    #[error("{0:?} is neither an AS number nor a two-letter country code")]
    BadValue(String),
    /// A row of the other kind than the table's first row.
    #[error("a {found} row in a {table} table")]
    KindChanged {
        /// The table's kind, set by its first data row.
        table: IpDbKind,
        /// The kind of this row.
        found: IpDbKind,
    },
}

/// One loaded database: a MaxMind DB, or a CSV range table (ASN or country), plain or
/// zstd-compressed. Build it with [`IpDb::from_bytes`]; combine several with
/// [`IpDbSet`].
pub struct IpDb {
    provenance: IpDbProvenance,
    backend: Backend,
}

enum Backend {
    Csv(Box<RangeTable>),
    /// The reader, and the size of the file it holds.
    Mmdb(Box<maxminddb::Reader<Vec<u8>>>, usize),
}

impl fmt::Debug for IpDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpDb")
            .field("provenance", &self.provenance)
            .finish_non_exhaustive()
    }
}

impl IpDb {
    /// Loads a database from the file's bytes; `name` (the path as the user gave it)
    /// is kept for provenance and searched for a snapshot date.
    ///
    /// The format is recognised from the bytes (see the module docs). In a CSV table,
    /// rows may come in any order and may overlap: where ranges overlap, the
    /// **narrowest** range covering an address wins (as a more specific route or a
    /// geofeed entry overrides its covering block), and between ranges of equal width
    /// the earlier row wins. Rows whose value means "unknown" are dropped: AS 0
    /// (reserved, RFC 7607; iptoasn's "Not routed"), country `ZZ`, an empty value.
    ///
    /// Errors name the first bad line; no input panics.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<IpDb, IpDbError> {
        let zstd = bytes.starts_with(&ZSTD_MAGIC);
        let data: Cow<'_, [u8]> = if zstd {
            Cow::Owned(decompress_zstd(bytes, MAX_DECOMPRESSED_BYTES)?)
        } else {
            Cow::Borrowed(bytes)
        };
        if has_mmdb_marker(&data) {
            let size = data.len();
            let reader = maxminddb::Reader::from_source(data.into_owned())
                .map_err(|e| IpDbError::Mmdb(e.to_string()))?;
            let meta = reader.metadata();
            let snapshot = match meta.build_epoch {
                0 => None,
                epoch => date_from_epoch(epoch),
            }
            .or_else(|| date_in_name(name));
            let provenance = IpDbProvenance {
                name: name.to_string(),
                kind: IpDbKind::Mmdb,
                snapshot,
                entries: usize::try_from(meta.node_count).unwrap_or(usize::MAX),
                database_type: Some(meta.database_type.clone()),
                zstd,
            };
            return Ok(IpDb {
                provenance,
                backend: Backend::Mmdb(Box::new(reader), size),
            });
        }
        let (table, kind, entries) = RangeTable::parse_csv(&data)?;
        Ok(IpDb {
            provenance: IpDbProvenance {
                name: name.to_string(),
                kind,
                snapshot: date_in_name(name),
                entries,
                database_type: None,
                zstd,
            },
            backend: Backend::Csv(Box::new(table)),
        })
    }

    /// What this database says about `ip`; an empty [`IpInfo`] when it does not know
    /// the address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, RFC 4291 section
    /// 2.5.5.2) are looked up as the IPv4 address. A corrupt MMDB record reads as
    /// unknown rather than failing the message.
    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        let ip = ip.to_canonical();
        match &self.backend {
            Backend::Csv(table) => table.lookup(ip),
            Backend::Mmdb(reader, _) => mmdb_lookup(reader, ip),
        }
    }

    /// Where the data came from, what it is, its snapshot date and size.
    pub fn describe(&self) -> IpDbProvenance {
        self.provenance.clone()
    }

    /// Approximate heap bytes held (the MMDB file, or the CSV table's arrays).
    pub fn heap_bytes(&self) -> usize {
        match &self.backend {
            Backend::Csv(table) => table.heap_bytes(),
            Backend::Mmdb(_, size) => *size,
        }
    }
}

/// Several databases used together, in the order given on the command line: for
/// each field, the first database that knows it wins (an ASN table and a country
/// table complement each other; a better source listed first overrides a worse one).
#[derive(Debug, Default)]
pub struct IpDbSet(Vec<IpDb>);

impl IpDbSet {
    /// A set consulted in the given order.
    pub fn new(dbs: Vec<IpDb>) -> IpDbSet {
        IpDbSet(dbs)
    }

    /// Adds a database consulted after those already in the set.
    pub fn push(&mut self, db: IpDb) {
        self.0.push(db);
    }

    /// True when no database was given (enrichment is off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The databases in consultation order.
    pub fn databases(&self) -> &[IpDb] {
        &self.0
    }

    /// Merged answer for `ip`: each field from the first database that knows it.
    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        let mut info = IpInfo::default();
        for db in &self.0 {
            if info.is_complete() {
                break;
            }
            info.fill_from(db.lookup(ip));
        }
        info
    }

    /// Provenance of every database, in consultation order.
    pub fn provenance(&self) -> Vec<IpDbProvenance> {
        self.0.iter().map(IpDb::describe).collect()
    }
}

// ---------------------------------------------------------------------------------
// zstd and format recognition

/// Decompresses every frame of a zstd stream, skipping skippable frames (RFC 8878
/// section 3.1.2), refusing output beyond `limit` and a truncated last frame.
fn decompress_zstd(mut input: &[u8], limit: usize) -> Result<Vec<u8>, IpDbError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = skip_skippable_frame(input)? {
            input = rest;
            continue;
        }
        let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .map_err(|e| IpDbError::Zstd(e.to_string()))?;
        let room = limit.saturating_sub(out.len()) as u64;
        // The declared size (0 when absent) only pre-sizes the buffer; the limit holds.
        let declared = decoder.decoder.content_size().min(room);
        out.reserve(usize::try_from(declared).unwrap_or(0));
        (&mut decoder)
            .take(room.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| IpDbError::Zstd(e.to_string()))?;
        if out.len() > limit {
            return Err(IpDbError::TooLarge { limit });
        }
        if !decoder.decoder.is_finished() {
            return Err(IpDbError::Zstd("truncated frame".to_string()));
        }
    }
    Ok(out)
}

/// If `input` starts with a skippable frame (magic `0x184D2A5?`), the bytes after it.
fn skip_skippable_frame(input: &[u8]) -> Result<Option<&[u8]>, IpDbError> {
    let Some(magic) = input.get(..4) else {
        return Ok(None);
    };
    if magic[1..] != [0x2A, 0x4D, 0x18] || magic[0] & 0xF0 != 0x50 {
        return Ok(None);
    }
    let truncated = || IpDbError::Zstd("truncated skippable frame".to_string());
    let len = input
        .get(4..8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(truncated)?;
    let end = 8usize.saturating_add(len as usize);
    input.get(end..).map(Some).ok_or_else(truncated)
}

/// True when the MaxMind DB metadata marker is in the last 128 KiB.
fn has_mmdb_marker(data: &[u8]) -> bool {
    let from = data
        .len()
        .saturating_sub(MMDB_METADATA_MAX + MMDB_MARKER.len());
    data.get(from..)
        .is_some_and(|tail| tail.windows(MMDB_MARKER.len()).any(|w| w == MMDB_MARKER))
}

// ---------------------------------------------------------------------------------
// MaxMind DB

/// The fields wavetrace reads from an MMDB record, across the common schemas.
/// Unknown fields are skipped; fields of an unexpected type are ignored, not errors.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MmdbRecord {
    /// GeoIP2/GeoLite2 ASN and ISP, DB-IP, ip-location-db.
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
    /// IPinfo: `"AS15169"`.
    asn: Option<MmdbAsn>,
    /// IPinfo.
    as_name: Option<String>,
    /// GeoIP2 Country/City/Enterprise: `{ "iso_code": "US", ... }`; IPinfo: a name.
    country: Option<MmdbCountry>,
    /// GeoIP2: the country where the block is registered, used when `country` is absent.
    registered_country: Option<MmdbCountry>,
    /// ip-location-db, IPinfo.
    country_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MmdbAsn {
    Number(u32),
    Text(String),
    Other(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MmdbCountry {
    Record {
        #[serde(default)]
        iso_code: Option<String>,
    },
    Other(serde::de::IgnoredAny),
}

impl MmdbCountry {
    fn iso_code(self) -> Option<String> {
        match self {
            MmdbCountry::Record { iso_code } => iso_code,
            MmdbCountry::Other(_) => None,
        }
    }
}

impl MmdbRecord {
    fn into_info(self) -> IpInfo {
        let asn = self
            .autonomous_system_number
            .or(match self.asn {
                Some(MmdbAsn::Number(n)) => Some(n),
                Some(MmdbAsn::Text(t)) => parse_asn(&t),
                _ => None,
            })
            .filter(|&n| n != 0);
        let as_org = self
            .autonomous_system_organization
            .or(self.as_name)
            .filter(|s| !s.trim().is_empty());
        let country = self
            .country
            .and_then(MmdbCountry::iso_code)
            .or(self.country_code)
            .or(self.registered_country.and_then(MmdbCountry::iso_code))
            .and_then(|c| country_code(&c));
        IpInfo {
            asn,
            as_org,
            country,
        }
    }
}

fn mmdb_lookup(reader: &maxminddb::Reader<Vec<u8>>, ip: IpAddr) -> IpInfo {
    let Ok(result) = reader.lookup(ip) else {
        return IpInfo::default();
    };
    match result.decode::<MmdbRecord>() {
        Ok(Some(record)) => record.into_info(),
        _ => IpInfo::default(),
    }
}

// ---------------------------------------------------------------------------------
// CSV range tables

/// What one range says, interned: `org` indexes [`RangeTable::orgs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Attr {
    asn: Option<u32>,
    org: Option<u32>,
    country: Option<[u8; 2]>,
}

/// Sorted, disjoint, inclusive ranges: `starts[i]..=ends[i]` has attribute
/// `attrs[i]` (an index into [`RangeTable::attrs`]).
#[derive(Debug)]
struct Ranges<K> {
    starts: Vec<K>,
    ends: Vec<K>,
    attrs: Vec<u32>,
}

impl<K> Default for Ranges<K> {
    fn default() -> Self {
        Ranges {
            starts: Vec::new(),
            ends: Vec::new(),
            attrs: Vec::new(),
        }
    }
}

/// The two key types, `u32` for IPv4 and `u128` for IPv6.
trait RangeKey: Copy + Ord + Into<u128> {
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl RangeKey for u32 {
    const MAX: Self = u32::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl RangeKey for u128 {
    const MAX: Self = u128::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// One row as read, before overlaps are resolved.
#[derive(Debug, Clone, Copy)]
struct RawRange<K> {
    start: K,
    end: K,
    attr: u32,
    /// Position among the rows loaded, which decides between equally narrow overlaps.
    row: usize,
}

impl<K: RangeKey> Ranges<K> {
    /// The attribute of the range holding `key`.
    fn find(&self, key: K) -> Option<u32> {
        let i = self.starts.partition_point(|&s| s <= key).checked_sub(1)?;
        if *self.ends.get(i)? >= key {
            self.attrs.get(i).copied()
        } else {
            None
        }
    }

    /// Appends a range after the last one, merging it into the last when adjacent
    /// with the same attribute.
    fn push(&mut self, start: K, end: K, attr: u32) {
        if let (Some(last_end), Some(&last_attr)) = (self.ends.last_mut(), self.attrs.last()) {
            if last_attr == attr && last_end.succ() == Some(start) {
                *last_end = end;
                return;
            }
        }
        self.starts.push(start);
        self.ends.push(end);
        self.attrs.push(attr);
    }

    /// Sorted, disjoint ranges from rows as read (see [`IpDb::from_bytes`] for what
    /// overlaps do). Rows are sorted by start, then cut into clusters of rows that
    /// overlap one another; a lone row is copied, a cluster is resolved by
    /// [`Ranges::resolve_overlaps`], so the cost of overlaps is paid only where they are.
    fn build(mut raw: Vec<RawRange<K>>) -> Ranges<K> {
        if !raw.is_sorted_by_key(|r| r.start) {
            raw.sort_by_key(|r| r.start);
        }
        let mut out = Ranges {
            starts: Vec::with_capacity(raw.len()),
            ends: Vec::with_capacity(raw.len()),
            attrs: Vec::with_capacity(raw.len()),
        };
        let mut rest = raw.as_slice();
        while let Some(first) = rest.first() {
            let mut reach = first.end;
            let len = 1 + rest
                .iter()
                .skip(1)
                .take_while(|r| {
                    let overlaps = r.start <= reach;
                    reach = reach.max(r.end);
                    overlaps
                })
                .count();
            let (cluster, after) = rest.split_at(len.min(rest.len()));
            match cluster {
                [one] => out.push(one.start, one.end, one.attr),
                _ => Self::resolve_overlaps(cluster, &mut out),
            }
            rest = after;
        }
        out.starts.shrink_to_fit();
        out.ends.shrink_to_fit();
        out.attrs.shrink_to_fit();
        out
    }

    /// Sweeps over the boundaries of overlapping rows keeping the set of rows that
    /// cover the current point; each elementary segment takes the narrowest covering
    /// row, the earliest in the file among equals. O(n log n) in the cluster's size.
    fn resolve_overlaps(cluster: &[RawRange<K>], out: &mut Ranges<K>) {
        // (position, starts, index): the row starts at `position`, or ends just before it.
        let mut events: Vec<(K, bool, usize)> = Vec::with_capacity(cluster.len() * 2);
        for (i, r) in cluster.iter().enumerate() {
            events.push((r.start, true, i));
            if let Some(after) = r.end.succ() {
                events.push((after, false, i));
            }
        }
        events.sort_unstable_by_key(|e| e.0);
        let rank = |r: &RawRange<K>| (r.end.into() - r.start.into(), r.row);
        let mut active: BTreeSet<((u128, usize), usize)> = BTreeSet::new();
        let mut i = 0;
        while let Some(&(pos, _, _)) = events.get(i) {
            while let Some(&(p, starts, index)) = events.get(i) {
                if p != pos {
                    break;
                }
                if let Some(r) = cluster.get(index) {
                    if starts {
                        active.insert((rank(r), index));
                    } else {
                        active.remove(&(rank(r), index));
                    }
                }
                i += 1;
            }
            let segment_end = match events.get(i) {
                Some(&(next, _, _)) => match next.pred() {
                    Some(end) => end,
                    None => continue,
                },
                None => K::MAX,
            };
            if let Some(r) = active.first().and_then(|&(_, index)| cluster.get(index)) {
                out.push(pos, segment_end, r.attr);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.ends.capacity()) * std::mem::size_of::<K>()
            + self.attrs.capacity() * 4
    }
}

/// A CSV table loaded into flat sorted arrays.
#[derive(Debug, Default)]
struct RangeTable {
    v4: Ranges<u32>,
    /// `v4_buckets[h]` is the index of the first IPv4 range starting at or after
    /// `h << 16`, so a lookup searches only its /16's few ranges (65,537 entries,
    /// 256 KiB; the full binary search costs ~19 cache misses on a 400k-row table).
    v4_buckets: Vec<u32>,
    v6: Ranges<u128>,
    attrs: Vec<Attr>,
    orgs: Vec<Box<str>>,
}

/// A range endpoint as written.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    V4(u32),
    V6(u128),
    /// An integer, family decided by the range's end.
    Number(u128),
}

fn parse_endpoint(field: &str) -> Option<Endpoint> {
    let field = field.trim();
    if let Ok(ip) = field.parse::<IpAddr>() {
        return Some(match ip.to_canonical() {
            IpAddr::V4(v4) => Endpoint::V4(v4.into()),
            IpAddr::V6(v6) => Endpoint::V6(v6.into()),
        });
    }
    if !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) {
        return field.parse::<u128>().ok().map(Endpoint::Number);
    }
    None
}

enum RowRange {
    V4(u32, u32),
    V6(u128, u128),
}

fn parse_range(start: &str, end: &str) -> Result<RowRange, LineProblem> {
    let (Some(s), Some(e)) = (parse_endpoint(start), parse_endpoint(end)) else {
        return Err(LineProblem::NotARange);
    };
    let range = match (s, e) {
        (Endpoint::V4(s), Endpoint::V4(e)) => RowRange::V4(s, e),
        (Endpoint::V6(s), Endpoint::V6(e)) => RowRange::V6(s, e),
        (Endpoint::Number(s), Endpoint::Number(e)) => match (u32::try_from(s), u32::try_from(e)) {
            (Ok(s), Ok(e)) => RowRange::V4(s, e),
            _ => RowRange::V6(s, e),
        },
        _ => return Err(LineProblem::MixedFamilies),
    };
    let ordered = match range {
        RowRange::V4(s, e) => s <= e,
        RowRange::V6(s, e) => s <= e,
    };
    if ordered {
        Ok(range)
    } else {
        Err(LineProblem::Reversed)
    }
}

/// An AS number, bare or with an `AS` prefix (`15169`, `AS15169`).
fn parse_asn(field: &str) -> Option<u32> {
    let field = field.trim();
    let digits = field
        .strip_prefix("AS")
        .or_else(|| field.strip_prefix("as"))
        .unwrap_or(field);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An ISO 3166-1 alpha-2 code, upper-cased; `ZZ` (unknown) and anything else is None.
fn country_code(field: &str) -> Option<String> {
    let code = field.trim().to_ascii_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) && code != "ZZ")
        .then_some(code)
}

/// Splits one line into fields per RFC 4180 section 2: fields separated by commas,
/// a field in double quotes may hold commas, `""` inside it is one quote.
/// Unquoted fields are trimmed of surrounding spaces.
fn split_fields<'a>(line: &'a str, fields: &mut Vec<Cow<'a, str>>) -> Result<(), LineProblem> {
    fields.clear();
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if let Some(quoted) = trimmed.strip_prefix('"') {
            let mut value = String::new();
            let mut chunk = quoted;
            let after = loop {
                let Some(q) = chunk.find('"') else {
                    return Err(LineProblem::UnterminatedQuote);
                };
                value.push_str(chunk.get(..q).unwrap_or(""));
                let tail = chunk.get(q + 1..).unwrap_or("");
                if let Some(next) = tail.strip_prefix('"') {
                    value.push('"');
                    chunk = next;
                } else {
                    break tail;
                }
            };
            fields.push(Cow::Owned(value));
            let after = after.trim_start_matches([' ', '\t']);
            if after.is_empty() {
                return Ok(());
            }
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None => return Err(LineProblem::TextAfterQuote),
            }
        } else {
            match trimmed.split_once(',') {
                Some((field, next)) => {
                    fields.push(Cow::Borrowed(field.trim()));
                    rest = next;
                }
                None => {
                    fields.push(Cow::Borrowed(trimmed.trim()));
                    return Ok(());
                }
            }
        }
    }
}

type FxMap<K, V> = HashMap<K, V, crate::fxhash::FxBuildHasher>;

/// Interns organisation names and attribute combinations while loading.
#[derive(Default)]
struct Interner {
    orgs: Vec<Box<str>>,
    org_ids: FxMap<Box<str>, u32>,
    attrs: Vec<Attr>,
    attr_ids: FxMap<Attr, u32>,
}

impl Interner {
    fn org(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.org_ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
        self.orgs.push(name.into());
        self.org_ids.insert(name.into(), id);
        id
    }

    fn attr(&mut self, attr: Attr) -> u32 {
        *self.attr_ids.entry(attr).or_insert_with(|| {
            let id = u32::try_from(self.attrs.len()).unwrap_or(u32::MAX);
            self.attrs.push(attr);
            id
        })
    }
}

impl RangeTable {
    /// Parses a CSV table; returns it with its kind and the number of rows loaded.
    fn parse_csv(data: &[u8]) -> Result<(RangeTable, IpDbKind, usize), IpDbError> {
        let mut interner = Interner::default();
        let mut v4: Vec<RawRange<u32>> = Vec::new();
        let mut v6: Vec<RawRange<u128>> = Vec::new();
        let mut kind: Option<IpDbKind> = None;
        let mut first_line = true;
        let mut fields: Vec<Cow<'_, str>> = Vec::new();
        for (index, raw_line) in data.split(|&b| b == b'\n').enumerate() {
            let line_no = index + 1;
            let fail = |problem| IpDbError::Line {
                line: line_no,
                problem,
            };
            let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
            let line = std::str::from_utf8(raw_line).map_err(|_| fail(LineProblem::NotUtf8))?;
            let line = line.trim_start_matches('\u{feff}');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let is_first = std::mem::replace(&mut first_line, false);
            split_fields(line, &mut fields).map_err(fail)?;
            let (start, end) = match (fields.first(), fields.get(1)) {
                (Some(s), Some(e)) => (s.as_ref(), e.as_ref()),
                _ if is_first => continue,
                _ => return Err(fail(LineProblem::NotARange)),
            };
            let range = match parse_range(start, end) {
                Ok(range) => range,
                Err(_)
                    if is_first
                        && parse_endpoint(start).is_none()
                        && parse_endpoint(end).is_none() =>
                {
                    continue; // a header row
                }
                Err(problem) => return Err(fail(problem)),
            };
            let value = fields.get(2).map(|f| f.trim()).unwrap_or("");
            if value.is_empty() {
                continue;
            }
            let (row_kind, attr) = if let Some(asn) = parse_asn(value) {
                let org = fields
                    .get(3)
                    .map(|f| f.trim())
                    .filter(|o| !o.is_empty() && asn != 0)
                    .map(|o| interner.org(o));
                let attr = Attr {
                    asn: Some(asn).filter(|&n| n != 0),
                    org,
                    country: None,
                };
                (IpDbKind::CsvAsn, attr)
            } else if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
                let country =
                    country_code(value).and_then(|c| <[u8; 2]>::try_from(c.as_bytes()).ok());
                let attr = Attr {
                    asn: None,
                    org: None,
                    country,
                };
                (IpDbKind::CsvCountry, attr)
            } else {
                let shown: String = value.chars().take(QUOTED_FIELD_MAX).collect();
                return Err(fail(LineProblem::BadValue(shown)));
            };
            match kind {
                None => kind = Some(row_kind),
                Some(table) if table != row_kind => {
                    return Err(fail(LineProblem::KindChanged {
                        table,
                        found: row_kind,
                    }));
                }
                Some(_) => {}
            }
            if attr.asn.is_none() && attr.org.is_none() && attr.country.is_none() {
                continue;
            }
            let attr = interner.attr(attr);
            let row = v4.len() + v6.len();
            match range {
                RowRange::V4(start, end) => v4.push(RawRange {
                    start,
                    end,
                    attr,
                    row,
                }),
                RowRange::V6(start, end) => v6.push(RawRange {
                    start,
                    end,
                    attr,
                    row,
                }),
            }
        }
        let entries = v4.len() + v6.len();
        let Some(kind) = kind.filter(|_| entries > 0) else {
            return Err(IpDbError::NoRanges);
        };
        let Interner {
            mut orgs,
            mut attrs,
            ..
        } = interner;
        orgs.shrink_to_fit();
        attrs.shrink_to_fit();
        let v4 = Ranges::build(v4);
        let table = RangeTable {
            v4_buckets: v4_buckets(&v4.starts),
            v4,
            v6: Ranges::build(v6),
            attrs,
            orgs,
        };
        Ok((table, kind, entries))
    }

    fn lookup(&self, ip: IpAddr) -> IpInfo {
        let attr = match ip {
            IpAddr::V4(v4) => self.find_v4(v4.into()),
            IpAddr::V6(v6) => self.v6.find(v6.into()),
        };
        let Some(attr) = attr.and_then(|a| self.attrs.get(a as usize)) else {
            return IpInfo::default();
        };
        IpInfo {
            asn: attr.asn,
            as_org: attr
                .org
                .and_then(|o| self.orgs.get(o as usize))
                .map(|s| s.to_string()),
            country: attr
                .country
                .and_then(|c| std::str::from_utf8(&c).ok().map(str::to_string)),
        }
    }

    /// [`Ranges::find`] narrowed to the key's /16 by [`RangeTable::v4_buckets`].
    fn find_v4(&self, key: u32) -> Option<u32> {
        let bucket = (key >> 16) as usize;
        let (Some(&lo), Some(&hi)) = (self.v4_buckets.get(bucket), self.v4_buckets.get(bucket + 1))
        else {
            return self.v4.find(key);
        };
        let (lo, hi) = (lo as usize, hi as usize);
        let within = self.v4.starts.get(lo..hi)?.partition_point(|&s| s <= key);
        // The range holding `key` starts in this /16, or is the last one before it.
        let i = (lo + within).checked_sub(1)?;
        if *self.v4.ends.get(i)? >= key {
            self.v4.attrs.get(i).copied()
        } else {
            None
        }
    }

    fn heap_bytes(&self) -> usize {
        self.v4_buckets.capacity() * 4
            + self.v4.heap_bytes()
            + self.v6.heap_bytes()
            + self.attrs.capacity() * std::mem::size_of::<Attr>()
            + self.orgs.capacity() * std::mem::size_of::<Box<str>>()
            + self.orgs.iter().map(|o| o.len()).sum::<usize>()
    }
}

/// For each /16 `h` (and one past the last), the index of the first start at or
/// after `h << 16`; empty when the table is too large for `u32` indexes.
fn v4_buckets(starts: &[u32]) -> Vec<u32> {
    if u32::try_from(starts.len()).is_err() {
        return Vec::new();
    }
    (0..=1u32 << 16)
        .map(|h| {
            let floor = u64::from(h) << 16;
            starts.partition_point(|&s| u64::from(s) < floor) as u32
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Snapshot dates

/// The UTC calendar date of a Unix time, as `YYYY-MM-DD` (RFC 3339 `full-date`);
/// None past the year 9999, which RFC 3339 cannot write.
fn date_from_epoch(epoch: u64) -> Option<String> {
    /// 9999-12-31T23:59:59Z.
    const LAST_WRITABLE: u64 = 253_402_300_799;
    (epoch <= LAST_WRITABLE).then(|| crate::parse::rfc3339_utc(epoch as i64)[..10].to_string())
}

/// The last date written in `name`: `YYYYMMDD`, `YYYY-MM-DD`, `YYYY-MM` or `YYYY`
/// (separators `-`, `_` or `.`; years 1990 to 2099), as `YYYY[-MM[-DD]]`.
fn date_in_name(name: &str) -> Option<String> {
    let b = name.as_bytes();
    // `n` digits at `i`, parsed; `bounded` also requires no digit right after them.
    let num = |i: usize, n: usize, bounded: bool| -> Option<u32> {
        let run = b.get(i..i.checked_add(n)?)?;
        let ends = !bounded || b.get(i + n).is_none_or(|c| !c.is_ascii_digit());
        if !ends || !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(run).ok()?.parse().ok()
    };
    let sep_at = |i: usize| matches!(b.get(i), Some(b'-' | b'_' | b'.'));
    let year_ok = |y: &u32| (1990..=2099).contains(y);
    let month_ok = |m: &u32| (1..=12).contains(m);
    let day_ok = |d: &u32| (1..=31).contains(d);
    let mut found = None;
    let mut i = 0;
    while i < b.len() {
        let starts_run = b.get(i).is_some_and(u8::is_ascii_digit)
            && (i == 0 || b.get(i - 1).is_some_and(|c| !c.is_ascii_digit()));
        if !starts_run {
            i += 1;
            continue;
        }
        let run = b
            .get(i..)
            .map_or(1, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
        if run == 8 {
            let y = num(i, 4, false).filter(year_ok);
            let m = num(i + 4, 2, false).filter(month_ok);
            let d = num(i + 6, 2, true).filter(day_ok);
            if let (Some(y), Some(m), Some(d)) = (y, m, d) {
                found = Some(format!("{y:04}-{m:02}-{d:02}"));
            }
        } else if let Some(y) = num(i, 4, true).filter(year_ok) {
            let mut date = format!("{y:04}");
            let mut consumed = 4;
            if let Some(m) = sep_at(i + 4)
                .then(|| num(i + 5, 2, true).filter(month_ok))
                .flatten()
            {
                date.push_str(&format!("-{m:02}"));
                consumed = 7;
                if let Some(d) = sep_at(i + 7)
                    .then(|| num(i + 8, 2, true).filter(day_ok))
                    .flatten()
                {
                    date.push_str(&format!("-{d:02}"));
                    consumed = 10;
                }
            }
            found = Some(date);
            i += consumed;
            continue;
        }
        i += run.max(1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::path::PathBuf;
    use std::time::Instant;

    /// The shared corpora: `WAVETRACE_SHARED_CORPORA`, else `shared/corpora` beside the
    /// repository checkout.
    fn corpora() -> PathBuf {
        match std::env::var_os("WAVETRACE_SHARED_CORPORA") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        }
    }

    fn read(rel: &str) -> Vec<u8> {
        let path = corpora().join(rel);
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set WAVETRACE_SHARED_CORPORA)", path.display()))
    }

    fn load(rel: &str) -> IpDb {
        IpDb::from_bytes(rel, &read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// A large table loaded once for all tests (a debug build takes seconds per
    /// load), with its compressed size and how long the load took.
    fn shared_table(rel: &'static str) -> &'static (IpDb, usize, std::time::Duration) {
        type Cache = HashMap<&'static str, &'static (IpDb, usize, std::time::Duration)>;
        static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.entry(rel).or_insert_with(|| {
            let bytes = read(rel);
            let t = Instant::now();
            let db = IpDb::from_bytes(rel, &bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            Box::leak(Box::new((db, bytes.len(), t.elapsed())))
        })
    }

    const ASN_V4: &str = "ipdb/ip_to_asn_2026/asn-ipv4.csv.zst";
    const ASN_V6: &str = "ipdb/ip_to_asn_2026/asn-ipv6.csv.zst";
    const COUNTRY_V4: &str = "ipdb/ip_to_country_2026/geo-whois-asn-country-ipv4.csv.zst";
    const COUNTRY_V6: &str = "ipdb/ip_to_country_2026/geo-whois-asn-country-ipv6.csv.zst";

    fn table(rel: &'static str) -> &'static IpDb {
        &shared_table(rel).0
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn info(asn: Option<u32>, org: Option<&str>, country: Option<&str>) -> IpInfo {
        IpInfo {
            asn,
            as_org: org.map(str::to_string),
            country: country.map(str::to_string),
        }
    }

    fn csv(text: &str) -> Result<IpDb, IpDbError> {
        IpDb::from_bytes("test.csv", text.as_bytes())
    }

    /// A zstd frame holding `content` in one raw block (RFC 8878 sections 3.1.1 and
    /// 3.1.1.2), so tests need no encoder.
    fn raw_zstd_frame(content: &[u8]) -> Vec<u8> {
        let len = u32::try_from(content.len()).unwrap_or(0);
        assert!(len < (1 << 21), "raw test blocks are small");
        let mut frame = ZSTD_MAGIC.to_vec();
        frame.push(0xA0); // single segment, 4-byte frame content size
        frame.extend_from_slice(&len.to_le_bytes());
        let header = 1 | (len << 3); // last block, raw
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(content);
        frame
    }

    #[test]
    fn asn_ipv4_table_knows_google_and_cloudflare() {
        let db = table(ASN_V4);
        assert_eq!(
            db.lookup(ip("8.8.8.8")),
            info(Some(15169), Some("Google LLC"), None)
        );
        assert_eq!(
            db.lookup(ip("1.1.1.1")),
            info(Some(13335), Some("Cloudflare, Inc."), None)
        );
        // The neighbouring block belongs to someone else (8.8.9.0/24).
        assert_eq!(db.lookup(ip("8.8.9.1")).asn, Some(23089));
        // IPv4-mapped IPv6 is looked up as IPv4; IPv6 is not in a v4 table.
        assert_eq!(db.lookup(ip("::ffff:8.8.8.8")).asn, Some(15169));
        assert!(db.lookup(ip("2001:4860:4860::8888")).is_empty());
        // Private space is in no ASN table.
        assert!(db.lookup(ip("10.1.2.3")).is_empty());
        let p = db.describe();
        assert_eq!(p.kind, IpDbKind::CsvAsn);
        assert_eq!(p.snapshot.as_deref(), Some("2026"));
        assert_eq!(p.entries, 411_961);
        assert!(p.zstd);
    }

    #[test]
    fn asn_table_overlap_goes_to_the_narrower_range() {
        // The file has 214.95.0.0-215.0.255.255 AS749 followed by the narrower
        // 215.0.0.0-215.1.3.255 AS721, which overlaps its last 64 Ki addresses.
        let db = table(ASN_V4);
        assert_eq!(db.lookup(ip("214.95.0.1")).asn, Some(749));
        assert_eq!(db.lookup(ip("214.255.255.255")).asn, Some(749));
        assert_eq!(db.lookup(ip("215.0.0.1")).asn, Some(721));
        assert_eq!(db.lookup(ip("215.1.3.255")).asn, Some(721));
    }

    #[test]
    fn asn_ipv6_table_knows_big_providers() {
        let db = table(ASN_V6);
        assert_eq!(db.lookup(ip("2001:4860:4860::8888")).asn, Some(15169));
        assert_eq!(db.lookup(ip("2606:4700:4700::1111")).asn, Some(13335));
        assert_eq!(
            db.lookup(ip("2001::1")),
            info(Some(6939), Some("Hurricane Electric LLC"), None)
        );
        assert!(db.lookup(ip("8.8.8.8")).is_empty());
        assert_eq!(db.describe().entries, 103_197);
    }

    #[test]
    fn country_tables_honour_nested_geofeed_ranges() {
        let db = table(COUNTRY_V4);
        assert_eq!(db.describe().kind, IpDbKind::CsvCountry);
        assert_eq!(db.lookup(ip("8.8.8.8")), info(None, None, Some("US")));
        assert_eq!(db.lookup(ip("1.0.1.1")).country.as_deref(), Some("CN"));
        // 2.58.196.0-2.58.197.255 is DE, with the single address 2.58.197.15 BE.
        assert_eq!(db.lookup(ip("2.58.197.14")).country.as_deref(), Some("DE"));
        assert_eq!(db.lookup(ip("2.58.197.15")).country.as_deref(), Some("BE"));
        assert_eq!(db.lookup(ip("2.58.197.16")).country.as_deref(), Some("DE"));
        // 5.61.192.0/21 FR with 5.61.192.0/23 SK inside, same start.
        assert_eq!(db.lookup(ip("5.61.192.1")).country.as_deref(), Some("SK"));
        assert_eq!(db.lookup(ip("5.61.194.1")).country.as_deref(), Some("NL"));

        let db6 = table(COUNTRY_V6);
        assert_eq!(db6.lookup(ip("2001:2::1")).country.as_deref(), Some("JP"));
        assert_eq!(db6.describe().entries, 216_295);
    }

    #[test]
    fn a_set_merges_databases_first_knower_wins() {
        let override_csv = csv("8.8.8.0,8.8.8.255,64500\n").unwrap_or_else(|e| panic!("{e}"));
        let set = IpDbSet::new(vec![
            override_csv,
            load("spamassassin_t_data/geodb/GeoIP2-ISP.mmdb"),
            load("spamassassin_t_data/geodb/GeoIP2-Country.mmdb"),
        ]);
        // The ASN from the first, the organisation from the ISP database (the
        // override has none), the country from the third.
        assert_eq!(
            set.lookup(ip("8.8.8.8")),
            info(Some(64500), Some("GOOGLE - Google LLC, US"), Some("US"))
        );
        assert!(set.lookup(ip("9.9.9.9")).is_empty());
        let kinds: Vec<&str> = set.provenance().iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["csv-asn", "mmdb", "mmdb"]);
        assert!(!set.is_empty());
        assert_eq!(set.databases().len(), 3);

        let mut real = IpDbSet::default();
        assert!(real.is_empty() && real.lookup(ip("8.8.8.8")).is_empty());
        real.push(load("spamassassin_t_data/geodb/GeoIP2-Country.mmdb"));
        real.push(
            csv("8.8.8.0,8.8.8.255,FR\n1.1.1.0,1.1.1.255,AU\n").unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(real.lookup(ip("8.8.8.8")).country.as_deref(), Some("US"));
        assert_eq!(real.lookup(ip("1.1.1.1")).country.as_deref(), Some("AU"));
    }

    #[test]
    fn real_asn_and_country_tables_agree_on_google_dns() {
        for (asn_table, country_table, addr) in [
            (ASN_V4, COUNTRY_V4, "8.8.8.8"),
            (ASN_V6, COUNTRY_V6, "2001:4860:4860::8888"),
        ] {
            let a = table(asn_table).lookup(ip(addr));
            let c = table(country_table).lookup(ip(addr));
            assert_eq!(
                (a.asn, c.country.as_deref()),
                (Some(15169), Some("US")),
                "{addr}"
            );
        }
    }

    #[test]
    fn spamassassin_geoip2_test_databases() {
        // SpamAssassin's t/data/geodb holds 8.8.8.8 only (create_*.README): ISP
        // "Level 3 Communications", AS15169 "GOOGLE - Google LLC, US", country US,
        // city New York.
        let isp = load("spamassassin_t_data/geodb/GeoIP2-ISP.mmdb");
        assert_eq!(
            isp.lookup(ip("8.8.8.8")),
            info(Some(15169), Some("GOOGLE - Google LLC, US"), None)
        );
        assert!(isp.lookup(ip("1.2.3.4")).is_empty());
        let p = isp.describe();
        assert_eq!(p.kind, IpDbKind::Mmdb);
        assert_eq!(p.database_type.as_deref(), Some("GeoIP2-ISP"));
        assert!(!p.zstd);
        let date = p.snapshot.unwrap_or_default();
        assert_eq!(date.len(), 10, "{date}");
        assert!(
            date.as_str() > "2010-01-01" && date.as_str() < "2100-01-01",
            "{date}"
        );

        for rel in ["GeoIP2-Country.mmdb", "GeoIP2-City.mmdb"] {
            let db = load(&format!("spamassassin_t_data/geodb/{rel}"));
            assert_eq!(
                db.lookup(ip("8.8.8.8")),
                info(None, None, Some("US")),
                "{rel}"
            );
            assert_eq!(
                db.lookup(ip("::ffff:8.8.8.8")).country.as_deref(),
                Some("US")
            );
            assert!(db.lookup(ip("9.9.9.9")).is_empty(), "{rel}");
        }
    }

    #[test]
    fn mmdb_inside_zstd_is_recognised() {
        let path = corpora().join("spamassassin_t_data/geodb/GeoIP2-ISP.mmdb");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let db = IpDb::from_bytes("isp.mmdb.zst", &raw_zstd_frame(&bytes))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(db.describe().zstd);
        assert_eq!(db.describe().kind, IpDbKind::Mmdb);
        assert_eq!(db.lookup(ip("8.8.8.8")).asn, Some(15169));
    }

    #[test]
    fn mmdb_records_of_the_common_schemas() {
        let read = |json: &str| -> IpInfo {
            serde_json::from_str::<MmdbRecord>(json)
                .map(MmdbRecord::into_info)
                .unwrap_or_else(|e| panic!("{json}: {e}"))
        };
        // GeoLite2-ASN
        assert_eq!(
            read(r#"{"autonomous_system_number":15169,"autonomous_system_organization":"GOOGLE"}"#),
            info(Some(15169), Some("GOOGLE"), None)
        );
        // GeoIP2-City: country wins over registered_country
        assert_eq!(
            read(
                r#"{"city":{"names":{"en":"Paris"}},"country":{"iso_code":"FR","names":{"en":"France"}},"registered_country":{"iso_code":"DE"}}"#
            ),
            info(None, None, Some("FR"))
        );
        assert_eq!(
            read(r#"{"registered_country":{"iso_code":"de"}}"#),
            info(None, None, Some("DE"))
        );
        // IPinfo lite: asn as text, country as a name (ignored), country_code used
        assert_eq!(
            read(
                r#"{"asn":"AS13335","as_name":"Cloudflare, Inc.","country":"Australia","country_code":"AU"}"#
            ),
            info(Some(13335), Some("Cloudflare, Inc."), Some("AU"))
        );
        // ip-location-db country mmdb
        assert_eq!(
            read(r#"{"country_code":"JP"}"#),
            info(None, None, Some("JP"))
        );
        // Unknowns and odd types
        assert_eq!(
            read(r#"{"autonomous_system_number":0,"country":{"iso_code":"ZZ"},"asn":[1]}"#),
            IpInfo::default()
        );
    }

    #[test]
    fn csv_parsing_quotes_headers_comments_numbers() {
        let db = csv(concat!(
            "\u{feff}ip_range_start, ip_range_end, autonomous_system_number, autonomous_system_organization\r\n",
            "# a comment\r\n",
            "\r\n",
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\r\n",
            "1.0.1.0 , 1.0.1.255 , AS64500 , \"The \"\"Quoted\"\" Org\"\r\n",
            "16777728,16777983,64501,Numeric\r\n",
            "2001:db8::,2001:db8::ffff,64502\r\n",
            "1.0.3.0,1.0.3.255,0,Not routed\r\n",
            "1.0.4.0,1.0.4.255,,\r\n",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            db.lookup(ip("1.0.0.7")),
            info(Some(13335), Some("Cloudflare, Inc."), None)
        );
        assert_eq!(
            db.lookup(ip("1.0.1.1")),
            info(Some(64500), Some("The \"Quoted\" Org"), None)
        );
        // 16777728 = 1.0.2.0
        assert_eq!(db.lookup(ip("1.0.2.200")).asn, Some(64501));
        assert_eq!(db.lookup(ip("2001:db8::1")), info(Some(64502), None, None));
        assert!(db.lookup(ip("2001:db8::1:0")).is_empty());
        assert!(db.lookup(ip("1.0.3.1")).is_empty(), "AS0 means not routed");
        assert!(db.lookup(ip("1.0.4.1")).is_empty());
        assert!(db.lookup(ip("0.255.255.255")).is_empty());
        let p = db.describe();
        assert_eq!((p.kind, p.entries, p.snapshot), (IpDbKind::CsvAsn, 4, None));
    }

    #[test]
    fn csv_unsorted_and_overlapping_rows() {
        let db = csv(concat!(
            "10.0.0.0,10.255.255.255,1,Wide\n",
            "0.0.0.0,0.0.0.255,9,First\n",
            "10.1.0.0,10.1.255.255,2,Inner\n",
            "10.1.2.0,10.1.2.255,3,Innermost\n",
            "10.1.0.0,10.1.255.255,4,Duplicate of Inner\n",
            "10.200.0.0,11.0.0.255,5,Partial\n",
            "255.255.255.0,255.255.255.255,6,Top\n",
            "255.0.0.0,255.255.255.255,7,Top wide\n",
            "::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,8,All v6\n",
            "2001:db8::,2001:db8::1,10,Tiny v6\n",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let asn = |s: &str| db.lookup(ip(s)).asn;
        assert_eq!(asn("0.0.0.1"), Some(9));
        assert_eq!(asn("9.255.255.255"), None);
        assert_eq!(asn("10.0.0.0"), Some(1));
        assert_eq!(asn("10.0.255.255"), Some(1));
        assert_eq!(
            asn("10.1.0.0"),
            Some(2),
            "narrower wins, earlier among equals"
        );
        assert_eq!(asn("10.1.2.0"), Some(3));
        assert_eq!(asn("10.1.2.255"), Some(3));
        assert_eq!(asn("10.1.3.0"), Some(2));
        assert_eq!(asn("10.2.0.0"), Some(1));
        // 10.200.0.0-11.0.0.255 is narrower than 10/8, so it wins where they overlap.
        assert_eq!(asn("10.199.255.255"), Some(1));
        assert_eq!(asn("10.200.0.0"), Some(5));
        assert_eq!(asn("11.0.0.255"), Some(5));
        assert_eq!(asn("11.0.1.0"), None);
        assert_eq!(asn("255.254.0.0"), Some(7));
        assert_eq!(asn("255.255.255.255"), Some(6));
        assert_eq!(asn("2001:db8::1"), Some(10));
        assert_eq!(asn("2001:db8::2"), Some(8));
        assert_eq!(asn("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(8));
        assert_eq!(asn("::"), Some(8));
    }

    #[test]
    fn country_csv_rows() {
        let db =
            csv("1.0.0.0,1.0.0.255,au\n1.0.1.0,1.0.1.255,ZZ\n::ffff:1.0.2.0,::ffff:1.0.2.255,NZ\n")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.describe().kind, IpDbKind::CsvCountry);
        assert_eq!(db.lookup(ip("1.0.0.1")).country.as_deref(), Some("AU"));
        assert!(db.lookup(ip("1.0.1.1")).is_empty(), "ZZ is unknown");
        assert_eq!(db.lookup(ip("1.0.2.1")).country.as_deref(), Some("NZ"));
    }

    #[test]
    fn bad_csv_lines_are_named() {
        let err = |text: &str| match csv(text) {
            Ok(db) => panic!("accepted {text:?}: {db:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err("1.0.0.0,1.0.0.255,AU\n\n1.0.1.0,nonsense,AU\n"),
            "line 3: not an IP range (expected start_ip,end_ip,...)"
        );
        assert_eq!(
            err("1.0.0.0,1.0.0.255,AU\n1.0.1.0\n"),
            "line 2: not an IP range (expected start_ip,end_ip,...)"
        );
        assert_eq!(
            err("1.0.0.9,1.0.0.1,AU\n"),
            "line 1: range starts after it ends"
        );
        assert_eq!(
            err("1.0.0.0,2001:db8::,AU\n"),
            "line 1: range mixes IPv4 and IPv6"
        );
        assert_eq!(
            err("1.0.0.0,1.0.0.255,Australia\n"),
            "line 1: \"Australia\" is neither an AS number nor a two-letter country code"
        );
        assert_eq!(
            err("1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,64500,X\n"),
            "line 2: a csv-asn row in a csv-country table"
        );
        assert_eq!(
            err("1.0.0.0,1.0.0.255,64500,\"Open\n"),
            "line 1: unterminated quoted field"
        );
        assert_eq!(
            err("1.0.0.0,1.0.0.255,64500,\"Org\"x\n"),
            "line 1: text after the closing quote of a field"
        );
        assert_eq!(
            IpDb::from_bytes("latin1.csv", b"1.0.0.0,1.0.0.255,AU\n\xff\xfe\n")
                .map(|db| db.describe()),
            Err(IpDbError::Line {
                line: 2,
                problem: LineProblem::NotUtf8
            })
        );
        assert_eq!(err(""), IpDbError::NoRanges.to_string());
        assert_eq!(err("start,end,cc\n"), IpDbError::NoRanges.to_string());
        // A header is only recognised on the first line.
        assert_eq!(
            err("1.0.0.0,1.0.0.255,AU\nstart,end,cc\n"),
            "line 2: not an IP range (expected start_ip,end_ip,...)"
        );
    }

    #[test]
    fn garbage_and_broken_compression_are_errors() {
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(IpDb::from_bytes("garbage", &garbage).is_err());

        let path = corpora().join("ipdb/ip_to_asn_2026/asn-ipv6.csv.zst");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let half = bytes.get(..bytes.len() / 2).unwrap_or_default();
        match IpDb::from_bytes("truncated.csv.zst", half) {
            Err(IpDbError::Zstd(_)) => {}
            other => panic!("truncated zstd gave {other:?}"),
        }
        assert!(matches!(
            IpDb::from_bytes("magic only", &ZSTD_MAGIC),
            Err(IpDbError::Zstd(_))
        ));

        // The MaxMind marker with no valid database before it.
        let mut fake = b"not a tree".to_vec();
        fake.extend_from_slice(MMDB_MARKER);
        fake.extend_from_slice(b"\xe0");
        assert!(matches!(
            IpDb::from_bytes("fake.mmdb", &fake),
            Err(IpDbError::Mmdb(_))
        ));
        // A real MMDB cut short.
        let path = corpora().join("spamassassin_t_data/geodb/GeoIP2-City.mmdb");
        let city = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for cut in [100, city.len() / 2, city.len() - 20] {
            let mut tail_cut = city.clone();
            tail_cut.drain(..cut);
            if let Ok(db) = IpDb::from_bytes("cut.mmdb", &tail_cut) {
                // Whatever survives must still answer without panicking.
                let _ = db.lookup(ip("8.8.8.8"));
            }
        }
    }

    #[test]
    fn zstd_frames_skippable_frames_and_the_size_limit() {
        let a = b"1.0.0.0,1.0.0.255,AU\n";
        let b = b"2.0.0.0,2.0.0.255,FR\n";
        let mut stream = raw_zstd_frame(a);
        stream.extend_from_slice(&[0x5E, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        stream.extend_from_slice(&raw_zstd_frame(b));
        let db = IpDb::from_bytes("two-frames-2026-06.csv.zst", &stream)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db.lookup(ip("1.0.0.1")).country.as_deref(), Some("AU"));
        assert_eq!(db.lookup(ip("2.0.0.1")).country.as_deref(), Some("FR"));
        assert_eq!(db.describe().snapshot.as_deref(), Some("2026-06"));
        assert_eq!(db.describe().entries, 2);

        assert_eq!(decompress_zstd(&stream, 42).map(|v| v.len()), Ok(42));
        assert_eq!(
            decompress_zstd(&stream, 41),
            Err(IpDbError::TooLarge { limit: 41 })
        );
        let mut bad_skip = raw_zstd_frame(a);
        bad_skip.extend_from_slice(&[0x50, 0x2A, 0x4D, 0x18, 9, 0, 0, 0, 1]);
        assert!(matches!(
            decompress_zstd(&bad_skip, 1000),
            Err(IpDbError::Zstd(_))
        ));
    }

    #[test]
    fn snapshot_dates() {
        assert_eq!(date_from_epoch(0).as_deref(), Some("1970-01-01"));
        assert_eq!(
            date_from_epoch(1_700_000_000).as_deref(),
            Some("2023-11-14")
        );
        assert_eq!(date_from_epoch(951_782_400).as_deref(), Some("2000-02-29"));
        assert_eq!(
            date_from_epoch(253_402_300_799).as_deref(),
            Some("9999-12-31")
        );
        assert_eq!(date_from_epoch(253_402_300_800), None);
        assert_eq!(date_from_epoch(u64::MAX), None);
        let d = |s: &str| date_in_name(s);
        assert_eq!(
            d("GeoLite2-ASN_20260610.mmdb").as_deref(),
            Some("2026-06-10")
        );
        assert_eq!(
            d("dbip-asn-lite-2026-06.mmdb.zst").as_deref(),
            Some("2026-06")
        );
        assert_eq!(
            d("/data/ip_to_asn_2026/asn-ipv4.csv.zst").as_deref(),
            Some("2026")
        );
        assert_eq!(d("2019/asn_2024.06.30.csv").as_deref(), Some("2024-06-30"));
        assert_eq!(d("asn-2026-13.csv").as_deref(), Some("2026"));
        assert_eq!(d("asn-ipv6.csv"), None);
        assert_eq!(d("asn-12345.csv"), None);
        assert_eq!(d("port-8080.csv"), None);
        assert_eq!(d("20261399.csv"), None);
    }

    #[test]
    fn serialised_forms() {
        let json = serde_json::to_string(&info(Some(15169), None, Some("US")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json, r#"{"asn":15169,"country":"US"}"#);
        let p = IpDbProvenance {
            name: "asn.csv".into(),
            kind: IpDbKind::CsvAsn,
            snapshot: Some("2026".into()),
            entries: 3,
            database_type: None,
            zstd: false,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap_or_else(|e| panic!("{e}")),
            r#"{"name":"asn.csv","kind":"csv-asn","snapshot":"2026","entries":3,"zstd":false}"#
        );
    }

    /// Load and lookup figures for the real ASN tables; run with `--nocapture`.
    /// Prints, asserts nothing about time.
    #[test]
    fn asn_table_load_and_lookup_timing() {
        let mut dbs = Vec::new();
        for rel in [ASN_V4, ASN_V6] {
            let (db, compressed, load) = shared_table(rel);
            println!(
                "{rel}: {compressed} bytes compressed, {} rows, loaded in {load:?}, \
                 ~{} KiB in memory",
                db.describe().entries,
                db.heap_bytes() / 1024
            );
            dbs.push(db);
        }
        let n = 200_000u32;
        let mut found = 0usize;
        let mut x = 0x9E37_79B9u32;
        let t = Instant::now();
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if dbs
                .first()
                .is_some_and(|db| db.lookup(IpAddr::V4(Ipv4Addr::from(x))).asn.is_some())
            {
                found += 1;
            }
        }
        let v4 = t.elapsed();
        // The search alone, without building the answer's strings.
        let mut hits = 0usize;
        let t = Instant::now();
        if let Some(Backend::Csv(table)) = dbs.first().map(|db| &db.backend) {
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                hits += usize::from(table.find_v4(x).is_some());
            }
        }
        let search = t.elapsed();
        let t = Instant::now();
        for i in 0..n {
            let a = Ipv6Addr::new(
                0x2000 | (i as u16 & 0x0fff),
                (i >> 4) as u16,
                0,
                0,
                0,
                0,
                0,
                1,
            );
            if dbs
                .get(1)
                .is_some_and(|db| db.lookup(IpAddr::V6(a)).asn.is_some())
            {
                found += 1;
            }
        }
        let v6 = t.elapsed();
        println!(
            "lookups: IPv4 {:?} each (search alone {:?}), IPv6 {:?} each ({found} of {} found)",
            v4 / n,
            search / n,
            v6 / n,
            2 * n
        );
        assert!(found > 0 && hits > 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn exercise(bytes: &[u8]) {
            if let Ok(db) = IpDb::from_bytes("prop", bytes) {
                let _ = db.describe();
                for s in ["0.0.0.0", "1.0.0.1", "255.255.255.255", "::", "2001:db8::1"] {
                    let _ = db.lookup(ip(s));
                }
            }
        }

        proptest! {
            #[test]
            fn any_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                exercise(&bytes);
                let mut zstd = ZSTD_MAGIC.to_vec();
                zstd.extend_from_slice(&bytes);
                exercise(&zstd);
                let mut mmdb = bytes.clone();
                mmdb.extend_from_slice(MMDB_MARKER);
                mmdb.extend_from_slice(&bytes);
                exercise(&mmdb);
            }

            #[test]
            fn mutated_mmdb_does_not_panic(
                edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..16)
            ) {
                let mut bytes = read("spamassassin_t_data/geodb/GeoIP2-City.mmdb");
                for (at, value) in edits {
                    let i = at.index(bytes.len());
                    if let Some(b) = bytes.get_mut(i) {
                        *b = value;
                    }
                }
                exercise(&bytes);
            }

            #[test]
            fn csv_like_text_does_not_panic(text in "[0-9a-fA-F.,:\" \r\n#ASZ-]{0,400}") {
                exercise(text.as_bytes());
                exercise(&raw_zstd_frame(text.as_bytes()));
            }

            #[test]
            fn any_name_gives_a_date_or_none(name in "\\PC{0,60}") {
                if let Some(date) = date_in_name(&name) {
                    prop_assert!(matches!(date.len(), 4 | 7 | 10), "{}", date);
                }
            }
        }
    }
}
