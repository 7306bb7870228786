//! Unit tests of the lane's reading of request heads: it takes only what
//! it reads exactly as hyper would, and leaves everything else to hyper.

use super::*;

fn parsed(head: &str) -> Option<Request<()>> {
    parse(
        &Bytes::copy_from_slice(head.as_bytes()),
        MAX_HEADERS,
        HeaderMap::new(),
    )
}

#[test]
fn a_plain_get_is_the_lanes() {
    let request = parsed("GET /a?b=1 HTTP/1.1\r\nHost: app\r\nCookie: x=1\r\nX-Y: z\r\n\r\n");
    let request = request.expect("a plain GET");
    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.uri().path(), "/a");
    assert_eq!(request.uri().query(), Some("b=1"));
    assert_eq!(request.headers()["x-y"], "z");
    assert!(parsed("HEAD / HTTP/1.1\r\nHost: app\r\nConnection: keep-alive\r\n\r\n").is_some());
}

#[test]
fn a_shared_header_name_is_the_name_from_bytes_reads() {
    let mut spellings: Vec<String> = Vec::new();
    for name in &SHARED_NAMES {
        let lower = name.as_str();
        spellings.push(lower.to_owned());
        spellings.push(lower.to_ascii_uppercase());
        // Title-Case, as proxies write them.
        let title = lower.split('-').map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        });
        spellings.push(title.collect::<Option<Vec<_>>>().expect("words").join("-"));
        // Near misses: one byte more, one less, `_` for `-`, a look-alike.
        spellings.push(format!("{lower}s"));
        spellings.push(lower[1..].to_owned());
        spellings.push(lower.replace('-', "_"));
        spellings.push(lower.replace('o', "0"));
    }
    spellings.extend(
        [
            "host",
            "Cookie",
            "x-app",
            "",
            "x forwarded",
            "x-forwarded-for\0",
        ]
        .map(String::from),
    );
    for spelling in &spellings {
        let bytes = spelling.as_bytes();
        assert_eq!(
            header_name(bytes),
            HeaderName::from_bytes(bytes).ok(),
            "{spelling:?}"
        );
    }
    // And each is shared, in any case: the same bytes as the static name.
    for name in &SHARED_NAMES {
        let upper = name.as_str().to_ascii_uppercase();
        let read = header_name(upper.as_bytes()).expect("a name");
        assert_eq!(read.as_str().as_ptr(), name.as_str().as_ptr(), "{name}");
    }
}

#[test]
fn anything_with_a_body_an_upgrade_or_an_odd_shape_is_hypers() {
    for head in [
        "POST / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: UPGRADE\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET a HTTP/1.1\r\nHost: a\r\n\r\n",
        "get / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded: line\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\n",
    ] {
        assert!(parsed(head).is_none(), "{head:?}");
    }
}

#[test]
fn more_headers_than_the_lane_reads_are_hypers() {
    let mut head = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for n in 0..MAX_HEADERS {
        head.push_str(&format!("X-{n}: v\r\n"));
    }
    head.push_str("\r\n");
    assert!(parsed(&head).is_none());
    let few = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert!(parse(&Bytes::from_static(few.as_bytes()), 2, HeaderMap::new()).is_none());
}

#[test]
fn a_head_ends_at_its_empty_line_however_it_is_written() {
    assert_eq!(
        head_length(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"),
        Some(27)
    );
    assert_eq!(head_length(b"GET / HTTP/1.1\nHost: a\n\nX"), Some(24));
    assert_eq!(head_length(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
    assert_eq!(head_length(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), None);
}

#[test]
fn only_get_and_head_are_waited_for() {
    for start in ["G", "GE", "GET", "GET ", "GET /x", "H", "HEAD /"] {
        assert!(plausible(start.as_bytes()), "{start}");
    }
    for start in ["P", "POST /", "GETX", "PRI * HTTP/2.0", "\r\nGET /", " GET"] {
        assert!(!plausible(start.as_bytes()), "{start}");
    }
}

#[test]
fn connection_tokens_that_end_or_upgrade_the_connection_are_found() {
    assert!(keeps_alive(b"keep-alive"));
    assert!(keeps_alive(b"keep-alive, x-custom"));
    assert!(!keeps_alive(b"close"));
    assert!(!keeps_alive(b" Close "));
    assert!(!keeps_alive(b"x, upgrade"));
}
