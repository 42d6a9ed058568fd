//! `vigil-lab`: bring the namespace lab up for manual exploration, or take it down.
//!
//! `vigil-lab up` builds the country, starts the servers, a collector and every probe, prints how to reach them,
//! and leaves it all running. `vigil-lab down` removes everything the lab created (processes, namespaces,
//! `/etc/netns` files). The scenarios run with `cargo test -p vigil-lab --features lab --test lab`.

use clap::{Parser, Subcommand};
use vigil_lab::lab::country::{COLLECTOR, COLLECTOR_PORT, NS_COLLECTOR, Sky, ns_probe, running, spec};
use vigil_lab::lab::{Lab, net, preflight};

#[derive(Parser)]
#[command(name = "vigil-lab", about = "The Vigil namespace lab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the lab and leave it running.
    Up {
        /// The satellite ways out to use: none, the dishes beside four probes' lines, or the satellite-only probe.
        #[arg(long, value_enum, default_value = "ground")]
        sky: SkyArg,
    },
    /// Remove everything the lab created.
    Down,
}

/// `--sky`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum SkyArg {
    Ground,
    Dishes,
    SatelliteOnly,
}

fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Up { sky } => match up(match sky {
            SkyArg::Ground => Sky::Ground,
            SkyArg::Dishes => Sky::Dishes,
            SkyArg::SatelliteOnly => Sky::SatelliteOnly,
        }) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("vigil-lab up: {err}");
                net::teardown();
                std::process::ExitCode::FAILURE
            }
        },
        Command::Down => {
            if let Err(err) = preflight() {
                eprintln!("vigil-lab down: {err}");
                return std::process::ExitCode::FAILURE;
            }
            net::teardown();
            println!("the lab is down: no vgl-* namespace, process or /etc/netns entry is left");
            std::process::ExitCode::SUCCESS
        }
    }
}

fn up(sky: Sky) -> Result<(), vigil_lab::lab::LabError> {
    let mut lab = Lab::up()?;
    let run_dir = lab.fresh_run("manual", vigil_lab::lab::DEFAULT_WINDOW_SECS, sky)?;
    println!("The lab is up. Working directory: {}", run_dir.display());
    println!(
        "\nCollector API (inside its namespace):\n  ip netns exec {NS_COLLECTOR} curl -s http://{COLLECTOR}:{COLLECTOR_PORT}/api/v1/events"
    );
    println!("  ip netns exec {NS_COLLECTOR} curl -s http://{COLLECTOR}:{COLLECTOR_PORT}/api/v1/probes");
    println!("\nProbes (each in its namespace; config, spool and log in the working directory):");
    for (n, spec) in running(sky).into_iter().filter_map(|n| Some((n, spec(n)?))) {
        println!(
            "  {:4} {} AS{} {:6} {:6}{}  ip netns exec {} bash",
            spec.name,
            spec.country,
            spec.asn,
            spec.region.unwrap_or("-"),
            spec.access,
            if spec.ups { " ups" } else { "    " },
            ns_probe(n)
        );
    }
    println!("\nTake it down with: vigil-lab down");
    lab.detach();
    Ok(())
}
