//! The `vigil-collector` command line (DESIGN.md §5). Parsing and printing only; the work is the library's.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use vigil_collector::PublicProbe;
use vigil_collector::SignedBatchQuery;
use vigil_collector::evaluate_corpus;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_collector::{
    CollectorConfig, PublishedEvent, StoreSpec, latest_reviews, open_store, pending_only, record_review,
    register_probe_with_key, review_status, serve,
};
use vigil_collector::{KeyChange, set_key};
use vigil_measurement::signature::PublicKey;

/// Vigil collector: ingest, storage and analysis of probe measurements.
#[derive(Debug, Parser)]
#[command(name = "vigil-collector", version, about)]
pub struct Cli {
    /// Collector configuration file (TOML); every key has a default.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Store: sqlite:PATH (default sqlite:vigil-data/vigil.db) or clickhouse://HOST:PORT/DB.
    #[arg(long, global = true, env = "VIGIL_STORE", value_name = "STORE")]
    store: Option<StoreSpec>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (ingest and API).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "VIGIL_LISTEN", value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// What this instance does: all (default), ingest (no classifier) or classify (no ingest).
        #[arg(long, value_enum)]
        role: Option<vigil_collector::Role>,
    },
    /// Register, list and revoke probes.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Replay third-party data into the store and judge the classifier's events on it.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Export measurements, vitals or events for research (CSV or JSON Lines), anonymised, streamed page by
    /// page; resume a large export with `--after` the last row's `seq`.
    Export(ExportArgs),
    /// Print the ClickHouse schema, or apply it to the store's server (`--apply`): one server's tables, or a
    /// cluster's replicated local tables and distributed tables (`--cluster NAME`, as in `remote_servers`).
    Schema {
        /// The cluster to create the tables on (every server of it, through ON CLUSTER).
        #[arg(long)]
        cluster: Option<String>,
        /// Run the statements on the store's ClickHouse server instead of printing them.
        #[arg(long)]
        apply: bool,
    },
    /// Classify a time range again (batch re-analysis, e.g. after late data or a rule change).
    Classify {
        /// Start (RFC 3339).
        #[arg(long)]
        from: chrono::DateTime<chrono::Utc>,
        /// End (RFC 3339).
        #[arg(long)]
        to: chrono::DateTime<chrono::Utc>,
    },
    /// Import third-party vantage data.
    #[command(subcommand)]
    Import(ImportCommand),
    /// List events.
    Events {
        /// Events overlapping from this time (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Events overlapping until this time (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Country.
        #[arg(long)]
        country: Option<String>,
        /// AS number.
        #[arg(long)]
        asn: Option<u32>,
        /// Class (shutdown, power_outage, censorship, network_failure, probe_fault, collector_side, unknown).
        #[arg(long)]
        class: Option<String>,
        /// Print JSON (with evidence) instead of a table.
        #[arg(long)]
        json: bool,
        /// Only events whose class awaits a person's review (shutdowns not yet confirmed or rejected).
        #[arg(long)]
        pending_review: bool,
    },
    /// Re-check stored signed batches: digest, signature, the probe's registered key, and every measurement
    /// against what the store holds now. Exits non-zero when anything does not check out.
    Verify {
        /// Batches received from this time (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Batches received before this time (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Only this probe's batches.
        #[arg(long)]
        probe: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a person's review of an event's class: a shutdown is published as one only once confirmed.
    Review {
        /// The event id (`vigil-collector events --pending-review` lists them).
        event_id: String,
        /// The evidence supports the class.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        confirm: bool,
        /// It does not.
        #[arg(long)]
        reject: bool,
        /// Who reviews (a name or role; shown publicly with the verdict).
        #[arg(long)]
        by: String,
        /// Why, in a sentence (shown publicly).
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Generate the scenario corpus of a seed (random countries living through known events), classify every
    /// scenario and score the events against the truth: confusion by class, scope, start and end errors, and
    /// stated confidence against the share right.
    Corpus {
        /// The corpus's seed: scenario i of seed s is the same forever.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many scenarios (they cycle through every kind of event).
        #[arg(long, default_value_t = 340)]
        scenarios: usize,
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        /// The share of the home country's probes on a line with a satellite dish beside it (issue 24); 0 draws
        /// the corpus without dishes, to measure what they add.
        #[arg(long, default_value_t = vigil_collector::CorpusOptions::default().dish_share)]
        dish_share: f64,
        /// Satellite-only probes on an operator registered abroad, per probe of the home country (issue 24); 0
        /// draws none.
        #[arg(long, default_value_t = vigil_collector::CorpusOptions::default().abroad_satellite_share)]
        abroad_satellite_share: f64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import one day's RIPE Atlas connection log into the store (use a fresh one), classify the span it covers,
    /// and print its events against the log's bursts (≥ 10 probes of one ASN leaving together) and Disco's
    /// detections.
    RipeAtlas {
        /// The log file.
        file: PathBuf,
        /// RIPE Atlas's probe archive for the day.
        #[arg(long)]
        probe_archive: Option<PathBuf>,
        /// Disco's top events (`id|start|end|set([…])|[streams]|[levels]`).
        #[arg(long)]
        disco: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// RIPE Atlas connection logs (JSON array of connect/disconnect events) as presence-only pseudo-probes.
    RipeAtlasConnections {
        /// The log file.
        file: PathBuf,
        /// RIPE Atlas's probe archive for the day (the public daily JSON of probes: `id`, `asn_v4`, `asn_v6`,
        /// `country_code`, …), placing each probe in its country.
        #[arg(long)]
        probe_archive: Option<PathBuf>,
        /// CSV of `prb_id,country[,region]` placing Atlas probes (over the archive where both name one).
        /// Probes placed by neither get country ZZ, which is no country.
        #[arg(long)]
        probe_countries: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ProbeCommand {
    /// Register a probe; prints its id and token once.
    Add(AddProbe),
    /// List registered probes (operator view: includes names, never tokens).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// How each probe's uploads arrived: per carrier (the uplink named in `Vigil-Uplink`, or the registered
    /// line) and the network they came from (`[ingest] asn_table`); never an address. A registered line whose
    /// uploads arrive from another network than the one registered is flagged: every network scope rests on it.
    Arrivals {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a probe's token; its uploads are refused at once.
    Revoke {
        /// The probe id, e.g. prb-3f9a1c0e7b2d.
        probe_id: String,
    },
    /// Record a probe's signing key (as `vigil-probe register` prints it); from then on every upload of the
    /// probe must be signed with it.
    SetKey {
        /// The probe id, e.g. prb-3f9a1c0e7b2d.
        probe_id: String,
        /// The public key, `ed25519:` and 64 hex digits.
        public_key: String,
        /// Replace a key already registered (a re-installed probe); its earlier batches stay verifiable only
        /// against the old key.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// measurements, vitals or events.
    #[arg(long, value_enum, default_value = "measurements")]
    dataset: vigil_collector::Dataset,
    /// csv, jsonl or parquet.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: vigil_collector::Format,
    /// Start (RFC 3339), by when measurements were taken.
    #[arg(long)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// End (RFC 3339, exclusive).
    #[arg(long)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this country.
    #[arg(long)]
    country: Option<String>,
    /// Only this ASN.
    #[arg(long)]
    asn: Option<u32>,
    /// Only this region (as exported: regions with too few probes are not named).
    #[arg(long)]
    region: Option<String>,
    /// Only this kind of measurement (dns, http, tcp, icmp, trace, vitals).
    #[arg(long)]
    kind: Option<String>,
    /// Only this outcome (e.g. dns_injected).
    #[arg(long)]
    outcome: Option<String>,
    /// Only this event class (events).
    #[arg(long)]
    class: Option<String>,
    /// Resume after this `seq` (the last row of an earlier export).
    #[arg(long)]
    after: Option<i64>,
    /// Regions with fewer probes than this are exported as empty, so a lone volunteer is not singled out.
    #[arg(long, default_value_t = 3)]
    min_region_probes: usize,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AddProbe {
    /// Operator's label for the probe (kept private).
    #[arg(long)]
    name: String,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    country: String,
    /// Autonomous system number the probe connects through.
    #[arg(long)]
    asn: u32,
    /// Region within the country.
    #[arg(long)]
    region: Option<String>,
    /// Access type.
    #[arg(long, value_enum, default_value = "fixed")]
    access: AccessType,
    /// The probe runs on a UPS.
    #[arg(long)]
    ups: bool,
    /// The probe's signing key (`vigil-probe register` prints it); its uploads must then be signed.
    #[arg(long, value_name = "KEY")]
    pubkey: Option<String>,
    /// Print {"probe_id","token"} as JSON.
    #[arg(long)]
    json: bool,
}

impl Cli {
    /// Configuration from the file (or defaults), overridden by the command line and environment.
    fn load_config(&self) -> Result<CollectorConfig> {
        let mut config = match &self.config {
            Some(path) => CollectorConfig::from_file(path)?,
            None => CollectorConfig::default(),
        };
        if let Some(store) = &self.store {
            config.store = store.clone();
        }
        Ok(config)
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    let mut config = cli.load_config()?;
    match cli.command {
        Command::Serve { listen, role } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(role) = role {
                config.role = role;
            }
            let store = open_store(&config.store).await.context("opening the store")?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("listening on {}", config.listen))?;
            let local = listener.local_addr()?;
            tracing::info!(store = %store.describe(), "collector serving");
            let scheme = if config.server.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            println!("vigil-collector listening on {scheme}://{local}");
            serve(store, &config, listener, shutdown_signal()).await?;
        }
        Command::Probe(ProbeCommand::Add(add)) => {
            let key = add
                .pubkey
                .as_deref()
                .map(PublicKey::parse)
                .transpose()
                .context("--pubkey")?;
            let store = open_store(&config.store).await.context("opening the store")?;
            let issued = register_probe_with_key(
                store.as_ref(),
                ProbeProfile {
                    name: add.name,
                    country: add.country,
                    asn: add.asn,
                    region: add.region,
                    access: add.access,
                    ups: add.ups,
                },
                key,
            )
            .await?;
            if add.json {
                println!(
                    "{}",
                    serde_json::json!({"probe_id": issued.probe.probe_id, "token": issued.token})
                );
            } else {
                let p = &issued.probe.profile;
                println!(
                    "registered probe {} ({}, AS{}, {}, {}{})",
                    issued.probe.probe_id,
                    p.country,
                    p.asn,
                    p.region.as_deref().unwrap_or("no region"),
                    p.access.as_str(),
                    if p.ups { ", UPS" } else { "" }
                );
                println!("token (shown once, give it to the volunteer): {}", issued.token);
            }
        }
        Command::Probe(ProbeCommand::List { json }) => {
            let store = open_store(&config.store).await.context("opening the store")?;
            let probes = store.probes().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&probes)?);
            } else {
                println!(
                    "{:<16} {:<20} {:<2} {:>8} {:<14} {:<9} {:<3} {:<7} LAST SEEN",
                    "PROBE", "NAME", "CC", "ASN", "REGION", "ACCESS", "UPS", "STATUS"
                );
                for p in &probes {
                    let public = PublicProbe::from(p);
                    let (id, p) = (&p.probe_id, &p.profile);
                    println!(
                        "{:<16} {:<20} {:<2} {:>8} {:<14} {:<9} {:<3} {:<7} {}",
                        id,
                        p.name,
                        p.country,
                        p.asn,
                        p.region.as_deref().unwrap_or("-"),
                        p.access.as_str(),
                        if p.ups { "yes" } else { "no" },
                        if public.active { "active" } else { "revoked" },
                        public.last_seen.as_deref().unwrap_or("never")
                    );
                }
            }
        }
        Command::Probe(ProbeCommand::Arrivals { json }) => {
            let store = open_store(&config.store).await.context("opening the store")?;
            let arrivals = store.probe_arrivals().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&arrivals)?);
            } else {
                let registered: std::collections::BTreeMap<String, vigil_collector::ProbeProfile> = store
                    .probes()
                    .await?
                    .into_iter()
                    .map(|p| (p.probe_id, p.profile))
                    .collect();
                println!(
                    "{:<16} {:<12} {:>8} {:<7} {:<9} {:<20} {:<20} NOTE",
                    "PROBE", "CARRIER", "ASN", "COUNTRY", "ACCESS", "FIRST SEEN", "LAST SEEN"
                );
                let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
                for a in &arrivals {
                    let note = match registered.get(&a.probe_id) {
                        Some(profile) if a.off_network(profile).is_some() => {
                            format!("registered as AS{}", profile.asn)
                        }
                        _ => String::new(),
                    };
                    println!(
                        "{:<16} {:<12} {:>8} {:<7} {:<9} {:<20} {:<20} {note}",
                        a.probe_id,
                        a.carrier.as_deref().unwrap_or("(line)"),
                        a.asn.map_or("-".to_owned(), |n| n.to_string()),
                        a.network_country.as_deref().unwrap_or("-"),
                        a.access.as_deref().unwrap_or("-"),
                        at(a.first_seen),
                        at(a.last_seen),
                    );
                }
            }
        }
        Command::Import(ImportCommand::RipeAtlasConnections {
            file,
            probe_archive,
            probe_countries,
        }) => {
            use vigil_collector::ripe_atlas;
            let json = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut places = std::collections::BTreeMap::new();
            if let Some(path) = probe_archive {
                let archive = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let (found, unplaced) =
                    ripe_atlas::parse_probe_archive(&archive).with_context(|| format!("reading {}", path.display()))?;
                eprintln!(
                    "probe archive: {} probes placed, {unplaced} without a country",
                    found.len()
                );
                places.extend(found);
            }
            if let Some(path) = probe_countries {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                places.extend(
                    ripe_atlas::parse_probe_countries(&text).with_context(|| format!("reading {}", path.display()))?,
                );
            }
            let store = open_store(&config.store).await.context("opening the store")?;
            let report = ripe_atlas::import(store.as_ref(), &json, &places).await?;
            println!(
                "imported {} connection events ({} skipped): {} new pseudo-probes, {} re-placed, {} without a \
                 country (ZZ), {} presence sessions",
                report.events,
                report.skipped,
                report.new_probes,
                report.updated_probes,
                report.unplaced,
                report.sessions
            );
        }
        Command::Eval(EvalCommand::Corpus {
            seed,
            scenarios,
            threads,
            dish_share,
            abroad_satellite_share,
            json,
        }) => {
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
            anyhow::ensure!((0.0..=1.0).contains(&dish_share), "--dish-share is a share, 0 to 1");
            anyhow::ensure!(
                (0.0..=1.0).contains(&abroad_satellite_share),
                "--abroad-satellite-share is a share, 0 to 1"
            );
            let options = vigil_collector::CorpusOptions {
                dish_share,
                abroad_satellite_share,
            };
            let report = evaluate_corpus(seed, scenarios, &options, &config.classifier.settings(), threads);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
        Command::Eval(EvalCommand::RipeAtlas {
            file,
            probe_archive,
            disco,
            json,
        }) => {
            use vigil_collector::{replay, ripe_atlas};
            let log = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let places = match probe_archive {
                Some(path) => {
                    let archive = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                    ripe_atlas::parse_probe_archive(&archive)
                        .with_context(|| format!("reading {}", path.display()))?
                        .0
                }
                None => std::collections::BTreeMap::new(),
            };
            let disco = match disco {
                Some(path) => replay::parse_disco_events(
                    &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
                ),
                None => Vec::new(),
            };
            let store = open_store(&config.store).await.context("opening the store")?;
            let report = replay::replay_day(
                store.as_ref(),
                &log,
                &places,
                &disco,
                i64::try_from(config.bucket_secs).unwrap_or(300),
                &config.classifier.settings(),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
        Command::Export(args) => {
            use tokio::io::AsyncWriteExt;
            let kind = match args.kind.as_deref() {
                Some(k) => Some(
                    vigil_measurement::Kind::ALL
                        .into_iter()
                        .find(|kind| kind.as_str() == k)
                        .with_context(|| format!("--kind {k}: expected dns, http, tcp, icmp, trace or vitals"))?,
                ),
                None => None,
            };
            let request = vigil_collector::ExportRequest {
                dataset: args.dataset,
                format: args.format,
                from: args.from,
                to: args.to,
                country: args.country.map(|c| c.to_ascii_uppercase()),
                asn: args.asn,
                region: args.region,
                kind,
                outcome: args.outcome,
                class: args.class,
                after: args.after,
                min_region_probes: args.min_region_probes,
                ..Default::default()
            };
            let store = open_store(&config.store).await.context("opening the store")?;
            let out: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &args.out {
                Some(path) => Box::new(
                    tokio::fs::File::create(path)
                        .await
                        .with_context(|| format!("creating {}", path.display()))?,
                ),
                None => Box::new(tokio::io::stdout()),
            };
            let out = std::sync::Arc::new(tokio::sync::Mutex::new(out));
            let summary = vigil_collector::export(store.as_ref(), &request, |chunk| {
                let out = std::sync::Arc::clone(&out);
                async move { out.lock().await.write_all(&chunk).await.map_err(|e| e.to_string()) }
            })
            .await?;
            out.lock().await.flush().await?;
            match summary.last_seq {
                Some(seq) => eprintln!("exported {} rows; resume with --after {seq}", summary.rows),
                None => eprintln!("exported {} rows", summary.rows),
            }
        }
        Command::Schema { cluster, apply } => {
            use vigil_collector::{apply_clickhouse_statements as apply_statements, clickhouse_schema as schema};
            let (url, database) = match &config.store {
                StoreSpec::ClickHouse { url, database } => (Some(url.clone()), database.clone()),
                StoreSpec::Sqlite(_) => (None, "vigil".to_owned()),
            };
            let statements = match &cluster {
                Some(name) => {
                    if !schema::is_identifier(name) {
                        bail!("cluster name {name:?}: letters, digits and underscores only");
                    }
                    schema::cluster(name, &database)
                }
                None => schema::single_server(),
            };
            if apply {
                let Some(url) = url else {
                    bail!("--apply needs a ClickHouse store (--store clickhouse://HOST:PORT/DB)");
                };
                apply_statements(&url, &statements).await?;
                eprintln!("applied {} statements to {url}", statements.len());
            } else {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                for statement in statements {
                    writeln!(out, "{statement};\n")?;
                }
            }
        }
        Command::Classify { from, to } => {
            if to <= from {
                bail!("--to must be after --from");
            }
            let store = open_store(&config.store).await.context("opening the store")?;
            let report = vigil_collector::classify_window(
                store.as_ref(),
                from,
                to,
                i64::try_from(config.bucket_secs).unwrap_or(300),
                &config.classifier.settings(),
            )
            .await?;
            println!(
                "classified {} probe-buckets: {} events ({} new, {} revised, {} retracted)",
                report.probe_buckets,
                report.events.len(),
                report.saved.opened,
                report.saved.revised,
                report.saved.retracted
            );
        }
        Command::Events {
            from,
            to,
            country,
            asn,
            class,
            json,
            pending_review,
        } => {
            let store = open_store(&config.store).await.context("opening the store")?;
            let events = store
                .events(vigil_collector::EventQuery {
                    from: from.map(|t| t.timestamp()),
                    to: to.map(|t| t.timestamp()),
                    country: country.map(|c| c.to_ascii_uppercase()),
                    asn,
                    class,
                })
                .await?;
            let reviews = latest_reviews(store.as_ref(), &events).await?;
            let events = if pending_review {
                pending_only(events, &reviews)
            } else {
                events
            };
            if json {
                let published: Vec<PublishedEvent> = events
                    .into_iter()
                    .map(|e| {
                        let r = reviews.get(&e.event.id);
                        PublishedEvent::new(e, r)
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&published)?);
            } else {
                print_events(&events, &reviews);
            }
        }
        Command::Review {
            event_id,
            confirm,
            reject: _,
            by,
            note,
        } => {
            let store = open_store(&config.store).await.context("opening the store")?;
            let verdict = if confirm {
                vigil_collector::ReviewVerdict::Confirmed
            } else {
                vigil_collector::ReviewVerdict::Rejected
            };
            let saved = record_review(store.as_ref(), &event_id, verdict, &by, &note).await?;
            println!(
                "{} {}: {} by {}",
                saved.verdict.as_str(),
                saved.event_id,
                saved.class,
                saved.reviewer
            );
        }
        Command::Probe(ProbeCommand::Revoke { probe_id }) => {
            let store = open_store(&config.store).await.context("opening the store")?;
            if !store.revoke_probe(&probe_id).await? {
                bail!("no active probe with id {probe_id}");
            }
            println!("revoked {probe_id}: its uploads are refused from now on");
        }
        Command::Probe(ProbeCommand::SetKey {
            probe_id,
            public_key,
            replace,
        }) => {
            let key = PublicKey::parse(&public_key)?;
            let store = open_store(&config.store).await.context("opening the store")?;
            match set_key(store.as_ref(), &probe_id, key, replace).await? {
                KeyChange::Unchanged => println!("{probe_id} already has this key"),
                KeyChange::Recorded => {
                    println!("{probe_id}: key {key} recorded; its uploads must be signed with it from now on")
                }
            }
        }
        Command::Verify { from, to, probe, json } => {
            let store = open_store(&config.store).await.context("opening the store")?;
            let report = vigil_collector::verify(
                store.as_ref(),
                SignedBatchQuery {
                    probe_id: probe,
                    from,
                    to,
                },
                config.ingest.max_decoded_bytes,
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for f in &report.findings {
                    println!(
                        "FAIL {} batch {}{}: {}",
                        f.probe_id,
                        f.digest,
                        f.measurement_id
                            .as_deref()
                            .map(|id| format!(" measurement {id}"))
                            .unwrap_or_default(),
                        f.problem
                    );
                }
                println!(
                    "{} signed batches, {} measurements checked; {} problems",
                    report.batches,
                    report.measurements,
                    report.findings.len()
                );
            }
            if !report.is_clean() {
                bail!("verification failed: {} problems", report.findings.len());
            }
        }
    }
    Ok(())
}

/// The events as a readable table, each with its evidence underneath.
fn print_events(
    events: &[vigil_collector::StoredEvent],
    reviews: &std::collections::HashMap<String, vigil_collector::EventReview>,
) {
    let time = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    println!(
        "{:<21} {:<16} {:<16} {:<26} {:<17} {:<17} {:<11} {:>8} {:<13}",
        "ID", "CLASS", "CONFIDENCE", "SCOPE", "START (UTC)", "END (UTC)", "PROBES", "REVISION", "REVIEW"
    );
    for s in events {
        let e = &s.event;
        let scope = match e.scope.level.as_str() {
            "asn" => format!(
                "{} AS{}",
                e.scope.country.as_deref().unwrap_or(""),
                e.scope.asn.unwrap_or(0)
            ),
            "region" => format!(
                "{} {}",
                e.scope.country.as_deref().unwrap_or(""),
                e.scope.region.as_deref().unwrap_or("")
            ),
            "access" => format!(
                "{} {}",
                e.scope.country.as_deref().unwrap_or(""),
                e.scope.access.as_deref().unwrap_or("")
            ),
            "probe" => e.scope.probe_id.clone().unwrap_or_default(),
            "collector" => "collector".to_owned(),
            _ => e.scope.country.clone().unwrap_or_default(),
        };
        println!(
            "{:<21} {:<16} {:<16} {:<26} {:<17} {:<17} {:<11} {:>8} {:<13}",
            e.id,
            e.class.as_str(),
            format!("{:?} {:.2}", e.confidence_level, e.confidence).to_lowercase(),
            scope,
            time(e.started_at),
            e.ended_at.map(time).unwrap_or_else(|| "ongoing".to_owned()),
            format!("{}/{}", e.affected_probes, e.probes_in_scope),
            s.revisions,
            review_status(e, reviews.get(&e.id)).as_str()
        );
        for ev in &e.evidence {
            println!("    [{}] {} ({:+})", ev.family, ev.text, ev.points);
        }
        for t in &e.targets {
            println!("    blocked: {} by {}", t.name, t.method);
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; draining ingest");
}
