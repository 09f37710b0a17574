//! etcd's JWT tokens (`--auth-token jwt,pub-key=...,priv-key=...,sign-method=...,ttl=...`):
//! signed claims `{"exp", "revision", "username"}` any member can check
//! without shared state. RSA (RS256/384/512, PS256/384/512) and ECDSA
//! (ES256, ES384) keys in PEM files; without a private key a member only
//! verifies.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

use super::tokens::TokenInfo;

/// etcd's default JWT lifetime.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

enum Signer {
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
    Ecdsa(EcdsaKeyPair),
}

/// A JWT signer and verifier.
pub struct Jwt {
    method: String,
    signer: Option<Signer>,
    verify: &'static dyn signature::VerificationAlgorithm,
    public_key: Vec<u8>,
    ttl: Duration,
    rng: SystemRandom,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").field("method", &self.method).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// Go's `time.ParseDuration` for the usual forms (`10m`, `1h30m`, `90s`, `500ms`).
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().with_context(|| format!("bad duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            other => bail!("bad duration unit {other:?} in {text:?}"),
        };
        total += Duration::from_secs_f64(value * seconds);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// rsaEncryption (1.2.840.113549.1.1.1) and id-ecPublicKey (1.2.840.10045.2.1).
const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_OID: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// The algorithm OID and the `subjectPublicKey` bits of a DER SubjectPublicKeyInfo.
fn public_key_bits(spki: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, info, _) = crate::tls::der_tlv(spki)?;
    let (_, algorithm, rest) = crate::tls::der_tlv(info)?;
    let (_, oid, _) = crate::tls::der_tlv(algorithm)?;
    let (tag, bits, _) = crate::tls::der_tlv(rest)?;
    (tag == 0x03 && bits.first() == Some(&0)).then(|| (oid.to_vec(), bits[1..].to_vec()))
}

impl Jwt {
    /// From the options after `jwt,` in `--auth-token`.
    pub fn from_options(options: &str) -> anyhow::Result<Jwt> {
        let mut method = None;
        let (mut public, mut private, mut ttl) = (None, None, DEFAULT_TTL);
        for option in options.split(',').filter(|o| !o.is_empty()) {
            let (key, value) = option.split_once('=').with_context(|| format!("bad JWT option {option:?}"))?;
            match key {
                "sign-method" => method = Some(value.to_owned()),
                "pub-key" => public = Some(value.to_owned()),
                "priv-key" => private = Some(value.to_owned()),
                "ttl" => ttl = parse_duration(value)?,
                other => bail!("unknown JWT option {other:?}"),
            }
        }
        let method = method.context("the JWT sign-method is required")?;
        let public = public.context("the JWT pub-key is required")?;
        Jwt::new(&method, Path::new(&public), private.as_deref().map(Path::new), ttl)
    }

    fn new(method: &str, public: &Path, private: Option<&Path>, ttl: Duration) -> anyhow::Result<Jwt> {
        let spki = SubjectPublicKeyInfoDer::from_pem_file(public)
            .with_context(|| format!("no public key in {}", public.display()))?;
        let (oid, public_key) = public_key_bits(spki.as_ref()).context("a malformed public key")?;
        let (verify, rsa_encoding, ecdsa): (
            &'static dyn signature::VerificationAlgorithm,
            Option<&'static dyn signature::RsaEncoding>,
            Option<&'static signature::EcdsaSigningAlgorithm>,
        ) = match method {
            "RS256" => (&signature::RSA_PKCS1_2048_8192_SHA256, Some(&signature::RSA_PKCS1_SHA256), None),
            "RS384" => (&signature::RSA_PKCS1_2048_8192_SHA384, Some(&signature::RSA_PKCS1_SHA384), None),
            "RS512" => (&signature::RSA_PKCS1_2048_8192_SHA512, Some(&signature::RSA_PKCS1_SHA512), None),
            "PS256" => (&signature::RSA_PSS_2048_8192_SHA256, Some(&signature::RSA_PSS_SHA256), None),
            "PS384" => (&signature::RSA_PSS_2048_8192_SHA384, Some(&signature::RSA_PSS_SHA384), None),
            "PS512" => (&signature::RSA_PSS_2048_8192_SHA512, Some(&signature::RSA_PSS_SHA512), None),
            "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, None, Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)),
            "ES384" => (&signature::ECDSA_P384_SHA384_FIXED, None, Some(&signature::ECDSA_P384_SHA384_FIXED_SIGNING)),
            other => bail!("unsupported JWT sign-method {other:?} (RS*, PS*, ES256, ES384)"),
        };
        let wanted = if rsa_encoding.is_some() { RSA_OID } else { EC_OID };
        if oid != wanted {
            bail!("the public key in {} is not for {method}", public.display());
        }
        let rng = SystemRandom::new();
        let signer = match private {
            None => None,
            Some(path) => {
                let key = PrivateKeyDer::from_pem_file(path)
                    .with_context(|| format!("no private key in {}", path.display()))?;
                Some(match (rsa_encoding, ecdsa, &key) {
                    (Some(encoding), _, PrivateKeyDer::Pkcs1(der)) => Signer::Rsa(
                        RsaKeyPair::from_der(der.secret_pkcs1_der())
                            .map_err(|e| anyhow::anyhow!("a bad RSA key: {e}"))?,
                        encoding,
                    ),
                    (Some(encoding), _, PrivateKeyDer::Pkcs8(der)) => Signer::Rsa(
                        RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
                            .map_err(|e| anyhow::anyhow!("a bad RSA key: {e}"))?,
                        encoding,
                    ),
                    (_, Some(alg), PrivateKeyDer::Pkcs8(der)) => Signer::Ecdsa(
                        EcdsaKeyPair::from_pkcs8(alg, der.secret_pkcs8_der(), &rng)
                            .map_err(|e| anyhow::anyhow!("a bad ECDSA key: {e}"))?,
                    ),
                    _ => bail!("the private key does not fit {method} (ECDSA keys must be PKCS#8)"),
                })
            }
        };
        if let Some(signer) = &signer {
            let own = match signer {
                Signer::Rsa(pair, _) => pair.public_key().as_ref().to_vec(),
                Signer::Ecdsa(pair) => pair.public_key().as_ref().to_vec(),
            };
            if own != public_key {
                bail!("the JWT public and private keys do not match");
            }
        }
        Ok(Jwt { method: method.to_owned(), signer, verify, public_key, ttl, rng })
    }

