//! `vigil-lab-sky`: the lab's satellite path — each packet the satellite network forwards is held for a
//! satellite's delay, with jitter, and some on the way down are lost. `tc netem` does this where the kernel has it;
//! the kernels the lab runs on may not (`CONFIG_NET_SCH_NETEM` unset), so the satellite namespace's forward chain
//! hands its packets to this program through NFQUEUE (`lab::net::build`), which gives each its verdict when its
//! delay is up (out of order, as jitter reorders). A queue nobody listens to is bypassed: without this program the
//! path is only faster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use nfq::{Queue, Verdict};

#[derive(Parser)]
#[command(
    name = "vigil-lab-sky",
    about = "Delay, jitter and loss for the lab's satellite path (NFQUEUE)"
)]
struct Cli {
    /// Queue of packets going up (towards the ground station).
    #[arg(long, default_value_t = 0)]
    up_queue: u16,
    /// Queue of packets coming down (towards the dishes).
    #[arg(long, default_value_t = 1)]
    down_queue: u16,
    /// Mean one-way delay, milliseconds.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// Jitter: each delay is drawn uniformly within ± this, milliseconds.
    #[arg(long, default_value_t = 8)]
    jitter_ms: u64,
    /// Share of packets coming down that are lost, percent.
    #[arg(long, default_value_t = 1.0)]
    down_loss_percent: f64,
    /// Seed of the random delays and losses (a run can be replayed).
    #[arg(long, default_value_t = 24)]
    seed: u64,
}

/// How long the loop sleeps when nothing is due: the resolution of the delays.
const TICK: Duration = Duration::from_millis(1);

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("vigil-lab-sky: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether an error names a packet the kernel no longer holds: a device going down (a dish losing power) flushes
/// the packets queued through it, and the verdict later given for one is refused with `ENOENT`. The packet is
/// gone, as it would be on a real path, and nothing is wrong with this one. The kernel sends that refusal back as
/// a netlink error, so it arrives on the socket's next read, not from the call that sent the verdict.
fn flushed(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound
}

fn run(cli: &Cli) -> std::io::Result<()> {
    let mut queue = Queue::open()?;
    for num in [cli.up_queue, cli.down_queue] {
        queue.bind(num)?;
        // Metadata and headers are enough: the verdict does not rewrite the packet.
        queue.set_copy_range(num, 128)?;
        queue.set_fail_open(num, true)?;
    }
    queue.set_nonblocking(true);
    eprintln!(
        "vigil-lab-sky: queues {} (up) and {} (down), {} ± {} ms each way, {} % lost coming down",
        cli.up_queue, cli.down_queue, cli.delay_ms, cli.jitter_ms, cli.down_loss_percent
    );
    let mut rng = fastrand::Rng::with_seed(cli.seed);
    let (low, high) = (
        cli.delay_ms.saturating_sub(cli.jitter_ms),
        cli.delay_ms.saturating_add(cli.jitter_ms),
    );
    // Held packets by when they are due (and arrival order, for ties).
    let mut held: BTreeMap<(Instant, u64), nfq::Message> = BTreeMap::new();
    let mut arrivals: u64 = 0;
    // Verdicts the kernel refused because their packets were flushed.
    let mut refused: u64 = 0;
    loop {
        loop {
            match queue.recv() {
                Ok(mut msg) => {
                    if msg.get_queue_num() == cli.down_queue && rng.f64() * 100.0 < cli.down_loss_percent {
                        msg.set_verdict(Verdict::Drop);
                        queue.verdict(msg)?;
                        continue;
                    }
                    let due = Instant::now() + Duration::from_millis(rng.u64(low..=high));
                    arrivals += 1;
                    held.insert((due, arrivals), msg);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if flushed(&e) => {
                    refused += 1;
                    eprintln!("vigil-lab-sky: a verdict was refused: its packet was flushed ({refused} so far)");
                }
                Err(e) => return Err(e),
            }
        }
        let now = Instant::now();
        while let Some(entry) = held.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let mut msg = entry.remove();
            msg.set_verdict(Verdict::Accept);
            queue.verdict(msg)?;
        }
        std::thread::sleep(TICK);
    }
}
