//! A real `redis-server` on 127.0.0.1 for the tests that need shared state:
//! started on a free port in a temporary directory, stopped on drop.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// More arguments (a replica's `--replicaof`), or a Sentinel's config.
    extra: Vec<String>,
    sentinel_config: Option<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// The server binary, or `None` when the tests may do without it
/// (`DOORMAN_SKIP_REDIS=1`). A missing binary otherwise fails the test:
/// `.ci/run` installs it.
pub fn available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found && std::env::var_os("DOORMAN_SKIP_REDIS").is_none() {
        panic!("redis-server is not installed (apt-get install redis-server), and DOORMAN_SKIP_REDIS is not set");
    }
    found
}

/// A started server when [`available`], else `None` (the test then has
/// nothing to run against and returns).
pub async fn server() -> Option<RedisServer> {
    if available() {
        Some(RedisServer::start().await)
    } else {
        None
    }
}

/// In an async test: a started [`RedisServer`], or a return from the test
/// when there is none to run against (see [`available`]).
macro_rules! redis_or_skip {
    () => {
        match $crate::support::redis::server().await {
            Some(server) => server,
            None => return,
        }
    };
}
pub(crate) use redis_or_skip;

impl RedisServer {
    pub async fn start() -> RedisServer {
        RedisServer::launch(Vec::new(), None).await
    }

    /// A replica of `master`.
    pub async fn replica_of(master: &RedisServer) -> RedisServer {
        let args = vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.port.to_string(),
        ];
        RedisServer::launch(args, None).await
    }

    /// A Sentinel watching `master` as `mymaster`, quick to fail over.
    pub async fn sentinel_for(master: &RedisServer) -> RedisServer {
        let config = format!(
            "sentinel monitor mymaster 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds mymaster 400\n\
             sentinel failover-timeout mymaster 2000\n",
            master.port
        );
        RedisServer::launch(Vec::new(), Some(config)).await
    }

    async fn launch(extra: Vec<String>, sentinel_config: Option<String>) -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            extra,
            sentinel_config,
        };
        server.resume().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on the same port.
    pub async fn resume(&mut self) {
        let mut command = Command::new("redis-server");
        if let Some(config) = &self.sentinel_config {
            // Sentinel rewrites its config file, so it gets one of its own.
            let path = self.dir.path().join("sentinel.conf");
            std::fs::write(&path, config).expect("sentinel config");
            command.arg(path).arg("--sentinel");
        } else {
            command.args(["--save", "", "--appendonly", "no"]);
        }
        let child = command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(&self.extra)
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let what = format!("redis-server coming up on port {}", self.port);
        super::eventually(&what, Duration::from_secs(5), async || pong(addr).await).await;
    }

    /// Stops the server (its data is lost: nothing is saved).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a Redis server answers `PING` at `addr`.
async fn pong(addr: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut answer).await.is_ok()
        && &answer == b"+PONG\r\n"
}
