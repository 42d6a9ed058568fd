//! What a list pass measures: the test lists' URLs and the messaging apps' endpoints (`crate::apps`), one
//! [`ListItem`] each, in that order.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;
use vigil_measurement::{Measurement, Scope, Target};

use super::targets::AnchorPlan;
use super::uplinks::UplinkChecks;
use crate::apps::{DEFAULT_APPS, Endpoint, LIST_PREFIX};
use crate::checks::tcp;
use crate::config::ProbeConfig;
use crate::test_lists::TestLists;

/// One thing a list pass measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem {
    /// A URL: DNS for its host, then an HTTP(S) fetch (and the QUIC test when its site announced HTTP/3).
    Url {
        /// The URL (also the target's name).
        url: Url,
        /// `target.list`: the test list's name, or `app:NAME`.
        list: String,
        /// For an app's `h3://` endpoint, the UDP port its app speaks QUIC to: the QUIC test runs every time,
        /// announced or not.
        quic_port: Option<u16>,
    },
    /// A port of an app: DNS when the host is a name, then a TCP connect to its first address (IPv4 first).
    Port {
        /// The endpoint as configured (the target's name).
        name: String,
        /// A host name or an address.
        host: String,
        /// The port.
        port: u16,
        /// `app:NAME`.
        list: String,
    },
}

/// The items of a list pass: every test-list URL, then every endpoint of `[[apps]]` and, with `[lists]
/// default_apps`, of the shipped apps not named in `[[apps]]` (a configured app replaces the shipped one).
/// Endpoints that do not parse are left out (the configuration's check reports them).
pub fn list_items(lists: &TestLists, config: &ProbeConfig) -> Vec<ListItem> {
    let mut items: Vec<ListItem> = lists
        .entries
        .iter()
        .map(|e| ListItem::Url {
            url: e.url.clone(),
            list: e.list.clone(),
            quic_port: None,
        })
        .collect();
    let configured = config.apps.iter().map(|app| {
        (
            app.name.as_str(),
            app.endpoints.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    });
    let shipped = DEFAULT_APPS
        .iter()
        .filter(|_| config.lists.default_apps)
        .filter(|d| !config.apps.iter().any(|a| a.name == d.name))
        .map(|d| (d.name, d.endpoints.to_vec()));
    for (app, endpoints) in configured.chain(shipped) {
        let list = format!("{LIST_PREFIX}{app}");
        for text in endpoints {
            match Endpoint::parse(text) {
                Ok(Endpoint::Web(url)) => items.push(ListItem::Url {
                    url,
                    list: list.clone(),
                    quic_port: None,
                }),
                Ok(Endpoint::Quic { url, port }) => items.push(ListItem::Url {
                    url,
                    list: list.clone(),
                    quic_port: Some(port),
                }),
                Ok(Endpoint::Port { host, port }) => items.push(ListItem::Port {
                    name: text.to_owned(),
                    host,
                    port,
                    list: list.clone(),
                }),
                Err(_) => {}
            }
        }
    }
    items
}

impl ListItem {
    /// Measures the item on `uplink`: its DNS check, then its fetch or its connect.
    pub async fn measure(&self, uplink: &UplinkChecks, connect_timeout: Duration) -> Vec<Measurement> {
        let mut out = Vec::new();
        match self {
            ListItem::Url { url, list, quic_port } => {
                let target = Target {
                    name: url.to_string(),
                    scope: Scope::International,
                    list: Some(list.clone()),
                };
                if let Some(host) = url.host_str() {
                    out.extend(uplink.dns.check(host, &target).await);
                }
                let meter = crate::traffic::CheckMeter::new();
                out.push(uplink.http.check_with_quic(url, target, *quic_port, &meter).await);
            }
            ListItem::Port { name, host, port, list } => {
                let target = Target {
                    name: name.clone(),
                    scope: Scope::International,
                    list: Some(list.clone()),
                };
                // An anchor's plan without its URL: the address, or the name and its first address (IPv4 first).
                let ip = host.parse::<IpAddr>().ok();
                let plan = AnchorPlan {
                    host: ip.is_none().then(|| host.clone()),
                    ip,
                    port: *port,
                    url: None,
                };
                if let Some(name) = &plan.host {
                    out.extend(uplink.dns.check(name, &target).await);
                }
                // A name that resolves nowhere has its DNS check to say so; there is nothing to connect to.
                if let Some(ip) = plan.resolve(&uplink.way.path).await {
                    out.push(tcp::check(ip, *port, connect_timeout, uplink.way.path.egress(), target).await);
                }
            }
        }
        for m in &mut out {
            m.uplink.clone_from(&uplink.way.label);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> ProbeConfig {
        let text = format!("[collector]\nurl = \"http://127.0.0.1:1\"\ntoken = \"t\"\n{extra}");
        toml::from_str(&text).expect("a configuration")
    }

    #[test]
    fn apps_follow_the_lists_each_endpoint_an_item_and_a_configured_app_replaces_the_shipped_one() {
        let none = config("");
        assert!(
            list_items(&TestLists::default(), &none).is_empty(),
            "no app unless asked"
        );

        let own = config(
            "[[apps]]\nname = \"whatsapp\"\nendpoints = [\"https://chat.example/\", \"10.1.2.3:5222\", \"h3://media.example/\"]\n\
             [lists]\ndefault_apps = true\n",
        );
        let items = list_items(&TestLists::default(), &own);
        let whatsapp: Vec<&ListItem> = items
            .iter()
            .filter(|i| matches!(i, ListItem::Url { list, .. } | ListItem::Port { list, .. } if list == "app:whatsapp"))
            .collect();
        assert_eq!(whatsapp.len(), 3, "the configured endpoints only: {whatsapp:?}");
        assert_eq!(
            whatsapp[0],
            &ListItem::Url {
                url: Url::parse("https://chat.example/").expect("url"),
                list: "app:whatsapp".to_owned(),
                quic_port: None,
            },
            "a web endpoint is asked over QUIC only as its site announces"
        );
        assert_eq!(
            whatsapp[1],
            &ListItem::Port {
                name: "10.1.2.3:5222".to_owned(),
                host: "10.1.2.3".to_owned(),
                port: 5222,
                list: "app:whatsapp".to_owned(),
            }
        );
        let shipped_others: usize = DEFAULT_APPS
            .iter()
            .filter(|d| d.name != "whatsapp")
            .map(|d| d.endpoints.len())
            .sum();
        assert_eq!(
            whatsapp[2],
            &ListItem::Url {
                url: Url::parse("https://media.example/").expect("url"),
                list: "app:whatsapp".to_owned(),
                quic_port: Some(443),
            },
            "an h3 endpoint is fetched over https and always asked over QUIC"
        );
        assert_eq!(items.len(), 3 + shipped_others);
    }
}
