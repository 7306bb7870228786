//! `doorman token …`, `doorman check-policy` and `check-config`'s warning
//! about rules everyone else falls through, as an operator runs them.

use crate::support::default_users;
use std::path::{Path, PathBuf};
use std::process::Output;

fn doorman(args: &[&str], config: &Path) -> Output {
    let mut command = crate::support::process::doorman();
    command.args(args).arg("--config").arg(config);
    command.output().expect("run doorman")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two apps; the wiki's /admin/ is for admins only, with no deny after it.
fn config(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("users.yaml"), default_users()).expect("users file");
    let path = dir.join("doorman.yaml");
    let yaml = format!(
        r#"listen: "127.0.0.1:0"
users_file: users.yaml
tokens_file: tokens.yaml
session: {{ secret: "{secret}" }}
channels: {{ sms: {{ provider: log }} }}
providers: {{ log: {{}} }}
store: {{ kind: memory }}
apps:
  - hosts: ["wiki.example.com"]
    upstream: "http://127.0.0.1:3000"
    rules:
      - {{ path_prefix: "/admin/", groups: ["admins"] }}
      - {{ path_prefix: "/api/", tokens: true }}
  - hosts: ["*.git.example.com"]
    upstream: "http://127.0.0.1:3001"
    rules:
      - {{ path_prefix: "/private/", policy: deny }}
"#,
        secret = crate::support::SECRET
    );
    std::fs::write(&path, yaml).expect("config file");
    path
}

#[test]
fn token_create_list_and_revoke_keep_only_hashes_in_the_tokens_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path());
    let created = doorman(
        &[
            "token",
            "create",
            "--user",
            "Alice",
            "--name",
            "ci",
            "--expires",
            "90d",
        ],
        &path,
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_owned();
    assert!(token.starts_with("dm_"), "{token}");
    let file = std::fs::read_to_string(dir.path().join("tokens.yaml")).expect("tokens file");
    assert!(!file.contains(token.rsplit('_').next().unwrap()), "{file}");
    assert!(file.contains("user: alice"), "{file}");

    let listed = doorman(&["token", "list"], &path);
    let listed = text(&listed.stdout);
    assert!(
        // Listed in the same second as made, or the next.
        [
            "alice\tci\texpires in 90d 0h\n",
            "alice\tci\texpires in 89d 23h\n"
        ]
        .contains(&listed.as_str()),
        "{listed}"
    );

    let again = doorman(
        &["token", "create", "--user", "alice", "--name", "ci"],
        &path,
    );
    assert_eq!(again.status.code(), Some(1));
    let unknown = doorman(&["token", "create", "--user", "zed", "--name", "ci"], &path);
    assert!(
        text(&unknown.stderr).contains("no user `zed`"),
        "{}",
        text(&unknown.stderr)
    );

    let revoked = doorman(
        &["token", "revoke", "--user", "alice", "--name", "ci"],
        &path,
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert_eq!(text(&doorman(&["token", "list"], &path).stdout), "");
    let twice = doorman(
        &["token", "revoke", "--user", "alice", "--name", "ci"],
        &path,
    );
    assert_eq!(twice.status.code(), Some(1));
}

#[test]
fn check_policy_names_the_app_and_the_rule_for_every_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path());
    let output = doorman(
        &[
            "check-policy",
            "--user",
            "bob",
            "GET",
            "http://a.git.example.com/Private/../private/x",
        ],
        &path,
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains("app: apps[1] (host a.git.example.com)"),
        "{stdout}"
    );
    assert!(stdout.contains("canonical path: /private/x"), "{stdout}");
    assert!(
        stdout.contains("as written: /private/x → apps[1].rules[0] (deny)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("as a lenient app reads it: /private/x → apps[1].rules[0] (deny)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("decision: denied (403), by apps[1].rules[0]"),
        "{stdout}"
    );

    // Both readings: the lenient one sees /ADMIN/ as /admin/.
    let output = doorman(
        &[
            "check-policy",
            "--user",
            "bob",
            "GET",
            "http://wiki.example.com/ADMIN/x",
        ],
        &path,
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("as written: /ADMIN/x → default (two_factor)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("as a lenient app reads it: /admin/x → default (two_factor)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("decision: bob passes with both factors"),
        "{stdout}"
    );

    let output = doorman(
        &[
            "check-policy",
            "--user",
            "alice",
            "--token",
            "ci",
            "GET",
            "http://wiki.example.com/admin/x",
        ],
        &path,
    );
    let stdout = text(&output.stdout);
    assert!(stdout.contains("decision: token `ci` refused"), "{stdout}");
    let output = doorman(
        &[
            "check-policy",
            "--user",
            "alice",
            "--token",
            "ci",
            "POST",
            "http://wiki.example.com/api/x",
        ],
        &path,
    );
    assert!(text(&output.stdout).contains("decision: token `ci` passes, by apps[0].rules[1]"));

    let output = doorman(
        &["check-policy", "GET", "http://elsewhere.example.org/"],
        &path,
    );
    assert!(text(&output.stdout).contains("no app answers to host `elsewhere.example.org`"));
}

#[test]
fn check_config_warns_about_a_groups_rule_with_no_later_deny() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = config(dir.path());
    let output = doorman(&["check-config"], &path);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning: apps[0].rules[0]: only some users or groups are named"),
        "{stderr}"
    );
    assert!(
        stderr.contains("add `{ path_prefix: \"/admin/\", policy: deny }` after it"),
        "{stderr}"
    );
}
