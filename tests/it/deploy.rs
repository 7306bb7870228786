//! Running as ops teams do: settings from the environment (with or without
//! a file), `doorman healthcheck`, and the shipped example configs.

use crate::support::process::assert_succeeded;
use crate::support::process::{doorman, Process};
use crate::support::{default_users, Env, SECRET};
use doorman::config::Config;
use std::collections::HashMap;
use std::path::Path;

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

/// A users file and a session secret file in `dir`, as a sidecar mounts them.
fn secrets(dir: &Path) {
    std::fs::write(dir.join("users.yaml"), default_users()).expect("users");
    std::fs::write(dir.join("session_secret"), format!("{SECRET}\n")).expect("secret");
    std::fs::write(dir.join("doorman_session"), format!("{SECRET}\n")).expect("secret");
    std::fs::write(dir.join("hook_secret"), "hook-secret\n").expect("secret");
}

#[test]
fn the_environment_alone_is_a_complete_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    secrets(dir.path());
    let users = dir.path().join("users.yaml");
    let secret = dir.path().join("session_secret");
    let output = doorman()
        .arg("check-config")
        .current_dir(dir.path())
        .env("DOORMAN_UPSTREAM", "http://127.0.0.1:3000")
        .env("DOORMAN_LISTEN", "127.0.0.1:0")
        .env("DOORMAN_USERS_FILE", &users)
        .env("DOORMAN_SESSION_SECRET_FILE", &secret)
        .env("DOORMAN_CHANNELS", "sms:webhook,voice:webhook")
        .env("DOORMAN_WEBHOOK_URL", "http://127.0.0.1:9000/send")
        .output()
        .expect("run check-config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("the environment (no config file): OK (3 users; channels: sms, voice)"),
        "{stdout}"
    );
}

#[test]
fn the_environment_wins_over_the_file_and_the_file_over_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    secrets(dir.path());
    let path = dir.path().join("doorman.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: \"127.0.0.1:1111\"\nupstream: \"http://127.0.0.1:3000\"\nusers_file: users.yaml\napp_name: \"From the file\"\nsession:\n  secret: \"{SECRET}-but-from-the-file\"\nchannels:\n  sms: {{ provider: log }}\nproviders:\n  log: {{}}\n"
        ),
    )
    .expect("config");
    let secret_file = dir.path().join("session_secret");
    let secret_file = secret_file.to_str().expect("path");
    let config = Config::load_from(
        Some(&path),
        &lookup(&[
            ("DOORMAN_LISTEN", "127.0.0.1:2222"),
            // Replaces the file's `session.secret` (no "set both" problem).
            ("DOORMAN_SESSION_SECRET_FILE", secret_file),
        ]),
    )
    .expect("valid");
    assert_eq!(config.listen.to_string(), "127.0.0.1:2222");
    assert_eq!(config.app_name, "From the file");
    assert_eq!(config.auth_prefix, "/.doorman", "a default");
    // The secret came from the file the variable named: a cookie made with
    // it decrypts.
    let codec = doorman::session::SessionCodec::new(config.session);
    let session = codec.start(
        "alice",
        doorman::session::FactorLevel::TwoFactor,
        1000,
        1000,
    );
    let cookie = codec.set_cookie(&session, false);
    let value = cookie
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .expect("value");
    assert!(crate::support::decrypt_session(&value, SECRET, 1000).is_some());
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    secrets(dir.path());
    let problems = Config::load_from(
        None,
        &lookup(&[
            ("DOORMAN_LISTEN", "everywhere"),
            ("DOORMAN_UPSTREAM", "ftp://files"),
            (
                "DOORMAN_USERS_FILE",
                dir.path().join("users.yaml").to_str().expect("path"),
            ),
            ("DOORMAN_SESSION_SECRET_FILE", "/nonexistent/secret"),
            ("DOORMAN_CHANNELS", "sms:log"),
        ]),
    )
    .expect_err("problems");
    let text = problems.to_string();
    assert!(
        text.contains("listen: expected an address like 0.0.0.0:8080 (from DOORMAN_LISTEN)"),
        "{text}"
    );
    assert!(
        text.contains("upstream: expected an http:// or https:// URL (from DOORMAN_UPSTREAM)"),
        "{text}"
    );
    assert!(
        text.contains("session.secret_file: cannot read /nonexistent/secret")
            && text.contains("(from DOORMAN_SESSION_SECRET_FILE)"),
        "{text}"
    );
    assert!(
        text.contains("channels.sms.provider: provider `log` is not configured under providers.log (from DOORMAN_CHANNELS)"),
        "{text}"
    );
}

