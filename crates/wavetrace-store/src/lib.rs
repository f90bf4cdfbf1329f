//! wavetrace-store: the embedded store (SQLite, WAL, one writer).
//!
//! Every SQL statement of wavetrace lives in this file, written in SQL that
//! PostgreSQL also accepts (`ON CONFLICT`, plain types, no JSON functions)
//! so a shared PostgreSQL store can follow. The store keeps, per distinct
//! message (sha256): the record as JSON, the raw bytes compressed (so
//! `reanalyse` never needs the original files), and every sighting.
//!
//! Invariants: a message row and its sightings are written in the same
//! transaction; a batch is one transaction, so a scan killed at any moment
//! leaves whole batches or nothing, and the next scan adds what is missing.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use wavetrace_core::campaign;
use wavetrace_core::detect::Verdict;
use wavetrace_core::record::{Container, MessageRecord};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored record or container did not (de)serialise.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// Compressing or decompressing raw bytes failed.
    #[error("raw message bytes: {0}")]
    Raw(#[from] std::io::Error),
    /// The operating system's random source could not be read.
    #[error("reading /dev/urandom: {0}")]
    Random(std::io::Error),
    /// The database was written by a newer wavetrace.
    #[error("database schema version {found} is newer than this wavetrace supports ({supported})")]
    TooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
}

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Schema migrations, applied in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    // 1: messages, sightings, lookup indexes, scan log, rejects.
    "CREATE TABLE messages (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        message_id TEXT,
        arrival_time TEXT,
        from_domain TEXT,
        subject TEXT,
        record TEXT NOT NULL,
        record_schema INTEGER NOT NULL,
        tool_version TEXT NOT NULL
    );
    CREATE TABLE raw_messages (
        sha256 TEXT PRIMARY KEY REFERENCES messages (sha256),
        raw_encoding TEXT NOT NULL,
        raw BLOB NOT NULL
    );
    CREATE INDEX messages_arrival ON messages (arrival_time);
    CREATE INDEX messages_message_id ON messages (message_id);
    CREATE INDEX messages_from_domain ON messages (from_domain);
    CREATE TABLE sightings (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES messages (sha256),
        source TEXT NOT NULL,
        container TEXT NOT NULL,
        scan_id INTEGER,
        UNIQUE (sha256, source)
    );
    CREATE TABLE message_url_hosts (
        sha256 TEXT NOT NULL,
        host TEXT NOT NULL,
        PRIMARY KEY (sha256, host)
    );
    CREATE INDEX message_url_hosts_host ON message_url_hosts (host);
    CREATE TABLE message_ips (
        sha256 TEXT NOT NULL,
        ip TEXT NOT NULL,
        PRIMARY KEY (sha256, ip)
    );
    CREATE INDEX message_ips_ip ON message_ips (ip);
    CREATE TABLE message_attachments (
        sha256 TEXT NOT NULL,
        attachment_sha256 TEXT NOT NULL,
        PRIMARY KEY (sha256, attachment_sha256)
    );
    CREATE INDEX message_attachments_sha ON message_attachments (attachment_sha256);
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        tool_version TEXT NOT NULL,
        summary TEXT
    );
    CREATE TABLE rejects (
        id INTEGER PRIMARY KEY,
        scan_id INTEGER NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL
    );",
    // 2: campaign fingerprints and the current clustering.
    "CREATE TABLE message_fingerprints (
        sha256 TEXT PRIMARY KEY REFERENCES messages (sha256),
        arrival_time INTEGER,
        fingerprint TEXT NOT NULL
    );
    CREATE TABLE campaigns (
        id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        first_seen TEXT,
        last_seen TEXT,
        members_hash TEXT NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX campaigns_size ON campaigns (size);
    CREATE INDEX campaigns_last_seen ON campaigns (last_seen);
    CREATE TABLE campaign_members (
        sha256 TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL
    );
    CREATE INDEX campaign_members_campaign ON campaign_members (campaign_id);
    CREATE TABLE campaign_links (
        campaign_id TEXT NOT NULL,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        evidence TEXT NOT NULL
    );
    CREATE INDEX campaign_links_campaign ON campaign_links (campaign_id);
    CREATE TABLE campaign_aliases (
        alias TEXT PRIMARY KEY,
        campaign_id TEXT NOT NULL
    );",
    // 3: detection: each message's verdict (0 clean, 1 suspicious, 2
    // malicious, NULL not judged), score and labels, for the filters.
    "ALTER TABLE messages ADD COLUMN verdict INTEGER;
    ALTER TABLE messages ADD COLUMN score INTEGER;
    CREATE INDEX messages_verdict ON messages (verdict);
    CREATE TABLE message_labels (
        sha256 TEXT NOT NULL REFERENCES messages (sha256),
        label TEXT NOT NULL,
        PRIMARY KEY (sha256, label)
    );
    CREATE INDEX message_labels_label ON message_labels (label);",
    // 4: settings of this database, such as the salt of the exports'
    // redaction hashes.
    "CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
];

