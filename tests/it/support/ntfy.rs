//! An emulation of an ntfy server's JSON publish (PROVIDERS.md): checks the
//! access token, the topic and the actions, records every publish, and
//! answers with ntfy's message or error bodies.

use super::fake_api::{Emulation, Recorded, Reply};
use super::{api_client, into_page, Env, Page};
use serde_json::{json, Value};
use std::sync::Mutex;

pub const TOKEN: &str = "tk_doormantest0123456789abcdef";

#[derive(Default)]
pub struct State {
    publishes: Vec<Value>,
    /// Answer every publish with this status (and ntfy's error body).
    failure: Option<u16>,
}

pub type Ntfy = Emulation<State>;

fn error(status: u16, code: u32, message: &str) -> Reply {
    Reply::json(
        status,
        json!({ "code": code, "http": status, "error": message, "link": "https://ntfy.sh/docs/publish/" }),
    )
}

impl Ntfy {
    pub async fn start() -> Ntfy {
        Emulation::serve(handle).await
    }

    /// The provider block for doorman's config.
    pub fn config(&self) -> String {
        format!(
            "ntfy: {{ base_url: \"{}\", token: \"{TOKEN}\" }}",
            self.api.base_url()
        )
    }

    pub fn fail_with(&self, status: u16) {
        self.state().failure = Some(status);
    }

    pub fn publishes(&self) -> Vec<Value> {
        self.state().publishes.clone()
    }

    /// The latest publish's actions as (label, url).
    pub fn actions(&self) -> Vec<(String, String)> {
        let publishes = self.publishes();
        let last = publishes.last().expect("a publish");
        last["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .map(|action| {
                (
                    action["label"].as_str().unwrap_or_default().to_owned(),
                    action["url"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The URL of the latest publish's action labelled `label`.
    pub fn action_url(&self, label: &str) -> String {
        self.actions()
            .into_iter()
            .find(|(l, _)| l == label)
            .map(|(_, url)| url)
            .unwrap_or_else(|| panic!("no action labelled {label}"))
    }

    /// A label in the latest publish other than `label`.
    pub fn other_label(&self, label: &str) -> String {
        self.actions()
            .into_iter()
            .map(|(l, _)| l)
            .find(|l| l != label)
            .expect("another action")
    }
}

/// Taps an action as ntfy's app does: a POST with no body to its URL. The
/// URL's origin is `public_url`; the request goes to doorman's address.
pub async fn press(env: &Env, url: &str) -> Page {
    let path = path_of(url);
    into_page(
        api_client()
            .post(env.url(&path))
            .send()
            .await
            .expect("POST"),
    )
    .await
}

/// `/…` of an absolute URL.
pub fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("/".to_owned(), |at| after_scheme[at..].to_owned())
}

fn handle(state: &Mutex<State>, request: &Recorded) -> Reply {
    if request.method != "POST" || request.path != "/" {
        return error(404, 40401, "page not found");
    }
    if request.bearer() != Some(TOKEN) {
        return error(401, 40101, "unauthorized");
    }
    let body = request.json();
    let topic = body["topic"].as_str().unwrap_or_default().to_owned();
    if topic.is_empty()
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return error(400, 40009, "invalid topic");
    }
    let actions = body["actions"].as_array().cloned().unwrap_or_default();
    let valid_action = |action: &Value| {
        action["action"] == "http"
            && action["label"].as_str().is_some_and(|l| !l.is_empty())
            && action["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("http"))
            && matches!(
                action["method"].as_str(),
                None | Some("POST") | Some("GET") | Some("PUT")
            )
    };
    if actions.len() > 3 || !actions.iter().all(valid_action) {
        return error(400, 40018, "invalid request: actions invalid");
    }
    if body["message"].as_str().unwrap_or_default().len() > 4096 {
        return error(400, 40001, "message too large");
    }
    let mut state = state.lock().unwrap();
    if let Some(status) = state.failure {
        return match status {
            429 => error(429, 42901, "limit reached: too many requests"),
            401 => error(401, 40101, "unauthorized"),
            403 => error(403, 40301, "forbidden"),
            status => error(status, 50001, "internal server error"),
        };
    }
    state.publishes.push(body.clone());
    let id = format!("msg{}", state.publishes.len());
    Reply::json(
        200,
        json!({ "id": id, "time": 1_700_000_000, "expires": 1_700_043_200, "event": "message", "topic": topic, "title": body["title"], "message": body["message"] }),
    )
}
