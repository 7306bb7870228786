//! An emulation of Duo's Auth API push (`/auth/v2/auth` with `async=1` and
//! `/auth/v2/auth_status`) that checks every request's signature the way
//! PROVIDERS.md describes — written here independently of doorman's signer.

use super::fake_api::{Emulation, Recorded, Reply};
use hmac::{Hmac, Mac};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

pub const IKEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";
pub const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";

/// What the person does on their phone.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Waiting,
    Allow,
    Deny,
}

#[derive(Default)]
pub struct State {
    /// txid → username.
    transactions: HashMap<String, String>,
    outcome: Option<Outcome>,
    /// Requests whose signature did not check out.
    bad_signatures: usize,
}

pub type DuoApi = Emulation<State>;

fn fail(status: u16, code: u32, message: &str) -> Reply {
    Reply::json(
        status,
        json!({ "stat": "FAIL", "code": code, "message": message }),
    )
}

impl DuoApi {
    pub async fn start() -> DuoApi {
        Emulation::serve(handle).await
    }

    /// The provider block, with `secret_key` (use [`SKEY`] for the right one).
    pub fn config_with(&self, secret_key: &str) -> String {
        format!(
            "duo: {{ base_url: \"{}\", integration_key: \"{IKEY}\", secret_key: \"{secret_key}\" }}",
            self.api.base_url()
        )
    }

    pub fn config(&self) -> String {
        self.config_with(SKEY)
    }

    pub fn set_outcome(&self, outcome: Outcome) {
        self.state().outcome = Some(outcome);
    }

    pub fn bad_signatures(&self) -> usize {
        self.state().bad_signatures
    }

    pub fn transactions(&self) -> usize {
        self.state().transactions.len()
    }
}

/// RFC 3986 unreserved characters stay, every other byte is %XX.
fn quote(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Whether `Authorization: Basic ikey:hex` signs this request.
fn signed(request: &Recorded) -> bool {
    let Some(date) = request.header("date") else {
        return false;
    };
    let Some(credentials) = request.basic_auth() else {
        return false;
    };
    let Some((ikey, sig)) = credentials.split_once(':') else {
        return false;
    };
    if ikey != IKEY {
        return false;
    }
    let raw = if request.method == "GET" {
        request.query.as_bytes().to_vec()
    } else {
        request.body.to_vec()
    };
    let mut params: Vec<(String, String)> = form_urlencoded::parse(&raw)
        .map(|(k, v)| (quote(&k), quote(&v)))
        .collect();
    params.sort();
    let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let host = request
        .header("host")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let canon = format!(
        "{date}\n{}\n{host}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        request.path,
        params.join("&")
    );
    let expected = match sig.len() {
        128 => {
            let mut mac = Hmac::<sha2::Sha512>::new_from_slice(SKEY.as_bytes()).unwrap();
            mac.update(canon.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        40 => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SKEY.as_bytes()).unwrap();
            mac.update(canon.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        _ => return false,
    };
    expected == sig
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn handle(state: &Mutex<State>, request: &Recorded) -> Reply {
    if !signed(request) {
        state.lock().unwrap().bad_signatures += 1;
        return fail(401, 40103, "Invalid signature in request credentials");
    }
    let mut state = state.lock().unwrap();
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/auth/v2/auth") => {
            let form = request.form();
            let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
            if field("factor") != "push" || field("async") != "1" || field("device").is_empty() {
                return fail(400, 40002, "Invalid request parameters");
            }
            let username = field("username").to_owned();
            if username.is_empty() {
                return fail(400, 40001, "Missing required request parameters");
            }
            let txid = format!(
                "45f7c92b-f45f-4862-8545-e0f58e78075{}",
                state.transactions.len()
            );
            state.transactions.insert(txid.clone(), username);
            Reply::json(200, json!({ "stat": "OK", "response": { "txid": txid } }))
        }
        ("GET", "/auth/v2/auth_status") => {
            let query: HashMap<String, String> = form_urlencoded::parse(request.query.as_bytes())
                .into_owned()
                .collect();
            let Some(txid) = query.get("txid") else {
                return fail(400, 40001, "Missing required request parameters");
            };
            if !state.transactions.contains_key(txid) {
                return fail(400, 40002, "Invalid request parameters");
            }
            let (result, status) = match state.outcome.unwrap_or(Outcome::Waiting) {
                Outcome::Waiting => ("waiting", "pushed"),
                Outcome::Allow => ("allow", "allow"),
                Outcome::Deny => ("deny", "deny"),
            };
            Reply::json(
                200,
                json!({ "stat": "OK", "response": { "result": result, "status": status, "status_msg": "scripted" } }),
            )
        }
        _ => fail(404, 40401, "Resource not found"),
    }
}