/// The settings key of the redaction salt.
const EXPORT_SALT: &str = "export_salt";

/// The `verdict` column's number for a verdict (ordered, so `>=` filters).
fn verdict_rank(verdict: Option<Verdict>) -> Option<i64> {
    verdict.map(|v| match v {
        Verdict::Clean => 0,
        Verdict::Suspicious => 1,
        Verdict::Malicious => 2,
    })
}

fn verdict_of_rank(rank: Option<i64>) -> Option<Verdict> {
    match rank? {
        0 => Some(Verdict::Clean),
        1 => Some(Verdict::Suspicious),
        2 => Some(Verdict::Malicious),
        _ => None,
    }
}

/// How raw bytes are stored (`raw_encoding`): an LZ4 block with its
/// length prepended. LZ4 rather than deflate: deflate cost a quarter of the
/// scan's CPU (profiled on phishing_pot), LZ4 a few percent, for a lower
/// ratio on mail.
const RAW_ENCODING: &str = "lz4";

/// Compresses raw message bytes for storage; meant to run on the parsing
/// threads, not the writer.
pub fn compress_raw(raw: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(raw)
}

fn decompress_raw(stored: &[u8], encoding: &str) -> Result<Vec<u8>> {
    if encoding != RAW_ENCODING {
        return Err(StoreError::Raw(std::io::Error::other(format!(
            "unknown raw encoding {encoding:?}"
        ))));
    }
    lz4_flex::block::decompress_size_prepended(stored)
        .map_err(|e| StoreError::Raw(std::io::Error::other(e.to_string())))
}

/// One analysed message ready to be written, prepared on a worker thread
/// (compression and JSON are done there, so the single writer only writes).
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The record (its `source` is this sighting's).
    pub record: MessageRecord,
    /// The record as JSON.
    pub record_json: String,
    /// The sighting's container as JSON.
    pub container_json: String,
    /// Raw bytes compressed by [`compress_raw`].
    pub raw_compressed: Vec<u8>,
    /// The campaign fingerprint as JSON.
    pub fingerprint_json: String,
    /// The arrival time (Unix seconds) the fingerprint was made for.
    pub arrival_unix: Option<i64>,
}

impl NewMessage {
    /// Fingerprints, serialises and compresses what the writer needs.
    pub fn prepare(record: MessageRecord, raw: &[u8]) -> Result<NewMessage> {
        let (_, arrival_unix, fingerprint_json) = stored_fingerprint(&record)?;
        Ok(NewMessage {
            record_json: serde_json::to_string(&record)?,
            container_json: serde_json::to_string(&record.container)?,
            raw_compressed: compress_raw(raw),
            fingerprint_json,
            arrival_unix,
            record,
        })
    }
}

/// A stored fingerprint: (sha256, arrival time, fingerprint JSON).
pub type StoredFingerprint = (String, Option<i64>, String);

/// The campaign fingerprint of a record, as the store keeps it (the one
/// routine for new messages and for `reanalyse`).
pub fn stored_fingerprint(record: &MessageRecord) -> Result<StoredFingerprint> {
    let features = campaign::features(record);
    let json = serde_json::to_string(&campaign::fingerprint(&features))?;
    Ok((record.sha256.clone(), features.arrival_time, json))
}

