//! What push providers share: the notification doorman asks them to send,
//! and the trait they implement.

use super::{BoxFuture, ProviderError};

/// A push approval on its way to a person.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub user: String,
    /// The user's ntfy topic, for providers that need one.
    pub topic: Option<String>,
    /// "Sign-in to Example".
    pub title: String,
    /// "Sign-in to Example from 203.0.113.7, Firefox on Linux".
    pub message: String,
    /// One per number, in the random order they are offered.
    pub actions: Vec<PushAction>,
    /// Ends the challenge as denied.
    pub deny_url: String,
    /// The client that is signing in, for providers that show it.
    pub client_ip: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// One numbered answer: POSTing to `url` picks `number`.
#[derive(Debug, Clone)]
pub struct PushAction {
    pub number: u8,
    pub url: String,
}

/// How the answer will come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStarted {
    /// Through doorman's callback URLs.
    Callback,
    /// The provider holds the answer; ask it about this transaction.
    Remote { txid: String },
}

/// A provider's word on a transaction it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteStatus {
    Waiting,
    Allow,
    Deny,
}

/// A push on its way: how its answer will come back.
pub type Pushing<'a> = BoxFuture<'a, Result<PushStarted, ProviderError>>;

/// A service that puts a push approval on someone's phone.
pub trait PushSender: Send + Sync {
    /// The provider's key under `providers:`.
    fn name(&self) -> &'static str;
    /// Whether this user can be reached (e.g. has an ntfy topic).
    fn reaches(&self, _user: &crate::users::User) -> bool {
        true
    }
    fn send<'a>(&'a self, push: &'a PushMessage) -> Pushing<'a>;
    /// The state of a transaction from [`PushStarted::Remote`].
    fn status<'a>(&'a self, _txid: &'a str) -> BoxFuture<'a, Result<RemoteStatus, ProviderError>> {
        Box::pin(async { Err(ProviderError::Refused("no remote status".into())) })
    }
}
