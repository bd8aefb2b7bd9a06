//! A `broadcast serve` process on a free loopback port, for end-to-end tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::broadcast_bin;

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A running `broadcast serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// File that receives the server's log lines, when the test asked for one.
    pub log: Option<PathBuf>,
}

impl Server {
    /// Starts `broadcast serve --config CONFIG --data-dir DATA_DIR` and waits until
    /// `/healthz` answers. `log` receives stderr at debug level when given.
    pub async fn start(config: &str, data_dir: &Path, log: Option<&Path>, environment: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut command = Command::new(broadcast_bin());
        command
            .args(["serve", "--config", config, "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::null());
        match log {
            Some(path) => {
                let file = std::fs::File::create(path).expect("log file created");
                command.env("RUST_LOG", "debug").stderr(Stdio::from(file));
            }
            None => {
                command.env("RUST_LOG", "warn").stderr(Stdio::inherit());
            }
        }
        for (name, value) in environment {
            command.env(name, value);
        }
        let child = command.spawn().expect("broadcast serve starts");
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log: log.map(Path::to_path_buf),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(response) = client.get(format!("{}/healthz", server.url)).send().await {
                if response.status().is_success() {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("serve exited with {status} before it became healthy");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not become healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM could not be sent");
        self.child.wait().expect("serve exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
