//! The `duo` provider: Duo Auth API push (`/auth/v2/auth` with `async=1`,
//! then `/auth/v2/auth_status`), every request signed with the
//! integration's secret key.
//!
//! Duo's Auth API push carries no number to match; Duo shows the request
//! on the enrolled device and reports allow or deny.

use super::http::{by_status, client, scrub, send, Endpoint};
use super::push::{PushMessage, PushSender, PushStarted, Pushing, RemoteStatus};
use super::registry::{one_role, raw_block, Block, Context, ProviderConfig};
use super::Providers;
use super::{BoxFuture, ProviderError};
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha512;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `duo`: Duo Auth API push.
#[derive(Debug, Clone)]
pub struct DuoSettings {
    pub endpoint: Endpoint,
    pub integration_key: String,
    pub secret_key: Secret,
}

pub struct Duo {
    settings: DuoSettings,
    client: reqwest::Client,
    /// `auth_status` long-polls: it may hold the answer until the person acts.
    status_client: reqwest::Client,
}

/// `{"stat": "OK", "response": {...}}` or `{"stat": "FAIL", "code", "message"}`.
#[derive(Deserialize)]
struct Envelope<T> {
    stat: String,
    response: Option<T>,
    code: Option<u64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct AuthResponse {
    txid: Option<String>,
    result: Option<String>,
}

impl Duo {
    pub fn new(settings: DuoSettings) -> Duo {
        let client = settings.endpoint.client();
        let status_client = self::client(settings.endpoint.timeout + Duration::from_secs(60));
        Duo {
            settings,
            client,
            status_client,
        }
    }

    fn host(&self) -> String {
        let url = &self.settings.endpoint.base_url;
        match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => String::new(),
        }
    }

    /// A signed request for `method` `path` with `params`.
    fn request(
        &self,
        client: &reqwest::Client,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let date = rfc2822(SystemTime::now());
        let host = self.host();
        let signed = Signed {
            date: &date,
            method,
            host: &host,
            path,
            params,
        };
        let authorization = signed.sign(
            &self.settings.integration_key,
            self.settings.secret_key.expose(),
        );
        let mut url = self.settings.endpoint.base_url.clone();
        url.set_path(path);
        let body = canon_params(params);
        let request = if method == "GET" {
            url.set_query(Some(&body));
            client.get(url)
        } else {
            client
                .post(url)
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
        };
        request
            .header("Date", date)
            .header(http::header::AUTHORIZATION, authorization)
    }
}

/// A Duo answer's `response`, or the error it stands for.
fn read<T: for<'de> Deserialize<'de>>(answer: &super::http::Answer) -> Result<T, ProviderError> {
    let envelope: Option<Envelope<T>> = answer.json();
    match envelope {
        Some(envelope) if answer.is_success() && envelope.stat == "OK" => envelope
            .response
            .ok_or_else(|| ProviderError::Unavailable("Duo answered without a response".into())),
        Some(envelope) => {
            let detail = format!(
                "{} {}",
                envelope.code.unwrap_or_default(),
                scrub(&envelope.message.unwrap_or_default())
            );
            Err(by_status(answer, detail))
        }
        None => Err(by_status(answer, "not a Duo answer")),
    }
}