/// One campaign as written by [`Store::replace_campaigns`].
#[derive(Debug, Clone)]
pub struct CampaignRow {
    /// The campaign id (first 12 hex characters of the earliest member).
    pub id: String,
    /// Number of members.
    pub size: u64,
    /// Earliest and latest arrival (RFC 3339 UTC).
    pub first_seen: Option<String>,
    /// See `first_seen`.
    pub last_seen: Option<String>,
    /// A digest of the sorted member list, to tell changed campaigns.
    pub members_hash: String,
    /// The campaign summary (JSON).
    pub summary: String,
    /// Member sha256s.
    pub members: Vec<String>,
    /// Links that explain the membership.
    pub links: Vec<CampaignLink>,
}

/// A link between two members: `b` was linked to `a` (already in the
/// index), for the reasons in `evidence` (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignLink {
    /// The member already in the index.
    pub a: String,
    /// The member linked to it.
    pub b: String,
    /// The evidence (JSON list).
    pub evidence: String,
}

/// The stored clustering: campaign id -> members digest, and every alias
/// with the campaign it points to.
#[derive(Debug, Default)]
pub struct StoredCampaigns {
    /// Campaign id -> members digest.
    pub campaigns: HashMap<String, String>,
    /// (alias, campaign id).
    pub aliases: Vec<(String, String)>,
}

/// Filters for listing campaigns.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    /// Smallest size listed.
    pub min_size: u64,
    /// Last seen at or after (RFC 3339 UTC).
    pub since: Option<String>,
    /// First seen before (RFC 3339 UTC).
    pub until: Option<String>,
    /// Most recent first instead of largest first.
    pub recent_first: bool,
}

/// What writing one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// New bytes: a new message row.
    New,
    /// Bytes already stored; this sighting was added.
    Duplicate,
    /// Bytes and sighting both already stored (a rescan).
    AlreadySeen,
}

/// Filters for listing messages; all given filters must hold.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// From domain, exact (lower case).
    pub from_domain: Option<String>,
    /// A URL host equal to this domain or under it.
    pub url_domain: Option<String>,
    /// An IP address found in the Received chain.
    pub ip: Option<String>,
    /// An attachment's sha256.
    pub attachment_sha256: Option<String>,
    /// Arrival time at or after (RFC 3339 UTC).
    pub since: Option<String>,
    /// Arrival time before (RFC 3339 UTC).
    pub until: Option<String>,
    /// Verdict at least this (suspicious includes malicious).
    pub min_verdict: Option<Verdict>,
    /// Carries this label.
    pub label: Option<String>,
}

/// A short row for tables.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// The message's sha256.
    pub sha256: String,
    /// Arrival time (RFC 3339 UTC).
    pub arrival_time: Option<String>,
    /// From domain.
    pub from_domain: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// The verdict, when the message was judged.
    pub verdict: Option<Verdict>,
    /// The detection score.
    pub score: Option<i64>,
}

/// Result of looking a message up by an id given by a user.
#[derive(Debug)]
pub enum Lookup {
    /// Exactly one message.
    Found(Box<MessageRecord>),
    /// No message.
    NotFound,
    /// Several messages match; their sha256s.
    Ambiguous(Vec<String>),
}

/// A stored message for re-analysis.
#[derive(Debug)]
pub struct StoredRaw {
    /// The message's sha256.
    pub sha256: String,
    /// The raw bytes, decompressed.
    pub raw: Vec<u8>,
    /// The first sighting.
    pub source: String,
    /// How it was found then.
    pub container: Container,
}

