//! WebSockets through doorman: open one with a session cookie, and check
//! that the upstream's echo comes back, each within a bounded wait.

use super::SESSION_COOKIE;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A client's WebSocket.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens `/ws` through doorman at `addr` with `cookie` as the session,
/// within `patience`; the handshake must be a 101.
pub async fn open(addr: SocketAddr, cookie: &str, patience: Duration) -> Socket {
    let cookie = format!("{SESSION_COOKIE}={cookie}");
    open_with(addr, &[("cookie", &cookie)], patience).await
}

/// Opens `/ws` through doorman at `addr` with `headers` (a token's
/// `Authorization`, say), within `patience`; the handshake must be a 101.
pub async fn open_with(addr: SocketAddr, headers: &[(&str, &str)], patience: Duration) -> Socket {
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName =
            name.parse().expect("header name");
        request
            .headers_mut()
            .append(name, value.parse().expect("header"));
    }
    let (socket, response) =
        tokio::time::timeout(patience, tokio_tungstenite::connect_async(request))
            .await
            .expect("handshake in time")
            .expect("handshake");
    assert_eq!(response.status(), 101);
    socket
}

/// Sends `text` and expects it back within `patience`.
pub async fn assert_echoes(socket: &mut Socket, text: &str, patience: Duration) {
    socket.send(Message::Text(text.into())).await.expect("send");
    let echoed = tokio::time::timeout(patience, socket.next())
        .await
        .expect("echo in time");
    assert_eq!(
        echoed.expect("open").expect("message"),
        Message::Text(text.into())
    );
}

/// Whether the other side closes `socket` within `patience`.
pub async fn closes_within(socket: &mut Socket, patience: Duration) -> bool {
    tokio::time::timeout(patience, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .is_ok()
}
