//! The `doorman` binary as a child process: output read line by line on
//! threads so a test can wait for a line with a deadline; killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Long enough for a slow CI machine, short enough that a hang fails the test.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// `doorman` with no config or log settings inherited from the test's environment.
pub fn doorman() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorman"));
    command.env_remove("DOORMAN_CONFIG").env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("DOORMAN_") {
            command.env_remove(name);
        }
    }
    command
}

/// Starts `command` with no stdin, its stdout and stderr piped.
pub fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn doorman")
}

/// Asserts that a finished command succeeded (its stderr is the message).
#[track_caller]
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sends `pipe`'s lines to `sender`, on a thread, until either end closes.
pub fn forward_lines(pipe: impl std::io::Read + Send + 'static, sender: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

/// A child process killed (and reaped) when dropped, so a failing test
/// leaves nothing behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// A port free on 127.0.0.1 just now, with its address.
pub fn free_local_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
}

pub struct Process {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Process {
    /// Starts `command`; stdout and stderr are read together.
    pub fn spawn(command: &mut Command) -> Process {
        let mut child = spawn_piped(command);
        let (sender, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for pipe in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err) as Box<dyn std::io::Read + Send>,
        ] {
            forward_lines(pipe, sender.clone());
        }
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line that contains `needle`, waiting up to [`PATIENCE`];
    /// lines read by earlier calls are not looked at again.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "doorman exited before saying {needle:?}; it said:\n{}",
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "doorman did not say {needle:?} in time; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The `addr=` of the "listening" line.
    pub fn listening_addr(&mut self) -> std::net::SocketAddr {
        let line = self.wait_for("doorman is listening");
        line.split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no addr= in {line:?}"))
    }

    /// Sends `signal` (a libc signal number).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill only sends a signal to our own child process.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill failed");
    }

    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "doorman did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
