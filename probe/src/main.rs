//! `vigil-probe`: thin entry point over the library.

use clap::Parser;

/// Vigil measurement probe.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    eprintln!(
        "vigil-probe {} writes schema {}; the measurement agent is not built yet (see the probe issue).",
        env!("CARGO_PKG_VERSION"),
        vigil_probe::WRITES_SCHEMA
    );
    Ok(())
}
