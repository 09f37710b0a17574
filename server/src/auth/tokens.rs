//! etcd's simple tokens: random strings handed out by `Authenticate`, each
//! naming a user and the auth revision its password was checked at, valid on
//! every member (the assignment goes through raft) until unused for the TTL
//! (`--auth-token-ttl`), the user is deleted or changes password, or auth is
//! turned off.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The user.
    pub user: String,
    /// The auth revision when the token was given.
    pub revision: u64,
}

/// The tokens this member knows.
#[derive(Debug)]
pub struct Tokens {
    ttl: Duration,
    tokens: HashMap<String, (TokenInfo, Instant)>,
}

/// How many random letters a token has (etcd's 16), before `.<counter>`.
const TOKEN_LETTERS: usize = 16;

impl Tokens {
    /// No tokens; each lives `ttl` from its last use.
    pub fn new(ttl: Duration) -> Self {
        Tokens { ttl, tokens: HashMap::new() }
    }

    /// A new token string: 16 random letters and `.` `serial` (etcd's form).
    pub fn generate(serial: u64) -> Result<String, getrandom::Error> {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut bytes = [0u8; TOKEN_LETTERS];
        getrandom::fill(&mut bytes)?;
        let letters: String = bytes.iter().map(|b| LETTERS[usize::from(*b) % LETTERS.len()] as char).collect();
        Ok(format!("{letters}.{serial}"))
    }

    /// Records `token` for `info`, valid from `now`.
    pub fn assign(&mut self, token: String, info: TokenInfo, now: Instant) {
        self.tokens.retain(|_, (_, seen)| now.duration_since(*seen) < self.ttl);
        self.tokens.insert(token, (info, now));
    }

    /// Who `token` speaks for, renewing its TTL; `None` if unknown or expired.
    pub fn info(&mut self, token: &str, now: Instant) -> Option<TokenInfo> {
        let ttl = self.ttl;
        match self.tokens.get_mut(token) {
            Some((info, seen)) if now.duration_since(*seen) < ttl => {
                *seen = now;
                Some(info.clone())
            }
            Some(_) => {
                self.tokens.remove(token);
                None
            }
            None => None,
        }
    }

    /// Forgets the tokens of `user`.
    pub fn invalidate_user(&mut self, user: &str) {
        self.tokens.retain(|_, (info, _)| info.user != user);
    }

    /// Forgets every token.
    pub fn clear(&mut self) {
        self.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_unless_used_and_die_with_their_user() {
        let start = Instant::now();
        let mut tokens = Tokens::new(Duration::from_secs(10));
        let info = TokenInfo { user: "alice".into(), revision: 3 };
        tokens.assign("t1".into(), info.clone(), start);
        assert_eq!(tokens.info("t1", start + Duration::from_secs(9)), Some(info.clone()));
        assert_eq!(tokens.info("t1", start + Duration::from_secs(18)), Some(info.clone()), "use renews it");
        assert_eq!(tokens.info("t1", start + Duration::from_secs(29)), None);
        tokens.assign("t2".into(), info, start);
        tokens.invalidate_user("alice");
        assert_eq!(tokens.info("t2", start), None);
        assert_eq!(tokens.info("nope", start), None);
    }

    #[test]
    fn generated_tokens_look_like_etcds() {
        let a = Tokens::generate(7).expect("random");
        let b = Tokens::generate(7).expect("random");
        assert_ne!(a, b);
        let (letters, serial) = a.split_once('.').expect("a dot");
        assert_eq!((letters.len(), serial), (16, "7"));
        assert!(letters.chars().all(|c| c.is_ascii_alphabetic()));
    }
}
