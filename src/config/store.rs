//! `store:`: where shared state lives.

use super::raw;
use super::{duration, Problems};
use crate::secret::Secret;

use crate::store::file_backend::FileSettings;
use crate::store::redis_backend::{check_url, RedisSettings, SentinelSettings};
use crate::store::{StoreSettings, DEFAULT_STORE_PATH};
use std::path::{Path, PathBuf};

pub(super) fn store(raw: &raw::RawStore, base: &Path, problems: &mut Problems) -> StoreSettings {
    let redis_only = [
        ("url", raw.url.is_some()),
        ("password", raw.password.is_some()),
        ("key_prefix", raw.key_prefix.is_some()),
        ("pool_size", raw.pool_size.is_some()),
        ("sentinel", raw.sentinel.is_some()),
        ("connect_timeout", raw.connect_timeout.is_some()),
        ("command_timeout", raw.command_timeout.is_some()),
    ];
    let not_redis = |problems: &mut Problems| {
        for (key, given) in redis_only {
            if given {
                problems.push(&format!("store.{key}"), "only for `kind: redis`");
            }
        }
    };
    if raw.path.is_some() && !matches!(raw.kind.as_deref(), None | Some("file")) {
        problems.push("store.path", "only for `kind: file`");
    }
    match raw.kind.as_deref() {
        Some("memory") => {
            not_redis(problems);
            StoreSettings::Memory
        }
        None | Some("file") => {
            not_redis(problems);
            let path = match raw.path.as_deref().map(str::trim) {
                Some("") => {
                    problems.push(
                        "store.path",
                        "must name a file, like /var/lib/doorman/state.redb",
                    );
                    PathBuf::from(DEFAULT_STORE_PATH)
                }
                Some(path) => base.join(path),
                None => PathBuf::from(DEFAULT_STORE_PATH),
            };
            if path.is_dir() {
                problems.push(
                    "store.path",
                    format!(
                        "{} is a directory; name a file in it, like state.redb",
                        path.display()
                    ),
                );
            }
            StoreSettings::File(FileSettings { path })
        }
        Some("redis" | "valkey") => {
            let sentinel = raw.sentinel.as_ref().map(|sentinel| {
                let master_name = sentinel.master_name.clone().unwrap_or_else(|| {
                    problems.push(
                        "store.sentinel.master_name",
                        "required: the name the Sentinels monitor, like mymaster",
                    );
                    String::new()
                });
                if sentinel.nodes.is_empty() {
                    problems.push(
                        "store.sentinel.nodes",
                        "required: the Sentinels, like [\"redis://10.0.0.1:26379\"]",
                    );
                }
                for (index, node) in sentinel.nodes.iter().enumerate() {
                    if let Err(err) = check_url(node) {
                        problems.push(
                            &format!("store.sentinel.nodes[{index}]"),
                            format!("`{node}`: {err}"),
                        );
                    }
                }
                SentinelSettings {
                    master_name,
                    nodes: sentinel.nodes.clone(),
                }
            });
            // With Sentinel the URL only gives the database, TLS and
            // password for the master; its host is not used.
            let url = match raw.url.as_deref() {
                None if sentinel.is_some() => "redis://sentinel-master/0".to_owned(),
                None => {
                    problems.push(
                        "store.url",
                        "required: like redis://127.0.0.1:6379/0 or rediss://…",
                    );
                    String::new()
                }
                Some(url) => {
                    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                        problems.push(
                            "store.url",
                            format!("`{url}` is not a redis:// or rediss:// URL"),
                        );
                    } else if let Err(err) = check_url(url) {
                        problems.push("store.url", format!("`{url}`: {err}"));
                    }
                    url.to_owned()
                }
            };
            let pool_size = match raw.pool_size {
                Some(0) => {
                    problems.push("store.pool_size", "must be at least 1");
                    1
                }
                Some(size) => size,
                None => 2,
            };
            StoreSettings::Redis(RedisSettings {
                url,
                sentinel,
                password: raw
                    .password
                    .clone()
                    .filter(|password| !password.is_empty())
                    .map(Secret::new),
                key_prefix: raw
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| "doorman:".to_owned()),
                pool_size,
                connect_timeout: duration(
                    raw.connect_timeout.as_deref(),
                    "store.connect_timeout",
                    "2s",
                    problems,
                ),
                command_timeout: duration(
                    raw.command_timeout.as_deref(),
                    "store.command_timeout",
                    "1s",
                    problems,
                ),
            })
        }
        Some(other) => {
            problems.push(
                "store.kind",
                format!("expected `file`, `memory` or `redis`, not `{other}`"),
            );
            StoreSettings::Memory
        }
    }
}
