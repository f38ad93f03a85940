//! What an ICAP service says about itself in its OPTIONS answer (RFC 3507 §4.10.2), and
//! how long that is believed.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::response::IcapResponse;

/// Options are refreshed at least this often, whatever `Options-TTL` says (or when absent).
pub const MAX_OPTIONS_TTL: Duration = Duration::from_secs(3600);
/// The largest preview sent, whatever the server asks for.
const MAX_PREVIEW: usize = 1024 * 1024;

/// A service's OPTIONS answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcapOptions {
    /// `Methods`, upper-case.
    pub methods: Vec<String>,
    /// `ISTag`: changes when the service (e.g. its signatures) changes.
    pub istag: Option<String>,
    /// `Preview`: bytes the server wants before deciding whether it needs the rest.
    pub preview: Option<usize>,
    /// `Max-Connections`.
    pub max_connections: Option<usize>,
    /// `Options-TTL`.
    pub ttl: Option<Duration>,
    /// `Allow: 204`: the server can answer "unmodified" without echoing the body.
    pub allow_204: bool,
    /// `Transfer-Preview`: file extensions that should be previewed (`*`: all).
    pub transfer_preview: Option<String>,
    /// `Service`: the server's description.
    pub service: Option<String>,
}

fn number(response: &IcapResponse, name: &str) -> Result<Option<u64>, String> {
    response
        .header(name)
        .map(|v| {
            // Digits only: "+5", "5 " or "0x10" are refused rather than guessed.
            if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("bad {name}: {v:?}"));
            }
            v.parse().map_err(|_| format!("bad {name}: {v:?}"))
        })
        .transpose()
}

impl IcapOptions {
    /// Reads an OPTIONS answer. Only status 200 is an answer.
    pub fn from_response(response: &IcapResponse) -> Result<Self, String> {
        if response.status != 200 {
            return Err(format!("OPTIONS answered {}", response.status));
        }
        let list = |name: &str| -> Vec<String> {
            response
                .header(name)
                .map(|v| {
                    v.split([',', '\n'])
                        .map(|m| m.trim().to_ascii_uppercase())
                        .filter(|m| !m.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            methods: list("Methods"),
            istag: response.header("ISTag").map(str::to_owned),
            preview: number(response, "Preview")?.map(|n| to_usize(n).min(MAX_PREVIEW)),
            max_connections: number(response, "Max-Connections")?.map(to_usize),
            ttl: number(response, "Options-TTL")?.map(Duration::from_secs),
            allow_204: list("Allow").iter().any(|a| a == "204"),
            transfer_preview: response.header("Transfer-Preview").map(str::to_owned),
            service: response.header("Service").map(str::to_owned),
        })
    }

    /// Why this service cannot give a trustworthy clean answer to REQMOD, if it cannot.
    pub fn unusable(&self) -> Option<&'static str> {
        if !self.methods.iter().any(|m| m == "REQMOD") {
            Some("the service does not offer REQMOD")
        } else if !self.allow_204 {
            Some("the service does not offer Allow: 204, so no answer could mean clean")
        } else {
            None
        }
    }

    /// The preview to send: the advertised size, unless `Transfer-Preview` lists only
    /// extensions (our synthetic request has none).
    pub fn preview_for_request(&self) -> Option<usize> {
        match self.transfer_preview.as_deref() {
            None => self.preview,
            Some(list) if list.split(',').any(|e| e.trim() == "*") => self.preview,
            Some(_) => None,
        }
    }

    /// How long these options are believed.
    pub fn lifetime(&self) -> Duration {
        self.ttl.unwrap_or(MAX_OPTIONS_TTL).min(MAX_OPTIONS_TTL)
    }
}

/// The options in force and when they expire. Time is passed in, so tests control it.
#[derive(Debug, Default)]
pub(crate) struct OptionsCache {
    current: Option<(Arc<IcapOptions>, Instant)>,
}

impl OptionsCache {
    /// The options, unless they expired at `now`.
    pub(crate) fn fresh(&self, now: Instant) -> Option<Arc<IcapOptions>> {
        self.current
            .as_ref()
            .filter(|(_, expires)| now < *expires)
            .map(|(options, _)| options.clone())
    }

    /// Keeps `options` fetched at `now`.
    pub(crate) fn store(&mut self, options: IcapOptions, now: Instant) -> Arc<IcapOptions> {
        let expires = now + options.lifetime();
        let options = Arc::new(options);
        self.current = Some((options.clone(), expires));
        options
    }
}

#[cfg(test)]
mod tests {
    use super::super::response::parse_head;
    use super::*;

