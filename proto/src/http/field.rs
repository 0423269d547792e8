//! Header fields on the wire: the token and value rules, writing a field line, and reading
//! comma-separated tokens such as `Connection: close, upgrade`.

use super::error::Error;
use super::headers::Headers;

/// Whether `s` is a non-empty HTTP token (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `s` can be sent as a field value or reason phrase: no CR, LF, NUL or other
/// controls except horizontal tab.
pub(crate) fn is_field_text(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Appends `name: value\r\n`, refusing anything that could split the head.
pub(crate) fn write_field(name: &str, value: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    if !is_token(name) || !is_field_text(value) {
        return Err(Error::InvalidHeaderField {
            name: name.to_string(),
        });
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes every header except those named in `owned` (which the codec writes itself).
pub(crate) fn write_fields_except(
    headers: &Headers,
    owned: &[&str],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    for (name, value) in headers.iter() {
        if !owned.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            write_field(name, value, out)?;
        }
    }
    Ok(())
}

/// Whether any value of the header lists `token` (comma-separated, case-insensitive).
pub(crate) fn has_token(headers: &Headers, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Runs `write` and, if it fails, removes whatever it appended, so `out` is untouched.
pub(crate) fn all_or_nothing(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
) -> Result<(), Error> {
    let start = out.len();
    let result = write(out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}
