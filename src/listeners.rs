//! The serving sockets: on Linux one `SO_REUSEPORT` socket per worker, so
//! the kernel spreads new connections evenly over the workers; elsewhere,
//! or where the option is refused, one socket that every worker shares.
//!
//! With a shared socket every worker waits on one accept queue and the
//! kernel wakes whichever it likes: two workers measured a 32/68 split of
//! the CPU. With a socket each, the kernel hashes every new connection to
//! one worker's queue.
//!
//! `SO_REUSEPORT` lets any process of the same effective user bind the same
//! port too, and take a share of the connections. So a fixed port is first
//! bound once *without* the option (not listening, then closed again): that
//! bind fails with "address in use" while anyone holds the port, another
//! doorman included, and `serve` stops with the same error as it always has.

use std::io;
use std::net::SocketAddr;

/// How many connections may wait, per socket, to be accepted.
#[cfg(target_os = "linux")]
const BACKLOG: i32 = 1024;

/// `count` listening sockets for `addr` (non-blocking), one per worker:
/// each its own `SO_REUSEPORT` socket where Linux allows it, else clones of
/// one shared socket. With port 0 the kernel picks a free port for the
/// first socket and the others bind that same port.
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    #[cfg(target_os = "linux")]
    if count > 1 {
        if addr.port() != 0 {
            probe(addr)?;
        }
        match group(addr, count) {
            Ok(group) => return Ok(group),
            Err(Group::Unsupported(err)) => {
                tracing::debug!(error = %err, "SO_REUSEPORT refused; the workers share one socket");
            }
            Err(Group::Failed(err)) => return Err(err),
        }
    }
    shared(addr, count)
}

/// One socket bound the way `std` binds (`SO_REUSEADDR`, no
/// `SO_REUSEPORT`), cloned for each worker.
fn shared(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let mut listeners = Vec::with_capacity(count.max(1));
    for _ in 1..count {
        listeners.push(listener.try_clone()?);
    }
    listeners.push(listener);
    Ok(listeners)
}

/// Whether `addr` is free for us: a bind without `SO_REUSEPORT` fails
/// while any socket holds the port, even one that set the option. The
/// probe never listens, so no connection can land in it and be lost when
/// it closes. (Two doormans starting in the same instant could both pass
/// it; one that is already serving is always found.)
#[cfg(target_os = "linux")]
fn probe(addr: SocketAddr) -> io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As `std` does: connections of an earlier process still in TIME_WAIT
    // do not hold the port.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())
}

/// Why no `SO_REUSEPORT` group was bound.
#[cfg(target_os = "linux")]
enum Group {
    /// The option is refused (an old kernel, a sandbox): share one socket.
    Unsupported(io::Error),
    /// The bind itself failed: the error to report.
    Failed(io::Error),
}

/// `count` sockets with `SO_REUSEPORT` on one port: `addr`'s, or with port
/// 0 the one the kernel gives the first.
#[cfg(target_os = "linux")]
fn group(addr: SocketAddr, count: usize) -> Result<Vec<std::net::TcpListener>, Group> {
    let first = member(addr)?;
    let addr = first.local_addr().map_err(Group::Failed)?;
    let mut group = Vec::with_capacity(count);
    group.push(first);
    for _ in 1..count {
        group.push(member(addr)?);
    }
    Ok(group)
}

/// One listening, non-blocking `SO_REUSEPORT` socket on `addr`.
#[cfg(target_os = "linux")]
fn member(addr: SocketAddr) -> Result<std::net::TcpListener, Group> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(Group::Failed)?;
    socket.set_reuse_address(true).map_err(Group::Failed)?;
    socket.set_reuse_port(true).map_err(Group::Unsupported)?;
    socket.bind(&addr.into()).map_err(Group::Failed)?;
    socket.listen(BACKLOG).map_err(Group::Failed)?;
    socket.set_nonblocking(true).map_err(Group::Failed)?;
    Ok(socket.into())
}

/// Whether `listener` is one of a `SO_REUSEPORT` group (for tests and the
/// start-up log).
pub fn reuses_port(listener: &std::net::TcpListener) -> bool {
    #[cfg(target_os = "linux")]
    {
        socket2::SockRef::from(listener)
            .reuse_port()
            .unwrap_or(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = listener;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn port_zero_gives_every_worker_the_same_port() {
        let listeners = bind(loopback(), 3).unwrap();
        assert_eq!(listeners.len(), 3);
        let port = listeners[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        for listener in &listeners {
            assert_eq!(listener.local_addr().unwrap().port(), port);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_each_worker_gets_its_own_reuseport_socket() {
        use std::os::fd::AsRawFd;
        let listeners = bind(loopback(), 2).unwrap();
        assert!(listeners.iter().all(reuses_port));
        assert_ne!(listeners[0].as_raw_fd(), listeners[1].as_raw_fd());
    }

    #[test]
    fn one_worker_has_one_plain_socket() {
        let listeners = bind(loopback(), 1).unwrap();
        assert_eq!(listeners.len(), 1);
        assert!(!reuses_port(&listeners[0]));
    }

    #[test]
    fn a_held_port_is_refused_even_to_a_reuseport_group() {
        let held = bind(loopback(), 2).unwrap();
        let addr = held[0].local_addr().unwrap();
        let err = bind(addr, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let plain = std::net::TcpListener::bind(loopback()).unwrap();
        let err = bind(plain.local_addr().unwrap(), 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn a_port_let_go_can_be_bound_again() {
        let held = bind(loopback(), 2).unwrap();
        let addr = held[0].local_addr().unwrap();
        drop(held);
        assert_eq!(bind(addr, 2).unwrap().len(), 2);
    }
}
