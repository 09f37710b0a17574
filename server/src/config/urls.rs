//! URL lists and `--initial-cluster`.

use std::net::SocketAddr;

/// Parses a comma-separated list of `http://host:port` URLs (https is refused
/// until TLS is configured). Returns them trimmed, in order.
pub fn parse_urls(text: &str) -> anyhow::Result<Vec<String>> {
    let urls: Vec<String> = text.split(',').map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect();
    if urls.is_empty() {
        anyhow::bail!("empty URL list");
    }
    for url in &urls {
        host_port(url)?;
    }
    Ok(urls)
}

/// The `host:port` of an `http://` or `unix://` URL.
pub fn host_port(url: &str) -> anyhow::Result<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| anyhow::anyhow!("URL scheme must be http, https, unix, or unixs: {url}"))?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || !rest.contains(':') {
        anyhow::bail!("URL address does not have the form \"host:port\": {url}");
    }
    Ok(rest)
}

/// Resolves a listen URL to a socket address (`localhost` is 127.0.0.1).
pub fn listen_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let host_port = host_port(url)?;
    let host_port = match host_port.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => host_port.to_string(),
    };
    host_port.parse().map_err(|e| anyhow::anyhow!("cannot listen on {url}: {e}"))
}

/// `--initial-cluster`: member names with their peer URLs, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialCluster {
    /// `(name, peer URLs)`, one entry per member.
    pub members: Vec<(String, Vec<String>)>,
}

impl InitialCluster {
    /// Parses `name1=url1,name2=url2,name1=url3` (a name may repeat to give more URLs).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut members: Vec<(String, Vec<String>)> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, url) =
                part.split_once('=').ok_or_else(|| anyhow::anyhow!("invalid initial cluster entry {part:?}"))?;
            host_port(url)?;
            match members.iter_mut().find(|(n, _)| n == name) {
                Some((_, urls)) => urls.push(url.to_string()),
                None => members.push((name.to_string(), vec![url.to_string()])),
            }
        }
        if members.is_empty() {
            anyhow::bail!("empty initial cluster");
        }
        Ok(InitialCluster { members })
    }

    /// The peer URLs of member `name`.
    pub fn peer_urls(&self, name: &str) -> Option<&[String]> {
        self.members.iter().find(|(n, _)| n == name).map(|(_, urls)| urls.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_initial_cluster() {
        let c = InitialCluster::parse("a=http://127.0.0.1:2380,b=http://127.0.0.1:12380,a=http://10.0.0.1:2380")
            .expect("valid");
        assert_eq!(c.members.len(), 2);
        assert_eq!(c.peer_urls("a").map(<[String]>::len), Some(2));
        assert!(InitialCluster::parse("a").is_err());
        assert!(InitialCluster::parse("a=ftp://x:1").is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(listen_addr("http://localhost:2379").expect("ok").to_string(), "127.0.0.1:2379");
        assert_eq!(listen_addr("http://0.0.0.0:1/").expect("ok").port(), 1);
        assert!(listen_addr("http://example.com").is_err());
    }
}
