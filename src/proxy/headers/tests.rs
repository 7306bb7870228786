//! Unit tests for the header rewrites, named as what they show.

use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

#[test]
fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
    let mut headers = map(&[
        ("connection", "keep-alive, X-Secret-Hop"),
        ("x-secret-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("x-kept", "yes"),
    ]);
    remove_hop_by_hop(&mut headers);
    assert_eq!(headers.len(), 1);
    assert_eq!(headers["x-kept"], "yes");
}

#[test]
fn a_field_read_as_bytes_is_hop_by_hop_exactly_when_its_header_name_is() {
    let listed = connection_listed(
        ["Keep-Alive, X-Secret-Hop", "x-other"]
            .map(str::as_bytes)
            .into_iter(),
    );
    let names = [
        "Connection",
        "CONNECTION",
        "connection",
        "TE",
        "te",
        "Trailer",
        "Keep-Alive",
        "Proxy-Connection",
        "proxy-authenticate",
        "Proxy-Authorization",
        "Transfer-Encoding",
        "UPGRADE",
        "X-Secret-Hop",
        "x-secret-hop",
        "X-OTHER",
        "x-secret-hop2",
        "x-secret-ho",
        "Date",
        "Content-Length",
        "content-type",
        "Set-Cookie",
        "connections",
        "tee",
        "upgrade-",
        "x-request-id",
        "ETag",
        "Keep_Alive",
        "Transfer_Encoding",
        "Proxy-Connection.",
    ];
    for name in names {
        let header = HeaderName::from_bytes(name.as_bytes()).unwrap();
        assert_eq!(
            is_hop_by_hop_field(name.as_bytes(), &listed),
            is_hop_by_hop(&header, &listed),
            "{name}"
        );
    }
    assert!(is_hop_by_hop_field(b"Keep-Alive", &listed));
    assert!(is_hop_by_hop_field(b"x-SECRET-hop", &listed));
    assert!(!is_hop_by_hop_field(b"Keep_Alive", &listed));
    assert!(!is_hop_by_hop_field(b"Date", &listed));
}

#[test]
fn identity_headers_are_stripped_in_any_case_and_with_underscores() {
    let mut headers = map(&[
        ("Remote-User", "mallory"),
        ("REMOTE_USER", "mallory"),
        ("remote-groups", "admins"),
        ("Remote_Email", "m@example.com"),
        ("remote-username", "kept"),
    ]);
    let names = [
        HeaderName::from_static("remote-user"),
        HeaderName::from_static("remote-email"),
        HeaderName::from_static("remote-groups"),
        HeaderName::from_static("remote-name"),
    ];
    ClientHeaders::new(&names.iter().collect::<Vec<_>>(), Vec::new()).clean_request(&mut headers);
    assert_eq!(headers.len(), 1);
    assert!(headers.contains_key("remote-username"));
}

#[test]
fn only_doormans_cookies_are_removed_from_the_cookie_header() {
    let mut headers = map(&[
        ("cookie", "app=1; doorman_session=abc"),
        ("cookie", "doorman_session_csrf=x; theme=dark"),
    ]);
    strip_cookies(&mut headers, &["doorman_session", "doorman_session_csrf"]);
    assert_eq!(headers["cookie"], "app=1; theme=dark");
}

#[test]
fn several_cookie_lines_are_joined_into_one() {
    let mut headers = map(&[("cookie", "app=1"), ("cookie", "theme=dark")]);
    strip_cookies(&mut headers, &["doorman_session"]);
    assert_eq!(headers.get_all("cookie").iter().count(), 1);
    assert_eq!(headers["cookie"], "app=1; theme=dark");
}

#[test]
fn a_cookie_header_of_only_doormans_cookies_disappears() {
    let mut headers = map(&[("cookie", "doorman_session=abc")]);
    strip_cookies(&mut headers, &["doorman_session"]);
    assert!(!headers.contains_key("cookie"));
}

#[test]
fn several_x_forwarded_for_lines_are_kept_as_one_list() {
    let mut headers = map(&[
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-for", "198.51.100.7"),
    ]);
    set_forwarded(
        &mut headers,
        "127.0.0.1".parse().unwrap(),
        false,
        None,
        true,
    );
    assert_eq!(
        headers["x-forwarded-for"],
        "203.0.113.9, 198.51.100.7, 127.0.0.1"
    );
}

