//! `doorman demo`: a built-in app to protect, a demo user and the `log`
//! provider, so the whole sign-in can be tried with no setup.

use crate::config::raw::{OrderedMap, RawUser, RawUsersFile};
use crate::config::{Config, Problems};
use crate::users::hash_password;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;

pub const USER: &str = "demo";

/// What the demo prints for the person trying it.
pub struct Demo {
    pub config: Config,
    pub password: String,
}

/// Builds the demo's config around an app already listening on `app`.
pub fn config(listen: SocketAddr, app: SocketAddr) -> Result<Demo, Problems> {
    let password = crate::crypto::random_hex(6);
    let hash = hash_password(&password).map_err(|err| {
        let mut problems = Problems::default();
        problems.push("demo", format!("cannot hash the demo password: {err}"));
        problems
    })?;
    let raw = RawUsersFile {
        users: OrderedMap(vec![(
            USER.to_owned(),
            RawUser {
                password: Some(hash),
                display_name: Some("Demo User".to_owned()),
                email: Some("demo@example.com".to_owned()),
                groups: vec!["admins".to_owned(), "demo".to_owned()],
                phone: Some("+14155550100".to_owned()),
                totp_secret: None,
                ntfy_topic: None,
                locale: None,
            },
        )]),
    };
    let mut problems = Problems::default();
    let users = crate::config::users::users(raw, "demo users: ", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let yaml = format!(
        r#"
listen: "{listen}"
upstream: "http://{app}"
app_name: "doorman demo"
public_url: "http://{listen}"
session:
  secret: "{secret}"
channels:
  sms: {{ provider: log }}
  voice: {{ provider: log }}
providers:
  log: {{}}
store: {{ kind: memory }}
"#,
        secret = crate::crypto::random_hex(32),
    );
    let config = Config::from_yaml_with_users(&yaml, users)?;
    Ok(Demo { config, password })
}

/// Serves the demo app on a free loopback port: a page that shows the
/// identity headers doorman added.
pub async fn start_app() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service =
                    service_fn(|request| async move { Ok::<_, Infallible>(page(&request)) });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn page(request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map_or_else(|| "(not set)".to_owned(), escape)
    };
    let rows: String = request
        .headers()
        .iter()
        .map(|(name, value)| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(name.as_str()),
                escape(&String::from_utf8_lossy(value.as_bytes()))
            )
        })
        .collect();
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
td{{padding:.2rem .6rem;border-bottom:1px solid #ddd;vertical-align:top;word-break:break-all}}</style></head><body>
<h1>Signed in as {user}</h1>
<p>This is the demo app behind doorman. It trusts these headers because only doorman can reach it:</p>
<table><tr><td>Remote-User</td><td>{user}</td></tr><tr><td>Remote-Name</td><td>{name}</td></tr>
<tr><td>Remote-Email</td><td>{email}</td></tr><tr><td>Remote-Groups</td><td>{groups}</td></tr></table>
<p><a href="/.doorman/logout">Sign out</a></p>
<h2>Every header the app received</h2><table>{rows}</table>
<p>Request: {method} {uri}</p></body></html>"#,
        user = header("remote-user"),
        name = header("remote-name"),
        email = header("remote-email"),
        groups = header("remote-groups"),
        method = request.method(),
        uri = escape(&request.uri().to_string()),
    );
    let mut response = Response::new(Full::new(Bytes::from(html)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
