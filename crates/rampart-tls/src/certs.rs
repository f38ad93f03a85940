//! The public listener's certificates: several, chosen by SNI, swapped atomically when
//! their files change.
//!
//! [`CertStore`] owns the configured sources and the last good certificate of each;
//! [`SniResolver`] is what rustls asks during a handshake. A reload builds a whole new
//! table and swaps it in one store, so a handshake sees either the old table or the new
//! one, and connections already established keep the certificate they started with.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

use crate::{CertifiedKeyFiles, TlsError};

/// A server name a certificate answers for: exact, or `*.` + one label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SniPattern {
    /// `api.example.com`, lower case, without a trailing dot.
    Exact(String),
    /// `*.partner.example.com`, stored as the suffix `partner.example.com`; matches
    /// exactly one more label, as certificate wildcards do.
    Wildcard(String),
}

impl SniPattern {
    /// Parses `api.example.com` or `*.example.com` (at least two labels after `*.`).
    pub fn parse(raw: &str) -> Result<Self, TlsError> {
        let bad = || TlsError::BadServerName(raw.to_owned());
        let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wildcard, base) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, name),
        };
        // A wildcard over a bare TLD would match half the internet.
        if wildcard && !base.contains('.') {
            return Err(bad());
        }
        // Rejects IP literals, empty labels and stray `*`.
        let valid = rustls_pki_types::DnsName::try_from(base.as_str()).is_ok()
            && base.parse::<std::net::IpAddr>().is_err()
            && !base.contains('*');
        match (valid, wildcard) {
            (false, _) => Err(bad()),
            (true, true) => Ok(Self::Wildcard(base)),
            (true, false) => Ok(Self::Exact(base)),
        }
    }
}

impl fmt::Display for SniPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// One configured certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSource {
    /// Its name in logs and metrics.
    pub name: String,
    /// The chain and key files.
    pub files: CertifiedKeyFiles,
    /// The names it answers for; `None` takes the certificate's DNS SANs at every load.
    pub server_names: Option<Vec<SniPattern>>,
}

/// A certificate loaded from its files, with the names it answers for.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    key: Arc<CertifiedKey>,
    names: Vec<SniPattern>,
    not_after: i64,
}

impl LoadedCert {
    /// Reads and checks `source`: chain, key, key matching the leaf, names. `need_names`
    /// is false for the default certificate, which answers for anything unmatched.
    pub fn load(source: &CertSource, need_names: bool) -> Result<Self, TlsError> {
        let (chain, key) = source.files.load()?;
        let leaf = parse_leaf(&source.files.cert, &chain[0])?;
        let key = CertifiedKey::from_der(chain, key, &crate::provider()).map_err(|e| {
            TlsError::KeyMismatch {
                cert: source.files.cert.clone(),
                key: source.files.key.clone(),
                reason: e.to_string(),
            }
        })?;
        let names = match &source.server_names {
            Some(names) => names.clone(),
            None => leaf.dns_names,
        };
        if need_names && names.is_empty() {
            return Err(TlsError::NoServerNames(source.files.cert.clone()));
        }
        Ok(Self {
            key: Arc::new(key),
            names,
            not_after: leaf.not_after,
        })
    }

    /// The names this certificate answers for.
    pub fn names(&self) -> &[SniPattern] {
        &self.names
    }

    /// The leaf's notAfter, in seconds since the Unix epoch.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }
}

struct Leaf {
    dns_names: Vec<SniPattern>,
    not_after: i64,
}

fn parse_leaf(path: &Path, der: &CertificateDer<'_>) -> Result<Leaf, TlsError> {
    let bad = |what: &str| TlsError::Pem {
        path: path.to_owned(),
        what: what.to_owned(),
    };
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| bad("the first certificate is not valid X.509"))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| bad("malformed subjectAltName"))?;
    let dns_names = san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    // A SAN this resolver cannot match (e.g. an IDN in odd form) is skipped.
                    GeneralName::DNSName(n) => SniPattern::parse(n).ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Leaf {
        dns_names,
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// The lookup table one handshake consults.
#[derive(Debug)]
struct SniTable {
    default: Arc<CertifiedKey>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniTable {
    /// Earlier certificates win a name claimed twice; the default answers the rest.
    fn build(default: &LoadedCert, extra: &[&LoadedCert]) -> Self {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for cert in extra {
            for name in &cert.names {
                let (map, key) = match name {
                    SniPattern::Exact(n) => (&mut exact, n),
                    SniPattern::Wildcard(s) => (&mut wildcard, s),
                };
                map.entry(key.clone()).or_insert_with(|| cert.key.clone());
            }
        }
        Self {
            default: default.key.clone(),
            exact,
            wildcard,
        }
    }

    fn pick(&self, sni: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(sni) = sni else {
            return &self.default;
        };
        let name = sni.trim_end_matches('.').to_ascii_lowercase();
        if let Some(key) = self.exact.get(&name) {
            return key;
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.wildcard.get(parent))
            .unwrap_or(&self.default)
    }
}

/// Picks the certificate for a handshake from the server name the client sent; no name
/// or an unknown one gets the default certificate.
#[derive(Debug)]
pub struct SniResolver {
    table: ArcSwap<SniTable>,
}

impl SniResolver {
    /// The leaf certificate a handshake naming `sni` would get.
    pub fn leaf_for(&self, sni: Option<&str>) -> Option<CertificateDer<'static>> {
        self.table.load().pick(sni).cert.first().cloned()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.table.load().pick(client_hello.server_name()).clone())
    }
}

