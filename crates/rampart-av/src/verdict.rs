//! What a scan decided: per engine ([`EngineVerdict`]) and over all engines ([`Verdict`]).

use std::fmt;

/// Which engine answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Engine {
    /// clamd over its INSTREAM protocol.
    Clamd,
    /// An ICAP (RFC 3507) antivirus service.
    Icap,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Clamd => "clamd",
            Self::Icap => "icap",
        })
    }
}

/// One engine's answer about one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineVerdict {
    /// The engine scanned everything and found nothing.
    Clean,
    /// The engine found a signature.
    Infected {
        /// The signature name as the engine reported it.
        signature: String,
    },
    /// The body is larger than the engine scans; it was not (fully) scanned.
    Oversize,
    /// The engine answered that it could not scan this body.
    Refuse {
        /// The engine's message.
        message: String,
    },
}

/// Signatures clamd raises with `AlertExceedsMax yes` when a limit stopped the scan: they
/// mean "not fully scanned", which the policy reports as oversize rather than malware.
const LIMITS_EXCEEDED: &str = "Heuristics.Limits.Exceeded";

impl EngineVerdict {
    /// `Infected`, or `Oversize` for clamd's limit heuristics.
    pub(crate) fn found(signature: &str) -> Self {
        if signature.starts_with(LIMITS_EXCEEDED) {
            Self::Oversize
        } else {
            Self::Infected {
                signature: signature.to_owned(),
            }
        }
    }
}

/// The decision over every configured engine.
///
/// Only [`Verdict::Clean`] lets a body through; every other variant blocks, whatever the
/// fail mode (they are answers, not failures to answer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Every configured engine scanned the body and found nothing.
    Clean,
    /// An engine found a signature.
    Infected {
        /// The engine that found it.
        engine: Engine,
        /// The signature name (for ICAP answers without a threat name: `modified-by-icap`).
        signature: String,
    },
    /// The body exceeds what an engine scans, so it cannot be vouched for.
    Oversize {
        /// The engine whose limit was exceeded.
        engine: Engine,
    },
    /// An engine answered `ERROR` for this body.
    Refuse {
        /// The engine that refused.
        engine: Engine,
        /// Its message.
        message: String,
    },
}

impl Verdict {
    /// True only for [`Verdict::Clean`].
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Clean)
    }

    pub(crate) fn from_engine(engine: Engine, verdict: EngineVerdict) -> Self {
        match verdict {
            EngineVerdict::Clean => Self::Clean,
            EngineVerdict::Infected { signature } => Self::Infected { engine, signature },
            EngineVerdict::Oversize => Self::Oversize { engine },
            EngineVerdict::Refuse { message } => Self::Refuse { engine, message },
        }
    }

    /// Blocking strength when engines disagree: a finding beats a refusal beats clean.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Self::Clean => 0,
            Self::Refuse { .. } => 1,
            Self::Oversize { .. } => 2,
            Self::Infected { .. } => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_heuristics_are_oversize_and_other_findings_are_infections() {
        let table = [
            (
                "Heuristics.Limits.Exceeded.MaxFileSize",
                EngineVerdict::Oversize,
            ),
            (
                "Heuristics.Limits.Exceeded.MaxScanSize.UNOFFICIAL",
                EngineVerdict::Oversize,
            ),
            (
                "Heuristics.Encrypted.Zip",
                EngineVerdict::Infected {
                    signature: "Heuristics.Encrypted.Zip".into(),
                },
            ),
            (
                "Rampart.Test.Marker.UNOFFICIAL",
                EngineVerdict::Infected {
                    signature: "Rampart.Test.Marker.UNOFFICIAL".into(),
                },
            ),
        ];
        for (signature, want) in table {
            assert_eq!(EngineVerdict::found(signature), want, "{signature}");
        }
    }

    #[test]
    fn only_clean_is_clean() {
        assert!(Verdict::Clean.is_clean());
        for blocked in [
            Verdict::from_engine(Engine::Clamd, EngineVerdict::Oversize),
            Verdict::from_engine(
                Engine::Icap,
                EngineVerdict::Refuse {
                    message: "x".into(),
                },
            ),
            Verdict::from_engine(Engine::Icap, EngineVerdict::found("Eicar")),
        ] {
            assert!(!blocked.is_clean(), "{blocked:?}");
        }
    }
}
