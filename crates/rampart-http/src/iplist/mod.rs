//! IP lists: CIDR sets with fast lookup, list files, named lists that reload when their
//! file changes, and allow/deny policies over them.

mod cidr;
mod file;
mod policy;
mod set;
#[cfg(test)]
mod tests;
mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use cidr::{Cidr, CidrError};
pub use file::{IpListError, LineError, MAX_LIST_BYTES, parse_list};
pub use policy::{IpDecision, IpPolicy, IpPolicyConfig};
pub use set::IpSet;
pub use watch::{IpListWatcher, ReloadEvent};

use file::Stamp;

/// One named list: its current set, swapped whole on reload.
#[derive(Debug, Clone)]
struct Entry {
    set: Arc<ArcSwap<IpSet>>,
    /// The file it came from and the file's stamp when it was read.
    source: Option<(PathBuf, Stamp)>,
}

/// Named IP lists. Cloning shares the lists: a reload seen by one clone is seen by all,
/// and by every [`IpPolicy`] built from them.
#[derive(Debug, Clone, Default)]
pub struct IpLists {
    lists: HashMap<String, Entry>,
}

impl IpLists {
    /// Loads every `name -> file` list (blocking; call at startup). Reports every file
    /// that failed, not just the first.
    pub fn load(files: &BTreeMap<String, PathBuf>) -> Result<Self, Vec<IpListError>> {
        let mut lists = HashMap::new();
        let mut errors = Vec::new();
        for (name, path) in files {
            match file::load_blocking(path) {
                Ok((set, stamp)) => {
                    let entry = Entry {
                        set: Arc::new(ArcSwap::from_pointee(set)),
                        source: Some((path.clone(), stamp)),
                    };
                    lists.insert(name.clone(), entry);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Self { lists })
        } else {
            Err(errors)
        }
    }

    /// Adds (or replaces) a list that is not backed by a file.
    pub fn insert(&mut self, name: impl Into<String>, set: IpSet) {
        let entry = Entry {
            set: Arc::new(ArcSwap::from_pointee(set)),
            source: None,
        };
        self.lists.insert(name.into(), entry);
    }

    /// Adds (or replaces) a list kept current by a threat feed, starting from `set`
    /// (`entries` of them); the feed publishes new copies through the returned handle.
    pub fn insert_feed(
        &mut self,
        name: impl Into<String>,
        set: IpSet,
        entries: usize,
    ) -> crate::feeds::FeedHandle {
        let shared = Arc::new(ArcSwap::from_pointee(set));
        let entry = Entry {
            set: shared.clone(),
            source: None,
        };
        self.lists.insert(name.into(), entry);
        crate::feeds::FeedHandle::new(shared, entries)
    }

    /// The current set of a list.
    pub fn get(&self, name: &str) -> Option<Arc<IpSet>> {
        self.lists.get(name).map(|e| e.set.load_full())
    }

    /// The names of all lists, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    fn handle(&self, name: &str) -> Option<Arc<ArcSwap<IpSet>>> {
        self.lists.get(name).map(|e| e.set.clone())
    }
}
