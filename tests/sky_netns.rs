//! The lab's satellite path (`vigil-lab-sky`) on a real kernel, in namespaces this test creates (10.66.x addresses
//! inside them only; removed at the end, pass or fail):
//!
//! ```text
//!  dish ns  10.66.1.2 ── 10.66.1.1  sky ns (NFQUEUE 0 and 1, vigil-lab-sky)  10.66.2.1 ── 10.66.2.2  ground ns
//! ```
//!
//! A dish losing power while the sky holds its packets (as `regional_power_outage` does) makes the kernel flush
//! them; the verdicts the sky gives for them later are refused, and that refusal arrives on the sky's socket as an
//! error. The sky must take it as packets lost and go on: a CI run lost nine scenarios to a sky that stopped there.
//!
//! Needs root and iptables: without them the runner reports the test *ignored* with the reason (a failure under
//! `VIGIL_REQUIRE_ALL=1`, as in CI).

#[path = "../probe/tests/support/precondition.rs"]
#[allow(dead_code)]
mod precondition;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Trial};
use vigil_lab::lab::net::{in_ns, ip};
use vigil_lab::wait_until;

const NS_DISH: &str = "vgs-dish";
const NS_SKY: &str = "vgs-sky";
const NS_GROUND: &str = "vgs-ground";
const GROUND: &str = "10.66.2.2";
/// How long the sky holds each packet: long enough that the link goes down while it holds them.
const DELAY_MS: u64 = 1_500;

fn main() {
    let args = Arguments::from_args();
    let trials = vec![Trial::ignorable_test(
        "the_satellite_path_outlives_a_dish_losing_power",
        || {
            if !precondition::is_root() {
                return precondition::unmet("needs root (network namespaces, NFQUEUE)");
            }
            if !["/usr/sbin/iptables", "/sbin/iptables"]
                .iter()
                .any(|p| Path::new(p).exists())
            {
                return precondition::unmet("needs iptables (apt-get install iptables)");
            }
            the_satellite_path_outlives_a_dish_losing_power();
            Ok(Completion::Completed)
        },
    )];
    libtest_mimic::run(&args, trials).exit();
}

/// The namespaces and the sky running in one; removed on drop.
struct Path3 {
    sky: Option<Child>,
}

impl Drop for Path3 {
    fn drop(&mut self) {
        if let Some(mut sky) = self.sky.take() {
            let _ = sky.kill();
            let _ = sky.wait();
        }
        teardown();
    }
}

fn teardown() {
    for ns in [NS_DISH, NS_SKY, NS_GROUND] {
        let _ = ip(&["netns", "del", ns]);
    }
}

fn must(result: Result<String, vigil_lab::lab::LabError>) -> String {
    result.unwrap_or_else(|e| panic!("{e}"))
}

