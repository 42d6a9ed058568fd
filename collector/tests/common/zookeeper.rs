//! A real ZooKeeper (Debian's `zookeeper` package, run with java) for the ClickHouse cluster test: standalone, on
//! loopback, data in a temp directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::clickhouse::free_port;

const JAR: &str = "/usr/share/java/zookeeper.jar";

/// A running ZooKeeper; killed on drop.
pub struct ZooKeeper {
    child: Child,
    /// Its client port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl ZooKeeper {
    /// Starts ZooKeeper and waits until it answers `ruok`.
    pub fn start() -> Self {
        assert!(
            std::path::Path::new(JAR).is_file(),
            "Debian's zookeeper is needed for this test: `apt-get install zookeeper` (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("zoo.cfg");
        std::fs::write(
            &config,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\n",
                dir.path().join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let child = Command::new("java")
            .args(["-Xmx256m", "-cp", &format!("/etc/zookeeper/conf:{JAR}")])
            .arg(format!("-Dzookeeper.log.dir={}", dir.path().display()))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs ZooKeeper");
        let zk = ZooKeeper { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if zk.ruok() {
                return zk;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("ZooKeeper did not answer ruok within 60 s");
    }

    /// Whether it serves client sessions: `ruok` answers as soon as the process runs, `srvr` reports a mode only
    /// once sessions are accepted (ClickHouse 18.16 handles a session refused at start badly).
    fn ruok(&self) -> bool {
        self.four_letter(b"ruok") == "imok" && self.four_letter(b"srvr").contains("Mode: standalone")
    }

    fn four_letter(&self, word: &[u8]) -> String {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(word).is_err() {
            return String::new();
        }
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
