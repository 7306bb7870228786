//! `doorman::path::normalize` and `doorman::path::lenient` on any request path.
//!
//! Invariants checked:
//! - neither function panics, on any UTF-8 input;
//! - `normalize` refuses exactly what it documents: no leading `/` is
//!   `NotAbsolute`; a `%` without two hex digits or a `%00` is an error;
//! - a normalized path starts with `/`, has no `.` or `..` segment, every `%`
//!   starts an upper-case escape that is neither `%00` nor an unreserved
//!   character (those are decoded), and normalizing it again gives it back
//!   borrowed (idempotent, no allocation);
//! - a borrowed answer is the input itself;
//! - bytes that are not part of an escape are kept: the non-ASCII bytes of
//!   the output are a subsequence of the input's (dot segments only remove);
//! - the lenient view, of the input or of its canonical form, starts with `/`
//!   and has no `..` segment and no `//`; of a canonical path it is `None`
//!   or differs from it;
//! - the gate's two readings are at least as strict as every server in
//!   `doorman::path_readings`: with a deny rule for `/admin/` before a
//!   catch-all bypass, a path any of them reads as under `/admin/` is
//!   refused (400) or denied.
#![no_main]

use doorman::path::{lenient, normalize, Malformed};
use doorman::path_readings::{lands_under, READERS};
use doorman::rules::{PathMatch, Policy, Rule, Rules, Target};
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;

/// Whether to check that non-ASCII bytes survive normalization, and that
/// normalizing a non-ASCII path is idempotent. This fuzzer found that
/// `/café/%41` came out as `/cafÃ©/A`; fixed, so on.
const CHECK_NON_ASCII: bool = true;

/// Whether to let a `//` in the lenient view pass when the path holds a `;`.
/// This fuzzer found that `/api/;/admin` read as `/api//admin`, which a rule
/// for `/api/admin` misses while Tomcat or Jetty serve `/api/admin`; fixed,
/// so off.
const TOLERATE_SEMICOLON_SEGMENT: bool = false;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check_lenient(input, lenient(input).as_deref());
    let result = normalize(input);
    if !input.starts_with('/') {
        assert_eq!(result, Err(Malformed::NotAbsolute), "{input:?}");
        return;
    }
    let bad_escape = has_bad_escape(input.as_bytes());
    let nul = input.contains("%00");
    match result {
        Err(Malformed::NotAbsolute) => panic!("{input:?} starts with / but is NotAbsolute"),
        Err(Malformed::BadEscape) => assert!(bad_escape, "{input:?}: BadEscape without one"),
        Err(Malformed::Nul) => assert!(nul, "{input:?}: Nul without %00"),
        Err(Malformed::AboveRoot) => assert!(
            !bad_escape && !nul,
            "{input:?}: AboveRoot reported before a broken escape"
        ),
        Ok(path) => {
            assert!(!bad_escape && !nul, "{input:?} accepted as {path:?}");
            check_canonical(input, &path);
            if let Cow::Borrowed(borrowed) = &path {
                assert_eq!(*borrowed, input, "a borrowed answer must be the input");
            }
            match normalize(&path) {
                Ok(Cow::Borrowed(again)) => assert_eq!(again, &*path, "not idempotent"),
                _ if !CHECK_NON_ASCII && !input.is_ascii() => {}
                other => panic!("{input:?} -> {path:?} -> {other:?}: not idempotent"),
            }
            check_at_least_as_strict_as_every_server(input, &path);
            let view = lenient(&path);
            check_lenient(&path, view.as_deref());
            if let Some(view) = &view {
                assert_ne!(view, &*path, "lenient view equal to the path is not None");
            }
        }
    }
});

fn is_hex_upper(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'A'..=b'F').contains(&byte)
}

