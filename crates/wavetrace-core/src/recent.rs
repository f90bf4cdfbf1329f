//! Per-thread caches of the last answers about a host name.
//!
//! A message names the same hosts again and again, and so do the messages
//! of one provider or campaign; some answers about a host cost a Public
//! Suffix List walk or edit distances against every protected label. A
//! small direct-mapped table per thread keeps the last ones: no lock
//! between the analysis workers, and a fixed size whatever the input.

use std::cell::RefCell;
use std::hash::Hasher;
use std::thread::LocalKey;

use crate::fxhash::FxHasher;

/// One thread's table: per slot, the owner, the host and the answer.
pub(crate) type Recent<T> = RefCell<Vec<Option<(u64, Box<str>, T)>>>;

/// An empty table of `slots` entries, for a `thread_local!`.
pub(crate) fn table<T: Clone>(slots: usize) -> Recent<T> {
    RefCell::new(vec![None; slots])
}

/// The answer about `host` for `owner` (what the answer also depends on,
/// such as one entity list among several; 0 when nothing): taken from
/// `recent` when this thread computed it lately, else from `compute`, and
/// then kept. A host longer than `max_host` bytes is computed every time,
/// so a long string the sender chose is neither hashed nor kept.
pub(crate) fn remembered<T: Clone>(
    recent: &'static LocalKey<Recent<T>>,
    owner: u64,
    host: &str,
    max_host: usize,
    compute: impl FnOnce() -> T,
) -> T {
    if host.len() > max_host {
        return compute();
    }
    let slots = recent.with_borrow(Vec::len).max(1);
    let slot = {
        let mut hasher = FxHasher::default();
        hasher.write_u64(owner);
        hasher.write(host.as_bytes());
        (hasher.finish() as usize) % slots
    };
    let known = recent.with_borrow(|entries| match entries.get(slot) {
        Some(Some((seen_owner, seen, answer))) if *seen_owner == owner && **seen == *host => {
            Some(answer.clone())
        }
        _ => None,
    });
    if let Some(answer) = known {
        return answer;
    }
    let answer = compute();
    recent.with_borrow_mut(|entries| {
        if let Some(entry) = entries.get_mut(slot) {
            *entry = Some((owner, host.into(), answer.clone()));
        }
    });
    answer
}
