//! Messaging apps (issue 25): each app a named group of endpoints, measured on the test lists' cadence with
//! `target.list = "app:NAME"`, so that the collector judges the app as one target whichever endpoint a censor
//! blocks. A web endpoint (`https://…`) gets the DNS check and the HTTP check (with the SNI test after a failed
//! handshake); an `h3://…` endpoint — a host the app reaches over QUIC — gets the same, and the QUIC test every
//! time, whether or not the host announced HTTP/3 to the fetch; a `host:port` or `address:port` endpoint gets the
//! DNS check when it is named, then a TCP connect.
//!
//! `[lists] default_apps = true` adds the groups below — each endpoint from the OONI test that measures the app
//! (<https://github.com/ooni/spec/tree/master/nettests>), which took them from the apps' own traffic — to those of
//! `[[apps]]`. They are off by default: they are real hosts on the internet.

use url::Url;

/// What `target.list` carries for an app's measurements: this prefix and the app's name.
pub const LIST_PREFIX: &str = "app:";

/// One endpoint of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A web endpoint: DNS, then an HTTP(S) fetch.
    Web(Url),
    /// A host the app reaches over QUIC (`h3://HOST[:PORT]/PATH`): DNS, an HTTPS fetch of the same host, port and
    /// path over TCP, and the QUIC test to that UDP port every time — announced or not, so a host whose TCP is
    /// blocked from the first cycle (no announcement ever read) is still asked over QUIC.
    Quic {
        /// The `https://` URL the fetch asks (the QUIC test asks the same).
        url: Url,
        /// The UDP port the app speaks QUIC to (the URL's port; 443 when it names none).
        port: u16,
    },
    /// A port: DNS when `host` is a name, then a TCP connect.
    Port {
        /// A host name or an IP address.
        host: String,
        /// The port.
        port: u16,
    },
}

impl Endpoint {
    /// Reads an endpoint as configured: an `http(s)://` URL, an `h3://` URL (a host the app reaches over QUIC),
    /// `host:port`, `address:port` or `[v6]:port`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("h3://") {
            // The same authority and path over https, so the url crate reads the host as a web host does.
            return match Url::parse(&format!("https://{rest}")) {
                Ok(url) if url.host().is_some() && url.username().is_empty() && url.port() != Some(0) => {
                    let port = url.port().unwrap_or(443);
                    Ok(Endpoint::Quic { url, port })
                }
                Ok(_) => Err(format!("{text}: an h3 endpoint is h3://HOST[:PORT]/PATH")),
                Err(e) => Err(format!("{text}: {e}")),
            };
        }
        if text.contains("://") {
            return match Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(Endpoint::Web(url)),
                Ok(url) => Err(format!(
                    "{text}: only http, https and h3 URLs are endpoints, not {}",
                    url.scheme()
                )),
                Err(e) => Err(format!("{text}: {e}")),
            };
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("{text}: an endpoint is a URL or HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{text}: the port must be 1–65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.parse::<std::net::IpAddr>().is_err() && !crate::host_name::is_host_name(host) {
            return Err(format!("{text}: {host:?} is neither an IP address nor a host name"));
        }
        Ok(Endpoint::Port {
            host: host.to_owned(),
            port,
        })
    }
}

/// Whether `name` can name an app: 1–32 lowercase letters, digits, `-` or `_`.
pub fn valid_app_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// One shipped app: its name and endpoints.
pub struct DefaultApp {
    /// The app's name (`whatsapp`).
    pub name: &'static str,
    /// Its endpoints, as `[[apps]]` writes them.
    pub endpoints: &'static [&'static str],
}

