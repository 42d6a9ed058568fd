//! The collector's configuration: command line over file over defaults. Every key has a default, so the
//! collector runs with no file at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::store::StoreSpec;

/// The whole collector configuration (`collector.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectorConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where data lives.
    pub store: StoreSpec,
    /// Classifier bucket length in seconds.
    pub bucket_secs: u64,
    /// What this instance does: everything, only ingest (and the read API), or only classification (and the read
    /// API). Stateless ingest instances scale out behind a load balancer; exactly one instance classifies.
    pub role: Role,
    /// Ingest limits.
    pub ingest: IngestConfig,
    /// The classifier run inside `serve`.
    pub classifier: ClassifierConfig,
    /// Alerts on event transitions.
    pub notify: crate::notify::NotifyConfig,
    /// What `/metrics` exports beyond the bounded defaults.
    pub metrics: MetricsConfig,
    /// Connection limits of the HTTP server.
    pub server: ServerConfig,
}

/// `[server]`: limits on connections, whatever they ask for.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; an idle kept-alive connection closes after as long.
    pub header_timeout_secs: u64,
    /// PEM certificate chain: serve HTTPS (with `tls_key`). Reloaded on SIGHUP. Unset: plain HTTP (behind a
    /// TLS-terminating proxy, or on loopback).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 1024,
            header_timeout_secs: 10,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[metrics]`: opt-in series whose cardinality grows with the network.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Export `vigil_probe_last_seen_timestamp_seconds{probe_id}`, one series per registered probe (pseudonymous
    /// ids only). Off by default: a large network makes many series.
    pub per_probe: bool,
}

/// What a `serve` instance does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Ingest, the read API and the classifier: a single-instance deployment.
    #[default]
    All,
    /// Ingest and the read API, no classifier: one of many instances behind a load balancer.
    Ingest,
    /// The classifier and the read API, no ingest: the one instance that keeps events current.
    Classify,
}

impl Role {
    /// Whether it accepts measurements.
    pub fn ingests(self) -> bool {
        matches!(self, Role::All | Role::Ingest)
    }

    /// Whether it runs the classifier.
    pub fn classifies(self) -> bool {
        matches!(self, Role::All | Role::Classify)
    }
}

/// `[classifier]`: how `serve` keeps events current.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Re-classify every this many seconds (0: never; then run `vigil-collector classify`).
    pub interval_secs: u64,
    /// How far back each run looks, seconds: late data older than this revises events only through a batch run.
    pub window_secs: u64,
    /// Seconds after a bucket ends before it is classified, so the probes' uploads for it have arrived. Only
    /// complete buckets are classified: a bucket still filling looks like silence and would open false events.
    pub settle_secs: u64,
    /// Shortest trouble of one probe reported as a probe fault, seconds (see
    /// [`crate::classify::ClassifierSettings::probe_fault_min_secs`]).
    pub probe_fault_min_secs: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            interval_secs: 60,
            window_secs: 6 * 3600,
            settle_secs: 30,
            probe_fault_min_secs: 600,
        }
    }
}

impl ClassifierConfig {
    /// The classifier's tunables this configuration sets (the rest at their defaults).
    pub fn settings(&self) -> crate::classify::ClassifierSettings {
        crate::classify::ClassifierSettings {
            probe_fault_min_secs: i64::try_from(self.probe_fault_min_secs).unwrap_or(i64::MAX),
            ..crate::classify::ClassifierSettings::default()
        }
    }
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: StoreSpec::default(),
            bucket_secs: 300,
            role: Role::All,
            ingest: IngestConfig::default(),
            classifier: ClassifierConfig::default(),
            notify: crate::notify::NotifyConfig::default(),
            metrics: MetricsConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

/// Limits that keep ingest bounded in memory and fair under load.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest request body as received (compressed or not), bytes. Over it: 413.
    pub max_body_bytes: usize,
    /// Largest body after decompression, bytes. Over it: 413 (a zip bomb stops here).
    pub max_decoded_bytes: usize,
    /// Longest NDJSON line, bytes. Over it: 400 naming the line.
    pub max_line_bytes: usize,
    /// Most lines in one batch. Over it: 413.
    pub max_lines: usize,
    /// Batches admitted at once (being decoded, queued or written). Over it: 503 with `Retry-After`.
    pub max_inflight_batches: usize,
    /// Most measurements the writer commits in one transaction.
    pub max_group_measurements: usize,
    /// Seconds a client is told to wait on 503.
    pub retry_after_secs: u64,
    /// How far ahead of the collector's clock a synced `started_at` may be, seconds.
    pub max_future_secs: i64,
    /// Batches one probe may send a minute (bursting up to as many at once); over it: 429 with `Retry-After`.
    /// 0: unlimited.
    pub probe_batches_per_minute: u32,
    /// Measurements one probe may send a minute; over it: 429 with `Retry-After`. 0: unlimited.
    pub probe_measurements_per_minute: u32,
    /// Seconds a client has to send a whole request body; slower: 408 (a trickling client cannot hold a slot).
    pub body_timeout_secs: u64,
    /// Refuse (401) uploads from probes registered without a signing key. Probes registered with a key must
    /// sign whatever this says.
    pub require_signatures: bool,
    /// Addresses of reverse proxies in front of the collector. A request from one of them names the probe's
    /// address in `X-Forwarded-For` (the right-most entry that is not a trusted proxy); every batch is checked
    /// for the probe's own address, which must never be stored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// An IP-to-ASN table in the iptoasn format (`ip2asn-combined.tsv`, plain or gzip): with it, the network each
    /// upload arrived from is known (its ASN and the country it is registered in, never the address) — and a
    /// satellite-only probe on an operator registered abroad is judged beside its country's lines, not among them.
    /// Read once at start.
    pub asn_table: Option<std::path::PathBuf>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: 4 << 20,
            max_decoded_bytes: 16 << 20,
            max_line_bytes: 64 << 10,
            max_lines: 10_000,
            max_inflight_batches: 16,
            max_group_measurements: 50_000,
            retry_after_secs: 5,
            max_future_secs: 600,
            probe_batches_per_minute: 120,
            probe_measurements_per_minute: 60_000,
            body_timeout_secs: 60,
            require_signatures: false,
            trusted_proxies: Vec::new(),
            asn_table: None,
        }
    }
}

/// The configuration file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the key's location.
        message: String,
    },
    /// A value is out of range.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key path.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

impl CollectorConfig {
    /// Reads a TOML file; missing keys take their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text; missing keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: CollectorConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<config>".to_owned(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Rejects values that cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        let positive = |key: &'static str, value: usize| {
            if value == 0 {
                Err(ConfigError::Invalid {
                    key,
                    reason: "must be at least 1".to_owned(),
                })
            } else {
                Ok(())
            }
        };
        positive("bucket_secs", usize::try_from(self.bucket_secs).unwrap_or(usize::MAX))?;
        positive("server.max_connections", self.server.max_connections)?;
        positive(
            "server.header_timeout_secs",
            usize::try_from(self.server.header_timeout_secs).unwrap_or(usize::MAX),
        )?;
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                key: "server.tls_cert",
                reason: "server.tls_cert and server.tls_key go together".to_owned(),
            });
        }
        let i = &self.ingest;
        positive("ingest.max_body_bytes", i.max_body_bytes)?;
        positive("ingest.max_line_bytes", i.max_line_bytes)?;
        positive("ingest.max_lines", i.max_lines)?;
        positive("ingest.max_inflight_batches", i.max_inflight_batches)?;
        positive("ingest.max_group_measurements", i.max_group_measurements)?;
        if i.max_decoded_bytes < i.max_body_bytes {
            return Err(ConfigError::Invalid {
                key: "ingest.max_decoded_bytes",
                reason: "must be at least ingest.max_body_bytes".to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_sample_parses_and_states_the_defaults() {
        let sample = CollectorConfig::from_toml(include_str!("../collector.sample.toml")).expect("sample parses");
        // The production sample differs from the defaults in one place: it requires signed batches.
        assert!(sample.ingest.require_signatures);
        let mut defaults = CollectorConfig::default();
        defaults.ingest.require_signatures = true;
        assert_eq!(format!("{sample:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = CollectorConfig::from_toml("").expect("defaults");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.store.to_string(), "sqlite:vigil-data/vigil.db");
        assert_eq!(config.bucket_secs, 300);
    }

    #[test]
    fn keys_override_defaults_and_unknown_keys_are_named() {
        let config = CollectorConfig::from_toml("bucket_secs = 5\n[ingest]\nmax_lines = 10\n").expect("valid");
        assert_eq!((config.bucket_secs, config.ingest.max_lines), (5, 10));
        let err = CollectorConfig::from_toml("[ingest]\nmax_linez = 1\n").expect_err("typo");
        assert!(err.to_string().contains("max_linez"), "{err}");
    }

    #[test]
    fn impossible_values_are_refused_with_their_key() {
        let err = CollectorConfig::from_toml("[ingest]\nmax_inflight_batches = 0\n").expect_err("zero");
        assert!(err.to_string().contains("ingest.max_inflight_batches"), "{err}");
    }
}
