//! The closed set of `outcome` values (DESIGN.md §2) and which of them each kind may report.
//!
//! A network failure is a measurement *result*, never a Rust error: every check ends with exactly one
//! [`Outcome`]. The strings are stable wire values; adding one is a schema change.

use serde::{Deserialize, Serialize};

use crate::Kind;

/// How one measurement ended. Serialized as the snake_case strings of DESIGN.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The check succeeded.
    Ok,
    /// No answer within the check's timeout.
    Timeout,
    /// The peer refused the connection (TCP RST to a SYN, DNS REFUSED).
    Refused,
    /// An established connection was reset.
    Reset,
    /// An ICMP unreachable (any code, admin-prohibited included) came back.
    Unreachable,
    /// The name does not exist (DNS NXDOMAIN).
    Nxdomain,
    /// The resolver failed (DNS SERVFAIL).
    Servfail,
    /// A DNS answer was forged: a known injection fingerprint, a bogon for a public name, or a mismatch with controls.
    DnsInjected,
    /// An HTTP response matched a known blockpage fingerprint.
    Blockpage,
    /// The TLS handshake failed.
    TlsError,
    /// The HTTP exchange failed after connecting (malformed response, unexpected close).
    HttpError,
    /// The probe had no route to the target (no default route, network unreachable locally).
    NoRoute,
    /// Anything else; the result's `error_detail` says what, scrubbed of IP addresses.
    Error,
}

impl Outcome {
    /// Every outcome, in wire order.
    pub const ALL: [Outcome; 13] = [
        Outcome::Ok,
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::Reset,
        Outcome::Unreachable,
        Outcome::Nxdomain,
        Outcome::Servfail,
        Outcome::DnsInjected,
        Outcome::Blockpage,
        Outcome::TlsError,
        Outcome::HttpError,
        Outcome::NoRoute,
        Outcome::Error,
    ];

    /// The stable wire string of this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::Reset => "reset",
            Outcome::Unreachable => "unreachable",
            Outcome::Nxdomain => "nxdomain",
            Outcome::Servfail => "servfail",
            Outcome::DnsInjected => "dns_injected",
            Outcome::Blockpage => "blockpage",
            Outcome::TlsError => "tls_error",
            Outcome::HttpError => "http_error",
            Outcome::NoRoute => "no_route",
            Outcome::Error => "error",
        }
    }

    /// Whether this outcome is a success.
    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }

    /// Whether a kind of measurement may report this outcome.
    pub fn allowed_for(self, kind: Kind) -> bool {
        kind.allowed_outcomes().contains(&self)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Kind {
    /// The outcomes this kind may report; anything else is rejected at validation.
    pub fn allowed_outcomes(self) -> &'static [Outcome] {
        use Outcome::*;
        match self {
            Kind::Dns => &[
                Ok,
                Timeout,
                Refused,
                Nxdomain,
                Servfail,
                DnsInjected,
                NoRoute,
                Unreachable,
                TlsError,
                HttpError,
                Error,
            ],
            Kind::Http => &[
                Ok,
                Timeout,
                Refused,
                Reset,
                Unreachable,
                Nxdomain,
                Servfail,
                DnsInjected,
                Blockpage,
                TlsError,
                HttpError,
                NoRoute,
                Error,
            ],
            Kind::Tcp => &[Ok, Timeout, Refused, Reset, Unreachable, NoRoute, Error],
            Kind::Icmp => &[Ok, Timeout, Unreachable, NoRoute, Error],
            Kind::Trace => &[Ok, Timeout, Unreachable, NoRoute, Error],
            Kind::Vitals => &[Ok, Error],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_match_serde_names() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).expect("outcome serializes");
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
        }
    }

    #[test]
    fn every_kind_allows_ok_and_error() {
        for kind in Kind::ALL {
            assert!(Outcome::Ok.allowed_for(kind), "{kind}");
            assert!(Outcome::Error.allowed_for(kind), "{kind}");
        }
    }

    #[test]
    fn blockpage_is_only_an_http_outcome() {
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| Outcome::Blockpage.allowed_for(*k))
            .collect();
        assert_eq!(kinds, vec![Kind::Http]);
    }
}
