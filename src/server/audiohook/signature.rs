//! Verification of the HTTP Message Signature on an AudioHook upgrade request.
//!
//! Genesys signs the WebSocket upgrade request following the IETF httpbis "HTTP Message
//! Signatures" draft 11 (the version the AudioHook specification cites): the `signature-input`
//! header (an RFC 8941 structured-field dictionary) names the covered components and the
//! signature parameters, the `signature` header carries the HMAC-SHA256 of the *signature base*
//! keyed by the base64-decoded client secret. The signature base is one line per covered
//! component, `"name": value`, followed by `"@signature-params": <the inner list re-serialised>`.
//!
//! We require the signature to cover `@request-target`, `@authority` and the four AudioHook
//! headers, its `keyid` to equal the `x-api-key` header, `alg` (when present) to be
//! `hmac-sha256`, a `nonce` of at least 22 characters and a `created` time no older than the
//! configured maximum age (10 s in the reference implementation). The comparison is constant
//! time. The clock is a parameter so tests can replay the specification's worked example.
//!
//! Headers and structured fields are untrusted input: every parser here has explicit length
//! limits and returns a typed error; nothing panics.

use std::fmt;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Components every AudioHook signature must cover.
pub const REQUIRED_COMPONENTS: [&str; 6] = [
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
];

/// The shortest nonce accepted (as in the reference implementation).
pub const MIN_NONCE_LEN: usize = 22;

/// Longest `signature-input` / `signature` header accepted, bytes.
pub const MAX_HEADER_LEN: usize = 4096;

/// Clock skew tolerated on `created` (a client clock slightly ahead of ours), seconds.
pub const MAX_CLOCK_SKEW_S: i64 = 3;

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Neither `signature-input` nor `signature` is present.
    #[error("the request is not signed")]
    Unsigned,
    /// A header is malformed (bad structured field, missing member, wrong type, too long).
    #[error("invalid signature header: {0}")]
    Invalid(String),
    /// A component the protocol requires is not covered, or a covered header is absent.
    #[error("signature precondition failed: {0}")]
    Precondition(String),
    /// `keyid` differs from the `x-api-key` header.
    #[error("signature keyid does not match the API key")]
    KeyIdMismatch,
    /// `alg` names something else than `hmac-sha256`.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The nonce is missing or shorter than [`MIN_NONCE_LEN`].
    #[error("nonce missing or shorter than {MIN_NONCE_LEN} characters")]
    BadNonce,
    /// `created` lies in the future.
    #[error("signature created in the future")]
    FromTheFuture,
    /// `expires` has passed or `created` is older than the maximum age.
    #[error("signature expired")]
    Expired,
    /// The HMAC does not match.
    #[error("signature mismatch")]
    Mismatch,
}

/// What the verifier needs to know about the request besides its headers.
#[derive(Debug, Clone, Copy)]
pub struct RequestTarget<'a> {
    /// The request target as on the request line (path and query), for `@request-target`.
    pub request_target: &'a str,
    /// The authority (`host[:port]`) when the URI carries one; otherwise the `host` header is used.
    pub authority: Option<&'a str>,
}

