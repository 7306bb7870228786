//! How other servers read a request path: small reference models of what
//! the app behind doorman (or the proxy in front of it) routes by, for the
//! differential test (`tests/it/path_readings.rs`) and the `path_normalize`
//! fuzz target. Each is written from the server's documented behaviour, on
//! its own, sharing nothing with [`crate::path`]: the property checked is
//! that whenever *any* of them lands under a protected rule, doorman's
//! answer is the protected one.
//!
//! A model returns `None` when that server refuses the request itself.

/// A server and how it reads a raw request path.
pub struct Reader {
    pub name: &'static str,
    pub read: fn(&str) -> Option<String>,
}

/// Every modelled server.
pub const READERS: &[Reader] = &[
    Reader {
        name: "nginx $uri (merge_slashes on)",
        read: nginx,
    },
    Reader {
        name: "Go net/http path.Clean",
        read: go_clean,
    },
    Reader {
        name: "Express (case-insensitive, non-strict slash)",
        read: express,
    },
    Reader {
        name: "Werkzeug behind a WSGI server",
        read: werkzeug,
    },
    Reader {
        name: "static files on a case-insensitive Windows file system",
        read: windows_static,
    },
    Reader {
        name: "Tomcat / Jetty (;params)",
        read: servlet,
    },
    Reader {
        name: "an app that decodes twice",
        read: double_decoding,
    },
];

/// Whether `reading` is inside `prefix` (a directory such as `/admin/`)
/// for an app that ignores letter case and the trailing slash: the most
/// lenient sense, so a test built on it asks doorman to be at least as
/// strict as the most lenient app.
pub fn lands_under(reading: &str, prefix: &str) -> bool {
    let reading = reading.to_lowercase();
    let prefix = prefix.to_lowercase();
    reading.starts_with(&prefix) || reading == prefix.trim_end_matches('/')
}

/// Every `%XX` decoded once (`None` for a broken escape or invalid UTF-8).
fn decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let pair = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(pair, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Dot segments resolved; `..` at the root refused (`None`) or clamped.
fn resolve(path: &str, clamp: bool, merge_slashes: bool) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut slash = false;
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "." => slash = index == last,
            ".." => {
                if kept.pop().is_none() && !clamp {
                    return None;
                }
                slash = index == last;
            }
            "" if merge_slashes => slash = index == last,
            other => {
                kept.push(other);
                slash = false;
            }
        }
    }
    let mut out = String::new();
    for segment in kept {
        out.push('/');
        out.push_str(segment);
    }
    if slash || out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// nginx: decodes every escape (`%2F` included), resolves dot segments
/// (400 above the root) and merges slashes, then picks a location.
fn nginx(path: &str) -> Option<String> {
    resolve(&decode(path)?, false, true)
}

/// Go: `URL.Path` is decoded (`%2F` becomes `/`), `ServeMux` cleans it.
fn go_clean(path: &str) -> Option<String> {
    let cleaned = resolve(&decode(path)?, true, true)?;
    Some(match cleaned.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => cleaned,
    })
}

/// Express: routes on the raw path, letter case ignored, trailing slash
/// optional (the defaults); browsers and most proxies resolve dots first.
fn express(path: &str) -> Option<String> {
    Some(resolve(path, true, false)?.to_lowercase())
}

/// A WSGI server decodes `PATH_INFO` (`%2F` too); Werkzeug routes on it.
fn werkzeug(path: &str) -> Option<String> {
    decode(path)
}

/// IIS or a static server on NTFS: `\` is a separator, trailing dots and
/// spaces vanish, letter case does not matter, and a name with a character
/// Windows forbids (`?`, `*`, `:`, ...) is refused.
fn windows_static(path: &str) -> Option<String> {
    let decoded = decode(path)?.replace('\\', "/");
    // Characters no Windows file name holds: IIS answers 400.
    if decoded.contains(['<', '>', ':', '"', '|', '?', '*', '#']) {
        return None;
    }
    let trimmed: Vec<&str> = decoded
        .split('/')
        .map(|segment| {
            let trimmed = segment.trim_end_matches(['.', ' ']);
            if trimmed.is_empty() {
                segment
            } else {
                trimmed
            }
        })
        .collect();
    Some(resolve(&trimmed.join("/"), true, true)?.to_lowercase())
}

/// Servlet containers drop `;params` from each segment before decoding;
/// Tomcat answers 400 for a backslash (`ALLOW_BACKSLASH` is off by default).
fn servlet(path: &str) -> Option<String> {
    if path.contains('\\') || decode(path)?.contains('\\') {
        return None;
    }
    let stripped: Vec<&str> = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or(""))
        .collect();
    resolve(&decode(&stripped.join("/"))?, false, true)
}

/// Some frameworks decode the path a second time (`%252F` is then `/`).
fn double_decoding(path: &str) -> Option<String> {
    resolve(&decode(&decode(path)?)?, true, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_reads_a_classic_trick_the_way_its_server_does() {
        assert_eq!(nginx("/a/..%2Fadmin").as_deref(), Some("/admin"));
        assert_eq!(nginx("/../x"), None);
        assert_eq!(go_clean("/a//b/").as_deref(), Some("/a/b"));
        assert_eq!(express("/ADMIN/x").as_deref(), Some("/admin/x"));
        assert_eq!(werkzeug("/a%2Fb").as_deref(), Some("/a/b"));
        assert_eq!(windows_static("/Admin./x").as_deref(), Some("/admin/x"));
        assert_eq!(
            servlet("/admin;jsessionid=1/x").as_deref(),
            Some("/admin/x")
        );
        assert_eq!(double_decoding("/%2561dmin").as_deref(), Some("/admin"));
        assert!(lands_under("/Admin", "/admin/"));
        assert!(!lands_under("/administrator", "/admin/"));
    }
}
