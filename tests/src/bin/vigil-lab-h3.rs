//! `vigil-lab-h3`: the lab's HTTP/3 server (Debian's nginx 1.22 has none): one page over QUIC at the HTTPS site's
//! address, with its certificate — which the site announces over TCP in an `alt-svc` header, as real sites do.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use vigil_lab::h3::{H3Server, H3Site};

#[derive(Parser)]
#[command(name = "vigil-lab-h3", about = "An HTTP/3 server for the lab: one page over QUIC")]
struct Cli {
    /// UDP address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// PEM certificate chain (read at each connection).
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key (read at each connection).
    #[arg(long)]
    key: PathBuf,
    /// The page every GET gets.
    #[arg(long)]
    page: PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let page = match std::fs::read(&cli.page) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("vigil-lab-h3: {}: {err}", cli.page.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let site = H3Site {
        cert: cli.cert,
        key: cli.key,
        page: page.into(),
    };
    let server = match H3Server::start(cli.listen, site) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("vigil-lab-h3: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!("vigil-lab-h3 listening on {}", cli.listen);
    let _ = tokio::signal::ctrl_c().await;
    drop(server);
    std::process::ExitCode::SUCCESS
}
