//! Which sites announced HTTP/3: the `alt-svc` header (RFC 7838) of their responses over TCP, remembered per origin
//! for as long as the header says (`ma`, 24 hours when it says nothing), so the QUIC test ([`super::quic`]) also
//! runs in cycles where the fetch over TCP got no response — a site blocked over TCP and QUIC alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

/// How long an announcement lasts when it gives no `ma` (RFC 7838 §3.1).
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The longest an announcement is believed, whatever it says: a week, so a site that stops serving HTTP/3 is not
/// tested over QUIC for months.
const LONGEST_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most origins remembered: the test lists' size, with room for the apps' endpoints.
const MOST_ORIGINS: usize = 4096;

/// What one header says about HTTP/3 at the same host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    /// `h3=":PORT"`, for this long.
    H3 {
        /// The UDP port.
        port: u16,
        /// How long it holds.
        max_age: Duration,
    },
    /// `clear`: forget what was announced.
    Clear,
}

/// Reads an `alt-svc` value: the first `h3` alternative on the same host (`h3=":443"`), or `clear`. Draft versions
/// (`h3-29`) and alternatives on other hosts are not HTTP/3 at this address, and are passed over.
pub fn parse(value: &str) -> Option<Announcement> {
    if value.trim().eq_ignore_ascii_case("clear") {
        return Some(Announcement::Clear);
    }
    value.split(',').find_map(|alternative| {
        let mut params = alternative.split(';').map(str::trim);
        let (protocol, authority) = params.next()?.split_once('=')?;
        if protocol.trim() != "h3" {
            return None;
        }
        let port = authority
            .trim()
            .trim_matches('"')
            .strip_prefix(':')?
            .parse::<u16>()
            .ok()?;
        let max_age = params
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("ma"))
            .and_then(|(_, v)| v.trim().trim_matches('"').parse::<u64>().ok())
            .map_or(DEFAULT_MAX_AGE, Duration::from_secs)
            .min(LONGEST_MAX_AGE);
        (port != 0).then_some(Announcement::H3 { port, max_age })
    })
}

/// Origins that announced HTTP/3, and until when (shared by the clones of one HTTP checker).
#[derive(Debug, Clone, Default)]
pub struct Announced(Arc<Mutex<HashMap<String, (u16, Instant)>>>);

impl Announced {
    /// Nothing announced yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes what a response from `url` announced in its `alt-svc` headers (none: nothing changes).
    pub fn note<'a>(&self, url: &Url, alt_svc: impl IntoIterator<Item = &'a str>) {
        let Some(origin) = origin(url) else {
            return;
        };
        let Some(announcement) = alt_svc.into_iter().find_map(parse) else {
            return;
        };
        let Ok(mut known) = self.0.lock() else {
            return;
        };
        let now = Instant::now();
        match announcement {
            Announcement::Clear => {
                known.remove(&origin);
            }
            Announcement::H3 { port, max_age } => {
                if known.len() >= MOST_ORIGINS && !known.contains_key(&origin) {
                    known.retain(|_, (_, until)| *until > now);
                    if known.len() >= MOST_ORIGINS {
                        return;
                    }
                }
                known.insert(origin, (port, now + max_age));
            }
        }
    }

    /// The UDP port `url`'s origin announced HTTP/3 on, while the announcement holds.
    pub fn port(&self, url: &Url) -> Option<u16> {
        let origin = origin(url)?;
        let known = self.0.lock().ok()?;
        known
            .get(&origin)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(port, _)| *port)
    }
}

/// An HTTPS URL's origin (`host:port`); none for plain HTTP, which has no HTTP/3.
fn origin(url: &Url) -> Option<String> {
    (url.scheme() == "https").then(|| {
        format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(443)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_h3_alternative_on_the_same_host_is_read_with_its_max_age() {
        assert_eq!(
            parse(r#"h3=":443"; ma=86400, h3-29=":443"; ma=86400"#),
            Some(Announcement::H3 {
                port: 443,
                max_age: Duration::from_secs(86400)
            })
        );
        assert_eq!(
            parse(r#"h3-29=":443", h3=":8443""#),
            Some(Announcement::H3 {
                port: 8443,
                max_age: DEFAULT_MAX_AGE
            })
        );
        assert_eq!(
            parse(r#"h3=":443"; ma=99999999"#),
            Some(Announcement::H3 {
                port: 443,
                max_age: LONGEST_MAX_AGE
            })
        );
        assert_eq!(parse("clear"), Some(Announcement::Clear));
        // Another host, a draft version, a broken port: not HTTP/3 at this address.
        assert_eq!(parse(r#"h3="alt.example:443""#), None);
        assert_eq!(parse(r#"h3-29=":443""#), None);
        assert_eq!(parse(r#"h3=":0""#), None);
        assert_eq!(parse(r#"h3=":http""#), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn an_origin_is_remembered_until_cleared_and_plain_http_never() {
        let announced = Announced::new();
        let site = Url::parse("https://a.example/page").expect("url");
        assert_eq!(announced.port(&site), None);
        announced.note(&site, [r#"h3=":443"; ma=60"#]);
        assert_eq!(
            announced.port(&Url::parse("https://a.example/other").expect("url")),
            Some(443)
        );
        assert_eq!(
            announced.port(&Url::parse("https://a.example:8443/").expect("url")),
            None
        );
        announced.note(&site, ["text/html"]);
        assert_eq!(announced.port(&site), Some(443), "a header without h3 changes nothing");
        announced.note(&site, ["clear"]);
        assert_eq!(announced.port(&site), None);
        let plain = Url::parse("http://a.example/").expect("url");
        announced.note(&plain, [r#"h3=":443""#]);
        assert_eq!(announced.port(&plain), None);
    }
}