#[test]
fn a_variable_of_the_wrong_type_names_the_variable() {
    let problems = Config::load_from(
        None,
        &lookup(&[("DOORMAN_UPSTREAM_INSECURE_SKIP_VERIFY", "maybe")]),
    )
    .expect_err("problems");
    // The type error first; the keys this empty config lacks follow it.
    assert_eq!(
        problems.to_string().lines().next(),
        Some("upstream_insecure_skip_verify: invalid type: string \"maybe\", expected a boolean (from DOORMAN_UPSTREAM_INSECURE_SKIP_VERIFY)")
    );
}

#[test]
fn check_config_from_the_command_line_names_the_variable_too() {
    let output = doorman()
        .arg("check-config")
        .env("DOORMAN_LISTEN", "everywhere")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("listen: expected an address like 0.0.0.0:8080 (from DOORMAN_LISTEN)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn healthcheck_exits_0_while_serving_and_1_when_nothing_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    secrets(dir.path());
    // Ask the OS for a free port, then let doorman listen on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let path = dir.path().join("doorman.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: \"0.0.0.0:{port}\"\nupstream: \"http://127.0.0.1:3000\"\nusers_file: users.yaml\nsession:\n  secret_file: \"{}\"\nchannels:\n  sms: {{ provider: log }}\nproviders:\n  log: {{}}\nstore: {{ kind: memory }}\n",
            dir.path().join("session_secret").display()
        ),
    )
    .expect("config");
    let check = || {
        doorman()
            .args(["healthcheck", "--config"])
            .arg(&path)
            .output()
            .expect("run healthcheck")
    };
    let down = check();
    assert_eq!(down.status.code(), Some(1));
    let said = String::from_utf8_lossy(&down.stderr);
    assert!(said.contains("cannot connect"), "{said}");

    let mut serve = Process::spawn(doorman().args(["serve", "--config"]).arg(&path));
    serve.listening_addr();
    let up = check();
    assert_succeeded(&up);
}

#[tokio::test]
async fn healthcheck_speaks_tls_to_a_tls_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = crate::support::certs::Ca::new("healthcheck CA");
    let leaf = ca.leaf(dir.path(), "server", "server");
    let env = Env::with(crate::support::Setup {
        extra: format!(
            "tls: {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
            leaf.cert_file.display(),
            leaf.key_file.display()
        ),
        ..crate::support::Setup::default()
    })
    .await;
    let output = doorman()
        .args(["healthcheck", "--config"])
        .arg(env.config_path())
        .arg("--addr")
        .arg(env.addr.to_string())
        .output()
        .expect("run healthcheck");
    assert_succeeded(&output);
}

/// Every YAML file under examples/ parses, and every doorman config in them
/// (a `doorman.yaml`, a Kubernetes ConfigMap's `config.yaml`, the compose
/// file's environment) passes validation, given the secret files the
/// deployment would mount.
#[test]
fn the_examples_parse_and_their_doorman_configs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = tempfile::tempdir().expect("tempdir");
    secrets(dir.path());
    // The example users file stands in for every deployment's (and so is
    // checked too).
    let users = std::fs::read_to_string(root.join("users.yaml")).expect("examples/users.yaml");
    std::fs::write(dir.path().join("users.yaml"), &users).expect("users");
    std::fs::create_dir_all(dir.path().join("users")).expect("dir");
    std::fs::write(dir.path().join("users/users.yaml"), &users).expect("users");
    let here = |text: &str| {
        text.replace("/etc/doorman/", &format!("{}/", dir.path().display()))
            .replace(
                "/run/secrets/doorman/",
                &format!("{}/", dir.path().display()),
            )
            .replace(
                "/run/secrets/webhook/",
                &format!("{}/", dir.path().display()),
            )
            .replace("/run/secrets/", &format!("{}/", dir.path().display()))
    };
    std::fs::write(dir.path().join("session_secret"), format!("{SECRET}\n")).expect("secret");
    let mut configs = 0;
    for path in walk(&root) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read example");
        let documents: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
            .map(|document| {
                serde::Deserialize::deserialize(document)
                    .unwrap_or_else(|err| panic!("{}: not YAML: {err}", path.display()))
            })
            .collect();
        let mut check = |config: Result<Config, doorman::config::Problems>| {
            if let Err(problems) = config {
                panic!("{}:\n{problems}", path.display());
            }
            configs += 1;
        };
        if name == "doorman.yaml" {
            check(Config::from_sources(&here(&text), dir.path(), &|_| None));
        }
        for document in &documents {
            if let Some(embedded) = document["data"]["config.yaml"].as_str() {
                check(Config::from_sources(&here(embedded), dir.path(), &|_| None));
            }
            if let Some(environment) = document["services"]["doorman"]["environment"].as_mapping() {
                let variables: HashMap<String, String> = environment
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), here(v.as_str()?))))
                    .collect();
                check(Config::load_from(None, &|name| {
                    variables.get(name).cloned()
                }));
            }
        }
    }
    assert!(
        configs >= 5,
        "only {configs} doorman configs found in examples/"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn skipping_upstream_verification_is_warned_about_at_every_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    secrets(dir.path());
    let start = || {
        let mut serve = Process::spawn(
            doorman()
                .arg("serve")
                .current_dir(dir.path())
                .env("DOORMAN_UPSTREAM", "https://127.0.0.1:9")
                .env("DOORMAN_UPSTREAM_INSECURE_SKIP_VERIFY", "true")
                .env("DOORMAN_LISTEN", "127.0.0.1:0")
                .env("DOORMAN_USERS_FILE", dir.path().join("users.yaml"))
                .env(
                    "DOORMAN_SESSION_SECRET_FILE",
                    dir.path().join("session_secret"),
                )
                .env("DOORMAN_CHANNELS", "totp")
                .env("DOORMAN_STORE_KIND", "memory"),
        );
        let warning = serve.wait_for("upstream_insecure_skip_verify is on");
        assert!(warning.contains("WARN"), "{warning}");
        serve.listening_addr();
    };
    start();
    start();
}

