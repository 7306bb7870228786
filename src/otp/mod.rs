//! One-time codes and challenges: generation, hashing, checking.

pub mod providers;
pub mod push;
pub mod qr;
pub mod send;
mod settings;
mod stored;
pub mod totp;

use crate::crypto;
use rand::rngs::OsRng;
use rand::Rng;
pub use settings::{ChannelSettings, CodeSettings};

/// A way to reach the user with a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Channel {
    Sms,
    Voice,
    /// A notification with numbered actions; the person picks the number
    /// the sign-in page shows.
    Push,
    /// An authenticator app (RFC 6238).
    Totp,
    /// A passkey or security key (WebAuthn).
    Webauthn,
}

impl Channel {
    pub fn from_name(name: &str) -> Option<Channel> {
        match name {
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            "push" => Some(Channel::Push),
            "totp" => Some(Channel::Totp),
            "webauthn" => Some(Channel::Webauthn),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Push => "push",
            Channel::Totp => "totp",
            Channel::Webauthn => "webauthn",
        }
    }

    /// How the page names it: "a text message to ••0100".
    pub fn describe(self) -> &'static str {
        match self {
            Channel::Sms => "text message",
            Channel::Voice => "voice call",
            Channel::Push => "push notification",
            Channel::Totp => "authenticator app",
            Channel::Webauthn => "passkey",
        }
    }

    /// Whether codes on this channel go to the user's phone number.
    pub fn uses_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Voice)
    }
}

/// A fresh code of `length` decimal digits from the OS CSPRNG.
pub fn generate_code(length: u32) -> String {
    let length = length.clamp(1, 18) as usize;
    let mut rng = OsRng;
    (0..length)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// `+14155550100` → `••0100`: enough for the person, too little for a log reader.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("••{tail}")
}

/// One pending second-factor attempt, kept server-side; the browser only
/// holds the session it belongs to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    pub user: String,
    pub channel: Channel,
    /// The number the code went to.
    pub to: String,
    /// Which provider delivered it.
    pub provider: String,
    pub sent_at: u64,
    pub expires_at: u64,
    pub attempts_left: u32,
    pub proof: Proof,
    /// Set once the code was accepted, so a racing second use fails.
    used: bool,
    /// Which challenge this is: an attempt reserved on one never settles
    /// on the one that replaced it.
    #[serde(default)]
    id: String,
    /// Ended by a provider (too many attempts) or a refused push: no
    /// later answer, not even an approval, signs in.
    #[serde(default)]
    ended: bool,
}

/// An attempt taken on a challenge whose code is checked elsewhere (the
/// user's authenticator app, a Verify provider), before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    challenge: String,
}

/// How a challenge's code is checked.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Proof {
    /// doorman made the code; only its HMAC under a process key and this
    /// salt is kept, never the code.
    Hashed { code_hash: [u8; 32], salt: [u8; 16] },
    /// A Verify provider made the code and checks it.
    Remote { request_id: String },
    /// The user's authenticator app makes the code; doorman checks it
    /// against the user's secret.
    Totp,
    /// A push approval: doorman waits for an answer.
    Push(push::PushProof),
}

/// The verdict on a code or an approval: a provider's answer, and the
/// challenge's once it is applied (the attempts left are the challenge's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Wrong code; the person may try again.
    Wrong,
    /// The last allowed attempt failed, or the provider ended the
    /// verification: the challenge is over.
    Exhausted,
    /// Past its lifetime, already used, or unknown to the provider.
    Expired,
}

/// What creating a challenge needs besides the proof.
pub struct ChallengeSpec<'a> {
    pub user: &'a str,
    pub channel: Channel,
    pub to: &'a str,
    pub provider: &'static str,
    pub now: u64,
    pub lifetime_secs: u64,
    pub max_attempts: u32,
}

