//! Push approvals with number matching: the numbers, the one-time answer
//! tokens, and how an answer changes a waiting push.
//!
//! The notification carries three distinct two-digit numbers in random
//! order; the sign-in page shows one of them. Only the action for that
//! number approves. Someone who approves without looking (push fatigue)
//! picks the right number one time in three, and any wrong pick ends the
//! challenge, so a flood of pushes cannot wear a person down.

use crate::crypto;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::Rng;
use std::sync::Arc;
use tokio::sync::Notify;

/// How many numbered actions a notification carries (ntfy allows three).
pub const CHOICES: usize = 3;

/// Hex characters in a token id (128 random bits).
const ID_HEX: usize = 32;
/// Hex characters of the HMAC kept in a token.
const SIG_HEX: usize = 32;

/// Where a push stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    Waiting,
    Approved,
    /// Denied, or answered with a wrong number.
    Denied,
}

/// What a person (or Duo) answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The action labelled with this number.
    Number(u8),
    /// An explicit "deny".
    Deny,
    /// Duo says the person approved (Duo does its own matching).
    Allow,
}

/// What an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Approved,
    /// A wrong number (`wrong_number`) or a deny: the challenge is over.
    Refused {
        wrong_number: bool,
    },
    /// The push was already answered, replaced or expired.
    NotWaiting,
}

/// A push challenge's proof: the right number and the answer so far.
#[derive(Debug)]
pub struct PushProof {
    /// Identifies this push among the tokens in the store.
    pub id: String,
    /// The number the sign-in page shows.
    pub number: u8,
    /// All numbers in the notification, in the order sent.
    pub choices: [u8; CHOICES],
    /// Duo's transaction id, when Duo runs the push.
    pub txid: Option<String>,
    pub state: PushState,
    /// Wakes the status long-polls when the state changes.
    pub notify: Arc<Notify>,
}

impl PushProof {
    pub fn new(choices: [u8; CHOICES], number: u8) -> PushProof {
        PushProof {
            id: crypto::random_hex(16),
            number,
            choices,
            txid: None,
            state: PushState::Waiting,
            notify: Arc::new(Notify::new()),
        }
    }

    /// Applies `answer` to a waiting push.
    pub fn answer(&mut self, answer: Answer) -> Answered {
        if self.state != PushState::Waiting {
            return Answered::NotWaiting;
        }
        let answered = match answer {
            Answer::Number(number) if number == self.number => Answered::Approved,
            Answer::Allow => Answered::Approved,
            Answer::Number(_) => Answered::Refused { wrong_number: true },
            Answer::Deny => Answered::Refused {
                wrong_number: false,
            },
        };
        self.state = match answered {
            Answered::Approved => PushState::Approved,
            _ => PushState::Denied,
        };
        self.notify.notify_waiters();
        answered
    }
}

/// Three distinct numbers from 10 to 99 in random order, and the one to
/// show; all from the OS CSPRNG.
pub fn numbers() -> ([u8; CHOICES], u8) {
    let mut rng = OsRng;
    let mut pool: Vec<u8> = (10..=99).collect();
    pool.shuffle(&mut rng);
    let choices = [pool[0], pool[1], pool[2]];
    let number = choices[rng.gen_range(0..CHOICES)];
    (choices, number)
}

/// One answer a callback URL stands for, kept server-side by token id.
#[derive(Debug, Clone)]
pub struct PushToken {
    /// The level-1 session whose challenge this answers.
    pub session_id: String,
    /// [`PushProof::id`] of that challenge: a token never answers a newer push.
    pub push_id: String,
    pub answer: Answer,
    pub expires_at: u64,
}

/// A fresh token id and the URL-safe token that carries it: the id and
/// an HMAC of it under `key`, so forged or garbled tokens are turned away
/// before the store is asked.
pub fn new_token(key: &[u8; 32]) -> (String, String) {
    let id = crypto::random_hex(ID_HEX / 2);
    let token = format!("{id}{}", token_sig(key, &id));
    (id, token)
}

/// The token id inside `token` when its HMAC is right.
pub fn token_id(key: &[u8; 32], token: &str) -> Option<String> {
    if token.len() != ID_HEX + SIG_HEX || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (id, sig) = token.split_at(ID_HEX);
    crypto::equal(token_sig(key, id).as_bytes(), sig.as_bytes()).then(|| id.to_owned())
}

fn token_sig(key: &[u8; 32], id: &str) -> String {
    let mac = crypto::hmac(key, format!("doorman push answer {id}").as_bytes());
    crypto::hex(&mac)[..SIG_HEX].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_are_three_distinct_two_digit_numbers_and_the_shown_one_is_among_them() {
        for _ in 0..200 {
            let (choices, number) = numbers();
            assert!(choices.iter().all(|n| (10..=99).contains(n)));
            assert!(
                choices[0] != choices[1] && choices[1] != choices[2] && choices[0] != choices[2]
            );
            assert!(choices.contains(&number));
        }
    }

    #[test]
    fn the_shown_number_is_not_always_in_the_same_place() {
        let places: std::collections::HashSet<usize> = (0..200)
            .map(|_| {
                let (choices, number) = numbers();
                choices.iter().position(|n| *n == number).unwrap_or(0)
            })
            .collect();
        assert_eq!(places.len(), CHOICES);
    }

    #[test]
    fn only_the_right_number_approves_and_a_push_is_answered_once() {
        let mut proof = PushProof::new([11, 22, 33], 22);
        assert_eq!(proof.answer(Answer::Number(22)), Answered::Approved);
        assert_eq!(proof.answer(Answer::Number(22)), Answered::NotWaiting);
        let mut proof = PushProof::new([11, 22, 33], 22);
        assert_eq!(
            proof.answer(Answer::Number(33)),
            Answered::Refused { wrong_number: true }
        );
        assert_eq!(proof.answer(Answer::Number(22)), Answered::NotWaiting);
        assert_eq!(proof.state, PushState::Denied);
        let mut proof = PushProof::new([11, 22, 33], 22);
        assert_eq!(
            proof.answer(Answer::Deny),
            Answered::Refused {
                wrong_number: false
            }
        );
    }

    #[test]
    fn a_token_is_accepted_only_with_its_own_signature() {
        let key = [3u8; 32];
        let (id, token) = new_token(&key);
        assert_eq!(token_id(&key, &token), Some(id.clone()));
        assert_eq!(token_id(&[4u8; 32], &token), None);
        let mut forged = token.clone();
        forged.replace_range(40..41, if &token[40..41] == "0" { "1" } else { "0" });
        assert_eq!(token_id(&key, &forged), None);
        assert_eq!(token_id(&key, &id), None);
        assert_eq!(token_id(&key, ""), None);
    }
}
