//! Prototype: a bare HTTP/1 reverse proxy below hyper — httparse heads,
//! the upstream exchange inline in the client connection's task, a
//! per-worker stack of idle upstream connections. Only Content-Length
//! bodies (GET benchmark). usage: LISTEN UPSTREAM
use std::cell::RefCell;
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_reuse_address(true).unwrap();
            s.set_reuse_port(true).unwrap();
            s.bind(&addr.into()).unwrap();
            s.listen(1024).unwrap();
            s.set_nonblocking(true).unwrap();
            let listener: std::net::TcpListener = s.into();
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, serve(listener, upstream));
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

type Idle = Rc<RefCell<Vec<TcpStream>>>;

async fn serve(listener: std::net::TcpListener, upstream: String) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let idle: Idle = Rc::new(RefCell::new(Vec::new()));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let (idle, upstream) = (idle.clone(), upstream.clone());
        tokio::task::spawn_local(async move {
            let _ = connection(stream, idle, &upstream).await;
        });
    }
}

fn content_length(headers: &[httparse::Header]) -> Option<usize> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
}

async fn connection(mut client: TcpStream, idle: Idle, upstream: &str) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(8192);
    let mut out = Vec::with_capacity(8192);
    let mut ubuf = Vec::with_capacity(16384);
    loop {
        // Read one request head.
        let (head_len, path_end) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    out.clear();
                    out.extend_from_slice(req.method.unwrap().as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(req.path.unwrap().as_bytes());
                    out.extend_from_slice(b" HTTP/1.1\r\n");
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("connection") {
                            continue;
                        }
                        out.extend_from_slice(h.name.as_bytes());
                        out.extend_from_slice(b": ");
                        out.extend_from_slice(h.value);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"\r\n");
                    break (n, 0);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Ok(()),
            }
            buf.reserve(4096);
            if client.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let _ = path_end;
        buf.drain(..head_len);
        let taken = idle.borrow_mut().pop();
        let mut up = match taken {
            Some(up) => up,
            None => {
                let up = TcpStream::connect(upstream).await?;
                up.set_nodelay(true)?;
                up
            }
        };
        up.write_all(&out).await?;
        ubuf.clear();
        let (rhead, len) = loop {
            ubuf.reserve(8192);
            if up.read_buf(&mut ubuf).await? == 0 {
                return Ok(());
            }
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&ubuf) {
                Ok(httparse::Status::Complete(n)) => {
                    let len = content_length(resp.headers).unwrap_or(0);
                    out.clear();
                    out.extend_from_slice(b"HTTP/1.1 ");
                    out.extend_from_slice(resp.code.unwrap().to_string().as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
                    out.extend_from_slice(b"\r\n");
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("connection") {
                            continue;
                        }
                        out.extend_from_slice(h.name.as_bytes());
                        out.extend_from_slice(b": ");
                        out.extend_from_slice(h.value);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"\r\n");
                    break (n, len);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Ok(()),
            }
        };
        let have = ubuf.len() - rhead;
        let first = have.min(len);
        out.extend_from_slice(&ubuf[rhead..rhead + first]);
        client.write_all(&out).await?;
        let mut left = len - first;
        while left > 0 {
            ubuf.clear();
            ubuf.reserve(16384);
            let n = up.read_buf(&mut ubuf).await?;
            if n == 0 {
                return Ok(());
            }
            let n = n.min(left);
            client.write_all(&ubuf[..n]).await?;
            left -= n;
        }
        if have <= len {
            idle.borrow_mut().push(up);
        }
    }
}
