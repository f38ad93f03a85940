//! The push state directory: the last applied bundle (`bundle.pb`, written atomically)
//! and each version's documents (`v<version>/`), which the pushed sections point at.
//!
//! Nothing read back is trusted: the bundle is verified again at start and its
//! documents are written afresh from it, so an edited file under `state_dir` is
//! overwritten rather than used.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use prost::Message as _;
use rampart_proto::push::MAX_BUNDLE_BYTES;
use rampart_proto::v1::PolicyBundle;

const BUNDLE_FILE: &str = "bundle.pb";

/// `state_dir` and what lives in it.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
}

impl Store {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn ensure(&self) -> Result<(), String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))
    }

    /// The kept bundle; `None` when there is none yet.
    pub(crate) fn read(&self) -> Result<Option<PolicyBundle>, String> {
        let path = self.dir.join(BUNDLE_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut bytes = Vec::new();
        file.take(MAX_BUNDLE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(format!("{} is larger than a bundle", path.display()));
        }
        PolicyBundle::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| format!("{}: not a policy bundle: {e}", path.display()))
    }

    /// Replaces the kept bundle: written to a temporary file, synced, then renamed.
    pub(crate) fn persist(&self, bundle: &PolicyBundle) -> Result<(), String> {
        self.ensure()?;
        let path = self.dir.join(BUNDLE_FILE);
        let temp = self.dir.join(format!(".{BUNDLE_FILE}.tmp"));
        let io = |e: std::io::Error| format!("{}: {e}", temp.display());
        let _ = std::fs::remove_file(&temp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(io)?;
        file.write_all(&bundle.encode_to_vec()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The rename itself reaches the disk with the directory.
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Writes the bundle's documents to `v<version>/` (replacing what was there) and
    /// returns that directory. Names were checked by `verify`: plain relative paths.
    pub(crate) fn write_documents(&self, bundle: &PolicyBundle) -> Result<PathBuf, String> {
        self.ensure()?;
        let target = self.version_dir(bundle.version);
        let staging = self.dir.join(format!(".v{}.tmp", bundle.version));
        let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        remove_dir(&staging);
        for doc in &bundle.documents {
            let path = staging.join(&doc.name);
            if let Some(parent) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .map_err(|e| io(parent, e))?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            file.write_all(&doc.content).map_err(|e| io(&path, e))?;
            file.sync_all().map_err(|e| io(&path, e))?;
        }
        remove_dir(&target);
        std::fs::rename(&staging, &target).map_err(|e| io(&target, e))?;
        Ok(target)
    }

    /// Removes the documents of every version but `keep`.
    pub(crate) fn prune(&self, keep: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let version = name.strip_prefix('v').and_then(|v| v.parse::<u64>().ok());
            let stale = match version {
                Some(v) => v != keep,
                None => name.starts_with(".v") && name.ends_with(".tmp"),
            };
            if stale {
                remove_dir(&entry.path());
            }
        }
    }

    /// Removes one version's documents (a refused bundle).
    pub(crate) fn remove(&self, version: u64) {
        remove_dir(&self.version_dir(version));
    }

    fn version_dir(&self, version: u64) -> PathBuf {
        self.dir.join(format!("v{version}"))
    }
}

fn remove_dir(path: &Path) {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %path.display(), error = %e, "cannot remove push state"),
    }
}