/// The stamp of one file: a replaced or rewritten file gets a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    inode: u64,
    modified: Option<SystemTime>,
    len: u64,
}

pub(crate) fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        inode: meta.ino(),
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// `None` for a file that cannot be looked at: its return counts as a change.
type Stamps = (Option<FileStamp>, Option<FileStamp>);

fn stamps(files: &CertifiedKeyFiles) -> Stamps {
    (stamp(&files.cert), stamp(&files.key))
}

#[derive(Debug)]
struct Entry {
    source: CertSource,
    stamps: Stamps,
    current: LoadedCert,
}

/// What a reload did to one certificate.
#[derive(Debug)]
#[non_exhaustive]
pub enum CertEvent {
    /// New files loaded; new handshakes get the new certificate.
    Reload {
        /// The certificate's name.
        certificate: String,
        /// Its new notAfter, seconds since the Unix epoch.
        not_after: i64,
    },
    /// Changed files could not be used; the last good certificate stays.
    KeepPrevious {
        /// The certificate's name.
        certificate: String,
        /// Why (names the file).
        error: TlsError,
    },
}

/// Seconds until a certificate's notAfter (negative once expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertExpiry {
    /// The certificate's name.
    pub certificate: String,
    /// Seconds from `now` to notAfter.
    pub seconds: i64,
}

/// The configured certificates, their last good versions and the resolver serving them.
#[derive(Debug)]
pub struct CertStore {
    /// The default certificate first, then the others in configuration order.
    entries: Vec<Entry>,
    resolver: Arc<SniResolver>,
}

impl CertStore {
    /// A store serving `default` for unmatched names and `extra` by their names; each
    /// certificate already loaded (so configuration errors are reported per key).
    pub fn new(default: (CertSource, LoadedCert), extra: Vec<(CertSource, LoadedCert)>) -> Self {
        let entries: Vec<Entry> = std::iter::once(default)
            .chain(extra)
            .map(|(source, current)| Entry {
                stamps: stamps(&source.files),
                source,
                current,
            })
            .collect();
        let resolver = Arc::new(SniResolver {
            table: ArcSwap::from_pointee(table(&entries)),
        });
        Self { entries, resolver }
    }

    /// The resolver to put into a `ServerConfig`; it follows every reload.
    pub fn resolver(&self) -> Arc<SniResolver> {
        self.resolver.clone()
    }

    /// Re-reads the certificates whose files changed (all of them with `force`, as on
    /// SIGHUP) and swaps in a new table if any loaded. A file that fails keeps the last
    /// good certificate; the failure is reported once per change.
    pub fn reload(&mut self, force: bool) -> Vec<CertEvent> {
        let mut events = Vec::new();
        for (i, entry) in self.entries.iter_mut().enumerate() {
            // Stamped before reading: a write racing the read shows up at the next poll.
            let now = stamps(&entry.source.files);
            if now == entry.stamps && !force {
                continue;
            }
            entry.stamps = now;
            let certificate = entry.source.name.clone();
            match LoadedCert::load(&entry.source, i > 0) {
                Ok(loaded) => {
                    events.push(CertEvent::Reload {
                        certificate,
                        not_after: loaded.not_after,
                    });
                    entry.current = loaded;
                }
                Err(error) => events.push(CertEvent::KeepPrevious { certificate, error }),
            }
        }
        if events.iter().any(|e| matches!(e, CertEvent::Reload { .. })) {
            self.resolver.table.store(Arc::new(table(&self.entries)));
        }
        events
    }

    /// Seconds until each certificate's notAfter, as of `now`.
    pub fn expiries(&self, now: SystemTime) -> Vec<CertExpiry> {
        let now = unix_seconds(now);
        self.entries
            .iter()
            .map(|e| CertExpiry {
                certificate: e.source.name.clone(),
                seconds: e.current.not_after.saturating_sub(now),
            })
            .collect()
    }
}

fn table(entries: &[Entry]) -> SniTable {
    let extra: Vec<&LoadedCert> = entries.iter().skip(1).map(|e| &e.current).collect();
    SniTable::build(&entries[0].current, &extra)
}

/// Seconds since the Unix epoch (negative before it).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
pub(crate) mod tests;
