//! `application/x-www-form-urlencoded` (the WHATWG URL standard's form encoding) and the
//! body switch between form and JSON that token endpoints need.

use crate::http::Headers;

/// How a token endpoint wants its request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyEncoding {
    /// `application/x-www-form-urlencoded`, as RFC 6749 specifies.
    #[default]
    Form,
    /// `application/json`, for providers that only accept JSON.
    Json,
}

impl BodyEncoding {
    /// The `content-type` for this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            BodyEncoding::Form => "application/x-www-form-urlencoded",
            BodyEncoding::Json => "application/json",
        }
    }

    /// Encodes the pairs in order; in JSON every value is a string.
    pub fn encode(self, pairs: &[(&str, &str)]) -> Vec<u8> {
        match self {
            BodyEncoding::Form => form_encode(pairs).into_bytes(),
            BodyEncoding::Json => {
                let map: serde_json::Map<String, serde_json::Value> = pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                    .collect();
                serde_json::Value::Object(map).to_string().into_bytes()
            }
        }
    }
}

/// Headers every token-endpoint POST carries: the body's type and `accept: application/json`
/// (GitHub answers form-encoded without it).
pub(crate) fn token_headers(encoding: BodyEncoding) -> Headers {
    [
        ("content-type", encoding.content_type()),
        ("accept", "application/json"),
    ]
    .into_iter()
    .collect()
}

/// Percent-encodes a component: ASCII letters, digits and `-._~` stay, a space becomes `+`,
/// every other byte of the UTF-8 becomes `%XX`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
    out
}

/// Encodes `name=value` pairs joined by `&`, in the order given.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(name));
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

/// Decodes a query string or form body into pairs; `+` is a space, a malformed `%` escape
/// is kept as written and invalid UTF-8 becomes U+FFFD, so this never fails.
pub fn form_decode(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, value)) => (unescape(name), unescape(value)),
            None => (unescape(part), String::new()),
        })
        .collect()
}

fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|&c| char::from(c).to_digit(16));
                if let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) {
                    // Both digits are below 16, so the byte fits.
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_escaped_and_unreserved_kept() {
        assert_eq!(
            form_encode(&[("redirect_uri", "http://127.0.0.1:8080/cb?x=1&y=2#f")]),
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb%3Fx%3D1%26y%3D2%23f"
        );
        assert_eq!(percent_encode("a b+c"), "a+b%2Bc");
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(percent_encode("é/%"), "%C3%A9%2F%25");
        assert_eq!(form_encode(&[]), "");
        assert_eq!(form_encode(&[("a", ""), ("b", "1")]), "a=&b=1");
    }

    #[test]
    fn decoding_inverts_encoding_and_tolerates_garbage() {
        let pairs = [("scope", "read:user repo"), ("state", "a+b&c=d/é")];
        let decoded = form_decode(&form_encode(&pairs));
        let expected: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(decoded, expected);
        assert_eq!(
            form_decode("a=%zz&b=%4&flag&&c=%ff"),
            vec![
                ("a".into(), "%zz".into()),
                ("b".into(), "%4".into()),
                ("flag".into(), String::new()),
                ("c".into(), "\u{fffd}".into()),
            ]
        );
    }

    #[test]
    fn json_bodies_keep_order_free_string_values() {
        let body = BodyEncoding::Json.encode(&[("grant_type", "refresh_token"), ("a", "\"q\"")]);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({"grant_type": "refresh_token", "a": "\"q\""})
        );
        assert_eq!(BodyEncoding::Json.content_type(), "application/json");
        assert_eq!(
            BodyEncoding::Form.encode(&[("a", "b c")]),
            b"a=b+c".to_vec()
        );
    }
}