#[test]
fn an_untrusted_peers_chain_is_replaced() {
    let mut headers = map(&[("x-forwarded-for", "203.0.113.9")]);
    set_forwarded(
        &mut headers,
        "192.0.2.1".parse().unwrap(),
        false,
        None,
        false,
    );
    assert_eq!(headers["x-forwarded-for"], "192.0.2.1");
}

#[test]
fn x_forwarded_for_is_appended_to() {
    let mut headers = map(&[
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-proto", "https"),
    ]);
    set_forwarded(
        &mut headers,
        "127.0.0.1".parse().unwrap(),
        false,
        Some(&HeaderValue::from_static("app")),
        true,
    );
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(headers["x-forwarded-host"], "app");
}

#[test]
fn a_trusted_proxys_https_is_kept_and_anyone_elses_scheme_is_replaced() {
    for (sent, trusted, tls, expected) in [
        ("https", true, false, "https"),
        ("HTTPS, http", true, false, "https"),
        ("http", true, false, "http"),
        ("https", false, false, "http"),
        ("gopher", true, false, "http"),
        ("http", false, true, "https"),
        ("http", true, true, "https"),
    ] {
        let mut headers = map(&[("x-forwarded-proto", sent)]);
        set_forwarded(
            &mut headers,
            "10.0.0.1".parse().unwrap(),
            tls,
            None,
            trusted,
        );
        assert_eq!(
            headers["x-forwarded-proto"], expected,
            "{sent} {trusted} {tls}"
        );
        assert_eq!(headers.get_all("x-forwarded-proto").iter().count(), 1);
    }
}

fn identity() -> [HeaderName; 4] {
    [
        HeaderName::from_static("remote-user"),
        HeaderName::from_static("remote-email"),
        HeaderName::from_static("remote-groups"),
        HeaderName::from_static("remote-name"),
    ]
}

fn cleaned(pairs: &[(&str, &str)], passed: &[&str]) -> HeaderMap {
    let identity = identity();
    let passed = passed
        .iter()
        .map(|name| HeaderName::from_bytes(name.as_bytes()).unwrap())
        .collect();
    let mut headers = map(pairs);
    ClientHeaders::new(&identity.iter().collect::<Vec<_>>(), passed).clean_request(&mut headers);
    headers
}

#[test]
fn every_name_an_app_server_folds_into_an_identity_header_is_removed() {
    for name in [
        "Remote-User",
        "remote_user",
        "REMOTE.USER",
        "Remote~User",
        "remote+user",
        "Remote!User",
        "remote'user",
        "Remote|Groups",
        "remote.email",
        "REMOTE_NAME",
        "remote`name",
        "Remote*Groups",
        "remote#user",
        "remote$user",
        "remote^user",
    ] {
        let headers = cleaned(&[(name, "mallory"), ("x-kept", "1")], &[]);
        assert!(!headers.contains_key(name), "{name}");
        assert_eq!(headers.len(), 1, "{name}");
    }
    // Only names that fold to one: these are other headers.
    let headers = cleaned(
        &[
            ("remote-username", "1"),
            ("remoteuser", "1"),
            ("x-remote-user", "1"),
        ],
        &[],
    );
    assert_eq!(headers.len(), 3);
}

#[test]
fn removed_names_of_every_length_go_and_names_that_only_resemble_them_stay() {
    let identity =
        ["u", "x-user", "who", "x-authenticated-user-principal-name"].map(HeaderName::from_static);
    let names = identity.iter().collect::<Vec<_>>();
    let strip = ClientHeaders::new(&names, Vec::new());
    for name in [
        "U",
        "x_user",
        "X.User",
        "WHO",
        "X-Authenticated-User-Principal-Name",
        "x_authenticated_user_principal_name",
        // Routing headers: one the length of `cookie` and `accept`, one
        // of a length no identity header here has.
        "x-host",
        "X_Host",
        "X-Client-IP",
        "x_client_ip",
        "forwarded",
        "FORWARDED",
        // Hop-by-hop, with no `Connection` to name them.
        "TE",
        "Trailer",
        "upgrade",
        "Keep-Alive",
        "Connection",
        "Proxy-Connection",
    ] {
        let mut headers = map(&[
            (name, "mallory"),
            ("cookie", "app=1"),
            ("accept", "*/*"),
            ("host", "app"),
            ("ux", "1"),
            ("whom", "1"),
            ("x-users", "1"),
        ]);
        strip.clean_request(&mut headers);
        assert!(!headers.contains_key(name), "{name}");
        assert_eq!(headers.len(), 6, "{name}: {headers:?}");
    }
}