/// Verifies the request's signature with the client `secret` (raw bytes, already
/// base64-decoded) for API key `api_key`, at time `now_unix` (seconds since the epoch).
///
/// # Errors
///
/// A [`SignatureError`] saying which check failed.
pub fn verify(
    headers: &HeaderMap,
    target: RequestTarget<'_>,
    api_key: &str,
    secret: &[u8],
    now_unix: i64,
    max_age: Duration,
) -> Result<(), SignatureError> {
    let input = header_value(headers, "signature-input")?;
    let signature = header_value(headers, "signature")?;
    let (input, signature) = match (input, signature) {
        (None, None) => return Err(SignatureError::Unsigned),
        (Some(_), None) => return Err(invalid("signature-input without signature")),
        (None, Some(_)) => return Err(invalid("signature without signature-input")),
        (Some(i), Some(s)) => (i, s),
    };
    let inputs = parse_dictionary(&input)?;
    let signatures = parse_dictionary(&signature)?;
    let (label, member) = inputs
        .first()
        .ok_or_else(|| invalid("empty signature-input"))?;
    let Member::InnerList(components, params) = member else {
        return Err(invalid("signature-input member is not an inner list"));
    };
    let sig_bytes = match signatures.iter().find(|(l, _)| l == label) {
        Some((_, Member::Item(Bare::Bytes(b), _))) => b.clone(),
        Some(_) => return Err(invalid("signature member is not a byte sequence")),
        None => return Err(invalid("no signature with the signature-input's label")),
    };

    // Parameters.
    let mut keyid = None;
    let mut alg = None;
    let mut nonce = None;
    let mut created = None;
    let mut expires = None;
    for (k, v) in params {
        match (k.as_str(), v) {
            ("keyid", Bare::String(s)) => keyid = Some(s.as_str()),
            ("alg", Bare::String(s)) => alg = Some(s.as_str()),
            ("nonce", Bare::String(s)) => nonce = Some(s.as_str()),
            ("created", Bare::Integer(i)) if *i >= 0 => created = Some(*i),
            ("expires", Bare::Integer(i)) if *i >= 0 => expires = Some(*i),
            (k, _) => return Err(invalid(&format!("bad or unknown signature parameter {k}"))),
        }
    }
    let api_key_header = header_value(headers, "x-api-key")?;
    if keyid.is_none_or(|k| k != api_key) || api_key_header.as_deref() != Some(api_key) {
        return Err(SignatureError::KeyIdMismatch);
    }
    if let Some(a) = alg
        && a != "hmac-sha256"
    {
        return Err(SignatureError::UnsupportedAlgorithm(a.to_owned()));
    }
    if nonce.is_none_or(|n| n.chars().count() < MIN_NONCE_LEN) {
        return Err(SignatureError::BadNonce);
    }
    let created = created.ok_or_else(|| {
        SignatureError::Precondition("no created parameter: age unknown".to_owned())
    })?;
    if created > now_unix.saturating_add(MAX_CLOCK_SKEW_S) {
        return Err(SignatureError::FromTheFuture);
    }
    if expires.is_some_and(|e| e < now_unix) {
        return Err(SignatureError::Expired);
    }
    let max_age_s = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    if created.saturating_add(max_age_s) < now_unix {
        return Err(SignatureError::Expired);
    }

    // The signature base.
    let mut base = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for (item, item_params) in components {
        let Bare::String(name) = item else {
            return Err(invalid("covered component is not a string"));
        };
        if !item_params.is_empty() {
            return Err(invalid("component parameters are not supported"));
        }
        if seen.contains(&name.as_str()) {
            return Err(invalid("duplicate covered component"));
        }
        seen.push(name);
        let value = match name.as_str() {
            "@request-target" => target.request_target.to_owned(),
            "@authority" => match target.authority {
                Some(a) => a.to_owned(),
                None => header_value(headers, "host")?.ok_or_else(|| {
                    SignatureError::Precondition("no authority for @authority".to_owned())
                })?,
            },
            n if n.starts_with('@') => {
                return Err(invalid(&format!("unsupported derived component {n}")));
            }
            "signature" | "signature-input" => {
                return Err(invalid("signature headers cannot be covered"));
            }
            n => header_value(headers, n)?.ok_or_else(|| {
                SignatureError::Precondition(format!("covered header {n} is absent"))
            })?,
        };
        base.push_str(&serialize_string(name));
        base.push_str(": ");
        base.push_str(&value);
        base.push('\n');
    }
    for required in REQUIRED_COMPONENTS {
        if !seen.contains(&required) {
            return Err(SignatureError::Precondition(format!(
                "signature does not cover {required}"
            )));
        }
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&serialize_inner_list(components, params));

    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| invalid("unusable secret"))?;
    mac.update(base.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig_bytes)
        .map_err(|_| SignatureError::Mismatch)
}

/// Decodes a configured client secret (standard base64).
///
/// # Errors
///
/// [`SignatureError::Invalid`] when it is not valid base64.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SignatureError> {
    BASE64_STANDARD
        .decode(secret.trim())
        .map_err(|e| invalid(&format!("client secret is not base64: {e}")))
}

fn invalid(what: &str) -> SignatureError {
    SignatureError::Invalid(what.to_owned())
}

/// A header's canonical value (trimmed, several lines joined with `", "`), `None` when absent.
fn header_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, SignatureError> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        let s = v
            .to_str()
            .map_err(|_| invalid(&format!("header {name} is not visible ASCII")))?
            .trim();
        match &mut out {
            None => out = Some(s.to_owned()),
            Some(o) => {
                o.push_str(", ");
                o.push_str(s);
            }
        }
        if out.as_ref().is_some_and(|o| o.len() > MAX_HEADER_LEN) {
            return Err(invalid(&format!("header {name} too long")));
        }
    }
    Ok(out)
}

