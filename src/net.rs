//! Who the client is: the peer address, or — only when the peer is a
//! trusted proxy — the address that proxy reports in `X-Forwarded-For`.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The networks whose `X-Forwarded-*` headers are believed. Empty (the
/// default) believes nobody: the peer address is the client.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. Walks `X-Forwarded-For` from the right past
    /// every trusted hop; the first untrusted address is the client. A peer
    /// that is not trusted is the client itself, whatever it sends.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all(&crate::proxy::headers::X_FORWARDED_FOR)
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("").rsplit(','));
        for hop in hops {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.contains(ip) {
                        break;
                    }
                }
                // A garbled entry: stop believing the chain here.
                None => break,
            }
        }
        client
    }
}

/// An address as it appears in `X-Forwarded-For`: bare, or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    None
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as plain IPv4, so one
/// client has one address for rules and limits.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The key under which a client's failures are counted: its address, or
/// for IPv6 its /64, since one host usually holds a whole /64.
pub fn client_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(proxies.client_ip(peer, &xff(&["1.2.3.4"])), peer);
        assert_eq!(
            TrustedProxies::default().client_ip(peer, &xff(&["1.2.3.4"])),
            peer
        );
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right() {
        let proxies = trusted(&["10.0.0.0/8", "::1/128"]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let headers = xff(&["6.6.6.6, 198.51.100.7", "10.0.0.5"]);
        assert_eq!(
            proxies.client_ip(peer, &headers),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Only trusted hops: the leftmost is as far as the chain goes.
        let headers = xff(&["10.1.1.1"]);
        assert_eq!(
            proxies.client_ip(peer, &headers),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        // Garbage stops the walk at the last trusted hop.
        let headers = xff(&["6.6.6.6, not-an-ip"]);
        assert_eq!(proxies.client_ip(peer, &headers), peer);
        let headers = xff(&["[2001:db8::1]:443"]);
        assert_eq!(
            proxies.client_ip(peer, &headers),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_addresses_and_v6_keys() {
        let proxies = trusted(&["127.0.0.0/8"]);
        assert!(proxies.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert_eq!(client_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }
}
