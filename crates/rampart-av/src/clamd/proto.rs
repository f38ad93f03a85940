//! clamd's wire format without I/O: INSTREAM framing and reply parsing.
//!
//! `zINSTREAM\0`, then chunks `<u32 big-endian length><bytes>`, then a zero-length chunk.
//! Replies of `z`-commands end with NUL: `stream: OK`, `stream: NAME FOUND`,
//! `INSTREAM size limit exceeded. ERROR`, `... ERROR`.

use crate::verdict::EngineVerdict;

/// Starts an INSTREAM exchange.
pub(crate) const INSTREAM: &[u8] = b"zINSTREAM\0";
/// Asks for `PONG`.
pub(crate) const PING: &[u8] = b"zPING\0";
/// Asks for the engine and signature database versions.
pub(crate) const VERSION: &[u8] = b"zVERSION\0";
/// Ends the stream.
pub(crate) const END_OF_STREAM: [u8; 4] = [0; 4];
/// Longest reply accepted; real ones are well under 200 bytes.
pub(crate) const MAX_REPLY: usize = 1024;

/// The length prefix of one chunk. `len` never exceeds the chunk size, itself a `u32`.
pub(crate) fn chunk_prefix(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes()
}

/// Where a reply ends: at its NUL terminator (`None` until one was received).
pub(crate) fn reply_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == 0)
}

/// Parses one INSTREAM reply (without its NUL). Anything unexpected is an error: an
/// unknown reply must never read as clean.
pub(crate) fn parse_scan_reply(reply: &[u8]) -> Result<EngineVerdict, String> {
    let text = std::str::from_utf8(reply).map_err(|_| "reply is not UTF-8".to_owned())?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.chars().any(char::is_control) {
        return Err(format!("control characters in reply {text:?}"));
    }
    if let Some(rest) = text.strip_prefix("stream: ") {
        if rest == "OK" {
            return Ok(EngineVerdict::Clean);
        }
        if let Some(signature) = rest.strip_suffix(" FOUND") {
            if signature.is_empty() || signature.contains(' ') {
                return Err(format!("bad signature name in {text:?}"));
            }
            return Ok(EngineVerdict::found(signature));
        }
    }
    if let Some(message) = text.strip_suffix(" ERROR") {
        if message.contains("size limit exceeded") {
            return Ok(EngineVerdict::Oversize);
        }
        return Ok(EngineVerdict::Refuse {
            message: message.to_owned(),
        });
    }
    Err(format!("unexpected reply {text:?}"))
}

/// The text of a `VERSION` reply (without its NUL): `ClamAV 1.4.6/27480/Mon Dec  1
/// 09:00:00 2026`, the middle part being the signature database version (absent when
/// clamd loaded only unversioned databases such as `.ndb` files).
pub(crate) fn parse_version(reply: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(reply).map_err(|_| "reply is not UTF-8".to_owned())?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if !text.starts_with("ClamAV ") || text.chars().any(char::is_control) {
        return Err(format!("unexpected VERSION reply {text:?}"));
    }
    Ok(text.to_owned())
}

/// True for a `PONG` reply (without its NUL).
pub(crate) fn is_pong(reply: &[u8]) -> bool {
    reply == b"PONG" || reply == b"PONG\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replies_and_refuses_look_alikes() {
        let infected = |s: &str| {
            Ok(EngineVerdict::Infected {
                signature: s.to_owned(),
            })
        };
        let table: [(&[u8], Result<EngineVerdict, ()>); 12] = [
            (b"stream: OK", Ok(EngineVerdict::Clean)),
            (b"stream: OK\n", Ok(EngineVerdict::Clean)),
            (
                b"stream: Rampart.Test.EICAR.UNOFFICIAL FOUND",
                infected("Rampart.Test.EICAR.UNOFFICIAL"),
            ),
            (
                b"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND",
                Ok(EngineVerdict::Oversize),
            ),
            (
                b"INSTREAM size limit exceeded. ERROR",
                Ok(EngineVerdict::Oversize),
            ),
            (
                b"stream: Can't allocate memory ERROR",
                Ok(EngineVerdict::Refuse {
                    message: "stream: Can't allocate memory".into(),
                }),
            ),
            // Look-alikes of a clean answer must not pass.
            (b"stream: OKAY", Err(())),
            (b"stream: OK FOUND junk", Err(())),
            (b"OK", Err(())),
            (b"stream:  FOUND", Err(())),
            (b"stream: OK\r", Err(())),
            (b"\xffstream: OK", Err(())),
        ];
        for (reply, want) in table {
            let got = parse_scan_reply(reply).map_err(|_| ());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(reply));
        }
    }

    #[test]
    fn reads_version_replies_and_refuses_others() {
        let v = "ClamAV 1.4.6/27480/Mon Dec  1 09:00:00 2026";
        assert_eq!(parse_version(v.as_bytes()).as_deref(), Ok(v));
        assert_eq!(parse_version(format!("{v}\n").as_bytes()).as_deref(), Ok(v));
        assert_eq!(
            parse_version(b"ClamAV 1.4.6").as_deref(),
            Ok("ClamAV 1.4.6")
        );
        for bad in [
            &b"PONG"[..],
            b"",
            b"ClamAV 1.4.6\r",
            b"ClamAV \xff",
            b"UNKNOWN COMMAND",
        ] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn finds_the_reply_terminator() {
        assert_eq!(reply_end(b"stream: OK\0"), Some(10));
        assert_eq!(reply_end(b"stream: O"), None);
        assert!(is_pong(b"PONG"));
        assert!(!is_pong(b"PONGS"));
    }

    #[test]
    fn chunk_prefixes_are_big_endian() {
        assert_eq!(chunk_prefix(1), [0, 0, 0, 1]);
        assert_eq!(chunk_prefix(65_536), [0, 1, 0, 0]);
    }
}
