//! The checks of one measuring way out ([`UplinkChecks`]): resolvers and an HTTP checker bound to it.

use crate::checks::dns::DnsResolvers;
use crate::checks::http::HttpChecker;
use crate::uplinks::WayOut;

/// The checks of one measuring way out, bound to it.
pub struct UplinkChecks {
    /// The way out.
    pub way: WayOut,
    /// The resolvers, asked through it.
    pub dns: DnsResolvers,
    /// The HTTP checker, connecting through it.
    pub http: HttpChecker,
}
