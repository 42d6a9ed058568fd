//! The Vigil collector: authenticated ingest of probe measurements, durable storage, and the public API.
//!
//! Layout: [`store`] (one trait, a backend per module), [`ingest`] (body → validated batch → group commit),
//! [`classify`] (the disruption classifier), [`import`] (third-party vantage), [`api`] (HTTP routes),
//! [`metrics`] (Prometheus), [`server`] (wiring and lifecycle), [`registry`] and [`token`] (probe credentials),
//! [`verify`] (re-checking stored signed batches),
//! [`config`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use vigil_collector::{CollectorConfig, open_store, serve};
//! let config = CollectorConfig::default();
//! let store = open_store(&config.store).await?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! serve(store, &config, listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod analysis;
pub mod api;
pub mod classify;
pub mod config;
pub mod connections;
pub mod export;
pub mod import;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod registry;
pub mod review;
pub mod server;
pub mod status;
pub mod store;
pub mod tls;
pub mod token;
pub mod verify;

pub use config::{ClassifierConfig, CollectorConfig, ConfigError, IngestConfig, Role};
pub use registry::{IssuedProbe, RegistryError, register_probe, register_probe_with_key};
pub use server::{ServeError, serve};
pub use store::{Store, StoreError, StoreSpec, open_store};
