//! The `vigil-probe` command line (DESIGN.md §5). Parsing and printing only; the work is the library's.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use vigil_probe::Spool;
use vigil_probe::{ConfigError, ProbeConfig};

/// Vigil measurement probe.
#[derive(Debug, Parser)]
#[command(name = "vigil-probe", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure and upload until stopped (SIGTERM or Ctrl-C).
    Run {
        /// The probe's configuration.
        #[arg(long)]
        config: PathBuf,
        /// Serve Prometheus metrics at http://ADDR/metrics (keep it on loopback or a trusted network).
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
    /// One cycle of anchors and one pass of the test lists; print each measurement as NDJSON, upload nothing.
    Once {
        /// The probe's configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Make the probe's signing key if it has none and print its public key, for the collector's operator
    /// (`vigil-collector probe add --pubkey KEY`, or `probe set-key ID KEY`).
    Register {
        /// The probe's configuration (for its state directory).
        #[arg(long, required_unless_present = "state_dir", conflicts_with = "state_dir")]
        config: Option<PathBuf>,
        /// The state directory itself (before a configuration exists).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Print {"public_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a configuration file and explain every problem with its key path.
    CheckConfig {
        /// The probe.toml to check.
        file: PathBuf,
    },
    /// Inspect the spool of measurements waiting for upload.
    #[command(subcommand)]
    Spool(SpoolCommand),
}

#[derive(Debug, Subcommand)]
enum SpoolCommand {
    /// Counts, sizes and damage counters.
    Stats {
        /// The probe's configuration (for its state directory).
        #[arg(long)]
        config: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print every waiting measurement as NDJSON, oldest first.
    Export {
        /// The probe's configuration (for its state directory).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run { config, metrics_listen } => {
            let config = ProbeConfig::load(&config)?;
            runtime()?.block_on(async move {
                let metrics = match metrics_listen {
                    Some(addr) => {
                        let metrics = vigil_probe::ProbeMetrics::new()?;
                        let listener = tokio::net::TcpListener::bind(addr)
                            .await
                            .with_context(|| format!("listening for metrics on {addr}"))?;
                        tracing::info!(addr = %listener.local_addr()?, "serving metrics");
                        tokio::spawn(metrics.clone().serve(listener));
                        Some(metrics)
                    }
                    None => None,
                };
                vigil_probe::run(config, metrics, shutdown_signal()).await?;
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Once { config } => {
            let config = ProbeConfig::load(&config)?;
            let (measurements, warnings) = runtime()?.block_on(vigil_probe::run_once(config))?;
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            let mut out = std::io::stdout().lock();
            for m in &measurements {
                writeln!(out, "{}", m.to_json_line())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Register {
            config,
            state_dir,
            json,
        } => {
            let state_dir = match (state_dir, config) {
                (Some(dir), _) => dir,
                (None, Some(config)) => state_dir_of(&config)?,
                (None, None) => anyhow::bail!("give --config or --state-dir"),
            };
            let key = vigil_probe::ProbeKey::load_or_create(&state_dir)?;
            if json {
                println!("{}", serde_json::json!({"public_key": key.public_key().to_string()}));
            } else {
                println!("public key: {}", key.public_key());
                println!("give it to the collector's operator, who runs:");
                println!("  vigil-collector probe add --pubkey {} ...", key.public_key());
                println!("or, for a probe already registered:");
                println!("  vigil-collector probe set-key PROBE_ID {}", key.public_key());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file } => Ok(check_config(&file)),
        Command::Spool(SpoolCommand::Stats { config, json }) => {
            let spool = open_spool(&config)?;
            let stats = spool.stats()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!("spool: {}", spool.dir().display());
                println!(
                    "waiting: {} records, {} of {} bytes (vitals {}, anchors {}, lists {})",
                    stats.records, stats.bytes, stats.max_bytes, stats.vitals, stats.anchor, stats.list
                );
                if let Some(ms) = stats
                    .oldest_created_ms
                    .and_then(chrono::DateTime::from_timestamp_millis)
                {
                    println!("oldest: {}", ms.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                }
                println!(
                    "ever: {} evicted, {} quarantined, {} skipped as corrupt, {} salvages",
                    stats.evicted, stats.quarantined, stats.corrupt_skipped, stats.salvaged
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Spool(SpoolCommand::Export { config }) => {
            let spool = open_spool(&config)?;
            let mut out = std::io::stdout().lock();
            let n = spool.export(&mut out)?;
            tracing::info!(records = n, "exported the spool");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The probe's runtime: two workers are plenty for a measuring agent on a small board.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match ProbeConfig::load(file) {
        Ok(config) => {
            println!(
                "{}: ok — collector {}, {} anchor(s), {} resolver(s), {} test list(s), state in {}",
                file.display(),
                config.collector.url,
                config.anchors.len(),
                config.resolvers.len(),
                config.lists.files.len(),
                config.probe.state_dir.display()
            );
            for line in vigil_probe::describe_uplinks(&config.uplinks) {
                println!("  {line}");
            }
            let apps = config.app_names();
            if !apps.is_empty() {
                println!("  messaging apps: {}", apps.join(", "));
            }
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid { path, problems }) => {
            eprintln!("{}: {} problem(s)", path.display(), problems.len());
            for p in problems {
                eprintln!("  {p}");
            }
            ExitCode::FAILURE
        }
        Err(other) => {
            eprintln!("{other}");
            ExitCode::FAILURE
        }
    }
}

/// The state directory named by a configuration (without requiring the rest of it to be valid).
fn state_dir_of(config: &std::path::Path) -> Result<PathBuf> {
    Ok(lenient_config(config)?.probe.state_dir)
}

/// A configuration as far as it reads: an invalid one is warned about, not refused (for local inspection).
fn lenient_config(config: &std::path::Path) -> Result<ProbeConfig> {
    ProbeConfig::load(config).or_else(|err| match err {
        ConfigError::Invalid { .. } => {
            tracing::warn!("{err}");
            let text = std::fs::read_to_string(config)?;
            let mut parsed: ProbeConfig = toml::from_str(&text)?;
            parsed.resolve_paths(config.parent().unwrap_or(std::path::Path::new(".")));
            Ok::<_, anyhow::Error>(parsed)
        }
        other => Err(other.into()),
    })
}

/// The spool named by a configuration (without requiring the rest of it to be valid).
fn open_spool(config: &std::path::Path) -> Result<Spool> {
    let config = lenient_config(config)?;
    Spool::open(&config.probe.state_dir, config.spool_options())
        .with_context(|| format!("opening the spool in {}", config.probe.state_dir.display()))
}
