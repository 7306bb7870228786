//! The `doorman` binary as an operator runs it: check-config, hash-password,
//! serve and demo, each a real child process.

use crate::config::example_env;
use crate::support::process::{forward_lines, spawn_piped};
use crate::support::{default_users, Browser, Env};
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Long enough for a slow CI machine, short enough that a hang fails the test.
const PATIENCE: Duration = Duration::from_secs(20);

fn doorman() -> Command {
    crate::support::process::doorman()
}

/// A child whose output is read line by line on threads, so a test can wait
/// for a line with a deadline. Killed when dropped, so a failing test leaves
/// no process behind.
struct Running {
    child: Child,
    stdout: Output,
    stderr: Output,
}

/// One pipe's lines as they arrive, and those seen so far.
struct Output {
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Output {
    fn read(pipe: impl std::io::Read + Send + 'static) -> Output {
        let (sender, lines) = mpsc::channel();
        forward_lines(pipe, sender);
        Output {
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line, or `None` once the pipe closes (the child exited).
    fn next(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "doorman was silent too long; it said:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// The first line, seen before or arriving in time, that contains `needle`.
    fn line_with(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|line| line.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        while let Some(line) = self.next(deadline) {
            if line.contains(needle) {
                return line;
            }
        }
        panic!(
            "doorman exited without saying {needle:?}; it said:\n{}",
            self.seen.join("\n")
        )
    }
}

impl Running {
    fn spawn(command: &mut Command) -> Running {
        let mut child = spawn_piped(command);
        let stdout = Output::read(child.stdout.take().expect("stdout"));
        let stderr = Output::read(child.stderr.take().expect("stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// The `addr=` of the "doorman is listening" line.
    fn listening_addr(&mut self) -> std::net::SocketAddr {
        let listening = self.stderr.line_with("doorman is listening");
        listening
            .split_whitespace()
            .find_map(|field| field.strip_prefix("addr="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no plain addr= field in {listening:?}"))
    }

    /// The exit status, or a failed test if the child is still running at the deadline.
    fn exit_status(&mut self) -> ExitStatus {
        // Both pipes close when the child exits; then `wait` returns at once.
        let deadline = Instant::now() + PATIENCE;
        while self.stdout.next(deadline).is_some() {}
        while self.stderr.next(deadline).is_some() {}
        self.child.wait().expect("wait")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config with three problems, written next to a users file.
fn broken_config(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("users.yaml"), default_users()).expect("users file");
    let path = dir.join("doorman.yaml");
    std::fs::write(
        &path,
        "listen: \"127.0.0.1:0\"\nusers_file: users.yaml\ncolour: blue\nsession:\n  secret: too-short\nchannels:\n  sms: { provider: log }\nproviders:\n  log: {}\n",
    )
    .expect("config file");
    path
}

#[test]
fn check_config_accepts_the_example_config() {
    let output = doorman()
        .args(["check-config", "--config", "config.example.yaml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(example_env())
        .output()
        .expect("run");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.starts_with("config.example.yaml: OK"), "{stdout}");
}

/// The code block the README marks `<!-- checked by the tests (…): {name} -->`,
/// without the indentation of the list item it is in.
fn readme_block(name: &str) -> String {
    let readme = include_str!("../../README.md");
    let marker = format!("): {name} -->");
    let mut lines = readme
        .lines()
        .skip_while(|line| {
            !(line.trim_start().starts_with("<!-- checked by the tests") && line.ends_with(&marker))
        })
        .skip(1);
    let fence = lines
        .next()
        .unwrap_or_else(|| panic!("no block marked {name} in README.md"));
    assert!(fence.trim().starts_with("```"), "{name}: {fence}");
    let indent = fence.len() - fence.trim_start().len();
    lines
        .take_while(|line| line.trim() != "```")
        .map(|line| format!("{}\n", line.get(indent..).unwrap_or("")))
        .collect()
}

/// What the README's "Protect an app" has a new user write passes
/// `doorman check-config`, given a hash for the placeholder and the secret
/// file it names.
#[test]
fn the_readmes_five_minute_config_passes_check_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = readme_block("users.yaml");
    let placeholder = "$argon2id$v=19$m=19456,t=2,p=1$...";
    assert!(users.contains(placeholder), "{users}");
    let users = users.replace(placeholder, crate::support::password_hash());
    std::fs::write(dir.path().join("users.yaml"), users).expect("users");
    let config = readme_block("doorman.yaml");
    let secret = "/run/secrets/doorman_session";
    assert!(config.contains(secret), "{config}");
    let config = config.replace(secret, "doorman_session");
    std::fs::write(dir.path().join("doorman_session"), crate::support::SECRET).expect("secret");
    std::fs::write(dir.path().join("doorman.yaml"), config).expect("config");

    let output = doorman()
        .args(["check-config", "--config", "doorman.yaml"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.starts_with("doorman.yaml: OK (1 users; channels: totp)"),
        "{stdout}"
    );
}

#[test]
fn check_config_prints_every_problem_with_its_key_path_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = broken_config(dir.path());

    let output = doorman()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("{}: 3 problem(s)", path.display()).as_str())
    );
    for expected in [
        "  colour: unknown key",
        "  upstream: required: the URL of the app to protect, like http://127.0.0.1:3000",
        "  session.secret: too short: 9 bytes, at least 32 needed",
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn hash_password_reads_stdin_and_prints_an_argon2id_hash_of_it() {
    let password = "correct horse battery staple";
    let mut child = doorman()
        .args(["hash-password", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("run");

    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let hash = stdout.strip_suffix('\n').expect("one line");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let parsed = PasswordHash::new(hash).expect("a PHC string");
    assert!(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok());
    assert!(Argon2::default()
        .verify_password(b"correct horse battery", &parsed)
        .is_err());
}

#[test]
fn serve_with_a_broken_config_exits_1_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = broken_config(dir.path());

    let mut serve = Running::spawn(doorman().args(["serve", "--config"]).arg(&path));

    assert_eq!(serve.exit_status().code(), Some(1));
    serve
        .stderr
        .line_with("session.secret: too short: 9 bytes, at least 32 needed");
    serve.stderr.line_with("colour: unknown key");
}

#[tokio::test]
async fn serve_answers_sigterm_by_draining_and_exiting_0() {
    let env = Env::start().await;
    let mut serve = Running::spawn(doorman().args(["serve", "--config"]).arg(env.config_path()));
    let addr = serve.listening_addr();
    let health = reqwest::get(format!("http://{addr}/.doorman/health"))
        .await
        .expect("health");
    assert_eq!(health.status(), 200);

    let kill = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());

    assert_eq!(serve.exit_status().code(), Some(0));
    serve.stderr.line_with("shutting down");
}

#[tokio::test]
async fn demo_prints_how_to_sign_in_and_a_browser_can_sign_in_with_the_logged_code() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut demo =
        Running::spawn(doorman().args(["demo", "--listen", &format!("127.0.0.1:{port}")]));

    demo.stdout.line_with(&format!("http://127.0.0.1:{port}/"));
    let user = demo.stdout.line_with("user ");
    assert_eq!(
        user.split_whitespace().collect::<Vec<_>>(),
        ["user", "demo"]
    );
    let password = demo.stdout.line_with("password ");
    let password = password
        .split_whitespace()
        .nth(1)
        .expect("a password")
        .to_owned();

    let mut browser = Browser::new(([127, 0, 0, 1], port).into());
    let page = browser.get("/").await;
    assert_eq!(page.status, 302);
    browser.get("/.doorman/login").await;
    let page = browser.post_password("demo", &password).await;
    assert_eq!(page.status, 303, "password step: {page:?}");
    browser.get("/.doorman/2fa").await;
    let page = browser.send_code("sms").await;
    assert_eq!(page.status, 303, "send step: {page:?}");
    let logged = demo.stderr.line_with("one-time code ");
    let code: String = logged
        .split("one-time code ")
        .nth(1)
        .expect("code")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{logged}");
    browser.get("/.doorman/2fa").await;
    let page = browser
        .post("/.doorman/2fa/verify", &[("code", &code)])
        .await;
    assert_eq!(page.status, 303, "verify step: {page:?}");

    let page = browser.get("/").await;
    assert_eq!(page.status, 200);
    page.assert_shows("Signed in as demo");
}

/// A process's resident memory, from `/proc` (KiB).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Each password check works in 19 MiB of its own (Argon2's `m=19456`).
/// That memory must go back to the system when the check is done: before,
/// glibc kept it in every hashing thread's arena, and a few sign-ins left
/// doorman at 80 MiB for good, where it idles at about 22.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn password_checks_give_their_memory_back() {
    let env = Env::with_extra(
        "limits:\n  failures: { delay: \"0s\" }\n  client_failures: { delay: \"0s\", lock_after: 100, per_hour: 1000 }\n",
    )
    .await;
    let mut serve = Running::spawn(doorman().args(["serve", "--config"]).arg(env.config_path()));
    let addr = serve.listening_addr();
    let pid = serve.child.id();
    let mut browser = Browser::new(addr);
    assert_eq!(browser.try_password("nobody-0", "guess").await.status, 401);
    let before = resident_kib(pid);

    // One after another, then eight at once (every hashing thread busy).
    for n in 1..=6 {
        let page = browser.try_password(&format!("nobody-{n}"), "guess").await;
        assert_eq!(page.status, 401);
    }
    let at_once = (0..8).map(|n| async move {
        let mut browser = Browser::new(addr);
        browser
            .try_password(&format!("someone-{n}"), "guess")
            .await
            .status
    });
    for status in futures_util::future::join_all(at_once).await {
        assert_eq!(status, 401);
    }
    let after = resident_kib(pid);
    // Less than one check's working memory kept (before: 19 MiB per thread).
    assert!(
        after < before + 12 * 1024,
        "resident memory grew from {before} KiB to {after} KiB over 14 password checks"
    );
}