    fn options(headers: &str) -> Result<IcapOptions, String> {
        let head = format!("ICAP/1.0 200 OK\r\n{headers}Encapsulated: null-body=0\r\n\r\n");
        IcapOptions::from_response(&parse_head(head.as_bytes()).unwrap())
    }

    const C_ICAP: &str = "Methods: RESPMOD, REQMOD\r\nService: C-ICAP/0.5.10 server - Antivirus service\r\n\
ISTag: \"CI0001-XYZ\"\r\nTransfer-Preview: *\r\nOptions-TTL: 3600\r\nPreview: 1024\r\nAllow: 204\r\n";

    #[test]
    fn reads_a_real_c_icap_options_answer() {
        let o = options(C_ICAP).unwrap();
        assert_eq!(o.methods, ["RESPMOD", "REQMOD"]);
        assert_eq!(o.istag.as_deref(), Some("\"CI0001-XYZ\""));
        assert_eq!(o.preview, Some(1024));
        assert_eq!(o.preview_for_request(), Some(1024));
        assert_eq!(o.ttl, Some(Duration::from_secs(3600)));
        assert_eq!(o.max_connections, None);
        assert!(o.allow_204);
        assert_eq!(o.unusable(), None);
        let limited = options(&format!("{C_ICAP}Max-Connections: 3\r\n")).unwrap();
        assert_eq!(limited.max_connections, Some(3));
    }

    #[test]
    fn services_that_cannot_answer_clean_are_unusable() {
        let table = [
            ("Methods: REQMOD\r\nAllow: 204\r\n", None),
            ("Methods: reqmod\r\nAllow: 204, trailers\r\n", None),
            ("Methods: RESPMOD\r\nAllow: 204\r\n", Some("REQMOD")),
            ("Methods: REQMOD\r\n", Some("204")),
            ("Methods: REQMOD\r\nAllow: 206\r\n", Some("204")),
            ("Allow: 204\r\n", Some("REQMOD")),
        ];
        for (headers, want) in table {
            let got = options(headers).unwrap().unusable();
            match want {
                None => assert_eq!(got, None, "{headers:?}"),
                Some(word) => assert!(got.unwrap().contains(word), "{headers:?}"),
            }
        }
    }

    #[test]
    fn refuses_malformed_numbers_and_non_200_answers() {
        for headers in [
            "Preview: -1\r\n",
            "Preview: 0x10\r\n",
            "Options-TTL: 1h\r\n",
            "Max-Connections: \r\n",
            "Preview: 99999999999999999999999\r\n",
        ] {
            assert!(options(headers).is_err(), "{headers:?}");
        }
        assert_eq!(options("Preview: 0\r\n").unwrap().preview, Some(0));
        assert_eq!(
            options("Preview: 99999999\r\n").unwrap().preview,
            Some(MAX_PREVIEW)
        );
        let head = parse_head(b"ICAP/1.0 404 Service not found\r\n\r\n").unwrap();
        assert!(IcapOptions::from_response(&head).is_err());
    }

    #[test]
    fn previews_only_when_every_extension_is_previewed() {
        let with =
            |tp: &str| options(&format!("Preview: 512\r\nTransfer-Preview: {tp}\r\n")).unwrap();
        assert_eq!(with("*").preview_for_request(), Some(512));
        assert_eq!(with("exe, *").preview_for_request(), Some(512));
        assert_eq!(with("exe, zip").preview_for_request(), None);
        assert_eq!(
            options("Transfer-Preview: *\r\n")
                .unwrap()
                .preview_for_request(),
            None
        );
    }

    #[test]
    fn options_expire_after_their_ttl_capped_at_an_hour() {
        let t0 = Instant::now();
        let mut cache = OptionsCache::default();
        assert!(cache.fresh(t0).is_none());
        cache.store(options("Options-TTL: 60\r\n").unwrap(), t0);
        assert!(cache.fresh(t0 + Duration::from_secs(59)).is_some());
        assert!(cache.fresh(t0 + Duration::from_secs(60)).is_none());

        cache.store(options("Options-TTL: 0\r\n").unwrap(), t0);
        assert!(cache.fresh(t0).is_none(), "TTL 0: refetch every time");

        for headers in ["", "Options-TTL: 86400\r\n"] {
            cache.store(options(headers).unwrap(), t0);
            assert!(
                cache
                    .fresh(t0 + MAX_OPTIONS_TTL - Duration::from_secs(1))
                    .is_some()
            );
            assert!(cache.fresh(t0 + MAX_OPTIONS_TTL).is_none(), "{headers:?}");
        }
    }
}
