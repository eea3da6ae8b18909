//! Client side of the HTTP Message Signature that Genesys AudioHook puts on its WebSocket
//! upgrade request (IETF httpbis "HTTP Message Signatures", draft 11, HMAC-SHA256 only).
//!
//! The signature base is one line per covered component, `"<name>": <value>`, in the order of
//! the `signature-input` list, then `"@signature-params": <the inner list with its
//! parameters>`; lines are joined by `\n` (no trailing newline). The HMAC-SHA256 of that base,
//! keyed by the base64-decoded client secret, goes into `signature: sig1=:<base64>:` and the
//! inner list into `signature-input: sig1=(...)`. Values are trimmed and obsolete line folding
//! collapsed, as the draft (section 2.1) and Genesys' reference builder do.
//!
//! AudioHook covers `@request-target` (path and query), `@authority` (host, and the port unless
//! it is the scheme's default), `audiohook-organization-id`, `audiohook-session-id`,
//! `audiohook-correlation-id` and `x-api-key`, with parameters `keyid` (the API key), `nonce`,
//! `alg="hmac-sha256"`, `created` and `expires` (Unix seconds), in that order.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The label of the one signature in the headers.
pub const LABEL: &str = "sig1";

/// The signature parameters (`;keyid=...;nonce=...;alg=...;created=...;expires=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// The key id: for AudioHook, the API key.
    pub keyid: String,
    /// A random, single-use value (the reference server wants at least 22 characters).
    pub nonce: String,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Expiry time, Unix seconds.
    pub expires: u64,
}

impl SignatureParams {
    /// Parameters for a signature made now: a fresh nonce ([`random_nonce`]), `created` = the
    /// current Unix time, `expires` = `created + lifetime_s` (Genesys' builder uses 30 s).
    pub fn now(keyid: &str, lifetime_s: u64) -> Self {
        let created = crate::time::unix_now_s() as u64;
        Self {
            keyid: keyid.to_string(),
            nonce: random_nonce(),
            created,
            expires: created.saturating_add(lifetime_s),
        }
    }
}

/// The two header values of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// Value of the `signature-input` header.
    pub signature_input: String,
    /// Value of the `signature` header.
    pub signature: String,
}

/// A random nonce: 18 random bytes in unpadded base64url (24 characters).
pub fn random_nonce() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A structured-field string (RFC 8941 sf-string): quoted, `\` and `"` escaped.
fn sf_string(s: &str) -> String {
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

/// A component value as it enters the base: trimmed, obsolete line folding replaced by a space.
fn canonical_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut lines = v.trim().split("\r\n");
    if let Some(first) = lines.next() {
        out.push_str(first.trim_end_matches([' ', '\t']));
    }
    for line in lines {
        out.push(' ');
        out.push_str(line.trim_start_matches([' ', '\t']));
    }
    out
}

/// The inner list with parameters, as it appears in `signature-input` after `sig1=` and in the
/// base's `@signature-params` line.
pub fn signature_params(components: &[(&str, &str)], params: &SignatureParams) -> String {
    let names: Vec<String> = components
        .iter()
        .map(|(name, _)| sf_string(&name.to_ascii_lowercase()))
        .collect();
    format!(
        "({});keyid={};nonce={};alg=\"hmac-sha256\";created={};expires={}",
        names.join(" "),
        sf_string(&params.keyid),
        sf_string(&params.nonce),
        params.created,
        params.expires
    )
}

/// The signature base: what the HMAC covers. `components` are `(name, value)` pairs in the
/// order they are covered (names lower-cased; derived components start with `@`).
pub fn signature_base(components: &[(&str, &str)], params: &SignatureParams) -> String {
    let mut base = String::new();
    for (name, value) in components {
        base.push_str(&sf_string(&name.to_ascii_lowercase()));
        base.push_str(": ");
        base.push_str(&canonical_value(value));
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&signature_params(components, params));
    base
}

/// HMAC-SHA256 of `data` keyed by `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here; an empty MAC
    // would only be produced if it ever did, and the server would reject it.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// Signs `components` with `key` (the decoded client secret): the `signature-input` and
/// `signature` header values.
///
/// # Examples
///
/// ```
/// use callpulse::send::signature::{SignatureParams, sign};
/// let params = SignatureParams::now("my-api-key", 30);
/// let headers = sign(&[("@request-target", "/audiohook"), ("@authority", "localhost:8080")],
///                    &params, b"secret");
/// assert!(headers.signature.starts_with("sig1=:"));
/// ```
pub fn sign(components: &[(&str, &str)], params: &SignatureParams, key: &[u8]) -> SignatureHeaders {
    let base = signature_base(components, params);
    let mac = hmac_sha256(key, base.as_bytes());
    SignatureHeaders {
        signature_input: format!("{LABEL}={}", signature_params(components, params)),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(mac)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API_KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
    const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";

    fn example(authority_name: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("@request-target", "/api/v1/voicebiometrics/ws"),
            (authority_name, "audiohook.example.com"),
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
            ("x-api-key", API_KEY),
        ]
    }

    /// The AudioHook documentation example, as Genesys' reference implementation tests it
    /// (`app/audiohook/test/httpsignature/signature-builder.test.ts`). That example covers
    /// `host` (not `@authority`) and, because the reference builder takes `expires` as a
    /// lifetime, carries `expires=3282026430` (= 1641013200 + 1641013230). Both quirks are
    /// reproduced here so the published signature value can be checked.
    #[test]
    fn audiohook_documentation_example() {
        let params = SignatureParams {
            keyid: API_KEY.into(),
            nonce: "VGhpc0lzQVVuaXF1ZU5vbmNl".into(),
            created: 1_641_013_200,
            expires: 3_282_026_430,
        };
        let key = STANDARD.decode(SECRET).expect("secret is base64");
        let headers = sign(&example("host"), &params, &key);
        assert_eq!(
            headers.signature,
            "sig1=:zupMJUMfd/kMuvKc5zhRyfJPE3jTROuz1S1hn8SCTpE=:"
        );
        assert_eq!(
            headers.signature_input,
            "sig1=(\"@request-target\" \"host\" \"audiohook-organization-id\" \
             \"audiohook-session-id\" \"audiohook-correlation-id\" \"x-api-key\");\
             keyid=\"SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh\";nonce=\"VGhpc0lzQVVuaXF1ZU5vbmNl\";\
             alg=\"hmac-sha256\";created=1641013200;expires=3282026430"
        );
    }

    #[test]
    fn base_format_with_authority() {
        let params = SignatureParams {
            keyid: API_KEY.into(),
            nonce: "VGhpc0lzQVVuaXF1ZU5vbmNl".into(),
            created: 1_641_013_200,
            expires: 1_641_013_230,
        };
        let base = signature_base(&example("@authority"), &params);
        let lines: Vec<&str> = base.split('\n').collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[0], "\"@request-target\": /api/v1/voicebiometrics/ws");
        assert_eq!(lines[1], "\"@authority\": audiohook.example.com");
        assert_eq!(lines[5], format!("\"x-api-key\": {API_KEY}"));
        assert!(lines[6].starts_with("\"@signature-params\": (\"@request-target\" \"@authority\""));
        assert!(lines[6].ends_with(";created=1641013200;expires=1641013230"));
    }

    #[test]
    fn values_are_trimmed_and_unfolded() {
        assert_eq!(canonical_value("  a b \r\n   c  "), "a b c");
        assert_eq!(sf_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn nonce_is_long_enough_and_fresh() {
        let a = random_nonce();
        assert!(a.len() >= 22);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, random_nonce());
    }
}
