//! What to check for one anchor, from its configured target (a URL, a host name or an address).

use std::net::IpAddr;

use url::Url;

use crate::net::NetPath;

/// The checks one anchor gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorPlan {
    /// Name for the DNS check (absent for an address).
    pub host: Option<String>,
    /// Address to connect to when the target is one.
    pub ip: Option<IpAddr>,
    /// Port for the TCP check: the URL's, else 443.
    pub port: u16,
    /// URL for the HTTP check (a host name gets `https://HOST/`).
    pub url: Option<Url>,
}

/// Plans the checks for a target.
pub fn plan_anchor(target: &str) -> AnchorPlan {
    if let Ok(ip) = target.parse::<IpAddr>() {
        return AnchorPlan {
            host: None,
            ip: Some(ip),
            port: 443,
            url: None,
        };
    }
    if let Ok(url) = Url::parse(target)
        && matches!(url.scheme(), "http" | "https")
    {
        let host = url.host_str().map(|h| h.trim_matches(['[', ']']).to_owned());
        let ip = host.as_deref().and_then(|h| h.parse::<IpAddr>().ok());
        return AnchorPlan {
            host: host.filter(|_| ip.is_none()),
            ip,
            port: url.port_or_known_default().unwrap_or(443),
            url: Some(url),
        };
    }
    AnchorPlan {
        host: Some(target.to_owned()),
        ip: None,
        port: 443,
        url: Url::parse(&format!("https://{target}/")).ok(),
    }
}

impl AnchorPlan {
    /// The address for the TCP check: the literal one, or the first the system's resolvers give along `path`
    /// (IPv4 first).
    pub async fn resolve(&self, path: &NetPath) -> Option<IpAddr> {
        if self.ip.is_some() {
            return self.ip;
        }
        let host = self.host.as_deref()?;
        let addrs: Vec<IpAddr> = path
            .lookup(host, self.port)
            .await
            .ok()?
            .into_iter()
            .map(|a| a.ip())
            .collect();
        addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_hosts_and_addresses_get_their_checks() {
        let url = plan_anchor("http://example.org:8080/x");
        assert_eq!((url.host.as_deref(), url.port), (Some("example.org"), 8080));
        assert!(url.url.is_some());
        let host = plan_anchor("example.org");
        assert_eq!(
            (host.port, host.url.map(|u| u.to_string())),
            (443, Some("https://example.org/".to_owned()))
        );
        let ip = plan_anchor("192.0.2.7");
        assert_eq!(
            (ip.host, ip.ip, ip.url),
            (None, Some("192.0.2.7".parse().expect("ip")), None)
        );
        let ip_url = plan_anchor("http://192.0.2.8/");
        assert_eq!((ip_url.host, ip_url.port), (None, 80));
    }
}
