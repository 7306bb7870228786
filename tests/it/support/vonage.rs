//! Emulations of Vonage Verify v2 and Verify v1 (legacy) as PROVIDERS.md
//! documents them: each checks method, path, credentials, encoding and the
//! exact field names, answers a wrong request with the API's own error, keeps
//! one verification per number at a time, and lets a test read the code the
//! person received.

use super::fake_api::{FakeApi, Recorded, Reply};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

pub const API_KEY: &str = "a1b2c3d4";
pub const API_SECRET: &str = "vonage-api-secret";
pub const BRAND: &str = "Doorman Test";

/// The number as doorman's test users have it, and as Vonage wants it.
pub const ALICE: &str = "+14155550100";
pub const ALICE_VONAGE: &str = "14155550100";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Completed,
    Cancelled,
    /// Too many wrong codes.
    Terminated,
    /// Expired, as far as Vonage is concerned.
    Forgotten,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub request_id: String,
    /// As Vonage received it: no `+`.
    pub to: String,
    /// The workflow's channels, in order.
    pub steps: Vec<String>,
    /// The channels the code went out on so far.
    pub sent: Vec<String>,
    pub code: String,
    pub wrong: u32,
    pub status: Status,
}

/// Wrong codes Vonage takes before it ends a verification.
const MAX_CHECKS: u32 = 3;

#[derive(Default)]
struct Ledger {
    verifications: Vec<Verification>,
    next: u64,
    /// When set, every start answers this instead.
    start_failure: Option<Reply>,
    /// Answered once, instead of the next check.
    check_failure: Option<Reply>,
}

impl Ledger {
    fn active_to(&self, to: &str) -> Option<&Verification> {
        self.verifications
            .iter()
            .find(|v| v.to == to && v.status == Status::Active)
    }

    fn get(&mut self, request_id: &str) -> Option<&mut Verification> {
        self.verifications
            .iter_mut()
            .find(|v| v.request_id == request_id)
    }

    /// The verification `request_id` while it is still running.
    fn active(&mut self, request_id: &str) -> Option<&mut Verification> {
        self.get(request_id).filter(|v| v.status == Status::Active)
    }

    fn create(&mut self, to: &str, steps: Vec<String>, code_length: usize, id: String) -> String {
        let n = self.next;
        let code = format!(
            "{:0width$}",
            (n * 7919 + 271_828) % 10u64.pow(code_length as u32),
            width = code_length
        );
        self.verifications.push(Verification {
            request_id: id.clone(),
            to: to.to_owned(),
            sent: vec![steps[0].clone()],
            steps,
            code,
            wrong: 0,
            status: Status::Active,
        });
        id
    }

    /// Runs the verification's next step now; whether there was one.
    fn next_step(verification: &mut Verification) -> bool {
        match verification.steps.get(verification.sent.len()) {
            Some(step) => {
                verification.sent.push(step.clone());
                true
            }
            None => false,
        }
    }
}

/// What both emulations offer a test (each derefs to it).
#[derive(Clone)]
pub struct Shared {
    pub api: FakeApi,
    ledger: Arc<Mutex<Ledger>>,
    /// The provider's name in doorman's config.
    pub name: &'static str,
}

impl Shared {
    /// Serves `handler` over a fresh ledger, as the provider `name`.
    async fn serve(name: &'static str, handler: fn(&Mutex<Ledger>, &Recorded) -> Reply) -> Shared {
        let (api, ledger) = FakeApi::with_state(handler).await;
        Shared { api, ledger, name }
    }

    /// The provider block for doorman's config.
    pub fn config(&self) -> String {
        format!(
            "{}: {{ api_key: \"{API_KEY}\", api_secret: \"{API_SECRET}\", brand: \"{BRAND}\", base_url: \"{}\" }}",
            self.name,
            self.api.base_url()
        )
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap()
    }

    /// The code of the latest verification to `to` (with or without `+`).
    pub fn code_for(&self, to: &str) -> Option<String> {
        let to = to.trim_start_matches('+');
        let ledger = self.ledger();
        ledger
            .verifications
            .iter()
            .rev()
            .find(|v| v.to == to)
            .map(|v| v.code.clone())
    }