#[test]
fn only_doormans_own_request_id_is_kept_and_every_look_alike_is_removed() {
    for name in [
        "X_Request_Id",
        "x_request_id",
        "X.Request.Id",
        "x-request_id",
        "X~REQUEST~ID",
    ] {
        let headers = cleaned(&[("x-request-id", "doormans"), (name, "forged")], &[]);
        let left: Vec<_> = headers.iter().collect();
        assert_eq!(left.len(), 1, "{name}: {left:?}");
        assert_eq!(headers["x-request-id"], "doormans", "{name}");
    }
    // Other headers that merely mention it stay.
    let headers = cleaned(&[("x-request-id-echo", "1"), ("request-id", "1")], &[]);
    assert_eq!(headers.len(), 2);
}

#[test]
fn connection_never_removes_a_header_doorman_owns() {
    let headers = cleaned(
        &[
            (
                "connection",
                "Remote-User, remote_groups, Cookie, Host, X-Forwarded-For, X-Forwarded-Proto, \
                 Forwarded, X-Forwarded-Host, x-app-hop",
            ),
            ("cookie", "app=1"),
            ("host", "app.example.com"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-app-hop", "1"),
        ],
        &[],
    );
    assert_eq!(headers["cookie"], "app=1");
    assert_eq!(headers["host"], "app.example.com");
    // Kept for set_forwarded, which believes them only from a trusted proxy.
    assert!(headers.contains_key("x-forwarded-for"));
    assert!(headers.contains_key("x-forwarded-proto"));
    // A header that is the client's own to drop still goes.
    assert!(!headers.contains_key("x-app-hop"));
    assert!(!headers.contains_key("connection"));
}

#[test]
fn routing_and_client_address_headers_are_removed_unless_passed() {
    let sent: Vec<(&str, &str)> = ROUTING_HEADERS
        .iter()
        .map(|name| (*name, "/admin"))
        .chain([
            ("forwarded", "for=1.2.3.4;proto=https"),
            ("x-forwarded-prefix", "/admin"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-server", "x"),
            ("x-forwarded-scheme", "https"),
            ("x-forwarded-ssl", "on"),
            ("X_Forwarded_For", "1.2.3.4"),
            ("x.forwarded.proto", "https"),
            ("X-Original_URL", "/admin"),
            ("x_real_ip", "1.2.3.4"),
            ("x-kept", "1"),
        ])
        .collect();
    let headers = cleaned(&sent, &[]);
    assert_eq!(
        headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
        ["x-kept"]
    );
    // Passed by name only: look-alikes of a passed header still go.
    let headers = cleaned(
        &[
            ("x-real-ip", "1.2.3.4"),
            ("x_real_ip", "6.6.6.6"),
            ("x-forwarded-prefix", "/app"),
        ],
        &["x-real-ip", "x-forwarded-prefix"],
    );
    assert_eq!(headers.len(), 2);
    assert_eq!(headers["x-real-ip"], "1.2.3.4");
}

#[test]
fn only_an_allowed_protocol_is_an_upgrade_and_never_h2c() {
    let allowed = ["websocket".to_owned()];
    let ask = |protocol: &str| {
        allowed_upgrade(
            &map(&[("connection", "Upgrade"), ("upgrade", protocol)]),
            &allowed,
        )
    };
    assert!(ask("websocket").is_some());
    assert!(ask("WebSocket").is_some());
    for refused in [
        "h2c",
        "H2C",
        "websocket, h2c",
        "h2c, websocket",
        "tls/1.2",
        "foo",
    ] {
        assert!(ask(refused).is_none(), "{refused}");
    }
}

#[test]
fn an_upgrade_needs_connection_upgrade_and_an_upgrade_header() {
    assert!(upgrade_protocol(&map(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket")
    ]))
    .is_some());
    assert!(upgrade_protocol(&map(&[("upgrade", "websocket")])).is_none());
    assert!(upgrade_protocol(&map(&[("connection", "upgrade")])).is_none());
}

/// The forwarding headers put into `headers`, as `Proxy::prepare` does.
fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    tls: bool,
    host: Option<&HeaderValue>,
    trusted: bool,
) {
    forwarded(headers, peer, tls, host, trusted).apply(headers);
}