impl PushSender for Duo {
    fn name(&self) -> &'static str {
        "duo"
    }

    fn send<'a>(&'a self, push: &'a PushMessage) -> Pushing<'a> {
        Box::pin(async move {
            let pushinfo = format!("from={}", super::super::totp::percent(&push.client_ip));
            let params = [
                ("username", push.user.as_str()),
                ("factor", "push"),
                ("device", "auto"),
                ("async", "1"),
                ("type", push.title.as_str()),
                ("pushinfo", pushinfo.as_str()),
            ];
            let answer = send(self.request(&self.client, "POST", "/auth/v2/auth", &params)).await?;
            let response: AuthResponse = read(&answer)?;
            match response.txid {
                Some(txid) if !txid.is_empty() => Ok(PushStarted::Remote { txid }),
                _ => Err(ProviderError::Unavailable("Duo gave no txid".into())),
            }
        })
    }

    fn status<'a>(&'a self, txid: &'a str) -> BoxFuture<'a, Result<RemoteStatus, ProviderError>> {
        Box::pin(async move {
            let params = [("txid", txid)];
            let request = self.request(&self.status_client, "GET", "/auth/v2/auth_status", &params);
            let answer = send(request).await?;
            let response: AuthResponse = read(&answer)?;
            Ok(match response.result.as_deref() {
                Some("allow") => RemoteStatus::Allow,
                Some("deny") => RemoteStatus::Deny,
                _ => RemoteStatus::Waiting,
            })
        })
    }
}

/// What a Duo request signature covers (canonicalization v2).
pub struct Signed<'a> {
    pub date: &'a str,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub params: &'a [(&'a str, &'a str)],
}

impl Signed<'_> {
    /// The text Duo signs: `date\nMETHOD\nhost\npath\nparams`.
    pub fn canonical(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.date,
            self.method.to_ascii_uppercase(),
            self.host.to_ascii_lowercase(),
            self.path,
            canon_params(self.params)
        )
    }

    /// The signature: HMAC-SHA512 of [`Signed::canonical`], hex, as
    /// `Basic base64(ikey:sig)`.
    pub fn sign(&self, ikey: &str, skey: &str) -> String {
        basic(ikey, &hex_mac::<Hmac<Sha512>>(skey, &self.canonical()))
    }

    /// As [`Signed::sign`] with HMAC-SHA1, which older Duo integrations use.
    pub fn sign_sha1(&self, ikey: &str, skey: &str) -> String {
        basic(ikey, &hex_mac::<Hmac<sha1::Sha1>>(skey, &self.canonical()))
    }
}

fn hex_mac<M: Mac + hmac::digest::KeyInit>(key: &str, text: &str) -> String {
    let mut mac = <M as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(text.as_bytes());
    crate::crypto::hex(&mac.finalize().into_bytes())
}

fn basic(ikey: &str, sig: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ikey}:{sig}"))
    )
}