// ---- RFC 8941 structured fields (the subset HTTP signatures use) ----

/// A bare item.
#[derive(Debug, Clone, PartialEq)]
enum Bare {
    Integer(i64),
    String(String),
    Token(String),
    Bytes(Vec<u8>),
    Boolean(bool),
}

type Params = Vec<(String, Bare)>;

/// A dictionary member.
#[derive(Debug, Clone, PartialEq)]
enum Member {
    Item(Bare, Params),
    InnerList(Vec<(Bare, Params)>, Params),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn key(&mut self) -> Result<String, SignatureError> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.i += 1,
            _ => return Err(invalid("expected a key")),
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c) {
                self.i += 1;
            } else {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn params(&mut self) -> Result<Params, SignatureError> {
        let mut out = Vec::new();
        while self.peek() == Some(b';') {
            self.i += 1;
            self.skip_sp();
            let k = self.key()?;
            let v = if self.peek() == Some(b'=') {
                self.i += 1;
                self.bare()?
            } else {
                Bare::Boolean(true)
            };
            if let Some(slot) = out.iter_mut().find(|(ok, _)| *ok == k) {
                slot.1 = v;
            } else {
                out.push((k, v));
            }
        }
        Ok(out)
    }
    fn bare(&mut self) -> Result<Bare, SignatureError> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    match self.peek() {
                        None => return Err(invalid("unterminated string")),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Bare::String(out));
                        }
                        Some(b'\\') => {
                            self.i += 1;
                            match self.peek() {
                                Some(c @ (b'"' | b'\\')) => {
                                    out.push(char::from(c));
                                    self.i += 1;
                                }
                                _ => return Err(invalid("bad escape in string")),
                            }
                        }
                        Some(c) if (0x20..0x7f).contains(&c) => {
                            out.push(char::from(c));
                            self.i += 1;
                        }
                        Some(_) => return Err(invalid("bad character in string")),
                    }
                }
            }
            Some(b':') => {
                self.i += 1;
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c == b':' {
                        break;
                    }
                    if !(c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
                        return Err(invalid("bad character in byte sequence"));
                    }
                    self.i += 1;
                }
                if self.peek() != Some(b':') {
                    return Err(invalid("unterminated byte sequence"));
                }
                let bytes = BASE64_STANDARD
                    .decode(&self.s[start..self.i])
                    .map_err(|_| invalid("bad base64 in byte sequence"))?;
                self.i += 1;
                Ok(Bare::Bytes(bytes))
            }
            Some(b'?') => {
                self.i += 1;
                let v = match self.peek() {
                    Some(b'0') => false,
                    Some(b'1') => true,
                    _ => return Err(invalid("bad boolean")),
                };
                self.i += 1;
                Ok(Bare::Boolean(v))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let neg = c == b'-';
                if neg {
                    self.i += 1;
                }
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let digits = &self.s[start..self.i];
                if digits.is_empty() || digits.len() > 15 {
                    return Err(invalid("bad integer"));
                }
                if self.peek() == Some(b'.') {
                    return Err(invalid("decimals are not supported here"));
                }
                let mut v: i64 = 0;
                for d in digits {
                    v = v * 10 + i64::from(d - b'0');
                }
                Ok(Bare::Integer(if neg { -v } else { v }))
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c) {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Ok(Bare::Token(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
            _ => Err(invalid("expected a bare item")),
        }
    }
    fn member(&mut self) -> Result<Member, SignatureError> {
        if self.peek() == Some(b'(') {
            self.i += 1;
            let mut items = Vec::new();
            loop {
                self.skip_sp();
                if self.peek() == Some(b')') {
                    self.i += 1;
                    break;
                }
                let b = self.bare()?;
                let p = self.params()?;
                items.push((b, p));
                match self.peek() {
                    Some(b' ' | b')') => {}
                    _ => return Err(invalid("bad inner list")),
                }
            }
            let p = self.params()?;
            Ok(Member::InnerList(items, p))
        } else {
            let b = self.bare()?;
            let p = self.params()?;
            Ok(Member::Item(b, p))
        }
    }
}

