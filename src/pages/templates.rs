//! The HTML templates: embedded in the binary, each replaceable by a file of
//! the same name in `templates_dir`.

use crate::embed::embedded;
use crate::error::Error;
use crate::i18n::{Arg, Locale};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};
use http_body_util::Full;
use minijinja::Environment;
use std::path::Path;

const EMBEDDED: &[(&str, &str)] = embedded!("../../templates/", "":
    "layout.html",
    "login.html",
    "choose.html",
    "code.html",
    "message.html",
    "push.html",
    "enroll.html",
    "logout.html",
    "passkeys.html",
    "recovery.html",
    "webauthn_script.html",
);

/// The push waiting page's script.
pub const PUSH_SCRIPT: &str = include_str!("../../templates/push.js");
/// The passkey pages' script.
pub const WEBAUTHN_SCRIPT: &str = include_str!("../../templates/webauthn.js");
/// The code page's script: the "Send again" countdown.
pub const RESEND_SCRIPT: &str = include_str!("../../templates/resend.js");

/// One of the pages' scripts (served from doorman, as the CSP wants).
pub fn script(text: &'static str) -> Response<Full<Bytes>> {
    asset(
        Bytes::from_static(text.as_bytes()),
        "text/javascript; charset=utf-8",
    )
}

/// A static file of the pages' own, cached by browsers for an hour.
fn asset(body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(body));
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    reply
}

/// `{{ t("id", name=value) }}`: message `id` in the page's `locale`. Text
/// arguments are escaped, unless marked safe (a `{% set %}` block of the
/// template's own markup); the messages themselves hold no markup.
fn translate(
    state: &minijinja::State,
    id: &str,
    kwargs: minijinja::value::Kwargs,
) -> Result<minijinja::Value, minijinja::Error> {
    let locale = state
        .lookup("locale")
        .and_then(|tag| tag.as_str().and_then(Locale::from_tag))
        .unwrap_or(Locale::ENGLISH);
    let mut args: Vec<(&str, Arg)> = Vec::new();
    for name in kwargs.args() {
        let value: minijinja::Value = kwargs.get(name)?;
        let arg = match i64::try_from(value.clone()) {
            Ok(n) if value.kind() == minijinja::value::ValueKind::Number => Arg::Number(n),
            _ if value.is_safe() => Arg::Text(value.to_string()),
            _ => Arg::Text(minijinja::HtmlEscape(&value.to_string()).to_string()),
        };
        args.push((name, arg));
    }
    Ok(minijinja::Value::from_safe_string(locale.format(id, &args)))
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
        env.add_function("t", translate);
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
        asset(self.stylesheet.clone(), "text/css; charset=utf-8")
    }
}
