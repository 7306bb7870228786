//! The request path, made canonical before any rule looks at it.
//!
//! doorman forwards exactly the path it decided on: percent-encoded
//! unreserved characters decoded, dot segments resolved, every other escape
//! kept (with upper-case hex). What an upstream might still read
//! differently — `%2F` or `\` as a slash, `%23` or `%3F` as the end of the
//! path, `;params`, doubled slashes, double encoding, trailing dots and
//! spaces in a segment — is captured by a second, *lenient* view (and the
//! rules fold its letter case, see [`crate::rules`]); the gate applies its rules to both views and
//! keeps the stricter answer.

use std::borrow::Cow;

/// A request target doorman refuses to interpret: answered with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not an absolute path (`*`, empty, or not starting with `/`).
    NotAbsolute,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// `%00`: no upstream should ever see a NUL.
    Nul,
    /// More `..` segments than there are directories above.
    AboveRoot,
}

impl Malformed {
    pub fn reason(self) -> &'static str {
        match self {
            Malformed::NotAbsolute => "the request path must start with /",
            Malformed::BadEscape => "the request path has a broken %-escape",
            Malformed::Nul => "the request path contains %00",
            Malformed::AboveRoot => "the request path climbs above /",
        }
    }
}

/// The canonical form of `path`; borrowed when it already is canonical (the
/// usual case, which allocates nothing).
pub fn normalize(path: &str) -> Result<Cow<'_, str>, Malformed> {
    if !path.starts_with('/') {
        return Err(Malformed::NotAbsolute);
    }
    let bytes = path.as_bytes();
    let has_escape = bytes.contains(&b'%');
    if !has_escape && !has_dot_segment(path) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = if has_escape {
        decode_unreserved(path)?
    } else {
        path.to_owned()
    };
    let resolved = resolve_dots(&decoded).ok_or(Malformed::AboveRoot)?;
    if resolved == path {
        Ok(Cow::Borrowed(path))
    } else {
        Ok(Cow::Owned(resolved))
    }
}

/// How the most lenient upstream could read a canonical `path`, when that
/// differs from `path` itself.
pub fn lenient(path: &str) -> Option<String> {
    lenient_views(path).map(|views| views.resolved)
}

/// The two lenient readings of a path: with dot segments resolved (nginx,
/// Go, a file server), and with them left in place — an app that decodes
/// `%2F` but never resolves dots (a WSGI app, many routers) reads
/// `/admin/x/..%2F..%2Fb` as a path under `/admin/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LenientViews {
    /// Dots resolved; differs from the path it was made from.
    pub resolved: String,
    /// Dots kept, when there are any (else `None`: it is `resolved`).
    pub unresolved: Option<String>,
    /// Resolved, as servers that treat `;` differently read it: with
    /// `;params` dropped before `\` is read as `/` (servlet containers),
    /// and with `;` an ordinary character (Windows file servers); each only
    /// when it differs.
    pub others: Vec<String>,
}

/// Both lenient readings of `path`, when they differ from it.
pub fn lenient_views(path: &str) -> Option<LenientViews> {
    // One pass over the bytes (it runs on every request the rules see).
    let bytes = path.as_bytes();
    let suspicious = bytes.iter().any(|b| matches!(b, b'%' | b'\\' | b';'))
        || bytes.windows(2).any(|pair| pair == b"//" || pair == b"./")
        || path.ends_with('.');
    if !suspicious {
        return None;
    }
    // Decode until nothing changes (double encoding), at most three times.
    let mut text = path.to_owned();
    for _ in 0..3 {
        let next = decode_all(&text);
        if next == text {
            break;
        }
        text = next;
    }
    // A decoded `#` or `?` ends the path for an app that splits after decoding.
    if let Some(end) = text.find(['#', '?']) {
        text.truncate(end);
    }
    let cleaned = clean_segments(&text, Params::After);
    let resolved = resolve_dots_clamped(&cleaned);
    // A servlet container drops `;params` before anything reads `\` as a
    // separator: `/;x\y/admin` is `/admin` to it, `/y/admin` to IIS.
    let mut others: Vec<String> = Vec::new();
    let mut variants = Vec::new();
    if text.contains(';') {
        variants.push(clean_segments(&text, Params::First));
        variants.push(clean_segments(&text, Params::Kept));
    }
    // nginx and Go on Linux keep `\` as a character: `/x/..\` is `/x/..\`.
    if text.contains('\\') {
        variants.push(
            clean_segments(&text.replace('\\', "\u{0}"), Params::After).replace('\u{0}', "\\"),
        );
    }
    for variant in variants {
        let view = resolve_dots_clamped(&variant);
        if view != resolved && view != path && !others.contains(&view) {
            others.push(view);
        }
    }
    let unresolved = (has_dot_segment(&cleaned) && cleaned != path).then_some(cleaned);
    if resolved == path && unresolved.is_none() && others.is_empty() {
        return None;
    }
    Some(LenientViews {
        resolved,
        unresolved,
        others,
    })
}