/// A config naming every kind of path relatively, in `dir`, with the files
/// it names beside it.
fn relative_config(dir: &Path) -> std::path::PathBuf {
    secrets(dir);
    // A `*_file` key in the users file, too.
    let users = format!("{}  dave:\n    password_file: dave.hash\n", default_users());
    std::fs::write(dir.join("users.yaml"), users).expect("users");
    std::fs::write(
        dir.join("dave.hash"),
        format!("{}\n", crate::support::password_hash()),
    )
    .expect("hash");
    let ca = crate::support::certs::Ca::new("relative paths CA");
    ca.write(dir);
    ca.leaf(dir, "server", "relative");
    std::fs::create_dir(dir.join("look")).expect("templates dir");
    std::fs::write(dir.join("look/doorman.css"), "/* relative look */\n").expect("css");
    let path = dir.join("doorman.yaml");
    std::fs::write(
        &path,
        r#"listen: "127.0.0.1:0"
upstream: "https://127.0.0.1:1"
upstream_ca_file: "ca.pem"
users_file: "users.yaml"
tokens_file: "tokens.yaml"
templates_dir: "look"
session:
  secret_file: "session_secret"
channels:
  sms: { provider: webhook }
providers:
  webhook: { url: "http://127.0.0.1:9/send", secret_file: "hook_secret" }
tls: { cert_file: "server.crt", key_file: "server.key" }
store: { kind: file, path: "state/doorman.redb" }
log:
  access: "./access.log"
"#,
    )
    .expect("config");
    path
}

/// Run from another directory, doorman finds every file a relative path
/// names beside its config file, and writes nothing where it was started.
#[tokio::test]
async fn relative_paths_are_taken_from_the_config_files_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let config = relative_config(dir.path());

    let output = doorman()
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .current_dir(elsewhere.path())
        .output()
        .expect("run check-config");
    assert_succeeded(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("OK (4 users"), "{stdout}");

    let output = doorman()
        .args([
            "token", "create", "--user", "alice", "--name", "ci", "--config",
        ])
        .arg(&config)
        .current_dir(elsewhere.path())
        .output()
        .expect("run token create");
    assert_succeeded(&output);
    assert!(dir.path().join("tokens.yaml").exists(), "tokens_file");

    let mut serve = Process::spawn(
        doorman()
            .args(["serve", "--config"])
            .arg(&config)
            .current_dir(elsewhere.path()),
    );
    let addr = serve.listening_addr();
    let ca_pem = std::fs::read(dir.path().join("ca.pem")).expect("CA");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).expect("cert"))
        .build()
        .expect("client");
    let css = client
        .get(format!(
            "https://localhost:{}/.doorman/static/doorman.css",
            addr.port()
        ))
        .send()
        .await
        .expect("over TLS")
        .text()
        .await
        .expect("body");
    assert_eq!(css, "/* relative look */\n", "templates_dir");
    let access = dir.path().join("access.log");
    let logged = async || {
        std::fs::read_to_string(&access)
            .is_ok_and(|text| text.contains("/.doorman/static/doorman.css"))
    };
    crate::support::eventually("the access line", std::time::Duration::from_secs(5), logged).await;
    assert!(dir.path().join("state/doorman.redb").exists(), "store.path");
    serve.signal(libc::SIGTERM);
    assert_eq!(serve.wait().code(), Some(0));

    let left: Vec<_> = std::fs::read_dir(elsewhere.path())
        .expect("read dir")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "written in the working directory: {left:?}"
    );
}