impl Challenge {
    /// A challenge for a code doorman generated and delivered.
    pub fn new(spec: ChallengeSpec<'_>, code: &str, key: &[u8; 32]) -> Challenge {
        let salt = crypto::random_bytes::<16>();
        let code_hash = hash_code(key, &salt, code);
        Challenge::with_proof(spec, Proof::Hashed { code_hash, salt })
    }

    /// A challenge whose code a Verify provider holds.
    pub fn remote(spec: ChallengeSpec<'_>, request_id: String) -> Challenge {
        Challenge::with_proof(spec, Proof::Remote { request_id })
    }

    /// A challenge answered from the user's authenticator app.
    pub fn totp(spec: ChallengeSpec<'_>) -> Challenge {
        Challenge::with_proof(spec, Proof::Totp)
    }

    /// A challenge answered by a push approval.
    pub fn push(spec: ChallengeSpec<'_>, proof: push::PushProof) -> Challenge {
        Challenge::with_proof(spec, Proof::Push(proof))
    }

    /// The push approval this challenge waits for, if it is one.
    pub fn push_proof(&self) -> Option<&push::PushProof> {
        match &self.proof {
            Proof::Push(proof) => Some(proof),
            _ => None,
        }
    }

    /// Applies an answer to a push; see [`push::PushProof::answer`].
    pub fn answer_push(&mut self, answer: push::Answer, now: u64) -> push::Answered {
        if !self.is_live(now) {
            return push::Answered::NotWaiting;
        }
        match &mut self.proof {
            Proof::Push(proof) => {
                let answered = proof.answer(answer);
                if matches!(answered, push::Answered::Refused { .. }) {
                    // A refused push ends the challenge.
                    self.end();
                }
                answered
            }
            _ => push::Answered::NotWaiting,
        }
    }

    /// Turns an approved push into a sign-in, once.
    pub fn complete_push(&mut self, now: u64) -> Option<Verdict> {
        let state = self.push_proof()?.state;
        match state {
            push::PushState::Approved if self.is_live(now) => {
                Some(self.record(Verdict::Accepted, now))
            }
            push::PushState::Waiting if self.is_live(now) => None,
            push::PushState::Denied => Some(Verdict::Exhausted),
            _ => Some(Verdict::Expired),
        }
    }

    /// Whether this challenge takes a typed code.
    pub fn takes_code(&self) -> bool {
        !matches!(self.proof, Proof::Push(_))
    }

    fn with_proof(spec: ChallengeSpec<'_>, proof: Proof) -> Challenge {
        Challenge {
            user: spec.user.to_owned(),
            channel: spec.channel,
            to: spec.to.to_owned(),
            provider: spec.provider.to_owned(),
            sent_at: spec.now,
            expires_at: spec.now + spec.lifetime_secs,
            attempts_left: spec.max_attempts,
            proof,
            used: false,
            id: crypto::random_hex(8),
            ended: false,
        }
    }

    pub fn is_live(&self, now: u64) -> bool {
        !self.used && !self.ended && now < self.expires_at && self.attempts_left > 0
    }

    /// Takes one of the attempts left, in the same step that checks the
    /// challenge is still open; the verdict instead when it is not. The
    /// attempt is counted now, before the code is checked, so attempts in
    /// flight together never exceed those allowed.
    pub fn reserve(&mut self, now: u64) -> Result<Attempt, Verdict> {
        if self.used || now >= self.expires_at {
            return Err(Verdict::Expired);
        }
        if self.ended || self.attempts_left == 0 {
            return Err(Verdict::Exhausted);
        }
        self.attempts_left -= 1;
        Ok(Attempt {
            challenge: self.id.clone(),
        })
    }