/// Parses an RFC 8941 dictionary (members in order; a repeated key keeps the last value).
fn parse_dictionary(s: &str) -> Result<Vec<(String, Member)>, SignatureError> {
    if s.len() > MAX_HEADER_LEN {
        return Err(invalid("structured field too long"));
    }
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
    };
    let mut out: Vec<(String, Member)> = Vec::new();
    p.skip_sp();
    while p.peek().is_some() {
        let k = p.key()?;
        let m = if p.peek() == Some(b'=') {
            p.i += 1;
            p.member()?
        } else {
            Member::Item(Bare::Boolean(true), p.params()?)
        };
        if let Some(slot) = out.iter_mut().find(|(ok, _)| *ok == k) {
            slot.1 = m;
        } else {
            out.push((k, m));
        }
        p.skip_ows();
        match p.peek() {
            None => break,
            Some(b',') => {
                p.i += 1;
                p.skip_ows();
                if p.peek().is_none() {
                    return Err(invalid("trailing comma"));
                }
            }
            Some(_) => return Err(invalid("expected a comma")),
        }
    }
    Ok(out)
}

fn serialize_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn serialize_bare(b: &Bare) -> String {
    match b {
        Bare::Integer(i) => i.to_string(),
        Bare::String(s) => serialize_string(s),
        Bare::Token(t) => t.clone(),
        Bare::Bytes(b) => format!(":{}:", BASE64_STANDARD.encode(b)),
        Bare::Boolean(true) => "?1".to_owned(),
        Bare::Boolean(false) => "?0".to_owned(),
    }
}

fn serialize_params(params: &Params) -> String {
    let mut out = String::new();
    for (k, v) in params {
        out.push(';');
        out.push_str(k);
        if *v != Bare::Boolean(true) {
            out.push('=');
            out.push_str(&serialize_bare(v));
        }
    }
    out
}

fn serialize_inner_list(items: &[(Bare, Params)], params: &Params) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|(b, p)| format!("{}{}", serialize_bare(b), serialize_params(p)))
        .collect();
    format!("({}){}", inner.join(" "), serialize_params(params))
}