/// Parameters percent-encoded (all but `A-Za-z0-9-._~`), sorted, joined by `&`.
pub fn canon_params(params: &[(&str, &str)]) -> String {
    use super::super::totp::percent;
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(key, value)| (percent(key), percent(value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `Fri, 07 Dec 2012 17:18:00 -0000`, as Duo wants the `Date` header.
pub fn rfc2822(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = crate::clock::civil_from_days(days as i64);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} -0000",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

raw_block!(
    /// `providers.duo` as written.
    RawDuo: base_url, integration_key, secret_key, timeout,
);

impl ProviderConfig for DuoSettings {
    type Raw = RawDuo;

    fn read(raw: Self::Raw, block: &mut Block<'_>, _context: &Context) -> Option<Self> {
        Some(DuoSettings {
            endpoint: block.endpoint(&raw.base_url, &raw.timeout, None)?,
            integration_key: block.required("integration_key", &raw.integration_key)?,
            secret_key: block.secret("secret_key", &raw.secret_key)?,
        })
    }

    one_role!(add_push, Duo);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request of Duo's published signature vectors.
    fn vector<'a>(params: &'a [(&'a str, &'a str)]) -> Signed<'a> {
        Signed {
            date: DATE,
            method: "PoSt",
            host: "foO.BAr52.cOm",
            path: "/Foo/BaR2/qux",
            params,
        }
    }

    /// duo_client_python's fuzzing parameters (tests/test_client_sign.py).
    fn fuzz_params() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "\u{469a}\u{287b}\u{35d0}\u{8ef3}\u{6727}\u{502a}\u{0810}\u{d091}\u{c8}\u{c170}",
                "\u{0f45}\u{1a76}\u{341a}\u{654c}\u{c23f}\u{9b09}\u{abe2}\u{8343}\u{1b27}\u{60d0}",
            ),
            (
                "\u{7449}\u{7e4b}\u{ccfb}\u{59ff}\u{fe5f}\u{83b7}\u{adcc}\u{900c}\u{cfd1}\u{7813}",
                "\u{8db7}\u{5022}\u{92d3}\u{42ef}\u{207d}\u{8730}\u{acfe}\u{5617}\u{0946}\u{4e30}",
            ),
            (
                "\u{7470}\u{9314}\u{901c}\u{9eae}\u{40d8}\u{4201}\u{82d8}\u{8c70}\u{1d31}\u{a042}",
                "\u{17d9}\u{0ba8}\u{9358}\u{aadf}\u{a42a}\u{48be}\u{fb96}\u{6fe9}\u{b7ff}\u{32f3}",
            ),
            (
                "\u{c2c5}\u{2c1d}\u{2620}\u{3617}\u{96b3}F\u{8605}\u{20e8}\u{ac21}\u{5934}",
                "\u{fba9}\u{41aa}\u{bd83}\u{840b}\u{2615}\u{3e6e}\u{652d}\u{a8b5}\u{d56b}U",
            ),
        ]
    }

    const DATE: &str = "Fri, 07 Dec 2012 17:18:00 -0000";
    const SKEY: &str = "gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT";

    fn expected(sig: &str) -> String {
        basic("test_ikey", sig)
    }

    #[test]
    fn params_are_canonicalized_as_duo_does() {
        assert_eq!(
            canon_params(&[("realname", "First Last"), ("username", "root")]),
            "realname=First%20Last&username=root"
        );
        assert_eq!(canon_params(&[]), "");
        assert_eq!(
            canon_params(&[
                ("digits", "0123456789"),
                ("letters", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
                ("punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
                ("whitespace", "\t\n\x0b\x0c\r "),
            ]),
            "digits=0123456789&letters=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ&punctuation=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~&whitespace=%09%0A%0B%0C%0D%20"
        );
    }

    #[test]
    fn the_canonical_text_matches_duos_v2_vector() {
        let params = fuzz_params();
        let canon = vector(&params).canonical();
        assert!(canon.starts_with("Fri, 07 Dec 2012 17:18:00 -0000\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n%E4%9A%9A%E2%A1%BB%E3%97%90%E8%BB%B3%E6%9C%A7%E5%80%AA%E0%A0%90%ED%82%91%C3%88%EC%85%B0=%E0%BD%85"), "{canon}");
        assert!(canon.ends_with("&%EC%8B%85%E2%B0%9D%E2%98%A0%E3%98%97%E9%9A%B3F%E8%98%85%E2%83%A8%EA%B0%A1%E5%A4%B4=%EF%AE%A9%E4%86%AA%EB%B6%83%E8%90%8B%E2%98%95%E3%B9%AE%E6%94%AD%EA%A2%B5%ED%95%ABU"), "{canon}");
    }

    #[test]
    fn hmac_sha1_signature_matches_duos_published_vector() {
        let params = fuzz_params();
        let signed = vector(&params).sign_sha1("test_ikey", SKEY);
        assert_eq!(signed, expected("f01811cbbf9561623ab45b893096267fd46a5178"));
    }

    #[test]
    fn hmac_sha512_signature_matches_duos_published_vector() {
        let params = fuzz_params();
        let signed = vector(&params).sign("test_ikey", SKEY);
        assert_eq!(signed, expected("0508065035a03b2a1de2f453e629e791d180329e157f65df6b3e0f08299d4321e1c5c7a7c7ee6b9e5fc80d1fb6fbf3ad5eb7c44dd3b3985a02c37aca53ec3698"));
    }

    #[test]
    fn dates_are_written_as_rfc_2822_in_utc() {
        let time = UNIX_EPOCH + Duration::from_secs(1_354_900_680);
        assert_eq!(rfc2822(time), DATE);
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 -0000");
    }
}