    /// Applies the outcome of a reserved attempt. An approval counts only
    /// if this challenge is still the one reserved on, unused, unexpired
    /// and not ended meanwhile.
    pub fn settle(&mut self, attempt: &Attempt, outcome: Verdict, now: u64) -> Verdict {
        if attempt.challenge != self.id {
            return Verdict::Expired;
        }
        match outcome {
            Verdict::Accepted if self.used || now >= self.expires_at => {
                self.used = true;
                Verdict::Expired
            }
            Verdict::Accepted if self.ended => Verdict::Exhausted,
            Verdict::Accepted => {
                self.used = true;
                Verdict::Accepted
            }
            Verdict::Expired => {
                self.used = true;
                Verdict::Expired
            }
            Verdict::Exhausted => {
                self.end();
                Verdict::Exhausted
            }
            Verdict::Wrong if self.ended || self.attempts_left == 0 => Verdict::Exhausted,
            Verdict::Wrong => Verdict::Wrong,
        }
    }

    /// Gives back a reserved attempt that was never checked.
    pub fn refund(&mut self, attempt: &Attempt) {
        if attempt.challenge == self.id && !self.used && !self.ended {
            self.attempts_left += 1;
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.attempts_left = 0;
    }

    /// The provider and its request id, when the provider checks this
    /// challenge's code.
    pub fn remote_request(&self) -> Option<(&str, &str)> {
        match &self.proof {
            Proof::Remote { request_id } => Some((&self.provider, request_id)),
            _ => None,
        }
    }

    /// Checks a doorman-made `code` in constant time and counts the attempt.
    pub fn verify(&mut self, code: &str, key: &[u8; 32], now: u64) -> Verdict {
        if !self.is_live(now) {
            return Verdict::Expired;
        }
        let Proof::Hashed { code_hash, salt } = &self.proof else {
            return Verdict::Expired;
        };
        let candidate = hash_code(key, salt, code.trim());
        let outcome = if crypto::equal(&candidate, code_hash) {
            Verdict::Accepted
        } else {
            Verdict::Wrong
        };
        self.record(outcome, now)
    }

    /// Applies an outcome checked in the same step as this call (doorman's
    /// own code, a push); an approval re-checks that the challenge is open.
    fn record(&mut self, outcome: Verdict, now: u64) -> Verdict {
        match outcome {
            Verdict::Accepted if self.is_live(now) => {
                self.used = true;
                Verdict::Accepted
            }
            Verdict::Accepted | Verdict::Expired => {
                self.used = true;
                Verdict::Expired
            }
            Verdict::Exhausted => {
                self.end();
                Verdict::Exhausted
            }
            Verdict::Wrong => {
                self.attempts_left = self.attempts_left.saturating_sub(1);
                match self.attempts_left {
                    0 => Verdict::Exhausted,
                    _ => Verdict::Wrong,
                }
            }
        }
    }
}

fn hash_code(key: &[u8; 32], salt: &[u8; 16], code: &str) -> [u8; 32] {
    let mut message = Vec::with_capacity(16 + code.len());
    message.extend_from_slice(salt);
    message.extend_from_slice(code.as_bytes());
    crypto::hmac(key, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(code: &str, key: &[u8; 32]) -> Challenge {
        let spec = ChallengeSpec {
            user: "alice",
            channel: Channel::Sms,
            to: "+14155550100",
            provider: "log",
            now: 1000,
            lifetime_secs: 300,
            max_attempts: 3,
        };
        Challenge::new(spec, code, key)
    }

    #[test]
    fn codes_have_the_requested_number_of_digits() {
        for length in [4, 6, 8, 10] {
            let code = generate_code(length);
            assert_eq!(code.len(), length as usize);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn the_right_code_is_accepted_once() {
        let key = [7u8; 32];
        let mut challenge = challenge("123456", &key);
        assert_eq!(challenge.verify("123456", &key, 1001), Verdict::Accepted);
        assert_eq!(challenge.verify("123456", &key, 1001), Verdict::Expired);
    }

    #[test]
    fn wrong_codes_count_down_to_exhaustion() {
        let key = [7u8; 32];
        let mut challenge = challenge("123456", &key);
        assert_eq!(challenge.verify("000000", &key, 1001), Verdict::Wrong);
        assert_eq!(challenge.attempts_left, 2);
        assert_eq!(challenge.verify("000001", &key, 1001), Verdict::Wrong);
        assert_eq!(challenge.attempts_left, 1);
        assert_eq!(challenge.verify("000002", &key, 1001), Verdict::Exhausted);
        assert_eq!(challenge.verify("123456", &key, 1001), Verdict::Expired);
    }

    #[test]
    fn a_code_past_its_lifetime_is_expired() {
        let key = [7u8; 32];
        let mut challenge = challenge("123456", &key);
        assert_eq!(challenge.verify("123456", &key, 1300), Verdict::Expired);
    }

    #[test]
    fn the_stored_hash_is_not_the_code() {
        let key = [7u8; 32];
        let challenge = challenge("123456", &key);
        assert!(!format!("{challenge:?}").contains("123456"));
    }

    fn totp_challenge(max_attempts: u32) -> Challenge {
        Challenge::totp(ChallengeSpec {
            user: "alice",
            channel: Channel::Totp,
            to: "",
            provider: "totp",
            now: 1000,
            lifetime_secs: 300,
            max_attempts,
        })
    }

    #[test]
    fn attempts_in_flight_together_never_exceed_those_allowed() {
        let mut challenge = totp_challenge(3);
        let taken: Vec<_> = (0..10).map(|_| challenge.reserve(1001)).collect();
        assert_eq!(taken.iter().filter(|t| t.is_ok()).count(), 3);
        assert!(taken[3..].iter().all(|t| *t == Err(Verdict::Exhausted)));
        // The last reserved attempt may still be the right one.
        let attempt = taken[2].clone().expect("reserved");
        let verdict = challenge.settle(&attempt, Verdict::Accepted, 1001);
        assert_eq!(verdict, Verdict::Accepted);
    }

    #[test]
    fn an_approval_that_comes_back_late_re_checks_the_challenge() {
        // Expired while the code was being checked.
        let mut challenge = totp_challenge(3);
        let attempt = challenge.reserve(1299).expect("reserved");
        let verdict = challenge.settle(&attempt, Verdict::Accepted, 1300);
        assert_eq!(verdict, Verdict::Expired);
        // Ended by a provider meanwhile.
        let mut challenge = totp_challenge(3);
        let first = challenge.reserve(1001).expect("reserved");
        let second = challenge.reserve(1001).expect("reserved");
        challenge.settle(&first, Verdict::Exhausted, 1001);
        let verdict = challenge.settle(&second, Verdict::Accepted, 1001);
        assert_eq!(verdict, Verdict::Exhausted);
        // Replaced by another challenge.
        let mut old = totp_challenge(3);
        let attempt = old.reserve(1001).expect("reserved");
        let mut new = totp_challenge(3);
        assert_eq!(
            new.settle(&attempt, Verdict::Accepted, 1001),
            Verdict::Expired
        );
        // Already used by a racing right code.
        let mut challenge = totp_challenge(3);
        let one = challenge.reserve(1001).expect("reserved");
        let two = challenge.reserve(1001).expect("reserved");
        assert_eq!(
            challenge.settle(&one, Verdict::Accepted, 1001),
            Verdict::Accepted
        );
        assert_eq!(
            challenge.settle(&two, Verdict::Accepted, 1001),
            Verdict::Expired
        );
    }

    #[test]
    fn an_attempt_never_checked_is_given_back() {
        let mut challenge = totp_challenge(1);
        let attempt = challenge.reserve(1001).expect("reserved");
        assert!(!challenge.is_live(1001));
        challenge.refund(&attempt);
        assert!(challenge.is_live(1001));
        assert_eq!(challenge.attempts_left, 1);
    }

    #[test]
    fn phones_are_masked_to_their_last_four_digits() {
        assert_eq!(mask_phone("+14155550100"), "••0100");
    }
}
