//! The config file as a user writes it: every problem at once, each with
//! its key path; `${VAR}` expansion; `*_file` secrets; the users file.

use crate::support::{default_users, password_hash, SECRET};
use doorman::config::{Config, Problems};
use std::path::Path;

/// A config that loads, for tests to break one piece at a time.
fn valid_config(secret_line: &str) -> String {
    format!(
        r#"listen: "127.0.0.1:0"
upstream: "http://127.0.0.1:3000"
users_file: "users.yaml"
session:
  {secret_line}
channels:
  sms: {{ provider: log }}
providers:
  log: {{}}
"#
    )
}

/// A temp dir holding `users.yaml` with `users`.
fn dir_with_users(users: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("users.yaml"), users).expect("users file");
    dir
}

/// The problems `yaml` has, with relative paths taken from `dir`.
fn problems(yaml: &str, dir: &Path) -> Problems {
    Config::from_yaml(yaml, dir).expect_err("the config has problems")
}

/// Each `key.path: message` line, sorted: the order is not part of the contract.
fn lines(problems: &Problems) -> Vec<String> {
    let mut lines: Vec<String> = problems.to_string().lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn sorted(expected: &[&str]) -> Vec<String> {
    let mut expected: Vec<String> = expected.iter().map(|line| line.to_string()).collect();
    expected.sort();
    expected
}

#[test]
fn every_problem_is_reported_at_once_with_its_key_path() {
    let dir = dir_with_users(&default_users());
    let yaml = r#"listen: "127.0.0.1:0"
users_file: "users.yaml"
colour: blue
session:
  secret: "too-short"
  lifetime: "soon"
  nope: 1
channels:
  fax: { provider: log }
  sms: { provider: webhook }
providers:
  log: {}
"#;

    let problems = problems(yaml, dir.path());

    assert_eq!(
        lines(&problems),
        sorted(&[
            "colour: unknown key",
            "session.nope: unknown key",
            "upstream: required: the URL of the app to protect, like http://127.0.0.1:3000",
            "session.secret: too short: 9 bytes, at least 32 needed",
            "session.lifetime: `soon` is not a duration like 30s, 5m or 12h",
            "channels.fax: unknown channel; doorman offers `sms`, `voice`, `push`, `totp` and `webauthn`",
            "channels.sms.provider: provider `webhook` is not configured under providers.webhook",
        ])
    );
    assert_eq!(
        problems.iter().count(),
        7,
        "one line per problem:\n{problems}"
    );
}

#[test]
fn the_config_is_valid_once_its_problems_are_fixed() {
    let dir = dir_with_users(&default_users());

    let config = Config::from_yaml(&valid_config(&format!("secret: \"{SECRET}\"")), dir.path())
        .unwrap_or_else(|problems| panic!("{problems}"));

    assert_eq!(config.users.len(), 3);
    assert_eq!(config.upstream.authority, "127.0.0.1:3000");
}

#[test]
fn environment_variables_are_expanded_in_any_string() {
    std::env::set_var("DOORMAN_IT_CONFIG_SECRET", SECRET);
    std::env::set_var("DOORMAN_IT_CONFIG_PORT", "3999");
    std::env::set_var("DOORMAN_IT_CONFIG_APP", "Payroll");
    let dir = dir_with_users(&default_users());
    let yaml = valid_config("secret: \"${DOORMAN_IT_CONFIG_SECRET}\"")
        .replace("127.0.0.1:3000", "127.0.0.1:${DOORMAN_IT_CONFIG_PORT}")
        + "app_name: \"${DOORMAN_IT_CONFIG_APP} admin\"\n";

    let config =
        Config::from_yaml(&yaml, dir.path()).unwrap_or_else(|problems| panic!("{problems}"));

    assert_eq!(config.upstream.authority, "127.0.0.1:3999");
    assert_eq!(config.app_name, "Payroll admin");
}

#[test]
fn an_unset_environment_variable_is_named_with_its_key() {
    let dir = dir_with_users(&default_users());
    let yaml = valid_config("secret: \"${DOORMAN_IT_CONFIG_NEVER_SET}\"");

    let problems = problems(&yaml, dir.path());

    assert_eq!(
        problems.to_string(),
        "session.secret: environment variable DOORMAN_IT_CONFIG_NEVER_SET is not set"
    );
}

/// A valid config whose session secret is read from `path`.
fn with_secret_file(path: &std::path::Path) -> String {
    valid_config(&format!("secret_file: \"{}\"", path.display()))
}

#[test]
fn a_secret_file_is_read_without_its_trailing_newline() {
    let dir = dir_with_users(&default_users());
    let good = dir.path().join("good_secret");
    std::fs::write(&good, format!("{SECRET}\n")).expect("secret file");
    // 31 bytes and a newline: too short unless the newline were counted.
    let short = dir.path().join("short_secret");
    std::fs::write(&short, format!("{}\n", &SECRET[..31])).expect("secret file");

    let loaded = Config::from_yaml(&with_secret_file(&good), dir.path());
    let refused = problems(&with_secret_file(&short), dir.path());

    assert!(loaded.is_ok(), "{}", loaded.unwrap_err());
    assert_eq!(
        refused.to_string(),
        "session.secret: too short: 31 bytes, at least 32 needed"
    );
}

#[test]
fn a_missing_secret_file_is_named_with_its_key() {
    let dir = dir_with_users(&default_users());
    let missing = dir.path().join("no_such_secret");
    let yaml = with_secret_file(&missing);

    let problems = problems(&yaml, dir.path());

    // Only the cause: not also "session.secret: required", which it was not.
    assert_eq!(
        problems.to_string(),
        format!(
            "session.secret_file: cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn users_file_problems_name_the_file_and_the_key_path() {
    let hash = password_hash();
    let users = format!(
        r#"users:
  alice:
    password: "{hash}"
    phone: "4155550100"
  bob:
    password: "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
  carol:
    password: "hunter2"
  dave:
    password: "{hash}"
    favourite_colour: "blue"
"#
    );
    let dir = dir_with_users(&users);
    let file = dir.path().join("users.yaml");
    let yaml = valid_config(&format!("secret: \"{SECRET}\""));

    let problems = problems(&yaml, dir.path());

    let not_argon2id =
        "not an argon2id PHC string ($argon2id$v=19$...); make one with `doorman hash-password`";
    let prefix = format!("users_file ({})", file.display());
    let mut lines = lines(&problems);
    // The phone message's wording may grow (country checks); its file, key
    // path and the number it quotes are what must not change.
    let phone = format!("{prefix}: users.alice.phone: `4155550100` ");
    let at = lines.iter().position(|line| line.starts_with(&phone));
    let phone_line = lines.remove(at.unwrap_or_else(|| panic!("no {phone:?} in {lines:#?}")));
    assert!(phone_line.contains("E.164"), "{phone_line}");
    assert_eq!(
        lines,
        sorted(&[
            &format!("{prefix}: users.dave.favourite_colour: unknown key"),
            &format!("{prefix}: users.bob.password: {not_argon2id}"),
            &format!("{prefix}: users.carol.password: {not_argon2id}"),
        ])
    );
}

#[test]
fn a_missing_users_file_is_named_with_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = valid_config(&format!("secret: \"{SECRET}\""));

    let problems = problems(&yaml, dir.path());

    assert_eq!(
        problems.to_string(),
        format!(
            "users_file: cannot read {}: No such file or directory (os error 2)",
            dir.path().join("users.yaml").display()
        )
    );
}

/// The values config.example.yaml reads from the environment. Set once, to
/// the same values, since the environment is shared by every test.
pub fn example_env() -> [(&'static str, &'static str); 2] {
    [
        ("DOORMAN_SESSION_SECRET", SECRET),
        ("HOOK_SECRET", "example-hook-secret"),
    ]
}

#[test]
fn the_example_config_loads_cleanly() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (name, value) in example_env() {
            std::env::set_var(name, value);
        }
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");

    let config = Config::load(&path).unwrap_or_else(|problems| panic!("{problems}"));

    assert_eq!(config.app_name, "Example");
    assert_eq!(config.users.len(), 1);
    let channels: Vec<&str> = config.channels.iter().map(|c| c.channel.name()).collect();
    assert_eq!(channels, ["sms", "voice", "totp"]);
    let webhook = config.providers.webhook.as_ref().expect("webhook");
    assert_eq!(webhook.secret.as_deref(), Some("example-hook-secret"));
}

#[test]
fn rule_problems_name_the_rule_and_the_key() {
    let dir = dir_with_users(&default_users());
    let yaml = format!(
        r#"{}trusted_proxies: ["10.0.0.0/8", "not-a-net"]
public:
  - {{ methods: ["GET"] }}
rules:
  - {{ path: "/a", path_prefix: "/b" }}
  - {{ path_regex: "(" }}
  - {{ path_prefix: "/%61dmin/" }}
  - {{ path_prefix: "/x", policy: allow }}
  - {{ path_prefix: "/y", policy: bypass, groups: ["admins"] }}
  - {{ path_prefix: "/z", policy: deny, max_age: "10m" }}
  - {{ networks: ["10.0.0.0/33"], methods: ["GE T"] }}
  - {{ path_prefix: "/ok", max_age: "soon", color: red }}
"#,
        valid_config(&format!("secret: \"{SECRET}\""))
    );
    let problems = problems(&yaml, dir.path());
    let lines = lines(&problems);
    let starts: Vec<&str> = lines
        .iter()
        .map(|line| line.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        starts,
        sorted(&[
            "public[0]",
            "rules[0]",
            "rules[1].path_regex",
            "rules[2].path_prefix",
            "rules[3].policy",
            "rules[4]",
            "rules[5].max_age",
            "rules[6].methods",
            "rules[6].networks[0]",
            "rules[7].color",
            "rules[7].max_age",
            "trusted_proxies[1]",
        ]),
        "{problems}"
    );
    assert!(
        problems.to_string().contains("write it as `/admin/`"),
        "{problems}"
    );
}

#[test]
fn an_allowed_redirect_domain_must_be_a_host_name() {
    let dir = dir_with_users(&default_users());
    let yaml = format!(
        "{}allowed_redirect_domains: [\".\", \"evil.com.\", \"https://x.example\", \".example.com\", \"app.example.com\"]\n",
        valid_config(&format!("secret: \"{SECRET}\""))
    );
    let problems = problems(&yaml, dir.path());
    let starts: Vec<String> = lines(&problems)
        .iter()
        .map(|line| line.split(':').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        starts,
        sorted(&[
            "allowed_redirect_domains[0]",
            "allowed_redirect_domains[1]",
            "allowed_redirect_domains[2]",
        ]),
        "{problems}"
    );
}

#[test]
fn store_problems_name_their_keys() {
    let dir = dir_with_users(&default_users());
    let base = valid_config(&format!("secret: \"{SECRET}\""));
    let lines_of = |store: &str| {
        let problems = problems(&format!("{base}store: {store}\n"), dir.path());
        lines(&problems)
            .iter()
            .map(|line| line.split(':').next().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(lines_of("{ kind: redis }"), ["store.url"]);
    assert_eq!(
        lines_of("{ kind: redis, url: \"http://x\" }"),
        ["store.url"]
    );
    assert_eq!(
        lines_of("{ kind: redis, url: \"redis://x\", pool_size: 0 }"),
        ["store.pool_size"]
    );
    assert_eq!(
        lines_of("{ kind: memory, url: \"redis://x\" }"),
        ["store.url"]
    );
    assert_eq!(lines_of("{ kind: etcd }"), ["store.kind"]);
    assert_eq!(
        lines_of("{ kind: redis, sentinel: { nodes: [] } }"),
        ["store.sentinel.master_name", "store.sentinel.nodes"]
    );
    assert_eq!(
        lines_of("{ kind: redis, sentinel: { master_name: m, nodes: [\"nope://x\"] } }"),
        ["store.sentinel.nodes[0]"]
    );
    let config = Config::from_yaml(
        &format!("{base}store: {{ kind: redis, url: \"redis://127.0.0.1:6379/0\", key_prefix: \"a:\" }}\n"),
        dir.path(),
    );
    assert!(config.is_ok(), "{:?}", config.err().map(|p| p.to_string()));
}

#[test]
fn a_type_error_does_not_hide_the_other_problems() {
    let dir = dir_with_users(&default_users());
    let yaml = format!(
        "{}limits:\n  max_connections: \"many\"\nrules:\n  - {{ path_prefix: \"/x\", policy: sometimes }}\ncodes:\n  length: [6]\n",
        valid_config(&format!("secret: \"{SECRET}\""))
            .replace("listen: \"127.0.0.1:0\"", "listen: \"nowhere\"")
    );
    let problems = lines(&problems(&yaml, dir.path()));
    // Both type errors, each with its key path ...
    assert!(
        problems
            .iter()
            .any(|line| line.starts_with("limits.max_connections: invalid type")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|line| line.starts_with("codes.length: invalid type")),
        "{problems:#?}"
    );
    // ... and the bad values the semantic checks find in the sections that parsed.
    assert!(
        problems
            .iter()
            .any(|line| line == "listen: expected an address like 0.0.0.0:8080"),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|line| line.starts_with("rules[0].policy: ")),
        "{problems:#?}"
    );
}

#[test]
fn an_identity_header_is_never_a_header_http_doorman_or_routing_owns_nor_another() {
    let dir = dir_with_users(&default_users());
    let base = valid_config(&format!("secret: \"{SECRET}\""));
    for owned in [
        "Host",
        "Cookie",
        "Authorization",
        "Content-Length",
        "transfer_encoding",
        "Connection",
        "X-Request-Id",
        "x_request_id",
        "X-Forwarded-User",
        "X_Forwarded_For",
        "Forwarded",
        "X-Original-URL",
        "X-Real-IP",
    ] {
        let yaml = format!("{base}identity_headers: {{ user: \"{owned}\" }}\n");
        let problems = problems(&yaml, dir.path());
        assert_eq!(lines(&problems).len(), 1, "{owned}: {problems}");
        assert!(
            problems.to_string().starts_with("identity_headers.user:"),
            "{owned}: {problems}"
        );
    }
    // Two names an app server reads as one.
    let yaml = format!("{base}identity_headers: {{ user: \"X-User\", name: \"x_user\" }}\n");
    let problems = problems(&yaml, dir.path());
    assert!(
        problems.to_string().starts_with("identity_headers.name:"),
        "{problems}"
    );
    // Names of the app's own choosing load.
    let yaml = format!(
        "{base}identity_headers: {{ user: \"X-Auth-User\", email: \"X-Auth-Email\", groups: \"X-Auth-Groups\", name: \"X-Auth-Name\" }}\n"
    );
    Config::from_yaml(&yaml, dir.path()).expect("own names load");
}
