//! The steps of alice's sign-in that the provider tests share: past the
//! password to a code on its way, "Call me instead", and the code typed in.

use super::{Browser, Env, Page};
use std::time::Duration;

/// alice past her password, asking for a code on `channel`: her browser
/// and the answer, whatever it is.
pub async fn ask_for_code(env: &Env, channel: &str) -> (Browser, Page) {
    let mut browser = env.past_password("alice").await;
    let page = browser.ask_for_code(channel).await;
    (browser, page)
}

/// doorman with `channels` and the provider `blocks` (see
/// [`Env::with_providers`]), alice asking for a code on `channel`.
pub async fn env_asking(
    channels: &str,
    blocks: &[String],
    extra: &str,
    channel: &str,
) -> (Env, Browser, Page) {
    let env = Env::with_providers(channels, blocks, extra).await;
    let (browser, page) = ask_for_code(&env, channel).await;
    (env, browser, page)
}

/// alice on the code page, a code on its way by `channel`.
pub async fn code_sent(env: &Env, channel: &str) -> Browser {
    let (mut browser, page) = ask_for_code(env, channel).await;
    assert_eq!(page.status, 303, "send step: {page:?}");
    let page = browser.get("/.doorman/2fa").await;
    assert_eq!(page.status, 200, "{page:?}");
    browser
}

/// alice in two browsers, the second asking for a code on `channel` past
/// the per-person resend wait (which counts across browsers) while the
/// first one's code is running: both browsers, on the code page.
pub async fn a_second_browser(env: &Env, channel: &str) -> (Browser, Browser) {
    let first = code_sent(env, channel).await;
    env.advance(Duration::from_secs(30));
    (first, code_sent(env, channel).await)
}

/// Past the resend wait, asks on the code page for a new code by `channel`:
/// it is taken.
pub async fn resend(env: &Env, browser: &mut Browser, channel: &str) {
    env.advance(Duration::from_secs(30));
    let page = browser
        .post("/.doorman/2fa/resend", &[("channel", channel)])
        .await;
    assert_eq!(page.status, 303, "{page:?}");
}

/// Past the resend wait, "Call me instead" on the code page: the call is
/// asked for and the page says one is coming.
pub async fn call_me_instead(env: &Env, browser: &mut Browser) {
    resend(env, browser, "voice").await;
    browser
        .get("/.doorman/2fa")
        .await
        .assert_shows("voice call");
}

/// On the code page, which names alice's number by its last digits, types
/// `code`: it is taken.
pub async fn enter_shown_code(browser: &mut Browser, code: &str) {
    browser.get("/.doorman/2fa").await.assert_shows("••0100");
    let page = browser.enter_code(code).await;
    assert_eq!(page.status, 303, "{page:?}");
}

/// What the code page says when a code cannot go out.
pub const CANNOT_RECEIVE: &str = "This number cannot receive codes. Contact your administrator.";
pub const COULD_NOT_SEND: &str =
    "We could not send the code. Try another method, or try again later.";

/// What the person is told of a provider's failure, as a row of an error
/// table writes it: the page's status and text, and whether the channel's
/// next provider is tried.
#[derive(Clone, Copy, Debug)]
pub enum Told {
    /// 422 [`CANNOT_RECEIVE`]; no next provider is tried.
    Unreachable,
    /// 502 [`COULD_NOT_SEND`]; the next provider is tried.
    NotSent,
    /// 429 and this text, saying when to try again; the next provider is
    /// tried.
    Wait(&'static str),
}

impl Told {
    pub fn status(self) -> u16 {
        match self {
            Told::Unreachable => 422,
            Told::NotSent => 502,
            Told::Wait(_) => 429,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Told::Unreachable => CANNOT_RECEIVE,
            Told::NotSent => COULD_NOT_SEND,
            Told::Wait(text) => text,
        }
    }

    pub fn tries_next(self) -> bool {
        !matches!(self, Told::Unreachable)
    }
}
