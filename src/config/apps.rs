//! `apps:`: several apps by host name, each with its upstream, `public:`
//! and `rules:`; without it, the top-level `upstream`, `public:` and
//! `rules:` are the one app every host reaches.

use super::raw::RawConfig;
use super::rules::{access_rules, access_rules_under, hosts};
use super::upstream::{upstream, UpstreamKeys};
use super::Problems;
use crate::proxy::Upstream;
use crate::sites::{HostPattern, Site, Sites};
use std::path::Path;

/// The apps, and each one's upstream at the same index.
pub(super) fn apps(
    raw: &RawConfig,
    base: &Path,
    problems: &mut Problems,
) -> (Sites, Vec<Upstream>) {
    if raw.apps.is_empty() {
        let upstream = upstream(&UpstreamKeys::top_level(raw), base, problems);
        let rules = access_rules(&raw.public, &raw.rules, problems);
        return (Sites::single(rules), vec![upstream]);
    }
    let top_level = [
        ("upstream", raw.upstream.is_some()),
        ("upstream_host_header", raw.upstream_host_header.is_some()),
        ("upstream_ca_file", raw.upstream_ca_file.is_some()),
        (
            "upstream_insecure_skip_verify",
            raw.upstream_insecure_skip_verify.is_some(),
        ),
        ("public", !raw.public.is_empty()),
        ("rules", !raw.rules.is_empty()),
    ];
    for (key, given) in top_level {
        if given {
            problems.push(
                key,
                "with `apps:`, give it inside each app instead (no app inherits it)",
            );
        }
    }
    let mut sites = Vec::new();
    let mut upstreams = Vec::new();
    let mut seen: Vec<(HostPattern, String)> = Vec::new();
    for (index, app) in raw.apps.iter().enumerate() {
        let name = format!("apps[{index}]");
        let prefix = format!("{name}.");
        let keys = UpstreamKeys {
            prefix: prefix.clone(),
            upstream: app.upstream.as_deref(),
            host_header: app.upstream_host_header.as_deref(),
            ca_file: app.upstream_ca_file.as_deref(),
            insecure_skip_verify: app.upstream_insecure_skip_verify,
        };
        upstreams.push(upstream(&keys, base, problems));
        let hosts = hosts(&app.hosts, &format!("{prefix}hosts"), problems);
        if app.hosts.is_empty() {
            problems.push(
                &format!("{prefix}hosts"),
                "required: the host names that reach this app, like wiki.example.com",
            );
        }
        for host in &hosts {
            if let Some((_, other)) = seen.iter().find(|(known, _)| known == host) {
                problems.push(
                    &format!("{prefix}hosts"),
                    format!("`{host}` is already {other}'s: a host reaches one app"),
                );
            } else {
                seen.push((host.clone(), name.clone()));
            }
        }
        let rules = access_rules_under(&prefix, &app.public, &app.rules, problems);
        sites.push(Site { name, hosts, rules });
    }
    (Sites::new(sites), upstreams)
}
