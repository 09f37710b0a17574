//! `application/x-www-form-urlencoded` decoding as Go's `net/url` does it,
//! for the v2 API's query strings and form bodies (with Go's error messages,
//! which etcd returns as the `cause` of error 210).

/// Why a form did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    #[error("invalid URL escape {0:?}")]
    Escape(String),
    /// A `;` between pairs (Go 1.17+ refuses them).
    #[error("invalid semicolon separator in query")]
    Semicolon,
}

/// Decoded pairs in order; a key may repeat, the first value wins.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Appends the pairs of `input` (`a=1&b=2`).
    pub fn parse(&mut self, input: &[u8]) -> Result<(), FormError> {
        for part in input.split(|b| *b == b'&') {
            if part.is_empty() {
                continue;
            }
            if part.contains(&b';') {
                return Err(FormError::Semicolon);
            }
            let (key, value) = match part.iter().position(|b| *b == b'=') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &b""[..]),
            };
            let key = String::from_utf8_lossy(&percent_decode(key, true)?).into_owned();
            let value = String::from_utf8_lossy(&percent_decode(value, true)?).into_owned();
            self.pairs.push((key, value));
        }
        Ok(())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present (even with an empty value).
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set).
pub fn percent_decode(input: &[u8], plus: bool) -> Result<Vec<u8>, FormError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (input.get(i + 1).copied().and_then(hex), input.get(i + 2).copied().and_then(hex)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(input.len());
                        return Err(FormError::Escape(String::from_utf8_lossy(&input[i..end]).into_owned()));
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_go() {
        let mut form = Form::default();
        form.parse(b"a=1&b=x+y%21&a=2&flag&&c=").expect("ok");
        assert_eq!(
            (form.get("a"), form.get("b"), form.get("flag"), form.get("c")),
            (Some("1"), Some("x y!"), Some(""), Some(""))
        );
        assert!(form.has("c") && !form.has("d"));
        assert_eq!(Form::default().parse(b"a=%4").expect_err("an error").to_string(), r#"invalid URL escape "%4""#);
        assert_eq!(Form::default().parse(b"a=1;b=2").expect_err("an error"), FormError::Semicolon);
        assert_eq!(percent_decode(b"a+b%2F", false).expect("ok"), b"a+b/");
    }
}
