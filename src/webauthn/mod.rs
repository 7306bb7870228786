//! Passkeys and security keys (WebAuthn) as a second factor, and as a
//! sign-in of their own when passwordless is on: the relying party built
//! from its settings, each user's named credentials, and the ceremonies'
//! begin and finish steps on `webauthn-rs`.
//!
//! Credentials live in the store (`stored`): shared by every replica with
//! Redis, kept across restarts by the file store. The sign counter is
//! advanced there by compare-and-set, so a cloned authenticator is caught
//! even when the clone and the original sign in on different replicas.

pub mod stored;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// `webauthn:` as validated.
#[derive(Debug, Clone)]
pub struct WebauthnSettings {
    /// The domain credentials are bound to (the site's host or a parent).
    pub rp_id: String,
    /// What authenticators show as the site's name.
    pub rp_name: String,
    /// Every origin (`scheme://host[:port]`) the pages are served from.
    pub origins: Vec<Url>,
    /// A discoverable passkey with user verification signs in alone.
    pub passwordless: bool,
}

/// One credential of a user, as stored.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credential {
    /// What the user called it ("YubiKey", "laptop").
    pub name: String,
    pub added_at: u64,
    pub last_used: Option<u64>,
    /// The public key, counter and flags `webauthn-rs` keeps.
    pub passkey: Passkey,
}

impl Credential {
    /// The credential id, base64url, as lists and removal name it.
    pub fn id(&self) -> String {
        base64url(self.passkey.cred_id().as_ref())
    }
}

/// Base64url without padding, as WebAuthn writes ids.
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Why a ceremony did not finish; the text is for the log, never a page.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no ceremony in progress (expired, finished already, or replayed)")]
    NoCeremony,
    #[error("the credential could not be read")]
    Unreadable,
    #[error("not a credential of this user")]
    UnknownCredential,
    #[error("the signature counter went backwards: a cloned authenticator?")]
    CounterRegressed,
    #[error("this credential is registered already")]
    Duplicate,
    #[error("made for another origin than webauthn.origins lists")]
    WrongOrigin,
    #[error("signed another challenge (replayed?)")]
    WrongChallenge,
    #[error("{0}")]
    Rejected(String),
}

/// The relying party: checks origins, challenges, signatures and flags.
pub struct RelyingParty {
    webauthn: Webauthn,
    pub settings: WebauthnSettings,
    /// Keys the stable user handles given to authenticators.
    handle_key: [u8; 32],
}

