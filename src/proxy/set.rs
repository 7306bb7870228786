//! One [`Proxy`] per app, in the order of `apps:` (one without it), so a
//! request picked for app `i` by its host goes to app `i`'s upstream.

use super::{Proxy, Upstream};
use crate::limits::Limits;

/// Every app's proxy, indexed as the apps are.
pub struct Proxies {
    list: Vec<Proxy>,
}

impl Proxies {
    pub fn new(upstreams: &[Upstream], limits: &Limits) -> Proxies {
        let list = upstreams
            .iter()
            .map(|upstream| Proxy::new(upstream.clone(), limits))
            .collect();
        Proxies { list }
    }

    /// App `index`'s proxy; `None` past the end.
    pub fn get(&self, index: usize) -> Option<&Proxy> {
        self.list.get(index)
    }

    /// Closes every app's tunnels and resolves once they have all ended.
    pub async fn close_tunnels(&self) {
        for proxy in &self.list {
            proxy.tunnels().close().await;
        }
    }
}