/// When a server drops `;params` from a segment, if at all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Params {
    /// After `\` is read as `/` (most lenient readers).
    After,
    /// Before (servlet containers).
    First,
    /// Never: `;` is a character like any other (Windows file servers).
    Kept,
}

/// A decoded path's segments as a lenient server cleans them: `\` as `/`,
/// `;params` dropped as `params` says, empty segments merged, trailing dots
/// and spaces dropped.
fn clean_segments(text: &str, params: Params) -> String {
    let without_params = |text: &str| {
        text.split('/')
            .map(|segment| segment.split(';').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("/")
    };
    let text = if params == Params::First {
        without_params(text).replace('\\', "/")
    } else {
        text.replace('\\', "/")
    };
    let mut cleaned = String::with_capacity(text.len() + 1);
    for segment in text.split('/') {
        // `;params` end a segment; a segment of only params is no segment.
        let segment = match params {
            Params::Kept => segment,
            _ => segment.split(';').next().unwrap_or(""),
        };
        // Windows file systems (IIS, a static server on NTFS) drop trailing
        // dots and spaces: `admin.` and `admin ` are `admin`.
        let trimmed = segment.trim_end_matches(['.', ' ']);
        let segment = if trimmed.is_empty() { segment } else { trimmed };
        if segment.is_empty() {
            continue;
        }
        cleaned.push('/');
        cleaned.push_str(segment);
    }
    if text.ends_with('/') || cleaned.is_empty() {
        cleaned.push('/');
    }
    cleaned
}

/// Whether `path`, once its unreserved escapes are decoded, has a `.` or
/// `..` segment: [`normalize`] resolves them, but an app that gets the
/// path as sent (behind a front proxy in forward-auth mode) may not.
pub fn has_dot_segments(path: &str) -> bool {
    if !path.contains('%') {
        // Nothing to decode.
        return has_dot_segment(path);
    }
    match decode_unreserved(path) {
        Ok(decoded) => has_dot_segment(&decoded),
        Err(_) => has_dot_segment(path),
    }
}

fn has_dot_segment(path: &str) -> bool {
    (path.as_bytes().split(|&byte| byte == b'/')).any(|segment| segment == b"." || segment == b"..")
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Decodes `%XX` for unreserved characters; keeps other escapes, upper-cased.
fn decode_unreserved(path: &str) -> Result<String, Malformed> {
    let bytes = path.as_bytes();
    // Bytes, not chars: a non-ASCII path passes through as it came.
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte != b'%' {
            out.push(byte);
            index += 1;
            continue;
        }
        let (Some(high), Some(low)) = (
            bytes.get(index + 1).copied().and_then(hex),
            bytes.get(index + 2).copied().and_then(hex),
        ) else {
            return Err(Malformed::BadEscape);
        };
        let value = high << 4 | low;
        if value == 0 {
            return Err(Malformed::Nul);
        }
        if is_unreserved(value) {
            out.push(value);
        } else {
            out.push(b'%');
            out.push(b"0123456789ABCDEF"[usize::from(high)]);
            out.push(b"0123456789ABCDEF"[usize::from(low)]);
        }
        index += 3;
    }
    // Only ASCII bytes were added or changed, so what was UTF-8 still is.
    String::from_utf8(out).map_err(|_| Malformed::BadEscape)
}

/// Decodes every valid `%XX`; anything else is kept as it is.
fn decode_all(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            if let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            ) {
                out.push(high << 4 | low);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 §5.2.4 on an absolute path; `None` when `..` climbs above `/`.
fn resolve_dots(path: &str) -> Option<String> {
    resolve(path, false)
}

/// As [`resolve_dots`], but `..` at the root stays at the root.
fn resolve_dots_clamped(path: &str) -> String {
    resolve(path, true).unwrap_or_else(|| "/".to_owned())
}

fn resolve(path: &str, clamp: bool) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    let mut trailing_slash = false;
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing_slash = index == last,
            ".." => {
                if kept.pop().is_none() && !clamp {
                    return None;
                }
                trailing_slash = index == last;
            }
            other => {
                kept.push(other);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_are_borrowed() {
        for path in ["/", "/app/x.js", "/a/b/", "/%2F", "/caf%C3%A9", "/a..b/.c"] {
            assert!(
                matches!(normalize(path), Ok(Cow::Borrowed(_))),
                "{path} should be canonical"
            );
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_dots_resolved() {
        let cases = [
            ("/%61dmin", "/admin"),
            ("/x/../admin", "/admin"),
            ("/x/./admin", "/x/admin"),
            ("/a/%2e%2E/", "/"),
            ("/a/%2e%2e/admin", "/admin"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/a%2fb", "/a%2Fb"),
            ("/%7euser", "/~user"),
            ("/a/..%2Fadmin", "/a/..%2Fadmin"),
            // Found by fuzzing: non-ASCII passes through untouched.
            ("/café/%41", "/café/A"),
            ("/café/./x", "/café/x"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn malformed_targets_are_refused() {
        assert_eq!(normalize("*"), Err(Malformed::NotAbsolute));
        assert_eq!(normalize(""), Err(Malformed::NotAbsolute));
        assert_eq!(normalize("/a%2"), Err(Malformed::BadEscape));
        assert_eq!(normalize("/a%zz"), Err(Malformed::BadEscape));
        assert_eq!(normalize("/a%00b"), Err(Malformed::Nul));
        assert_eq!(normalize("/../etc/passwd"), Err(Malformed::AboveRoot));
        assert_eq!(normalize("/a/%2e%2e/%2e%2e/x"), Err(Malformed::AboveRoot));
    }

    #[test]
    fn the_lenient_view_reads_what_a_careless_upstream_reads() {
        let cases = [
            ("/public/..%2Fadmin", "/admin"),
            ("/public%2F..%2Fadmin", "/admin"),
            ("/public/..%5Cadmin", "/admin"),
            ("/public\\..\\admin", "/admin"),
            ("//admin", "/admin"),
            ("/admin;jsessionid=1/x", "/admin/x"),
            ("/admin%3B/x", "/admin/x"),
            ("/admin%23/public", "/admin"),
            ("/admin%3Fx=/public", "/admin"),
            ("/public/%252e%252e/admin", "/admin"),
            ("/%2e%2e%2f%2e%2e%2fadmin", "/admin"),
        ];
        for (input, expected) in cases {
            assert_eq!(lenient(input).as_deref(), Some(expected), "{input}");
        }
        // Found by fuzzing: a segment of only `;params` is dropped, not kept
        // as an empty one that no rule matches.
        assert_eq!(lenient("/api/;/admin").as_deref(), Some("/api/admin"));
        assert_eq!(lenient("/admin./x;").as_deref(), Some("/admin/x"));
        assert_eq!(lenient("/admin%20/x").as_deref(), Some("/admin/x"));
        assert_eq!(lenient("/a/...;/x").as_deref(), Some("/a/.../x"));
    }

    #[test]
    fn the_unresolved_view_keeps_the_dots_an_app_may_not_resolve() {
        let views = lenient_views("/admin/x/..%2F..%2Fb").expect("views");
        assert_eq!(views.resolved, "/b");
        assert_eq!(views.unresolved.as_deref(), Some("/admin/x/../../b"));
        assert_eq!(
            lenient_views("/public/..%2Fadmin")
                .and_then(|v| v.unresolved)
                .as_deref(),
            Some("/public/../admin")
        );
        assert_eq!(lenient_views("/a%2Fb").and_then(|v| v.unresolved), None);
        // Found by fuzzing: params before a backslash, as a servlet reads them.
        let views = lenient_views("/;js-\\%A0/admin///bo/e").expect("views");
        assert!(
            views.others.contains(&"/admin/bo/e".to_owned()),
            "{views:?}"
        );
        // ... and `;` as a plain character, as a Windows file server reads it.
        let views = lenient_views("/%3bic\\..\\admin/%3bic\\..\\admi").expect("views");
        assert!(
            views.others.contains(&"/admin/admi".to_owned()),
            "{views:?}"
        );
        // ... and `\\` as a plain character, as nginx on Linux reads it.
        let views = lenient_views("/.%2Fadmin/..\\").expect("views");
        assert!(
            views.others.contains(&"/admin/..\\".to_owned()),
            "{views:?}"
        );
        assert!(has_dot_segments("/admin/x/../../b"));
        assert!(has_dot_segments("/admin/%2e%2E/b"));
        assert!(!has_dot_segments("/admin/..%2Fb"));
        assert!(!has_dot_segments("/a..b/.c"));
        // With and without escapes to decode, at either end and alone.
        for dotted in [
            "/.",
            "/..",
            "/./a",
            "/a/..",
            ".",
            "..",
            "/%2e",
            "/a/%2E%2e",
            "/%2e/x?",
        ] {
            assert!(has_dot_segments(dotted), "{dotted}");
        }
        for plain in [
            "/",
            "",
            "/...",
            "/a.",
            "/.a/b.",
            "/%2e%2e%2e",
            "/%2ex",
            "/%zz/a",
        ] {
            assert!(!has_dot_segments(plain), "{plain}");
        }
        assert!(has_dot_segments("/%zz/../a"));
        assert_eq!(lenient("/plain/path"), None);
        assert_eq!(lenient("/a/"), None);
    }
}