/// The store. One writer per database (SQLite's rule); readers may be many.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // 64 KB pages (effective when the database is created): raw messages
        // are large blobs, and big pages halved the writer's CPU on
        // phishing_pot (fewer overflow pages and B-tree splits).
        conn.pragma_update(None, "page_size", 65536)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL without fsync per commit: a killed process loses nothing
        // committed; only a power cut can lose the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 64 MB of page cache: index inserts for random sha256 keys.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database read-only (no migration).
    pub fn open_existing(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        self.conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, tool_version TEXT NOT NULL)")?;
        let current: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        let supported = MIGRATIONS.len() as i64;
        if current > supported {
            return Err(StoreError::TooNew {
                found: current,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, tool_version) VALUES (?, ?)",
                params![i as i64 + 1, env!("CARGO_PKG_VERSION")],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The salt of this database's redaction hashes (hex), made on first
    /// use from the operating system's random source and kept, so every
    /// export of this database hashes a value the same way, and nobody
    /// without the database can test guesses against a hash.
    pub fn export_salt(&mut self) -> Result<String> {
        let existing: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?",
                [EXPORT_SALT],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(salt) = existing {
            return Ok(salt);
        }
        let salt = random_hex()?;
        self.conn.execute(
            "INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)",
            params![EXPORT_SALT, salt],
        )?;
        Ok(self.conn.query_row(
            "SELECT value FROM settings WHERE key = ?",
            [EXPORT_SALT],
            |r| r.get(0),
        )?)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?)
    }

    /// Starts a scan in the scan log; returns its id.
    pub fn begin_scan(&mut self, started_at: &str) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO scans (started_at, tool_version) VALUES (?, ?)",
            params![started_at, env!("CARGO_PKG_VERSION")],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Closes a scan with its summary (JSON).
    pub fn finish_scan(&mut self, scan_id: i64, finished_at: &str, summary: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE scans SET finished_at = ?, summary = ? WHERE id = ?",
            params![finished_at, summary, scan_id],
        )?;
        Ok(())
    }

    /// Writes a batch of messages and rejected inputs in one transaction.
    pub fn write_batch(
        &mut self,
        scan_id: Option<i64>,
        messages: &[NewMessage],
        rejects: &[(String, &str, String)],
    ) -> Result<Vec<WriteOutcome>> {
        let tx = self.conn.transaction()?;
        let mut outcomes = Vec::with_capacity(messages.len());
        for m in messages {
            outcomes.push(write_message(&tx, scan_id, m)?);
        }
        if let Some(scan_id) = scan_id {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO rejects (scan_id, source, kind, reason) VALUES (?, ?, ?, ?)",
            )?;
            for (source, kind, reason) in rejects {
                stmt.execute(params![scan_id, source, kind, reason])?;
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Every source of a message, first sighting first.
    pub fn sources(&self, sha256: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT source FROM sightings WHERE sha256 = ? ORDER BY id")?;
        let rows = stmt.query_map([sha256], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The full record of a message, with every sighting.
    pub fn record(&self, sha256: &str) -> Result<Option<MessageRecord>> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT record FROM messages WHERE sha256 = ?",
                [sha256],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| self.with_sources(&j)).transpose()
    }

    fn with_sources(&self, json: &str) -> Result<MessageRecord> {
        let mut record: MessageRecord = serde_json::from_str(json)?;
        let sources = self.sources(&record.sha256)?;
        if let Some(first) = sources.first() {
            record.source = first.clone();
            record.sources = sources;
        }
        record.campaign_id = self
            .conn
            .prepare_cached("SELECT campaign_id FROM campaign_members WHERE sha256 = ?")?
            .query_row([&record.sha256], |r| r.get(0))
            .optional()?;
        Ok(record)
    }

    /// Finds a message by a sha256 prefix (8+ hex characters) or a
    /// Message-ID (with or without angle brackets).
    pub fn lookup(&self, id: &str) -> Result<Lookup> {
        let id = id.trim();
        let mut candidates: Vec<String> = Vec::new();
        let is_hex_prefix =
            id.len() >= 8 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex_prefix {
            let lower = id.to_ascii_lowercase();
            let mut stmt = self.conn.prepare("SELECT sha256 FROM messages WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT 20")?;
            let upper = format!("{lower}g");
            candidates = stmt
                .query_map(params![lower, upper], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
        }
        if candidates.is_empty() {
            let msgid = id.trim_start_matches('<').trim_end_matches('>');
            let mut stmt = self.conn.prepare(
                "SELECT sha256 FROM messages WHERE message_id = ? ORDER BY sha256 LIMIT 20",
            )?;
            candidates = stmt
                .query_map([msgid], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
        }
        Ok(match candidates.len() {
            0 => Lookup::NotFound,
            1 => match self.record(&candidates[0])? {
                Some(r) => Lookup::Found(Box::new(r)),
                None => Lookup::NotFound,
            },
            _ => Lookup::Ambiguous(candidates),
        })
    }

    /// Number of messages matching `filter`.
    pub fn count(&self, filter: &MessageFilter) -> Result<u64> {
        let (where_sql, args) = filter_sql(filter);
        let sql = format!("SELECT COUNT(*) FROM messages m{where_sql}");
        Ok(self
            .conn
            .query_row(&sql, params_from_iter(args.iter()), |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Short rows of matching messages, newest arrival first.
    pub fn rows(&self, filter: &MessageFilter, limit: Option<u64>) -> Result<Vec<MessageRow>> {
        let (where_sql, args) = filter_sql(filter);
        let sql = format!(
            "SELECT m.sha256, m.arrival_time, m.from_domain, m.subject, m.size, m.verdict, m.score FROM messages m{where_sql} \
             ORDER BY m.arrival_time DESC, m.sha256{}",
            limit_sql(limit)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok(MessageRow {
                sha256: r.get(0)?,
                arrival_time: r.get(1)?,
                from_domain: r.get(2)?,
                subject: r.get(3)?,
                size: r.get::<_, i64>(4)? as u64,
                verdict: verdict_of_rank(r.get(5)?),
                score: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Calls `each` with every matching full record, newest arrival first.
    pub fn for_each_record(
        &self,
        filter: &MessageFilter,
        limit: Option<u64>,
        mut each: impl FnMut(MessageRecord) -> Result<()>,
    ) -> Result<()> {
        let (where_sql, args) = filter_sql(filter);
        let sql = format!(
            "SELECT m.record FROM messages m{where_sql} ORDER BY m.arrival_time DESC, m.sha256{}",
            limit_sql(limit)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        while let Some(row) = rows.next()? {
            let json: String = row.get(0)?;
            each(self.with_sources(&json)?)?;
        }
        Ok(())
    }

    /// Number of stored messages.
    pub fn message_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// sha256s of all stored messages, in order (for batched re-analysis).
    pub fn all_sha256(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT sha256 FROM messages ORDER BY sha256")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Raw bytes and first sighting of the given messages.
    pub fn raw_messages(&self, sha256s: &[String]) -> Result<Vec<StoredRaw>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.raw, m.raw_encoding, s.source, s.container FROM raw_messages m \
             JOIN sightings s ON s.sha256 = m.sha256 WHERE m.sha256 = ? ORDER BY s.id LIMIT 1",
        )?;
        let mut out = Vec::with_capacity(sha256s.len());
        for sha in sha256s {
            let row = stmt
                .query_row([sha], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .optional()?;
            if let Some((raw, encoding, source, container)) = row {
                out.push(StoredRaw {
                    sha256: sha.clone(),
                    raw: decompress_raw(&raw, &encoding)?,
                    source,
                    container: serde_json::from_str(&container)?,
                });
            }
        }
        Ok(out)
    }

    /// Replaces stored records (after re-analysis), in one transaction.
    pub fn update_records(&mut self, records: &[MessageRecord]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for r in records {
            let json = serde_json::to_string(r)?;
            tx.prepare_cached(
                "UPDATE messages SET message_id = ?, arrival_time = ?, from_domain = ?, subject = ?, record = ?, record_schema = ?, tool_version = ?, verdict = ?, score = ? WHERE sha256 = ?",
            )?
            .execute(params![
                r.message_id,
                r.arrival_time,
                r.from.as_ref().and_then(|f| f.domain.clone()),
                r.subject,
                json,
                r.analysis.record_schema,
                r.analysis.version,
                verdict_rank(r.verdict),
                r.score,
                r.sha256
            ])?;
            for table in [
                "message_url_hosts",
                "message_ips",
                "message_attachments",
                "message_labels",
            ] {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE sha256 = ?"))?
                    .execute([&r.sha256])?;
            }
            write_lookup_keys(&tx, r)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Calls `each` with every stored fingerprint, in sha256 order.
    pub fn for_each_fingerprint(&self, mut each: impl FnMut(StoredFingerprint)) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT sha256, arrival_time, fingerprint FROM message_fingerprints ORDER BY sha256",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            each((row.get(0)?, row.get(1)?, row.get(2)?));
        }
        Ok(())
    }

    /// Replaces fingerprints (after re-analysis).
    pub fn update_fingerprints(&mut self, fingerprints: &[StoredFingerprint]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (sha, arrival, fp) in fingerprints {
            tx.prepare_cached(
                "INSERT INTO message_fingerprints (sha256, arrival_time, fingerprint) VALUES (?, ?, ?) \
                 ON CONFLICT (sha256) DO UPDATE SET arrival_time = excluded.arrival_time, fingerprint = excluded.fingerprint",
            )?
            .execute(params![sha, arrival, fp])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The stored campaigns' ids and member digests, and every alias with
    /// the campaign it pointed to.
    pub fn campaign_state(&self) -> Result<StoredCampaigns> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, members_hash FROM campaigns")?;
        let campaigns = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT alias, campaign_id FROM campaign_aliases")?;
        let aliases = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
        Ok(StoredCampaigns { campaigns, aliases })
    }

    /// Updates the clustering in one transaction (readers see the old
    /// clustering or the new, never a mix): `removed` campaigns and the old
    /// rows of `changed` ones go, `changed` ones are written anew, unchanged
    /// campaigns are not touched; the aliases are replaced.
    pub fn update_campaigns(
        &mut self,
        changed: &[CampaignRow],
        removed: &[String],
        aliases: &[(String, String)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut delete_campaign = tx.prepare("DELETE FROM campaigns WHERE id = ?")?;
            let mut delete_members =
                tx.prepare("DELETE FROM campaign_members WHERE campaign_id = ?")?;
            let mut delete_links =
                tx.prepare("DELETE FROM campaign_links WHERE campaign_id = ?")?;
            for id in removed.iter().chain(changed.iter().map(|c| &c.id)) {
                delete_campaign.execute([id])?;
                delete_members.execute([id])?;
                delete_links.execute([id])?;
            }
            let mut insert = tx.prepare(
                "INSERT INTO campaigns (id, size, first_seen, last_seen, members_hash, summary) VALUES (?, ?, ?, ?, ?, ?)",
            )?;
            let mut member = tx.prepare(
                "INSERT INTO campaign_members (sha256, campaign_id) VALUES (?, ?) \
                 ON CONFLICT (sha256) DO UPDATE SET campaign_id = excluded.campaign_id",
            )?;
            let mut link = tx.prepare(
                "INSERT INTO campaign_links (campaign_id, a, b, evidence) VALUES (?, ?, ?, ?)",
            )?;
            for c in changed {
                insert.execute(params![
                    c.id,
                    c.size as i64,
                    c.first_seen,
                    c.last_seen,
                    c.members_hash,
                    c.summary
                ])?;
                for m in &c.members {
                    member.execute(params![m, c.id])?;
                }
                for l in &c.links {
                    link.execute(params![c.id, l.a, l.b, l.evidence])?;
                }
            }
            tx.execute("DELETE FROM campaign_aliases", [])?;
            let mut alias =
                tx.prepare("INSERT INTO campaign_aliases (alias, campaign_id) VALUES (?, ?)")?;
            for (a, id) in aliases {
                alias.execute(params![a, id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Campaign summaries (JSON) matching `filter`, largest (or most recent) first.
    pub fn campaigns(&self, filter: &CampaignFilter, limit: Option<u64>) -> Result<Vec<String>> {
        let mut clauses = vec!["size >= ?".to_string()];
        let mut args: Vec<String> = vec![filter.min_size.to_string()];
        if let Some(t) = &filter.since {
            clauses.push("last_seen >= ?".into());
            args.push(t.clone());
        }
        if let Some(t) = &filter.until {
            clauses.push("first_seen < ?".into());
            args.push(t.clone());
        }
        let order = if filter.recent_first {
            "last_seen DESC, id"
        } else {
            "size DESC, last_seen DESC, id"
        };
        let sql = format!(
            "SELECT summary FROM campaigns WHERE {} ORDER BY {order}{}",
            clauses.join(" AND "),
            limit_sql(limit)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params_from_iter(args.iter().map(|a| {
                a.parse::<i64>()
                    .map(rusqlite::types::Value::Integer)
                    .unwrap_or_else(|_| rusqlite::types::Value::Text(a.clone()))
            })),
            |r| r.get(0),
        )?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Resolves a campaign id or alias to the current id.
    pub fn resolve_campaign(&self, id: &str) -> Result<Option<String>> {
        let id = id.trim().to_ascii_lowercase();
        let direct: Option<String> = self
            .conn
            .query_row("SELECT id FROM campaigns WHERE id = ?", [&id], |r| r.get(0))
            .optional()?;
        if direct.is_some() {
            return Ok(direct);
        }
        Ok(self
            .conn
            .query_row(
                "SELECT campaign_id FROM campaign_aliases WHERE alias = ?",
                [&id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// One campaign's summary (JSON) and its links (a, b, evidence JSON).
    pub fn campaign(&self, id: &str) -> Result<Option<(String, Vec<CampaignLink>)>> {
        let summary: Option<String> = self
            .conn
            .query_row("SELECT summary FROM campaigns WHERE id = ?", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(summary) = summary else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare(
            "SELECT a, b, evidence FROM campaign_links WHERE campaign_id = ? ORDER BY rowid",
        )?;
        let links = stmt
            .query_map([id], |r| {
                Ok(CampaignLink {
                    a: r.get(0)?,
                    b: r.get(1)?,
                    evidence: r.get(2)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?;
        Ok(Some((summary, links)))
    }

    /// Every (sha256, campaign id) of the current clustering.
    pub fn campaign_members(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT sha256, campaign_id FROM campaign_members ORDER BY sha256")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The sha256 of the message first seen at `source`, if any.
    pub fn sha256_of_source(&self, source: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sha256 FROM sightings WHERE source = ? ORDER BY id LIMIT 1",
                [source],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The stored record JSON of the given messages (missing ones skipped);
    /// `source` in it is the first sighting.
    pub fn record_jsons(&self, sha256s: &[String]) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record FROM messages WHERE sha256 = ?")?;
        let mut out = Vec::with_capacity(sha256s.len());
        for sha in sha256s {
            if let Some(json) = stmt
                .query_row([sha], |r| r.get::<_, String>(0))
                .optional()?
            {
                out.push(json);
            }
        }
        Ok(out)
    }

    /// Full records of the given messages (missing ones skipped).
    pub fn records(&self, sha256s: &[String]) -> Result<Vec<MessageRecord>> {
        sha256s
            .iter()
            .filter_map(|s| self.record(s).transpose())
            .collect()
    }

    /// Rejected inputs of the most recent scan: (source, kind, reason).
    pub fn rejects(&self, scan_id: i64) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, kind, reason FROM rejects WHERE scan_id = ? ORDER BY id")?;
        let rows = stmt.query_map([scan_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

fn write_message(
    tx: &Transaction<'_>,
    scan_id: Option<i64>,
    m: &NewMessage,
) -> Result<WriteOutcome> {
    let r = &m.record;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO messages (sha256, size, message_id, arrival_time, from_domain, subject, record, record_schema, tool_version, verdict, score) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        )?
        .execute(params![
            r.sha256,
            r.size as i64,
            r.message_id,
            r.arrival_time,
            r.from.as_ref().and_then(|f| f.domain.clone()),
            r.subject,
            m.record_json,
            r.analysis.record_schema,
            r.analysis.version,
            verdict_rank(r.verdict),
            r.score,
        ])?;
    if inserted == 1 {
        tx.prepare_cached("INSERT INTO raw_messages (sha256, raw_encoding, raw) VALUES (?, ?, ?)")?
            .execute(params![r.sha256, RAW_ENCODING, m.raw_compressed])?;
        tx.prepare_cached(
            "INSERT INTO message_fingerprints (sha256, arrival_time, fingerprint) VALUES (?, ?, ?)",
        )?
        .execute(params![r.sha256, m.arrival_unix, m.fingerprint_json])?;
        write_lookup_keys(tx, r)?;
    }
    let sighted = tx
        .prepare_cached("INSERT INTO sightings (sha256, source, container, scan_id) VALUES (?, ?, ?, ?) ON CONFLICT (sha256, source) DO NOTHING")?
        .execute(params![r.sha256, r.source, m.container_json, scan_id])?;
    Ok(match (inserted, sighted) {
        (1, _) => WriteOutcome::New,
        (_, 1) => WriteOutcome::Duplicate,
        _ => WriteOutcome::AlreadySeen,
    })
}

/// The lookup tables behind the `messages` filters.
fn write_lookup_keys(tx: &Transaction<'_>, r: &MessageRecord) -> Result<()> {
    let mut hosts = tx.prepare_cached(
        "INSERT INTO message_url_hosts (sha256, host) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )?;
    for host in r.urls.iter().filter_map(|u| u.host.as_deref()) {
        hosts.execute(params![r.sha256, host])?;
    }
    let mut ips = tx.prepare_cached(
        "INSERT INTO message_ips (sha256, ip) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )?;
    for ip in r.received_ips() {
        ips.execute(params![r.sha256, ip])?;
    }
    let mut atts = tx.prepare_cached("INSERT INTO message_attachments (sha256, attachment_sha256) VALUES (?, ?) ON CONFLICT DO NOTHING")?;
    for a in &r.attachments {
        atts.execute(params![r.sha256, a.sha256])?;
    }
    let mut labels = tx.prepare_cached(
        "INSERT INTO message_labels (sha256, label) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )?;
    for label in &r.labels {
        labels.execute(params![r.sha256, label.as_str()])?;
    }
    Ok(())
}

fn filter_sql(f: &MessageFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(d) = &f.from_domain {
        clauses.push("m.from_domain = ?");
        args.push(d.to_ascii_lowercase());
    }
    if let Some(d) = &f.url_domain {
        let d = d.to_ascii_lowercase();
        clauses.push("EXISTS (SELECT 1 FROM message_url_hosts u WHERE u.sha256 = m.sha256 AND (u.host = ? OR u.host LIKE ? ESCAPE '\\'))");
        let escaped = d
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        args.push(d);
        args.push(format!("%.{escaped}"));
    }
    if let Some(ip) = &f.ip {
        clauses.push("EXISTS (SELECT 1 FROM message_ips i WHERE i.sha256 = m.sha256 AND i.ip = ?)");
        args.push(ip.clone());
    }
    if let Some(sha) = &f.attachment_sha256 {
        clauses.push("EXISTS (SELECT 1 FROM message_attachments a WHERE a.sha256 = m.sha256 AND a.attachment_sha256 = ?)");
        args.push(sha.to_ascii_lowercase());
    }
    if let Some(t) = &f.since {
        clauses.push("m.arrival_time >= ?");
        args.push(t.clone());
    }
    if let Some(t) = &f.until {
        clauses.push("m.arrival_time < ?");
        args.push(t.clone());
    }
    if let Some(v) = verdict_rank(f.min_verdict) {
        clauses.push("m.verdict >= ?");
        args.push(v.to_string());
    }
    if let Some(label) = &f.label {
        clauses.push(
            "EXISTS (SELECT 1 FROM message_labels l WHERE l.sha256 = m.sha256 AND l.label = ?)",
        );
        args.push(label.clone());
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), args)
    }
}

fn limit_sql(limit: Option<u64>) -> String {
    limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default()
}

#[cfg(test)]
mod tests;

/// 32 random bytes from the operating system, as hex.
fn random_hex() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(StoreError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