impl RelyingParty {
    /// Built at start-up; the error names what is wrong with the settings.
    pub fn new(settings: WebauthnSettings, handle_key: [u8; 32]) -> Result<RelyingParty, String> {
        let first = settings
            .origins
            .first()
            .ok_or_else(|| "webauthn.origins: at least one origin is needed".to_owned())?;
        let mut builder = WebauthnBuilder::new(&settings.rp_id, first)
            .map_err(|err| format!("webauthn: {err}"))?
            .rp_name(&settings.rp_name);
        for origin in &settings.origins[1..] {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder.build().map_err(|err| format!("webauthn: {err}"))?;
        Ok(RelyingParty {
            webauthn,
            settings,
            handle_key,
        })
    }

    /// The user handle authenticators keep for `user`: the same on every
    /// replica and across restarts, and no name in it.
    pub fn user_handle(&self, user: &str) -> Uuid {
        let mac = crate::crypto::hmac(&self.handle_key, crate::limits::fold(user).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&mac[..16]);
        Uuid::from_bytes(bytes)
    }

    /// Options for a new credential of `user`, who has `existing` ones
    /// (the authenticator refuses to make a second one beside them).
    pub fn begin_registration(
        &self,
        user: &str,
        display_name: &str,
        existing: &[Credential],
    ) -> Result<(serde_json::Value, PasskeyRegistration), Refusal> {
        let exclude = existing
            .iter()
            .map(|credential| credential.passkey.cred_id().clone())
            .collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(self.user_handle(user), user, display_name, Some(exclude))
            .map_err(|err| Refusal::Rejected(err.to_string()))?;
        let mut options =
            serde_json::to_value(options).map_err(|err| Refusal::Rejected(err.to_string()))?;
        // Ask for a discoverable credential where passwordless sign-in is
        // on (preferred, not required: a plain security key still works as
        // a second factor).
        if self.settings.passwordless {
            if let Some(selection) = options
                .pointer_mut("/publicKey/authenticatorSelection")
                .and_then(serde_json::Value::as_object_mut)
            {
                selection.insert("residentKey".into(), "preferred".into());
            }
        }
        Ok((options, state))
    }

    pub fn finish_registration(
        &self,
        response: &str,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, Refusal> {
        let response: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(|_| Refusal::Unreadable)?;
        self.webauthn
            .finish_passkey_registration(&response, state)
            .map_err(refusal)
    }

    /// A challenge any of `credentials` can answer.
    pub fn begin_authentication(
        &self,
        credentials: &[Credential],
    ) -> Result<(RequestChallengeResponse, PasskeyAuthentication), Refusal> {
        let passkeys: Vec<Passkey> = credentials.iter().map(|c| c.passkey.clone()).collect();
        self.webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|err| Refusal::Rejected(err.to_string()))
    }

    pub fn finish_authentication(
        &self,
        response: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<AuthenticationResult, Refusal> {
        self.webauthn
            .finish_passkey_authentication(response, state)
            .map_err(refusal)
    }

    /// A challenge for a discoverable passkey, user not known yet.
    pub fn begin_discoverable(
        &self,
    ) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), Refusal> {
        let (mut options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|err| Refusal::Rejected(err.to_string()))?;
        // A button press, not autofill: the page asks when the person asks.
        options.mediation = None;
        Ok((options, state))
    }

    /// The user handle a discoverable assertion names.
    pub fn identify(&self, response: &PublicKeyCredential) -> Result<Uuid, Refusal> {
        self.webauthn
            .identify_discoverable_authentication(response)
            .map(|(handle, _)| handle)
            .map_err(|_| Refusal::UnknownCredential)
    }

    pub fn finish_discoverable(
        &self,
        response: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        credentials: &[Credential],
    ) -> Result<AuthenticationResult, Refusal> {
        let keys: Vec<DiscoverableKey> = credentials
            .iter()
            .map(|credential| DiscoverableKey::from(&credential.passkey))
            .collect();
        self.webauthn
            .finish_discoverable_authentication(response, state, &keys)
            .map_err(refusal)
    }
}

/// The refusal a `webauthn-rs` error stands for.
fn refusal(err: webauthn_rs::prelude::WebauthnError) -> Refusal {
    use webauthn_rs::prelude::WebauthnError as E;
    match err {
        E::CredentialNotFound => Refusal::UnknownCredential,
        E::InvalidRPOrigin => Refusal::WrongOrigin,
        E::MismatchedChallenge => Refusal::WrongChallenge,
        E::CredentialPossibleCompromise => Refusal::CounterRegressed,
        other => Refusal::Rejected(other.to_string()),
    }
}

/// Reads an assertion as the browser posted it.
pub fn parse_assertion(response: &str) -> Result<PublicKeyCredential, Refusal> {
    serde_json::from_str(response).map_err(|_| Refusal::Unreadable)
}

/// Applies a verified assertion to the stored credentials: the counter
/// must move forward wherever the authenticator keeps one (a clone shows
/// as a counter that did not). The index of the credential used.
pub fn record_use(
    credentials: &mut [Credential],
    result: &AuthenticationResult,
    now: u64,
) -> Result<usize, Refusal> {
    let index = credentials
        .iter()
        .position(|credential| credential.passkey.cred_id() == result.cred_id())
        .ok_or(Refusal::UnknownCredential)?;
    let credential = &mut credentials[index];
    let stored = stored_counter(&credential.passkey);
    if (result.counter() != 0 || stored != 0) && result.counter() <= stored {
        return Err(Refusal::CounterRegressed);
    }
    credential.passkey.update_credential(result);
    credential.last_used = Some(now);
    Ok(index)
}

/// The counter a passkey was last seen with (it is not public in the
/// crate's API, but its serialised form carries it).
fn stored_counter(passkey: &Passkey) -> u32 {
    serde_json::to_value(passkey)
        .ok()
        .and_then(|value| value.get("cred")?.get("counter")?.as_u64())
        .map_or(0, |counter| counter as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored credential (from webauthn-rs's own tests), counter 2.
    const CREDENTIAL: &str = r#"{"cred_id":"uZcVDBVS68E_MtAgeQpElJxldF_6cY9sSvbWqx_qRh8wiu42lyRBRmh5yFeD_r9k130dMbFHBHI9RTFgdJQIzQ","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"SECP256R1","x":[194,126,127,109,252,23,131,21,252,6,223,99,44,254,140,27,230,17,94,5,133,28,104,41,144,69,171,149,161,26,200,243],"y":[143,123,183,156,24,178,21,248,117,159,162,69,171,52,188,252,26,59,6,47,103,92,19,58,117,103,249,0,219,8,95,196]}}},"counter":2,"user_verified":false,"backup_eligible":false,"backup_state":false,"registration_policy":"preferred","extensions":{"cred_protect":"NotRequested","hmac_create_secret":"NotRequested"},"attestation":{"data":{"Basic":["MIICvTCCAaWgAwIBAgIEK_F8eDANBgkqhkiG9w0BAQsFADAuMSwwKgYDVQQDEyNZdWJpY28gVTJGIFJvb3QgQ0EgU2VyaWFsIDQ1NzIwMDYzMTAgFw0xNDA4MDEwMDAwMDBaGA8yMDUwMDkwNDAwMDAwMFowbjELMAkGA1UEBhMCU0UxEjAQBgNVBAoMCVl1YmljbyBBQjEiMCAGA1UECwwZQXV0aGVudGljYXRvciBBdHRlc3RhdGlvbjEnMCUGA1UEAwweWXViaWNvIFUyRiBFRSBTZXJpYWwgNzM3MjQ2MzI4MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdMLHhCPIcS6bSPJZWGb8cECuTN8H13fVha8Ek5nt-pI8vrSflxb59Vp4bDQlH8jzXj3oW1ZwUDjHC6EnGWB5i6NsMGowIgYJKwYBBAGCxAoCBBUxLjMuNi4xLjQuMS40MTQ4Mi4xLjcwEwYLKwYBBAGC5RwCAQEEBAMCAiQwIQYLKwYBBAGC5RwBAQQEEgQQxe9V_62aS5-1gK3rr-Am0DAMBgNVHRMBAf8EAjAAMA0GCSqGSIb3DQEBCwUAA4IBAQCLbpN2nXhNbunZANJxAn_Cd-S4JuZsObnUiLnLLS0FPWa01TY8F7oJ8bE-aFa4kTe6NQQfi8-yiZrQ8N-JL4f7gNdQPSrH-r3iFd4SvroDe1jaJO4J9LeiFjmRdcVa-5cqNF4G1fPCofvw9W4lKnObuPakr0x_icdVq1MXhYdUtQk6Zr5mBnc4FhN9qi7DXqLHD5G7ZFUmGwfIcD2-0m1f1mwQS8yRD5-_aDCf3vutwddoi3crtivzyromwbKklR4qHunJ75LGZLZA8pJ_mXnUQ6TTsgRqPvPXgQPbSyGMf2z_DIPbQqCD_Bmc4dj9o6LozheBdDtcZCAjSPTAd_ui"]},"metadata":"None"},"attestation_format":"Packed"}"#;

    fn credential() -> Credential {
        let passkey = format!("{{\"cred\":{CREDENTIAL}}}");
        Credential {
            name: "key".into(),
            added_at: 0,
            last_used: None,
            passkey: serde_json::from_str(&passkey).expect("a passkey"),
        }
    }

    fn used_with(counter: u32) -> AuthenticationResult {
        let id = "uZcVDBVS68E_MtAgeQpElJxldF_6cY9sSvbWqx_qRh8wiu42lyRBRmh5yFeD_r9k130dMbFHBHI9RTFgdJQIzQ";
        serde_json::from_value(serde_json::json!({
            "cred_id": id, "needs_update": true, "user_verified": true,
            "backup_state": false, "backup_eligible": false, "counter": counter,
            "extensions": {}
        }))
        .expect("a result")
    }

    #[test]
    fn a_counter_that_moves_forward_is_recorded() {
        let mut list = vec![credential()];
        assert_eq!(record_use(&mut list, &used_with(3), 100).ok(), Some(0));
        assert_eq!(stored_counter(&list[0].passkey), 3);
        assert_eq!(list[0].last_used, Some(100));
    }

    #[test]
    fn a_counter_that_does_not_move_forward_is_a_clone() {
        let mut list = vec![credential()];
        for counter in [2, 1, 0] {
            let refused = record_use(&mut list, &used_with(counter), 100);
            assert!(
                matches!(refused, Err(Refusal::CounterRegressed)),
                "{counter}"
            );
        }
        assert_eq!(stored_counter(&list[0].passkey), 2, "nothing recorded");
        assert_eq!(list[0].last_used, None);
    }
}