    pub fn verifications(&self) -> Vec<Verification> {
        self.ledger().verifications.clone()
    }

    /// Lets every running verification's step wait run out: the next step
    /// goes out, as Vonage does.
    pub fn run_next_steps(&self) {
        let mut ledger = self.ledger();
        for verification in &mut ledger.verifications {
            if verification.status == Status::Active {
                Ledger::next_step(verification);
            }
        }
    }

    /// Lets every running verification expire.
    pub fn forget_all(&self) {
        let mut ledger = self.ledger();
        for verification in &mut ledger.verifications {
            if verification.status == Status::Active {
                verification.status = Status::Forgotten;
            }
        }
    }
}

fn is_number(to: &str) -> bool {
    (7..=15).contains(&to.len()) && to.bytes().all(|b| b.is_ascii_digit())
}

fn valid_brand(brand: &str) -> bool {
    (1..=16).contains(&brand.chars().count()) && !brand.contains(['/', '{', '}', ':', '$'])
}

// ---------------------------------------------------------------------------
// Verify v2

/// Vonage Verify v2: JSON, Basic auth, problem+json errors.
#[derive(Clone)]
pub struct VonageVerify {
    shared: Shared,
}

/// A problem document as Vonage writes it, plus `extra` fields.
pub fn problem(status: u16, title: &str, detail: &str, extra: Value) -> Reply {
    let mut body = json!({
        "type": format!("https://developer.vonage.com/api-errors#{}", title.to_lowercase().replace(' ', "-")),
        "title": title,
        "detail": detail,
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Reply::problem(status, body)
}

/// A 422 naming the parameter that was wrong.
fn invalid(name: &str, reason: &str) -> Reply {
    problem(
        422,
        "Invalid params",
        "The value of one or more parameters is invalid",
        json!({ "invalid_parameters": [{ "name": name, "reason": reason }] }),
    )
}

fn not_found(request_id: &str) -> Reply {
    problem(
        404,
        "Not Found",
        &format!("Request '{request_id}' was not found or it has been verified already."),
        json!({}),
    )
}

impl std::ops::Deref for VonageVerify {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl std::ops::Deref for VonageLegacyVerify {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl VonageVerify {
    pub async fn start() -> VonageVerify {
        let shared = Shared::serve("vonage", handle_v2).await;
        VonageVerify { shared }
    }

    /// Makes every start answer `reply`.
    pub fn fail_starts(&self, reply: Reply) {
        self.shared.ledger().start_failure = Some(reply);
    }

    /// Makes the next check answer `reply`.
    pub fn fail_next_check(&self, reply: Reply) {
        self.shared.ledger().check_failure = Some(reply);
    }
}

fn handle_v2(ledger: &Mutex<Ledger>, request: &Recorded) -> Reply {
    if request.basic_auth().as_deref() != Some(&format!("{API_KEY}:{API_SECRET}")) {
        return problem(
            401,
            "Unauthorized",
            "You did not provide correct credentials.",
            json!({}),
        );
    }
    let Some(tail) = request.path.strip_prefix("/v2/verify") else {
        return problem(404, "Not Found", "No such resource.", json!({}));
    };
    let segments: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
    let mut ledger = ledger.lock().unwrap();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", []) => v2_start(&mut ledger, request),
        ("POST", [request_id]) => v2_check(&mut ledger, request, request_id),
        ("DELETE", [request_id]) => match ledger.get(request_id) {
            Some(v) if v.status == Status::Active => {
                v.status = Status::Cancelled;
                Reply::empty(204)
            }
            _ => not_found(request_id),
        },
        ("POST", [request_id, "next_workflow"]) => match ledger.get(request_id) {
            Some(v) if v.status == Status::Active => {
                if Ledger::next_step(v) {
                    Reply::json(200, json!({}))
                } else {
                    problem(
                        409,
                        "Conflict",
                        "There are no more events left to trigger.",
                        json!({}),
                    )
                }
            }
            _ => not_found(request_id),
        },
        _ => problem(405, "Method Not Allowed", "Not allowed here.", json!({})),
    }
}

/// The JSON object of a request, or the 422 Vonage answers to anything else.
fn json_object(request: &Recorded) -> Result<Map<String, Value>, Reply> {
    if request.header("content-type") != Some("application/json") {
        return Err(invalid("body", "expected application/json"));
    }
    match request.json() {
        Value::Object(object) => Ok(object),
        _ => Err(invalid("body", "expected a JSON object")),
    }
}

/// `object`'s keys are exactly `expected`, or the 422 naming the first odd one.
fn exact_keys(object: &Map<String, Value>, expected: &[&str]) -> Result<(), Reply> {
    let got: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = expected.iter().copied().collect();
    if let Some(extra) = got.difference(&want).next() {
        return Err(invalid(extra, "unknown parameter"));
    }
    if let Some(missing) = want.difference(&got).next() {
        return Err(invalid(missing, "missing"));
    }
    Ok(())
}

fn in_range(value: &Value, low: u64, high: u64) -> Option<u64> {
    value.as_u64().filter(|n| (low..=high).contains(n))
}

fn v2_start(ledger: &mut Ledger, request: &Recorded) -> Reply {
    let body = match json_object(request).and_then(|body| {
        exact_keys(
            &body,
            &[
                "brand",
                "code_length",
                "channel_timeout",
                "locale",
                "workflow",
            ],
        )
        .map(|()| body)
    }) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if !body["brand"].as_str().is_some_and(valid_brand) {
        return invalid("brand", "1 to 16 characters, none of / { } : $");
    }
    let Some(code_length) = in_range(&body["code_length"], 4, 10) else {
        return invalid("code_length", "4 to 10");
    };
    if in_range(&body["channel_timeout"], 15, 900).is_none() {
        return invalid("channel_timeout", "15 to 900");
    }
    if !body["locale"].is_string() {
        return invalid("locale", "a string");
    }
    let steps = match body["workflow"].as_array() {
        Some(steps) if (1..=3).contains(&steps.len()) => steps,
        _ => return invalid("workflow", "1 to 3 steps"),
    };
    let mut channels = Vec::new();
    let mut to = None;
    for step in steps {
        let Some(step) = step.as_object() else {
            return invalid("workflow", "a step is an object");
        };
        if let Err(reply) = exact_keys(step, &["channel", "to"]) {
            return reply;
        }
        match step["channel"].as_str() {
            Some(channel @ ("sms" | "voice")) => channels.push(channel.to_owned()),
            _ => return invalid("channel", "sms or voice"),
        }
        match step["to"].as_str() {
            Some(number) if is_number(number) => to = Some(number.to_owned()),
            _ => return invalid("to", "Invalid phone number: E.164 without a leading +"),
        }
    }
    let Some(to) = to else {
        return invalid("to", "missing");
    };
    if let Some(failure) = ledger.start_failure.clone() {
        return failure;
    }
    if let Some(running) = ledger.active_to(&to) {
        return problem(
            409,
            "Conflict",
            "Concurrent verifications to the same number are not allowed.",
            json!({ "request_id": running.request_id }),
        );
    }
    ledger.next += 1;
    let id = format!("c11236f4-00bf-4b89-84ba-{:012x}", ledger.next);
    let request_id = ledger.create(&to, channels, code_length as usize, id);
    Reply::json(202, json!({ "request_id": request_id }))
}

fn v2_check(ledger: &mut Ledger, request: &Recorded, request_id: &str) -> Reply {
    let body =
        match json_object(request).and_then(|body| exact_keys(&body, &["code"]).map(|()| body)) {
            Ok(body) => body,
            Err(reply) => return reply,
        };
    let Some(code) = body["code"].as_str() else {
        return invalid("code", "a string");
    };
    if let Some(failure) = ledger.check_failure.take() {
        return failure;
    }
    let Some(verification) = ledger.active(request_id) else {
        return not_found(request_id);
    };
    if verification.code == code {
        verification.status = Status::Completed;
        return Reply::json(
            200,
            json!({ "request_id": request_id, "status": "completed" }),
        );
    }
    verification.wrong += 1;
    if verification.wrong >= MAX_CHECKS {
        verification.status = Status::Terminated;
        return problem(
            410,
            "Invalid Code",
            "An incorrect code has been provided too many times. Workflow terminated.",
            json!({}),
        );
    }
    problem(
        400,
        "Invalid Code",
        "The code you provided does not match the expected value.",
        json!({}),
    )
}

// ---------------------------------------------------------------------------
// Verify v1 (legacy)

/// Vonage Verify v1: form-encoded with the credentials in the body, HTTP 200
/// to everything, the outcome in a string `status`.
#[derive(Clone)]
pub struct VonageLegacyVerify {
    shared: Shared,
}

/// A v1 answer with a non-zero status.
pub fn legacy_error(status: &str, error_text: &str) -> Reply {
    Reply::json(
        200,
        json!({ "request_id": "", "status": status, "error_text": error_text }),
    )
}

/// The channels of v1's numbered workflows.
fn legacy_workflow(id: &str) -> Option<Vec<String>> {
    let steps: &[&str] = match id {
        "1" => &["sms", "voice", "voice"],
        "2" => &["sms", "sms", "voice"],
        "3" => &["voice", "voice"],
        "4" => &["sms", "sms"],
        "5" => &["sms", "voice"],
        "6" => &["sms"],
        "7" => &["voice"],
        _ => return None,
    };
    Some(steps.iter().map(|s| (*s).to_owned()).collect())
}

impl VonageLegacyVerify {
    pub async fn start() -> VonageLegacyVerify {
        let shared = Shared::serve("vonage_legacy", handle_v1).await;
        VonageLegacyVerify { shared }
    }

    /// Makes every start answer `status` with `error_text` (in an HTTP 200).
    pub fn fail_starts(&self, status: &str, error_text: &str) {
        self.shared.ledger().start_failure = Some(legacy_error(status, error_text));
    }

    /// Makes the next check answer `status` with `error_text`.
    pub fn fail_next_check(&self, status: &str, error_text: &str) {
        self.shared.ledger().check_failure = Some(legacy_error(status, error_text));
    }
}

/// The form's fields are exactly the credentials plus `expected`, or the
/// status v1 answers: 2 for a missing one, 3 for one it does not take.
fn legacy_fields(request: &Recorded, expected: &[&str]) -> Result<(), Reply> {
    let got: BTreeSet<String> = request.form_keys().into_iter().collect();
    let mut want: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    want.insert("api_key".into());
    want.insert("api_secret".into());
    if let Some(missing) = want.difference(&got).next() {
        return Err(legacy_error(
            "2",
            &format!("Your request is incomplete and missing the mandatory parameter `{missing}`"),
        ));
    }
    if let Some(extra) = got.difference(&want).next() {
        return Err(legacy_error(
            "3",
            &format!("Invalid value for param: {extra}"),
        ));
    }
    Ok(())
}

fn handle_v1(ledger: &Mutex<Ledger>, request: &Recorded) -> Reply {
    let fields: &[&str] = match request.path.as_str() {
        "/verify/json" => &[
            "number",
            "brand",
            "code_length",
            "workflow_id",
            "pin_expiry",
            "next_event_wait",
        ],
        "/verify/check/json" => &["request_id", "code"],
        "/verify/control/json" => &["request_id", "cmd"],
        _ => return Reply::empty(404),
    };
    if request.method != "POST"
        || request.header("content-type") != Some("application/x-www-form-urlencoded")
        || request.header("authorization").is_some()
    {
        return legacy_error(
            "3",
            "Invalid value for param: expected a form POST with the credentials in it",
        );
    }
    if let Err(reply) = legacy_fields(request, fields) {
        return reply;
    }
    let form = request.form();
    if form["api_key"] != API_KEY || form["api_secret"] != API_SECRET {
        return legacy_error("4", "Bad Credentials");
    }
    let mut ledger = ledger.lock().unwrap();
    match request.path.as_str() {
        "/verify/json" => v1_start(&mut ledger, &form),
        "/verify/check/json" => v1_check(&mut ledger, &form["request_id"], &form["code"]),
        _ => v1_control(&mut ledger, &form["request_id"], &form["cmd"]),
    }
}

fn v1_start(ledger: &mut Ledger, form: &std::collections::HashMap<String, String>) -> Reply {
    let bad = |param: &str| legacy_error("3", &format!("Invalid value for param: {param}"));
    let number = &form["number"];
    if !is_number(number) {
        return bad("number");
    }
    if !valid_brand(&form["brand"]) {
        return bad("brand");
    }
    let code_length: usize = match form["code_length"].as_str() {
        "4" => 4,
        "6" => 6,
        _ => return bad("code_length"),
    };
    let Some(steps) = legacy_workflow(&form["workflow_id"]) else {
        return bad("workflow_id");
    };
    let pin_expiry = form["pin_expiry"]
        .parse::<u64>()
        .ok()
        .filter(|n| (60..=3600).contains(n));
    let next_event_wait = form["next_event_wait"]
        .parse::<u64>()
        .ok()
        .filter(|n| (60..=900).contains(n));
    let (Some(pin_expiry), Some(next_event_wait)) = (pin_expiry, next_event_wait) else {
        return bad("pin_expiry");
    };
    // Documented: with both given, pin_expiry is an exact multiple of next_event_wait.
    if pin_expiry % next_event_wait != 0 {
        return bad("pin_expiry");
    }
    if let Some(failure) = ledger.start_failure.clone() {
        return failure;
    }
    if let Some(running) = ledger.active_to(number) {
        return Reply::json(
            200,
            json!({ "request_id": running.request_id, "status": "10",
                    "error_text": "Concurrent verifications to the same number are not allowed" }),
        );
    }
    ledger.next += 1;
    let id = format!("abcdef0123456789abcdef{:010x}", ledger.next);
    let request_id = ledger.create(number, steps, code_length, id);
    Reply::json(200, json!({ "request_id": request_id, "status": "0" }))
}

fn v1_check(ledger: &mut Ledger, request_id: &str, code: &str) -> Reply {
    if let Some(failure) = ledger.check_failure.take() {
        return failure;
    }
    let Some(verification) = ledger.active(request_id) else {
        return Reply::json(
            200,
            json!({ "request_id": request_id, "status": "6",
                    "error_text": format!("The Vonage platform could not find the request '{request_id}'") }),
        );
    };
    if verification.code == code {
        verification.status = Status::Completed;
        return Reply::json(
            200,
            json!({ "request_id": request_id, "event_id": "0A00000012345678", "status": "0",
                    "price": "0.10000000", "currency": "EUR", "estimated_price_messages_sent": "0.03330000" }),
        );
    }
    verification.wrong += 1;
    if verification.wrong >= MAX_CHECKS {
        verification.status = Status::Terminated;
        return Reply::json(
            200,
            json!({ "request_id": request_id, "status": "17",
                    "error_text": "The wrong code was provided too many times. Workflow terminated" }),
        );
    }
    Reply::json(
        200,
        json!({ "request_id": request_id, "status": "16",
                "error_text": "The code provided does not match the expected value" }),
    )
}

fn v1_control(ledger: &mut Ledger, request_id: &str, cmd: &str) -> Reply {
    let Some(verification) = ledger.active(request_id) else {
        return legacy_error(
            "6",
            &format!("The requestId '{request_id}' does not exist or its no longer active."),
        );
    };
    match cmd {
        "cancel" => {
            verification.status = Status::Cancelled;
            Reply::json(200, json!({ "status": "0", "command": "cancel" }))
        }
        "trigger_next_event" => {
            if Ledger::next_step(verification) {
                Reply::json(
                    200,
                    json!({ "status": "0", "command": "trigger_next_event" }),
                )
            } else {
                legacy_error("19", "No more Events are left to execute for the request")
            }
        }
        _ => legacy_error("3", "Invalid value for param: cmd"),
    }
}
