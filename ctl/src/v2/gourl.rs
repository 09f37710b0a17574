//! URLs as Go's `net/url` and `path` handle them for etcd's v2 client: endpoints parsed
//! (`http://host:port[/path]`), key paths cleaned (`pathutil.CanonicalURLPath`) and escaped,
//! query strings encoded with sorted keys.

/// An endpoint or request URL: scheme, host (`host:port`), path (unescaped) and raw query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `http`, `https` (or anything else, which fails when used).
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    /// The unescaped path.
    pub path: String,
    /// What follows `?`, already encoded.
    pub query: String,
    /// For `scheme:opaque` URLs (`localhost:2379`).
    pub opaque: String,
}

impl Url {
    /// Go's `url.Parse` for what endpoints look like; the error text is Go's.
    pub fn parse(raw: &str) -> Result<Url, String> {
        let fail = |why: &str| format!("parse {}: {why}", crate::print::go_quote(raw));
        let (rest, query) = match raw.split_once('?') {
            Some((r, q)) => (r, q.to_owned()),
            None => (raw, String::new()),
        };
        let mut scheme = String::new();
        let mut rest = rest;
        for (i, c) in rest.char_indices() {
            match c {
                'a'..='z' | 'A'..='Z' => {}
                '0'..='9' | '+' | '-' | '.' if i > 0 => {}
                ':' if i == 0 => return Err(fail("missing protocol scheme")),
                ':' => {
                    scheme = rest[..i].to_ascii_lowercase();
                    rest = &rest[i + 1..];
                    break;
                }
                _ => break,
            }
        }
        let mut url = Url { scheme, host: String::new(), path: String::new(), query, opaque: String::new() };
        if let Some(after) = rest.strip_prefix("//") {
            let (host, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            url.host = host.to_owned();
            url.path = unescape(path).map_err(|e| fail(&e))?;
        } else if !url.scheme.is_empty() && !rest.starts_with('/') {
            url.opaque = rest.to_owned();
        } else {
            let first = rest.split('/').next().unwrap_or("");
            if url.scheme.is_empty() && first.contains(':') {
                return Err(fail("first path segment in URL cannot contain colon"));
            }
            url.path = unescape(rest).map_err(|e| fail(&e))?;
        }
        Ok(url)
    }

    /// Go's `URL.String()`.
    pub fn string(&self) -> String {
        let mut out = String::new();
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        if !self.opaque.is_empty() {
            out.push_str(&self.opaque);
        } else {
            if (!self.scheme.is_empty() || !self.host.is_empty()) && (!self.host.is_empty() || !self.path.is_empty()) {
                out.push_str("//");
                out.push_str(&self.host);
            }
            let path = escape_path(&self.path);
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                out.push('/');
            }
            out.push_str(&path);
        }
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out
    }

    /// The request target: escaped path and query.
    pub fn request_uri(&self) -> String {
        let mut out = if self.opaque.is_empty() { escape_path(&self.path) } else { self.opaque.clone() };
        if out.is_empty() {
            out.push('/');
        }
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out
    }

    /// The host without its port, and the port (the scheme's default when none).
    pub fn host_port(&self) -> (String, u16) {
        let default = if self.scheme == "https" { 443 } else { 80 };
        let host = &self.host;
        if let Some(rest) = host.strip_prefix('[')
            && let Some(end) = rest.find(']')
        {
            let port = rest[end + 1..].strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(default);
            return (rest[..end].to_owned(), port);
        }
        match host.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(default)),
            None => (host.clone(), default),
        }
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()) && h.len() == 2);
            let Some(hex) = hex else {
                let bad: String = text[i..].chars().take(3).collect();
                return Err(format!("invalid URL escape {}", crate::print::go_quote(&bad)));
            };
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `escape(path, encodePath)`.
pub fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~' | b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's `url.Values.Encode`: keys sorted, each `key=value` escaped.
pub fn encode_values(values: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = values.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted.iter().map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v))).collect::<Vec<_>>().join("&")
}

/// Go's `path.Clean`.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `path.Join`.
pub fn join(parts: &[&str]) -> String {
    let nonempty: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if nonempty.is_empty() {
        return String::new();
    }
    clean(&nonempty.join("/"))
}

/// etcd's `pathutil.CanonicalURLPath`: rooted and cleaned, keeping a trailing slash.
pub fn canonical(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    let mut cleaned = clean(&path);
    if path.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_go_parses_them() {
        let url = Url::parse("http://127.0.0.1:2379").expect("parses");
        assert_eq!((url.scheme.as_str(), url.host.as_str(), url.path.as_str()), ("http", "127.0.0.1:2379", ""));
        assert_eq!(url.string(), "http://127.0.0.1:2379");
        assert_eq!(
            Url::parse("127.0.0.1:2379").expect_err("fails"),
            "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon"
        );
        let opaque = Url::parse("localhost:2379").expect("parses");
        assert_eq!((opaque.scheme.as_str(), opaque.string().as_str()), ("localhost", "localhost:2379"));
    }

    #[test]
    fn paths_clean_and_escape_as_go_does() {
        assert_eq!(canonical("/a//b/../c/"), "/a/c/");
        assert_eq!(canonical("foo"), "/foo");
        assert_eq!(join(&["", "/v2/members", "abc"]), "/v2/members/abc");
        assert_eq!(escape_path("/a b/ü?#"), "/a%20b/%C3%BC%3F%23");
        assert_eq!(
            encode_values(&[("value", "a b&c".to_owned()), ("prevValue", "x".to_owned())]),
            "prevValue=x&value=a+b%26c"
        );
    }
}
