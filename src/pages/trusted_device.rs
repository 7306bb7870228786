//! "Remember this device" (`session.remember_device`): after a full
//! sign-in, a signed cookie of its own, `<session cookie>_trusted`, spares
//! this browser the second factor at the next sign-in of the same user
//! (the password is still asked). It names the user, when the second
//! factor was proven, its expiry and the user's credential epoch: a new
//! password (or authenticator, phone, groups) and `doorman sessions
//! revoke` end it, and since the session it gives counts its second
//! factor from then, rules with `max_age` still ask.

use super::Visit;
use crate::users::User;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// `<session cookie>_trusted`, with `__Host-` where the session has it.
pub(super) fn cookie_name(app: &crate::App, tls: bool) -> String {
    let base = format!("{}_trusted", app.sessions.cookie_name());
    app.sessions.name_for(&base, tls)
}

fn signature(app: &crate::App, body: &str) -> String {
    let key = crate::crypto::derive(&app.code_key, b"doorman trusted device");
    crate::crypto::hex(&crate::crypto::hmac(&key, body.as_bytes()))
}

/// Whether the sign-in form asked to remember this device.
pub(super) fn asked(form: &super::Form) -> bool {
    form.get("remember").is_some_and(|value| value == "1")
}

/// Sets the cookie for `user`, who just proved the second factor.
pub(super) fn remember(visit: &mut Visit<'_>, user: &User) {
    let app = visit.app;
    let Some(lifetime) = app.sessions.settings().remember_device else {
        return;
    };
    let expires = visit.now + lifetime.as_secs();
    let body = format!(
        "v1.{}.{}.{expires}.{}",
        URL_SAFE_NO_PAD.encode(crate::limits::fold(&user.name)),
        visit.now,
        app.credential_epoch(user)
    );
    let value = format!("{body}.{}", signature(app, &body));
    let mut cookie = cookie::Cookie::new(cookie_name(app, visit.tls), value);
    app.sessions.attributes(&mut cookie, visit.tls);
    cookie.set_max_age(cookie::time::Duration::seconds(lifetime.as_secs() as i64));
    visit.set_cookie(crate::session::header_value(&cookie));
    visit.audit(
        "trusted_device_added",
        crate::audit::Record {
            user: Some(&user.name),
            ..Default::default()
        },
    );
}

/// When `user` proved the second factor in this browser, if it carries a
/// valid, unexpired, unrevoked trusted-device cookie for them.
pub(super) fn recognised(visit: &Visit<'_>, user: &User) -> Option<u64> {
    let app = visit.app;
    let lifetime = app.sessions.settings().remember_device?;
    let folded = URL_SAFE_NO_PAD.encode(crate::limits::fold(&user.name));
    let epoch = app.credential_epoch(user);
    visit.trusted_devices.iter().find_map(|value| {
        let (body, mac) = value.rsplit_once('.')?;
        if !crate::crypto::equal(signature(app, body).as_bytes(), mac.as_bytes()) {
            return None;
        }
        let mut parts = body.split('.');
        let (version, name) = (parts.next()?, parts.next()?);
        let issued: u64 = parts.next()?.parse().ok()?;
        let expires: u64 = parts.next()?.parse().ok()?;
        let carried_epoch = parts.next()?;
        let valid = version == "v1"
            && name == folded
            && carried_epoch == epoch
            && visit.now < expires
            && visit.now < issued.saturating_add(lifetime.as_secs())
            && !app.store.is_user_revoked(&user.name, issued);
        valid.then_some(issued)
    })
}

/// "30 days", "12 hours": how the code page names the lifetime, in the
/// page's language.
pub(super) fn lifetime_text(visit: &Visit<'_>) -> Option<String> {
    let seconds = visit.app.sessions.settings().remember_device?.as_secs();
    let (count, id) = match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "period-days"),
        s if s >= 3600 => (s.div_ceil(3600), "period-hours"),
        s => (s.div_ceil(60).max(1), "period-minutes"),
    };
    Some(visit.t_with(id, &[("n", count.into())]))
}
