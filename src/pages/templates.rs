//! The HTML templates: embedded in the binary, each replaceable by a file of
//! the same name in `templates_dir`.

use crate::error::Error;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};
use http_body_util::Full;
use minijinja::Environment;
use std::path::Path;

const EMBEDDED: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("choose.html", include_str!("../../templates/choose.html")),
    ("code.html", include_str!("../../templates/code.html")),
    ("message.html", include_str!("../../templates/message.html")),
    ("push.html", include_str!("../../templates/push.html")),
    ("enroll.html", include_str!("../../templates/enroll.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "passkeys.html",
        include_str!("../../templates/passkeys.html"),
    ),
    (
        "recovery.html",
        include_str!("../../templates/recovery.html"),
    ),
];

const PUSH_SCRIPT: &str = include_str!("../../templates/push.js");
const WEBAUTHN_SCRIPT: &str = include_str!("../../templates/webauthn.js");

/// The push waiting page's script (served from doorman, as the CSP wants).
pub fn push_script() -> Response<Full<Bytes>> {
    script(PUSH_SCRIPT)
}

/// The passkey pages' script.
pub fn webauthn_script() -> Response<Full<Bytes>> {
    script(WEBAUTHN_SCRIPT)
}

fn script(text: &'static str) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    let headers = reply.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    reply
}

const STYLESHEET: &str = include_str!("../../templates/doorman.css");

pub struct Templates {
    env: Environment<'static>,
    stylesheet: Bytes,
}

impl Templates {
    /// Loads every template, preferring `dir`'s copy; a template that does
    /// not parse stops start-up with its name and line.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Error> {
        let mut env = Environment::new();
        for (name, embedded) in EMBEDDED {
            let text = dir
                .map(|dir| dir.join(name))
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_else(|| (*embedded).to_owned());
            env.add_template_owned(*name, text)?;
        }
        let stylesheet = dir
            .and_then(|dir| std::fs::read_to_string(dir.join("doorman.css")).ok())
            .unwrap_or_else(|| STYLESHEET.to_owned());
        Ok(Templates {
            env,
            stylesheet: Bytes::from(stylesheet),
        })
    }

    pub fn render(&self, name: &str, context: minijinja::Value) -> Result<String, Error> {
        Ok(self.env.get_template(name)?.render(context)?)
    }

    pub fn stylesheet(&self) -> Response<Full<Bytes>> {
        let mut reply = Response::new(Full::new(self.stylesheet.clone()));
        let headers = reply.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        );
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        reply
    }
}