impl Path3 {
    fn build(log: &Path) -> Self {
        teardown();
        let mut path = Path3 { sky: None };
        for ns in [NS_DISH, NS_SKY, NS_GROUND] {
            must(ip(&["netns", "add", ns]));
        }
        must(ip(&[
            "link", "add", "d0", "netns", NS_DISH, "type", "veth", "peer", "name", "s0", "netns", NS_SKY,
        ]));
        must(ip(&[
            "link", "add", "g0", "netns", NS_GROUND, "type", "veth", "peer", "name", "s1", "netns", NS_SKY,
        ]));
        for (ns, dev, addr) in [
            (NS_DISH, "d0", "10.66.1.2/24"),
            (NS_SKY, "s0", "10.66.1.1/24"),
            (NS_SKY, "s1", "10.66.2.1/24"),
            (NS_GROUND, "g0", "10.66.2.2/24"),
        ] {
            must(ip(&["-n", ns, "addr", "add", addr, "dev", dev]));
            must(ip(&["-n", ns, "link", "set", dev, "up"]));
        }
        must(ip(&["-n", NS_DISH, "route", "add", "default", "via", "10.66.1.1"]));
        must(ip(&["-n", NS_GROUND, "route", "add", "default", "via", "10.66.2.1"]));
        must(in_ns(NS_SKY, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]));
        // As the lab's satellite network: queue 0 going up, 1 coming down, bypassed when nobody listens.
        for (dev, queue) in [("s0", "0"), ("s1", "1")] {
            must(in_ns(
                NS_SKY,
                "iptables",
                &[
                    "-A",
                    "FORWARD",
                    "-i",
                    dev,
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    queue,
                    "--queue-bypass",
                ],
            ));
        }
        let out = std::fs::File::create(log).expect("sky log");
        let err = out.try_clone().expect("sky log");
        let delay = DELAY_MS.to_string();
        let sky = Command::new("ip")
            .args(["netns", "exec", NS_SKY, env!("CARGO_BIN_EXE_vigil-lab-sky")])
            .args(["--delay-ms", &delay, "--jitter-ms", "0", "--down-loss-percent", "0"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("vigil-lab-sky starts");
        path.sky = Some(sky);
        path
    }

    /// Whether the sky still runs.
    fn sky_runs(&mut self) -> bool {
        self.sky.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// Queue 0's line of the sky namespace's `/proc/net/netfilter/nfnetlink_queue`: (packets held, packets queued
/// since the queue was bound), or `None` while no program is bound to it.
fn queue_zero() -> Option<(u64, u64)> {
    let table = in_ns(NS_SKY, "cat", &["/proc/net/netfilter/nfnetlink_queue"]).ok()?;
    let fields: Vec<u64> = table
        .lines()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect::<Vec<u64>>()
        })
        .find(|f| f.first() == Some(&0))?;
    // queue number, port id, queue total, copy mode, copy range, queue dropped, user dropped, id sequence, 1
    Some((*fields.get(2)?, *fields.get(7)?))
}

/// Sends `count` UDP datagrams from the dish towards the ground station (discard port).
fn send_up(count: usize) {
    let script = format!("for i in $(seq {count}); do echo sky > /dev/udp/{GROUND}/9; done");
    must(in_ns(NS_DISH, "bash", &["-c", &script]));
}

fn the_satellite_path_outlives_a_dish_losing_power() {
    let dir = std::env::temp_dir().join("vigil-sky-netns");
    std::fs::create_dir_all(&dir).expect("work dir");
    let log = dir.join("sky.log");
    let mut path = Path3::build(&log);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    assert!(
        wait_until(Duration::from_secs(10), || queue_zero().is_some()),
        "the sky never bound its queues; its log:\n{}",
        log_text()
    );
    send_up(5);
    assert!(
        wait_until(Duration::from_secs(5), || queue_zero()
            .is_some_and(|(held, _)| held == 5)),
        "the sky does not hold the 5 packets sent up: {:?}",
        queue_zero()
    );
    // The dish loses power: its device goes down, and the kernel flushes the packets it queued through it.
    must(ip(&["-n", NS_SKY, "link", "set", "s0", "down"]));
    assert!(
        wait_until(Duration::from_secs(5), || queue_zero()
            .is_some_and(|(held, _)| held == 0)),
        "the kernel kept the packets of a device that went down: {:?}",
        queue_zero()
    );
    // Their delay passes; the sky gives their verdicts, and the kernel refuses all five.
    let refused = |text: &str| text.matches("a verdict was refused").count();
    let deadline = Duration::from_millis(DELAY_MS) + Duration::from_secs(10);
    assert!(
        wait_until(deadline, || refused(&log_text()) == 5 || !path.sky_runs()),
        "the sky did not report the 5 refused verdicts; its log:\n{}",
        log_text()
    );
    assert!(
        path.sky_runs(),
        "the sky stopped when the kernel refused the verdicts of flushed packets; its log:\n{}",
        log_text()
    );

    // Power returns: the path carries packets again, each held and then let through.
    must(ip(&["-n", NS_SKY, "link", "set", "s0", "up"]));
    let (_, queued_before) = queue_zero().expect("the sky's queue is bound");
    send_up(3);
    assert!(
        wait_until(Duration::from_secs(5), || queue_zero()
            .is_some_and(|(_, seq)| seq == queued_before + 3)),
        "the 3 packets sent after power returned were not queued: {:?}",
        queue_zero()
    );
    assert!(
        wait_until(deadline, || queue_zero().is_some_and(|(held, _)| held == 0)),
        "the sky held the packets sent after power returned and never let them through: {:?}",
        queue_zero()
    );
    assert!(path.sky_runs(), "the sky stopped; its log:\n{}", log_text());
    assert_eq!(
        refused(&log_text()),
        5,
        "a packet sent after power returned was refused"
    );
}
