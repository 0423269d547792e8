//! What a failed browser `fetch` means, in words a person can act on.
//!
//! A browser hides why a request failed: a server that is down, a wrong address and a
//! response refused by CORS all reject with the same `TypeError`. So the message names
//! the likely causes and the fix for each, with the origin the request went to.

/// The message for a `fetch` to `url` that rejected with `error` before any response.
pub fn describe_fetch_failure(url: &str, error: &str) -> String {
    let origin = origin_of(url);
    format!(
        "the browser could not get an answer from {origin} ({error}). Either the server \
         does not allow requests from this page (CORS: it must answer with \
         Access-Control-Allow-Origin for this page's origin and allow the headers sent), \
         or it is not reachable at that address. Fix: check the base URL; use a provider \
         that allows browser access, or put a CORS-enabled proxy in front of it and set \
         the base URL to the proxy"
    )
}

/// `scheme://host[:port]` of `url`, or `url` itself when it has no scheme.
fn origin_of(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return url;
    };
    let rest_start = scheme_end.saturating_add(3);
    let rest = url.get(rest_start..).unwrap_or("");
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.get(..rest_start.saturating_add(host_len))
        .unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_origin_cors_and_the_fix() {
        let message = describe_fetch_failure(
            "https://api.example.com/v1/messages?beta=1",
            "TypeError: Failed to fetch",
        );
        assert!(message.starts_with(
            "the browser could not get an answer from https://api.example.com (TypeError"
        ));
        assert!(message.contains("CORS"));
        assert!(message.contains("Access-Control-Allow-Origin"));
        assert!(message.contains("Fix: check the base URL"));
    }

    #[test]
    fn origins_are_cut_at_the_path_query_or_fragment() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("http://h?x"), "http://h");
        assert_eq!(origin_of("http://h#x"), "http://h");
        assert_eq!(origin_of("http://h"), "http://h");
        assert_eq!(origin_of("not a url"), "not a url");
        assert_eq!(origin_of("ht://"), "ht://");
    }
}