    /// A signed token for `user` at auth `revision`, valid for the TTL.
    pub fn sign(&self, user: &str, revision: u64) -> anyhow::Result<String> {
        let signer = self.signer.as_ref().context("this member only verifies JWT tokens (no priv-key)")?;
        let exp = (SystemTime::now() + self.ttl).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let header = serde_json::json!({ "alg": self.method, "typ": "JWT" });
        let claims = serde_json::json!({ "exp": exp, "revision": revision, "username": user });
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = match signer {
            Signer::Rsa(pair, encoding) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, &self.rng, signing_input.as_bytes(), &mut out).ok().context("RSA signing")?;
                out
            }
            Signer::Ecdsa(pair) => {
                pair.sign(&self.rng, signing_input.as_bytes()).ok().context("ECDSA signing")?.as_ref().to_vec()
            }
        };
        Ok(format!("{signing_input}.{}", B64.encode(signature)))
    }

    /// Who a valid, unexpired token of this key and method speaks for.
    pub fn verify(&self, token: &str) -> Option<TokenInfo> {
        let mut parts = token.split('.');
        let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != self.method {
            return None;
        }
        let signed = &token[..header_len(token)?];
        let key = signature::UnparsedPublicKey::new(self.verify, &self.public_key);
        key.verify(signed.as_bytes(), &B64.decode(signature).ok()?).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&B64.decode(claims).ok()?).ok()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        if claims.get("exp")?.as_f64()? <= now as f64 {
            return None;
        }
        Some(TokenInfo {
            user: claims.get("username")?.as_str()?.to_owned(),
            revision: claims.get("revision")?.as_f64()? as u64,
        })
    }
}

/// The length of `header.claims` in `token`.
fn header_len(token: &str) -> Option<usize> {
    let first = token.find('.')?;
    let second = token[first + 1..].find('.')?;
    Some(first + 1 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a key");
        let (public, private) = (dir.join("pub.pem"), dir.join("priv.pem"));
        std::fs::write(&public, pair.public_key_pem()).expect("write");
        std::fs::write(&private, pair.serialize_pem()).expect("write");
        (public, private)
    }

    #[test]
    fn tokens_sign_verify_and_expire() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (public, private) = keys(dir.path());
        let options = format!("sign-method=ES256,pub-key={},priv-key={},ttl=10m", public.display(), private.display());
        let jwt = Jwt::from_options(&options).expect("jwt");
        let token = jwt.sign("alice", 7).expect("sign");
        assert_eq!(jwt.verify(&token), Some(TokenInfo { user: "alice".into(), revision: 7 }));
        let mut forged = token.clone();
        forged.replace_range(token.len() - 4.., "AAAA");
        assert_eq!(jwt.verify(&forged), None);
        assert_eq!(jwt.verify("not.a.token"), None);
        let verify_only =
            Jwt::from_options(&format!("sign-method=ES256,pub-key={}", public.display())).expect("verify only");
        assert!(verify_only.verify(&token).is_some());
        assert!(verify_only.sign("alice", 1).is_err());
        let expired = Jwt { ttl: Duration::ZERO, ..Jwt::from_options(&options).expect("jwt") };
        assert_eq!(expired.verify(&expired.sign("alice", 1).expect("sign")), None);
        assert!(Jwt::from_options(&format!("sign-method=RS256,pub-key={}", public.display())).is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("10m").expect("10m"), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").expect("1h30m"), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").expect("500ms"), Duration::from_millis(500));
        assert!(parse_duration("5x").is_err());
    }
}