impl fmt::Display for Bare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serialize_bare(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
    const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
    const CREATED: i64 = 1_641_013_200;

    /// The worked example of the AudioHook specification (as replayed by the reference
    /// implementation's `signature-verifier.test.ts`, "AudioHook documentation example").
    fn example() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("host", "audiohook.example.com"),
            (
                "audiohook-organization-id",
                "d7934305-0972-4844-938e-9060eef73d05",
            ),
            (
                "audiohook-session-id",
                "30b0e395-84d3-4570-ac13-9a62d8f514c0",
            ),
            (
                "audiohook-correlation-id",
                "e160e428-53e2-487c-977d-96989bf5c99d",
            ),
            ("x-api-key", KEY),
            (
                "signature",
                "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:",
            ),
            (
                "signature-input",
                "sig1=(\"@request-target\" \"@authority\" \"audiohook-organization-id\" \"audiohook-session-id\" \"audiohook-correlation-id\" \"x-api-key\");keyid=\"SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh\";nonce=\"VGhpc0lzQVVuaXF1ZU5vbmNl\";alg=\"hmac-sha256\";created=1641013200;expires=3282026430",
            ),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        h
    }

    fn target() -> RequestTarget<'static> {
        RequestTarget {
            request_target: "/api/v1/voicebiometrics/ws",
            authority: None,
        }
    }

    fn run(h: &HeaderMap, now: i64) -> Result<(), SignatureError> {
        let secret = decode_secret(SECRET).unwrap();
        verify(h, target(), KEY, &secret, now, Duration::from_secs(10))
    }

    #[test]
    fn specification_example_verifies() {
        assert_eq!(run(&example(), CREATED + 1), Ok(()));
        assert_eq!(run(&example(), CREATED + 10), Ok(()));
    }

    #[test]
    fn old_signature_is_expired() {
        assert_eq!(run(&example(), CREATED + 11), Err(SignatureError::Expired));
        assert_eq!(
            run(&example(), CREATED - 60),
            Err(SignatureError::FromTheFuture)
        );
    }

    #[test]
    fn wrong_secret_or_tampered_header_mismatch() {
        let h = example();
        let r = verify(
            &h,
            target(),
            KEY,
            b"not the secret",
            CREATED,
            Duration::from_secs(10),
        );
        assert_eq!(r, Err(SignatureError::Mismatch));
        let mut h = example();
        h.insert(
            "audiohook-session-id",
            HeaderValue::from_static("00000000-84d3-4570-ac13-9a62d8f514c0"),
        );
        assert_eq!(run(&h, CREATED), Err(SignatureError::Mismatch));
        let wrong_target = RequestTarget {
            request_target: "/other",
            authority: None,
        };
        let secret = decode_secret(SECRET).unwrap();
        let r = verify(
            &example(),
            wrong_target,
            KEY,
            &secret,
            CREATED,
            Duration::from_secs(10),
        );
        assert_eq!(r, Err(SignatureError::Mismatch));
    }

    #[test]
    fn keyid_must_be_the_api_key() {
        let secret = decode_secret(SECRET).unwrap();
        let r = verify(
            &example(),
            target(),
            "another-key",
            &secret,
            CREATED,
            Duration::from_secs(10),
        );
        assert_eq!(r, Err(SignatureError::KeyIdMismatch));
    }

    /// The client's signer (`callpulse send`, written separately from this verifier)
    /// reproduces the example's headers.
    #[test]
    fn sign_reproduces_the_example() {
        use crate::send::signature::{SignatureParams, sign};
        let secret = decode_secret(SECRET).unwrap();
        let headers = sign(
            &[
                ("@request-target", "/api/v1/voicebiometrics/ws"),
                ("@authority", "audiohook.example.com"),
                (
                    "audiohook-organization-id",
                    "d7934305-0972-4844-938e-9060eef73d05",
                ),
                (
                    "audiohook-session-id",
                    "30b0e395-84d3-4570-ac13-9a62d8f514c0",
                ),
                (
                    "audiohook-correlation-id",
                    "e160e428-53e2-487c-977d-96989bf5c99d",
                ),
                ("x-api-key", KEY),
            ],
            &SignatureParams {
                keyid: KEY.into(),
                nonce: "VGhpc0lzQVVuaXF1ZU5vbmNl".into(),
                created: CREATED as u64,
                expires: 3_282_026_430,
            },
            &secret,
        );
        let (input, sig) = (headers.signature_input, headers.signature);
        let h = example();
        assert_eq!(input, h["signature-input"].to_str().unwrap());
        assert_eq!(sig, h["signature"].to_str().unwrap());
    }

    #[test]
    fn unsigned_short_nonce_bad_alg_and_garbage() {
        let mut h = example();
        h.remove("signature");
        h.remove("signature-input");
        assert_eq!(run(&h, CREATED), Err(SignatureError::Unsigned));

        let mut h = example();
        h.insert(
            "signature-input",
            HeaderValue::from_static("sig1=(\"@request-target\");keyid=\"SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh\";nonce=\"short\";created=1641013200"),
        );
        assert_eq!(run(&h, CREATED), Err(SignatureError::BadNonce));

        let mut h = example();
        h.insert(
            "signature-input",
            HeaderValue::from_static("sig1=(\"@request-target\");keyid=\"SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh\";alg=\"rsa-pss-sha512\";nonce=\"VGhpc0lzQVVuaXF1ZU5vbmNl\";created=1641013200"),
        );
        assert!(matches!(
            run(&h, CREATED),
            Err(SignatureError::UnsupportedAlgorithm(_))
        ));

        let mut h = example();
        h.insert(
            "signature-input",
            HeaderValue::from_static("sig1=(\"@request-target\");keyid=\"SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh\";nonce=\"VGhpc0lzQVVuaXF1ZU5vbmNl\";created=1641013200"),
        );
        assert!(matches!(
            run(&h, CREATED),
            Err(SignatureError::Precondition(_))
        ));

        for garbage in [
            "",
            "sig1",
            "sig1=(",
            "sig1=(\"a",
            "sig1=(\"@request-target\";created=99999999999999999999",
            "SIG=()",
            "sig1=()x",
            "sig1=(\"\\q\")",
        ] {
            let mut h = example();
            h.insert("signature-input", HeaderValue::from_str(garbage).unwrap());
            assert!(run(&h, CREATED).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn structured_fields_round_trip() {
        let d = parse_dictionary("a=(\"x\" \"y\";p=1);k=\"v\";b, c=:AAE=:, d, e=?0;z").unwrap();
        assert_eq!(d.len(), 4);
        let Member::InnerList(items, params) = &d[0].1 else {
            panic!("inner list expected")
        };
        assert_eq!(
            serialize_inner_list(items, params),
            "(\"x\" \"y\";p=1);k=\"v\";b"
        );
        assert_eq!(d[1].1, Member::Item(Bare::Bytes(vec![0, 1]), vec![]));
    }
}