fn has_bad_escape(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(index, &byte)| {
        byte == b'%'
            && !(bytes.get(index + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(index + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

fn check_canonical(input: &str, path: &str) {
    assert!(path.starts_with('/'), "{input:?} -> {path:?}: not absolute");
    for segment in path.split('/') {
        assert!(
            segment != "." && segment != "..",
            "{input:?} -> {path:?}: dot segment left"
        );
    }
    let bytes = path.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte != b'%' {
            continue;
        }
        let (Some(&high), Some(&low)) = (bytes.get(index + 1), bytes.get(index + 2)) else {
            panic!("{input:?} -> {path:?}: truncated escape");
        };
        assert!(
            is_hex_upper(high) && is_hex_upper(low),
            "{input:?} -> {path:?}: escape not upper-case hex"
        );
        let value = u8::from_str_radix(&path[index + 1..index + 3], 16).unwrap();
        assert_ne!(value, 0, "{input:?} -> {path:?}: %00 kept");
        assert!(
            !(value.is_ascii_alphanumeric() || b"-._~".contains(&value)),
            "{input:?} -> {path:?}: unreserved character left encoded"
        );
    }
    // Dot-segment removal drops whole segments, decoding only touches
    // escapes: every non-ASCII byte in the output comes from the input, in order.
    if !CHECK_NON_ASCII {
        return;
    }
    let mut source = input.bytes().filter(|byte| !byte.is_ascii());
    for byte in path.bytes().filter(|byte| !byte.is_ascii()) {
        assert!(
            source.any(|from| from == byte),
            "{input:?} -> {path:?}: non-ASCII bytes changed"
        );
    }
}

fn check_lenient(path: &str, view: Option<&str>) {
    let Some(view) = view else {
        return;
    };
    assert!(
        view.starts_with('/'),
        "lenient({path:?}) = {view:?}: not absolute"
    );
    let known = TOLERATE_SEMICOLON_SEGMENT && decoded(path).contains(';');
    assert!(
        known || !view.contains("//"),
        "lenient({path:?}) = {view:?}: has //"
    );
    assert!(
        !view.split('/').any(|segment| segment == ".."),
        "lenient({path:?}) = {view:?}: has a .. segment"
    );
}

/// `text` with `%XX` decoded three times over (as deep as `lenient` looks).
fn decoded(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..3 {
        let mut out = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            let hex = bytes
                .get(index + 1..index + 3)
                .filter(|pair| pair.iter().all(u8::is_ascii_hexdigit))
                .and_then(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok());
            match (bytes[index], hex) {
                (b'%', Some(value)) => {
                    out.push(value);
                    index += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    index += 1;
                }
            }
        }
        bytes = out;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn rules() -> &'static Rules {
    static RULES: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
    let rule = |path: &str, policy| Rule {
        name: "fuzz".into(),
        path: Some(PathMatch::Prefix(path.into())),
        methods: None,
        networks: Vec::new(),
        users: Vec::new(),
        groups: Vec::new(),
        policy,
        max_age: None,
        hosts: Vec::new(),
        tokens: false,
    };
    RULES.get_or_init(|| Rules::new(vec![rule("/admin/", Policy::Deny), rule("/", Policy::Bypass)]))
}

fn check_at_least_as_strict_as_every_server(input: &str, canonical: &str) {
    // Only what can arrive as a request's path: hyper parses the target
    // with the `http` crate first (no control bytes, `?` and `#` end the
    // path), and doorman never sees anything else.
    let arrives = input
        .parse::<http::uri::PathAndQuery>()
        .is_ok_and(|target| target.path() == input && target.query().is_none());
    if !arrives {
        return;
    }
    // Proxy mode: the app gets the canonical path. Forward-auth mode: it
    // gets the path as sent, and doorman refuses one with dot segments
    // before any rule (`pages::forward_auth`).
    let under_admin = |path: &str| {
        READERS.iter().find(|reader| {
            (reader.read)(path).is_some_and(|reading| lands_under(&reading, "/admin/"))
        })
    };
    let server = under_admin(canonical).or_else(|| {
        (!doorman::path::has_dot_segments(input))
            .then(|| under_admin(input))
            .flatten()
    });
    let Some(server) = server else {
        return;
    };
    let method = http::Method::GET;
    let client = std::net::IpAddr::from([192, 0, 2, 1]);
    let answer = rules().evaluate(&Target::new(&method, canonical, client), None);
    assert_eq!(
        answer.policy,
        Policy::Deny,
        "{input:?} (canonical {canonical:?}) is under /admin/ to {}",
        server.name
    );
}
