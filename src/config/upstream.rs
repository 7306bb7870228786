//! `upstream*`: the protected app and how its certificate is checked.

use super::raw::RawConfig;
use super::Problems;
use crate::proxy::Upstream;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri};
use std::path::Path;

/// Where nothing goes: stands in for an upstream with a problem.
pub(super) fn fallback() -> Upstream {
    Upstream {
        scheme: Scheme::HTTP,
        authority: Authority::from_static("127.0.0.1"),
        host_header: None,
        tls: None,
        insecure_skip_verify: false,
    }
}

/// The `upstream*` keys of the top level or of one of `apps:`.
pub(super) struct UpstreamKeys<'a> {
    /// Put before each key in a problem: `` or `apps[1].`.
    pub prefix: String,
    pub upstream: Option<&'a str>,
    pub host_header: Option<&'a str>,
    pub ca_file: Option<&'a str>,
    pub insecure_skip_verify: Option<bool>,
}

impl<'a> UpstreamKeys<'a> {
    pub fn top_level(raw: &'a RawConfig) -> UpstreamKeys<'a> {
        UpstreamKeys {
            prefix: String::new(),
            upstream: raw.upstream.as_deref(),
            host_header: raw.upstream_host_header.as_deref(),
            ca_file: raw.upstream_ca_file.as_deref(),
            insecure_skip_verify: raw.upstream_insecure_skip_verify,
        }
    }
}

pub(super) fn upstream(raw: &UpstreamKeys<'_>, base: &Path, problems: &mut Problems) -> Upstream {
    let mut problems = Prefixed {
        prefix: &raw.prefix,
        problems,
    };
    let problems = &mut problems;
    let fallback = fallback();
    let host_header = raw.host_header.and_then(|host| {
        HeaderValue::from_str(host)
            .map_err(|_| problems.push("upstream_host_header", "not a valid Host value"))
            .ok()
    });
    let Some(text) = raw.upstream else {
        problems.push(
            "upstream",
            "required: the URL of the app to protect, like http://127.0.0.1:3000",
        );
        return fallback;
    };
    let uri: Uri = match text.parse() {
        Ok(uri) => uri,
        Err(_) => {
            problems.push("upstream", format!("`{text}` is not a URL"));
            return fallback;
        }
    };
    let insecure_skip_verify = raw.insecure_skip_verify.unwrap_or(false);
    match (uri.scheme(), uri.authority()) {
        (Some(scheme), Some(authority)) if *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS => {
            if uri.path() != "/" && !uri.path().is_empty() {
                problems.push(
                    "upstream",
                    "a path is not supported; give only scheme, host and port",
                );
            }
            let https = *scheme == Scheme::HTTPS;
            if !https && (raw.ca_file.is_some() || insecure_skip_verify) {
                let key = if insecure_skip_verify {
                    "upstream_insecure_skip_verify"
                } else {
                    "upstream_ca_file"
                };
                problems.push(key, "applies to https:// upstreams only");
            }
            let trust = match (raw.ca_file, insecure_skip_verify) {
                (Some(_), true) => {
                    problems.push(
                        "upstream_insecure_skip_verify",
                        "set `upstream_ca_file` or `upstream_insecure_skip_verify`, not both",
                    );
                    crate::tls::UpstreamTrust::InsecureSkipVerify
                }
                (Some(file), false) => crate::tls::UpstreamTrust::CaFile(base.join(file)),
                (None, true) => crate::tls::UpstreamTrust::InsecureSkipVerify,
                (None, false) => crate::tls::UpstreamTrust::SystemRoots,
            };
            let tls = if https {
                match crate::tls::client_config(&trust) {
                    Ok(config) => Some(std::sync::Arc::new(config)),
                    Err(message) => {
                        let key = match trust {
                            crate::tls::UpstreamTrust::CaFile(_) => "upstream_ca_file",
                            _ => "upstream",
                        };
                        problems.push(key, message);
                        None
                    }
                }
            } else {
                None
            };
            Upstream {
                scheme: scheme.clone(),
                authority: authority.clone(),
                host_header,
                tls,
                insecure_skip_verify: https && insecure_skip_verify,
            }
        }
        (Some(_), Some(_)) => {
            problems.push("upstream", "expected an http:// or https:// URL");
            fallback
        }
        _ => {
            problems.push(
                "upstream",
                format!("`{text}` needs a scheme and host, like http://127.0.0.1:3000"),
            );
            fallback
        }
    }
}

/// Problems with each key put under a prefix.
struct Prefixed<'p> {
    prefix: &'p str,
    problems: &'p mut Problems,
}

impl Prefixed<'_> {
    fn push(&mut self, key: &str, message: impl Into<String>) {
        let key = format!("{}{key}", self.prefix);
        self.problems.push(&key, message);
    }
}