/// The shipped apps, for `[lists] default_apps = true`.
pub const DEFAULT_APPS: &[DefaultApp] = &[
    // OONI ts-018 (whatsapp): the registration service, WhatsApp Web, and the chat servers e1…e16.whatsapp.net
    // on 443 and 5222 (two of them here: a block of the chat servers takes them all).
    DefaultApp {
        name: "whatsapp",
        endpoints: &[
            "https://v.whatsapp.net/v2/register",
            "https://web.whatsapp.com/",
            "e1.whatsapp.net:443",
            "e1.whatsapp.net:5222",
            "e7.whatsapp.net:443",
        ],
    },
    // OONI ts-020 (telegram): the data centres' access points, addresses Telegram's clients have built in, on 443
    // (and 80), and Telegram Web.
    DefaultApp {
        name: "telegram",
        endpoints: &[
            "149.154.175.50:443",
            "149.154.167.51:443",
            "149.154.175.100:443",
            "149.154.167.91:443",
            "149.154.171.5:443",
            "https://web.telegram.org/",
        ],
    },
    // OONI ts-029 (signal): Signal's service hosts on 443. Their certificates chain to Signal's own CA, not to a
    // public one, so the probe connects rather than fetches (a fetch would fail everywhere on the certificate).
    DefaultApp {
        name: "signal",
        endpoints: &[
            "chat.signal.org:443",
            "storage.signal.org:443",
            "cdn.signal.org:443",
            "cdn2.signal.org:443",
            "sfu.voip.signal.org:443",
        ],
    },
    // Instagram's web site, its app's API host and its image CDN (the hosts Instagram's app and site load). Meta's
    // apps speak QUIC to their API and media hosts ("How Facebook is bringing QUIC to billions", Engineering at
    // Meta, 2020-10-21: QUIC for the apps' dynamic and static content), so those two are asked over QUIC too.
    DefaultApp {
        name: "instagram",
        endpoints: &[
            "https://www.instagram.com/",
            "h3://i.instagram.com/",
            "h3://scontent.cdninstagram.com/",
        ],
    },
    // OONI ts-019 (facebook_messenger): the hosts Messenger's app connects to, on 443; its graph host also over
    // QUIC, as Meta's apps reach it (the source above), with a fetch over TCP beside it in place of OONI's connect.
    DefaultApp {
        name: "facebook_messenger",
        endpoints: &[
            "b-api.facebook.com:443",
            "h3://b-graph.facebook.com/",
            "edge-mqtt.facebook.com:443",
            "external.xx.fbcdn.net:443",
            "scontent.xx.fbcdn.net:443",
            "star.c10r.facebook.com:443",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_ports_and_addresses_are_endpoints_and_nothing_else_is() {
        assert!(matches!(
            Endpoint::parse("https://web.whatsapp.com/"),
            Ok(Endpoint::Web(_))
        ));
        assert_eq!(
            Endpoint::parse("e1.whatsapp.net:5222"),
            Ok(Endpoint::Port {
                host: "e1.whatsapp.net".to_owned(),
                port: 5222
            })
        );
        assert_eq!(
            Endpoint::parse("[2001:67c:4e8:f004::a]:443"),
            Ok(Endpoint::Port {
                host: "2001:67c:4e8:f004::a".to_owned(),
                port: 443
            })
        );
        assert_eq!(
            Endpoint::parse("h3://i.instagram.com/api/"),
            Ok(Endpoint::Quic {
                url: Url::parse("https://i.instagram.com/api/").expect("url"),
                port: 443
            })
        );
        assert_eq!(
            Endpoint::parse("h3://10.1.2.3:8443/"),
            Ok(Endpoint::Quic {
                url: Url::parse("https://10.1.2.3:8443/").expect("url"),
                port: 8443
            })
        );
        for bad in [
            "ftp://x.example/",
            "h3://",
            "h3://user@x.example/",
            "h3://x.example:0/",
            "x.example",
            "x.example:0",
            "x.example:70000",
            "bad host:443",
            "-x.example:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} is no endpoint");
        }
    }

    #[test]
    fn every_shipped_app_is_valid() {
        for app in DEFAULT_APPS {
            assert!(valid_app_name(app.name), "{}", app.name);
            assert!(!app.endpoints.is_empty(), "{}", app.name);
            for endpoint in app.endpoints {
                assert!(Endpoint::parse(endpoint).is_ok(), "{}: {endpoint}", app.name);
            }
        }
    }
}
