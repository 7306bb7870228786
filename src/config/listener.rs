//! The listener's section: where doorman listens, its TLS, its own path and origin.

use super::raw::RawTls;
use super::Problems;
use crate::tls::TlsSettings;
use http::HeaderValue;
use std::path::Path;

pub(super) fn tls_settings(
    raw: &RawTls,
    base: &Path,
    problems: &mut Problems,
) -> Option<TlsSettings> {
    let hsts = raw.hsts.as_deref().and_then(|value| {
        let valid = value
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("max-age=");
        match HeaderValue::from_str(value) {
            Ok(header) if valid => Some(header),
            _ => {
                problems.push(
                    "tls.hsts",
                    "expected a Strict-Transport-Security value like `max-age=31536000`",
                );
                None
            }
        }
    });
    let (Some(cert), Some(key)) = (&raw.cert_file, &raw.key_file) else {
        if raw.cert_file.is_none() {
            problems.push("tls.cert_file", "required: a PEM certificate chain");
        }
        if raw.key_file.is_none() {
            problems.push(
                "tls.key_file",
                "required: the certificate's PEM private key",
            );
        }
        return None;
    };
    let (cert_file, key_file) = (base.join(cert), base.join(key));
    match crate::tls::load_certified_key(&cert_file, &key_file) {
        Ok(certified) => Some(TlsSettings {
            cert_file,
            key_file,
            certified,
            hsts,
        }),
        Err(message) => {
            problems.push("tls.cert_file", message);
            None
        }
    }
}

pub(super) fn auth_prefix(raw: Option<&str>, problems: &mut Problems) -> String {
    let prefix = raw.unwrap_or("/.doorman").trim_end_matches('/');
    let valid = prefix.starts_with('/')
        && prefix.len() > 1
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-~".contains(&b))
        && !prefix
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    if !valid {
        problems.push(
            "auth_prefix",
            "expected a path like /.doorman (letters, digits, / . _ - ~)",
        );
        return "/.doorman".to_owned();
    }
    prefix.to_owned()
}
