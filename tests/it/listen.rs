//! The serving sockets with two workers (one `SO_REUSEPORT` socket each on
//! Linux): every connection is answered, port 0 works, a reload keeps
//! serving, a port another doorman holds is refused with the usual error,
//! and a shut-down gateway lets the port go.

use crate::support::process::{doorman, free_local_addr, Process};
use crate::support::{Env, SESSION_COOKIE};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TWO_WORKERS: &str = "limits: { worker_threads: 2 }";

/// The status of one GET of `path` on a connection of its own.
async fn get_on_new_connection(addr: SocketAddr, path: &str, cookie: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: app.test\r\nCookie: {SESSION_COOKIE}={cookie}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {answer:?}"))
}

/// Sends `total` authenticated GETs, each on a new connection, 32 at a
/// time, and returns how many got a 200.
async fn answered(addr: SocketAddr, cookie: &str, total: usize) -> usize {
    let mut ok = 0;
    for _ in 0..total / 32 {
        let batch: Vec<_> = (0..32)
            .map(|_| {
                let cookie = cookie.to_owned();
                tokio::spawn(async move { get_on_new_connection(addr, "/private", &cookie).await })
            })
            .collect();
        for connection in batch {
            if connection.await.expect("connection task") == 200 {
                ok += 1;
            }
        }
    }
    ok
}

#[tokio::test]
async fn two_workers_answer_every_connection_on_port_zero_and_after_a_reload() {
    let env = Env::with_extra(TWO_WORKERS).await;
    assert_ne!(env.addr.port(), 0, "port 0 was resolved to a real port");
    let cookie = env.session_of("alice").await;
    assert_eq!(answered(env.addr, &cookie, 256).await, 256);

    let config =
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    env.doorman.as_ref().expect("running").reload(config);
    assert_eq!(answered(env.addr, &cookie, 128).await, 128);
}

#[tokio::test]
async fn a_second_gateway_on_a_held_port_is_refused_and_the_first_keeps_serving() {
    let env = Env::with_extra(TWO_WORKERS).await;
    let cookie = env.session_of("alice").await;
    let mut config =
        doorman::config::Config::load_from(Some(&env.config_path()), &|_| None).expect("valid");
    config.listen = env.addr;
    let refused = match doorman::Gateway::start(config).await {
        Ok(_) => panic!(
            "a second gateway bound {} while the first held it",
            env.addr
        ),
        Err(err) => err.to_string(),
    };
    assert!(
        refused.starts_with(&format!("cannot listen on {}: ", env.addr)),
        "{refused}"
    );
    assert!(refused.contains("in use"), "{refused}");
    assert_eq!(answered(env.addr, &cookie, 64).await, 64);
}

#[tokio::test]
async fn a_second_doorman_serve_on_the_same_fixed_port_exits_with_address_in_use() {
    let env = Env::with_extra(TWO_WORKERS).await;
    let addr = free_local_addr();
    let text = std::fs::read_to_string(env.config_path()).expect("config");
    assert!(text.contains("listen: \"127.0.0.1:0\""), "{text}");
    let fixed = env.dir.path().join("fixed-port.yaml");
    std::fs::write(
        &fixed,
        text.replace("listen: \"127.0.0.1:0\"", &format!("listen: \"{addr}\"")),
    )
    .expect("config");

    let mut first = Process::spawn(doorman().args(["serve", "--config"]).arg(&fixed));
    assert_eq!(first.listening_addr(), addr);
    let mut second = Process::spawn(doorman().args(["serve", "--config"]).arg(&fixed));
    assert_eq!(second.wait().code(), Some(1));
    let line = second.wait_for("cannot listen on");
    assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
    assert!(line.contains("in use"), "{line}");

    let health = reqwest::get(format!("http://{addr}/.doorman/health"))
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "the first doorman still serves");
}

#[tokio::test]
async fn a_gateway_shut_down_lets_its_port_go() {
    let mut env = Env::with_extra(TWO_WORKERS).await;
    let cookie = env.session_of("alice").await;
    assert_eq!(answered(env.addr, &cookie, 32).await, 32);
    env.doorman.take().expect("running").shutdown().await;
    // Every worker's socket is closed: a plain bind (no SO_REUSEPORT) succeeds.
    std::net::TcpListener::bind(env.addr).expect("the port is free again");
}

#[tokio::test]
async fn with_one_connection_slot_every_newcomer_is_let_in_whichever_socket_it_lands_on() {
    // Each worker accepts before it waits for a slot: a worker that took
    // the only slot first would wait on its own socket while the kernel
    // queued the newcomer on the other worker's, and nobody got in.
    let env = Env::with_extra("limits: { worker_threads: 2, max_connections: 1 }").await;
    for attempt in 0..64 {
        let status = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            get_on_new_connection(env.addr, "/.doorman/health", "none"),
        )
        .await
        .unwrap_or_else(|_| panic!("connection {attempt} was never let in"));
        assert_eq!(status, 200, "connection {attempt}");
    }
}
