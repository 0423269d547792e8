//! The route table: every endpoint as method and path pattern, and the matching of a
//! request against it. The OpenAPI document is generated from the same table.

use cm_proto::http::Method;

/// One thing the API does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /health`.
    Health,
    /// `GET /sessions`.
    ListSessions,
    /// `POST /sessions`.
    CreateSession,
    /// `GET /sessions/{id}`.
    GetSession,
    /// `DELETE /sessions/{id}`.
    DeleteSession,
    /// `GET /sessions/{id}/messages`.
    ListMessages,
    /// `POST /sessions/{id}/messages`.
    PostMessage,
    /// `POST /sessions/{id}/abort`.
    Abort,
    /// `POST /sessions/{id}/permissions/{ask_id}`.
    AnswerPermission,
    /// `GET /events`.
    Events,
    /// `GET /sessions/{id}/events`.
    SessionEvents,
    /// `GET /models`.
    Models,
    /// `GET /openapi.json`.
    OpenApi,
}

/// A method and path pattern; `{name}` matches one non-empty path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The pattern, e.g. `/sessions/{id}`.
    pub path: &'static str,
    /// What it does.
    pub endpoint: Endpoint,
}

const fn route(method: Method, path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        method,
        path,
        endpoint,
    }
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route(Method::Get, "/health", Endpoint::Health),
    route(Method::Get, "/sessions", Endpoint::ListSessions),
    route(Method::Post, "/sessions", Endpoint::CreateSession),
    route(Method::Get, "/sessions/{id}", Endpoint::GetSession),
    route(Method::Delete, "/sessions/{id}", Endpoint::DeleteSession),
    route(
        Method::Get,
        "/sessions/{id}/messages",
        Endpoint::ListMessages,
    ),
    route(
        Method::Post,
        "/sessions/{id}/messages",
        Endpoint::PostMessage,
    ),
    route(Method::Post, "/sessions/{id}/abort", Endpoint::Abort),
    route(
        Method::Post,
        "/sessions/{id}/permissions/{ask_id}",
        Endpoint::AnswerPermission,
    ),
    route(Method::Get, "/events", Endpoint::Events),
    route(
        Method::Get,
        "/sessions/{id}/events",
        Endpoint::SessionEvents,
    ),
    route(Method::Get, "/models", Endpoint::Models),
    route(Method::Get, "/openapi.json", Endpoint::OpenApi),
];

/// What a request's method and path lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// An endpoint, with the path's `{...}` values in order.
    Found(Endpoint, Vec<String>),
    /// The path exists, but not with this method; these are allowed.
    WrongMethod(Vec<&'static str>),
    /// No such path.
    NotFound,
}

/// Matches `method` and `path` (without the query) against [`ROUTES`].
pub fn find(method: &Method, path: &str) -> Routed {
    let mut allowed = Vec::new();
    for route in ROUTES {
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if &route.method == method {
            return Routed::Found(route.endpoint, params);
        }
        allowed.push(route.method.as_str());
    }
    if allowed.is_empty() {
        Routed::NotFound
    } else {
        Routed::WrongMethod(allowed)
    }
}

fn match_path(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(h)) if w.starts_with('{') => {
                if h.is_empty() {
                    return None;
                }
                params.push(h.to_string());
            }
            (Some(w), Some(h)) if w == h => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_their_parameters() {
        assert_eq!(
            find(&Method::Get, "/health"),
            Routed::Found(Endpoint::Health, vec![])
        );
        assert_eq!(
            find(&Method::Post, "/sessions/ses_1/permissions/7"),
            Routed::Found(Endpoint::AnswerPermission, vec!["ses_1".into(), "7".into()])
        );
        assert_eq!(
            find(&Method::Delete, "/sessions/ses_1"),
            Routed::Found(Endpoint::DeleteSession, vec!["ses_1".into()])
        );
    }

    #[test]
    fn wrong_methods_and_unknown_paths() {
        assert_eq!(
            find(&Method::Put, "/sessions/x"),
            Routed::WrongMethod(vec!["GET", "DELETE"])
        );
        assert_eq!(find(&Method::Get, "/sessions//messages"), Routed::NotFound);
        assert_eq!(find(&Method::Get, "/sessions/x/y"), Routed::NotFound);
        assert_eq!(find(&Method::Get, "/health/"), Routed::NotFound);
        assert_eq!(find(&Method::Get, ""), Routed::NotFound);
    }
}
