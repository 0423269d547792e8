//! Keeping a stored OAuth login usable during a session, around the agent's requests.
//!
//! [`Renewal`] holds the login (`proto::auth::StoredLogin`) and its `Refresher`. Before a
//! model request goes out, [`RenewingHttp`] renews the token when it is due (within the
//! margin of its expiry, or after Copilot's `refresh_in`) and puts the current token and
//! API base into the request. When the answer is a 401, the token is renewed once and the
//! request sent again; the agent sees only the retry's answer. When renewing is refused
//! (an expired or revoked refresh token), the agent receives a 401 whose message says to
//! run `cm auth login PROVIDER`. Renewed OAuth tokens are written back to `auth.json`
//! (atomically, by the credential store); a Copilot token lives only in memory.
//! [`RenewingExchanges`] does the same around cm-smol's async exchanges (`cm serve`),
//! renewing on smol's blocking threads since a renewal is a blocking request.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_channel::Sender as AsyncSender;

use cm_driver::{HttpClient, Input};
use cm_host::{CredentialStore, Secret, StoredCredential};
use cm_proto::agent::HttpId;
use cm_proto::auth::{Readiness, Refresher, Renew, StoredLogin, Token};
use cm_proto::config::Config;
use cm_proto::http::{Headers, Request, ResponseHead};
use cm_proto::provider::Credential;
use cm_smol::Exchanges;
use smol::Task;

use crate::exit::Failure;
use crate::fetch_once::fetch;
use crate::oauth_settings;
use crate::run::wall_clock;

/// A stored OAuth login shared by the requests of one session.
#[derive(Clone)]
pub struct Renewal {
    live: Arc<Mutex<Live>>,
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewal").finish_non_exhaustive()
    }
}

struct Live {
    login: StoredLogin,
    refresher: Refresher,
    store: CredentialStore,
    /// The client id cm registered for the login, kept when it is written back.
    registered_client: Option<String>,
    /// Every credential handed out so far, to find and replace in a built request.
    issued: Vec<String>,
    /// The API base the agent builds its URLs with.
    base_url: String,
}

/// The renewal margin: `CM_REFRESH_MARGIN_S` seconds, else the refresher's default.
fn margin_ms() -> u64 {
    std::env::var("CM_REFRESH_MARGIN_S")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(cm_proto::auth::refresh::DEFAULT_MARGIN_MS, |s| {
            s.saturating_mul(1000)
        })
}

impl Renewal {
    /// The renewal of `id`'s stored OAuth login, or `None` when it is not one cm renews.
    pub fn from_store(
        id: &str,
        stored: &StoredCredential,
        config: &Config,
        store: CredentialStore,
        base_url: &str,
    ) -> Result<Option<Renewal>, Failure> {
        let StoredCredential::Oauth {
            access,
            refresh,
            expires_at,
            client_id,
        } = stored
        else {
            return Ok(None);
        };
        if !oauth_settings::uses_oauth(id, config) {
            return Ok(None);
        }
        let mut settings = oauth_settings::settings(id, config)?;
        if settings.client_id.is_none() {
            settings.client_id = client_id.clone();
        }
        let login = if let Some(exchange) = settings.exchange() {
            StoredLogin::copilot(access.expose(), exchange)
        } else {
            // Refreshing needs only the token endpoint; discover it when config has none.
            if refresh.is_some() && settings.token_url.is_none() {
                settings.discover()?;
            }
            let token = Token {
                access: access.expose().to_string(),
                refresh: refresh.as_ref().map(|r| r.expose().to_string()),
                expires_at: expires_at.map(cm_proto::time::UnixMillis),
                scope: None,
            };
            let client = if refresh.is_some() {
                settings.oauth_client("")?
            } else {
                oauth_client_placeholder(&settings)
            };
            StoredLogin::oauth(id, token, client)
        };
        let renewal = Renewal::with_login(login, store, base_url);
        renewal.lock().registered_client = client_id.clone();
        Ok(Some(renewal))
    }

    fn with_login(login: StoredLogin, store: CredentialStore, base_url: &str) -> Renewal {
        Renewal {
            live: Arc::new(Mutex::new(Live {
                issued: access_text(&login).into_iter().collect(),
                login,
                refresher: Refresher::new(margin_ms()),
                store,
                registered_client: None,
                base_url: base_url.to_string(),
            })),
        }
    }

    /// Readies the login for a session's first request and returns the credential and the
    /// API base requests should be built with (Copilot's, once exchanged).
    pub fn first_use(&self) -> Result<(Credential, Option<String>), String> {
        let mut live = self.lock();
        let ready = live.ready()?;
        if let Some(base) = &ready.1 {
            live.base_url = base.clone();
        }
        Ok(ready)
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The credential to use now, renewed first when due, and the API base the login names
    /// (Copilot's `endpoints.api`). The error says what to do.
    fn ready(&self) -> Result<(Credential, Option<String>), String> {
        let mut live = self.lock();
        live.ready()
    }

    /// A request was answered with something other than a 401.
    fn succeeded(&self) {
        self.lock().refresher.request_succeeded();
    }

    /// After a 401: renews once, then gives up until a request succeeds.
    fn after_unauthorized(&self) -> Result<Credential, String> {
        let mut live = self.lock();
        let live = &mut *live;
        match live.refresher.after_unauthorized(&live.login) {
            Readiness::RefreshFirst(request) => {
                live.renew(request)?;
                live.ready().map(|(credential, _)| credential)
            }
            Readiness::Ready(credential) => Ok(credential),
            Readiness::LogInAgain(error) => Err(error.to_string()),
        }
    }

    /// Puts the current credential and API base into `request`, built with an earlier one.
    fn patch(&self, request: &mut Request, credential: &Credential) {
        let live = self.lock();
        let new = secret_text(credential);
        let mut headers = Headers::new();
        for (name, value) in request.headers.iter() {
            let mut value = value.to_string();
            for old in &live.issued {
                if old != new && !old.is_empty() && value.contains(old.as_str()) {
                    value = value.replace(old.as_str(), new);
                }
            }
            headers.push(name, value);
        }
        request.headers = headers;
        if let Some(base) = &live.login.base_url {
            let old_base = live.base_url.trim_end_matches('/');
            if base.trim_end_matches('/') != old_base {
                if let Some(rest) = request.url.strip_prefix(old_base) {
                    request.url = format!("{}{rest}", base.trim_end_matches('/'));
                }
            }
        }
    }
}

/// The client of a login without a refresh token: nothing is ever sent to it, so its
/// endpoints are not discovered.
fn oauth_client_placeholder(
    settings: &oauth_settings::OAuthSettings,
) -> cm_proto::auth::pkce::OAuthClient {
    cm_proto::auth::pkce::OAuthClient {
        authorization_endpoint: String::new(),
        token_endpoint: settings.token_url.clone().unwrap_or_default(),
        revocation_endpoint: None,
        client_id: settings.client_id.clone().unwrap_or_default(),
        redirect_uri: String::new(),
        scopes: Vec::new(),
        body: cm_proto::auth::BodyEncoding::Form,
        extra_authorize_params: Vec::new(),
    }
}

fn secret_text(credential: &Credential) -> &str {
    match credential {
        Credential::ApiKey(s) | Credential::Bearer(s) => s,
    }
}

fn access_text(login: &StoredLogin) -> Option<String> {
    login
        .credential
        .as_ref()
        .map(|c| secret_text(c).to_string())
}

impl Live {
    fn ready(&mut self) -> Result<(Credential, Option<String>), String> {
        // At most two rounds: a renewal, then the renewed credential.
        for _ in 0..2 {
            match self.refresher.before_request(&self.login, wall_clock()) {
                Readiness::Ready(credential) => {
                    return Ok((credential, self.login.base_url.clone()))
                }
                Readiness::RefreshFirst(request) => self.renew(request)?,
                Readiness::LogInAgain(error) => return Err(error.to_string()),
            }
        }
        match &self.login.credential {
            Some(credential) => Ok((credential.clone(), self.login.base_url.clone())),
            None => Err(format!(
                "the {0} login gave no usable token: log in again with `cm auth login {0}`",
                self.login.provider
            )),
        }
    }

    /// Sends a renewal request, applies its answer and stores the renewed login.
    fn renew(&mut self, request: Request) -> Result<(), String> {
        let provider = self.login.provider.clone();
        let (head, body) = fetch(request).map_err(|e| {
            format!(
                "cannot renew the {provider} login ({e}): try again, or log in again with \
                 `cm auth login {provider}`"
            )
        })?;
        self.refresher
            .handle_refresh_response(&mut self.login, &head, &body, wall_clock())
            .map_err(|e| e.to_string())?;
        if let Some(access) = access_text(&self.login) {
            self.issued.push(access);
        }
        self.persist()
    }

    fn persist(&self) -> Result<(), String> {
        let Renew::RefreshToken { refresh_token, .. } = &self.login.renew else {
            return Ok(());
        };
        let Some(access) = access_text(&self.login) else {
            return Ok(());
        };
        let login = StoredCredential::Oauth {
            access: Secret::new(access),
            refresh: Some(Secret::new(refresh_token.as_str())),
            expires_at: self.login.expires_at.map(|at| at.0),
            client_id: self.registered_client.clone(),
        };
        let id = self.login.provider.clone();
        self.store
            .update(|_| {}, |c| c.providers.insert(id, login))
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "the renewed {} login was not saved: {e}",
                    self.login.provider
                )
            })
    }
}

/// An HTTP client that renews the login around the requests it sends (see the module).
pub struct RenewingHttp<H> {
    inner: Arc<Mutex<H>>,
    renewal: Option<Renewal>,
}

impl<H> RenewingHttp<H> {
    /// Wraps `inner`; without a renewal it only passes requests through.
    pub fn new(inner: H, renewal: Option<Renewal>) -> RenewingHttp<H> {
        RenewingHttp {
            inner: Arc::new(Mutex::new(inner)),
            renewal,
        }
    }
}

fn lock<H>(inner: &Mutex<H>) -> MutexGuard<'_, H> {
    inner.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The answer the agent receives when the login cannot be renewed: a 401 whose message
/// says what to do, in a shape every wire format's error parser reads.
fn refusal(id: HttpId, message: &str) -> [Input; 3] {
    let head = ResponseHead {
        status: 401,
        reason: "Unauthorized".into(),
        headers: [("content-type", "application/json")].into_iter().collect(),
    };
    let body = serde_json::json!({
        "type": "error",
        "error": {"type": "authentication_error", "code": 401,
                  "status": "UNAUTHENTICATED", "message": message},
    });
    [
        Input::HttpHead(id, head),
        Input::HttpBody(id, body.to_string().into_bytes()),
        Input::HttpEnd(id),
    ]
}

fn refused(id: HttpId, message: &str, inputs: &Sender<Input>) {
    for input in refusal(id, message) {
        let _ = inputs.send(input);
    }
}

impl<H: HttpClient + Send + 'static> HttpClient for RenewingHttp<H> {
    fn start(&mut self, id: HttpId, mut request: Request, inputs: Sender<Input>) {
        let Some(renewal) = self.renewal.clone() else {
            return lock(&self.inner).start(id, request, inputs);
        };
        match renewal.ready() {
            Ok((credential, _)) => renewal.patch(&mut request, &credential),
            Err(message) => return refused(id, &message, &inputs),
        }
        let (sender, receiver) = mpsc::channel::<Input>();
        lock(&self.inner).start(id, request.clone(), sender);
        let inner = Arc::clone(&self.inner);
        // Watches the answer's head: a 401 is renewed and retried once, unseen by the agent.
        let spawned = std::thread::Builder::new()
            .name("cm-renew-http".into())
            .spawn(move || {
                let mut receiver = receiver;
                let mut retried = false;
                while let Ok(input) = receiver.recv() {
                    if let Input::HttpHead(_, head) = &input {
                        if head.status == 401 && !retried {
                            retried = true;
                            match renewal.after_unauthorized() {
                                Ok(credential) => {
                                    renewal.patch(&mut request, &credential);
                                    let (sender, next) = mpsc::channel::<Input>();
                                    lock(&inner).start(id, request.clone(), sender);
                                    receiver = next;
                                    continue;
                                }
                                Err(message) => {
                                    refused(id, &message, &inputs);
                                    return;
                                }
                            }
                        }
                        if head.status != 401 {
                            renewal.succeeded();
                        }
                    }
                    if inputs.send(input).is_err() {
                        return;
                    }
                }
            });
        drop(spawned);
    }

    fn cancel(&mut self, id: HttpId) {
        lock(&self.inner).cancel(id);
    }
}

/// [`RenewingHttp`] for cm-smol's driver: renews the login around the exchanges of
/// `inner` (see the module); without a renewal it only passes them through.
pub struct RenewingExchanges<H> {
    inner: Arc<H>,
    renewal: Option<Renewal>,
}

impl<H> RenewingExchanges<H> {
    /// Wraps `inner`; without a renewal it only passes exchanges through.
    pub fn new(inner: H, renewal: Option<Renewal>) -> RenewingExchanges<H> {
        RenewingExchanges {
            inner: Arc::new(inner),
            renewal,
        }
    }
}

impl<H: Exchanges + Sync> Exchanges for RenewingExchanges<H> {
    fn start(&self, id: HttpId, request: Request, inputs: AsyncSender<Input>) -> Task<()> {
        let Some(renewal) = self.renewal.clone() else {
            return self.inner.start(id, request, inputs);
        };
        let inner = Arc::clone(&self.inner);
        smol::spawn(async move { renewed_exchange(&*inner, renewal, id, request, &inputs).await })
    }
}

/// The credential renewed when due, put into `request`, on a blocking thread; `after_401`
/// renews because the last answer was a 401.
async fn patched(renewal: &Renewal, request: Request, after_401: bool) -> Result<Request, String> {
    let renewal = renewal.clone();
    smol::unblock(move || {
        let mut request = request;
        let credential = if after_401 {
            renewal.after_unauthorized()?
        } else {
            renewal.ready()?.0
        };
        renewal.patch(&mut request, &credential);
        Ok(request)
    })
    .await
}

async fn renewed_exchange<H: Exchanges>(
    inner: &H,
    renewal: Renewal,
    id: HttpId,
    request: Request,
    inputs: &AsyncSender<Input>,
) {
    let mut request = match patched(&renewal, request, false).await {
        Ok(request) => request,
        Err(message) => return refused_async(id, &message, inputs).await,
    };
    let mut retried = false;
    loop {
        let (sender, answers) = async_channel::unbounded();
        // Dropping the task (a 401 to retry, or this exchange cancelled) cancels it.
        let _exchange = inner.start(id, request.clone(), sender);
        let mut unauthorized = false;
        while let Ok(input) = answers.recv().await {
            if let Input::HttpHead(_, head) = &input {
                if head.status == 401 && !retried {
                    unauthorized = true;
                    break;
                }
                if head.status != 401 {
                    renewal.succeeded();
                }
            }
            if inputs.send(input).await.is_err() {
                return;
            }
        }
        if !unauthorized {
            return;
        }
        retried = true;
        request = match patched(&renewal, request, true).await {
            Ok(request) => request,
            Err(message) => return refused_async(id, &message, inputs).await,
        };
    }
}

async fn refused_async(id: HttpId, message: &str, inputs: &AsyncSender<Input>) {
    for input in refusal(id, message) {
        if inputs.send(input).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use cm_proto::http::Method;

    fn request(url: &str, token: &str) -> Request {
        Request {
            method: Method::Post,
            url: url.to_string(),
            headers: [
                ("authorization", format!("Bearer {token}")),
                ("content-type", "application/json".to_string()),
            ]
            .into_iter()
            .collect(),
            body: b"{}".to_vec(),
        }
    }

    fn login(token: &str) -> StoredLogin {
        StoredLogin {
            provider: "acme".into(),
            credential: Some(Credential::Bearer(token.into())),
            expires_at: None,
            refresh_after: None,
            base_url: None,
            renew: Renew::Never,
        }
    }

    #[test]
    fn a_request_built_with_an_older_token_gets_the_current_one_and_api_base() {
        let dir = TestDir::new("renewal-patch");
        let store = CredentialStore::new(dir.path());
        let renewal = Renewal::with_login(login("old-token"), store, "https://a.example/v1");
        {
            let mut live = renewal.lock();
            live.issued.push("new-token".into());
            live.login.credential = Some(Credential::Bearer("new-token".into()));
            live.login.base_url = Some("https://b.example/v1/".into());
        }
        let mut sent = request("https://a.example/v1/chat/completions", "old-token");
        renewal.patch(&mut sent, &Credential::Bearer("new-token".into()));
        assert_eq!(sent.url, "https://b.example/v1/chat/completions");
        assert_eq!(sent.headers.get("authorization"), Some("Bearer new-token"));
        assert_eq!(sent.headers.get("content-type"), Some("application/json"));
    }

    /// Answers every request with `status` and an empty JSON body.
    struct Answering {
        status: u16,
        sent: Arc<Mutex<Vec<Request>>>,
    }

    impl HttpClient for Answering {
        fn start(&mut self, id: HttpId, request: Request, inputs: Sender<Input>) {
            lock(&self.sent).push(request);
            let head = ResponseHead {
                status: self.status,
                reason: String::new(),
                headers: Headers::new(),
            };
            let _ = inputs.send(Input::HttpHead(id, head));
            let _ = inputs.send(Input::HttpBody(id, b"{}".to_vec()));
            let _ = inputs.send(Input::HttpEnd(id));
        }

        fn cancel(&mut self, _: HttpId) {}
    }

    fn exchange(status: u16, renewal: Option<Renewal>) -> (Vec<Input>, Vec<Request>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut http = RenewingHttp::new(
            Answering {
                status,
                sent: Arc::clone(&sent),
            },
            renewal,
        );
        let (inputs, received) = mpsc::channel();
        http.start(
            HttpId(7),
            request("https://a.example/v1/x", "old-token"),
            inputs,
        );
        drop(http);
        let got: Vec<Input> = received.iter().collect();
        let sent = lock(&sent).clone();
        (got, sent)
    }

    #[test]
    fn without_a_login_requests_pass_through_untouched() {
        let (got, sent) = exchange(401, None);
        assert!(matches!(&got[0], Input::HttpHead(HttpId(7), head) if head.status == 401));
        assert_eq!(got.len(), 3);
        assert_eq!(sent.len(), 1);
    }

    #[test]
    fn a_401_on_a_login_that_cannot_renew_says_to_log_in_again() {
        let dir = TestDir::new("renewal-401");
        let store = CredentialStore::new(dir.path());
        let renewal = Renewal::with_login(login("old-token"), store, "https://a.example/v1");
        let (got, sent) = exchange(401, Some(renewal));
        assert_eq!(sent.len(), 1, "nothing to renew, so no retry");
        let [Input::HttpHead(_, head), Input::HttpBody(_, body), Input::HttpEnd(_)] = &got[..]
        else {
            panic!("a whole answer: {got:?}");
        };
        assert_eq!(head.status, 401);
        let body: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            body["error"]["message"],
            "acme still refuses the credential after a refresh: \
             log in again with `cm auth login acme`"
        );
    }

    #[test]
    fn a_success_is_forwarded_as_it_came() {
        let dir = TestDir::new("renewal-ok");
        let store = CredentialStore::new(dir.path());
        let renewal = Renewal::with_login(login("old-token"), store, "https://a.example/v1");
        let (got, sent) = exchange(200, Some(renewal));
        assert_eq!(sent.len(), 1);
        assert!(matches!(&got[0], Input::HttpHead(_, head) if head.status == 200));
        assert!(matches!(&got[2], Input::HttpEnd(HttpId(7))));
    }

    impl Exchanges for Answering {
        fn start(&self, id: HttpId, request: Request, inputs: AsyncSender<Input>) -> Task<()> {
            lock(&self.sent).push(request);
            let head = ResponseHead {
                status: self.status,
                reason: String::new(),
                headers: Headers::new(),
            };
            smol::spawn(async move {
                let _ = inputs.send(Input::HttpHead(id, head)).await;
                let _ = inputs.send(Input::HttpBody(id, b"{}".to_vec())).await;
                let _ = inputs.send(Input::HttpEnd(id)).await;
            })
        }
    }

    /// [`exchange`] through [`RenewingExchanges`] on smol.
    fn exchange_async(status: u16, renewal: Option<Renewal>) -> (Vec<Input>, Vec<Request>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let http = RenewingExchanges::new(
            Answering {
                status,
                sent: Arc::clone(&sent),
            },
            renewal,
        );
        let (inputs, received) = async_channel::unbounded();
        let request = request("https://a.example/v1/x", "old-token");
        smol::block_on(http.start(HttpId(7), request, inputs));
        let got: Vec<Input> = std::iter::from_fn(|| received.try_recv().ok()).collect();
        let sent = lock(&sent).clone();
        (got, sent)
    }

    #[test]
    fn on_smol_too_a_401_without_a_way_to_renew_says_to_log_in_again() {
        let dir = TestDir::new("renewal-smol-401");
        let store = CredentialStore::new(dir.path());
        let renewal = Renewal::with_login(login("old-token"), store, "https://a.example/v1");
        let (got, sent) = exchange_async(401, Some(renewal));
        assert_eq!(sent.len(), 1, "nothing to renew, so no retry");
        let [Input::HttpHead(_, head), Input::HttpBody(_, body), Input::HttpEnd(HttpId(7))] =
            &got[..]
        else {
            panic!("a whole answer: {got:?}");
        };
        assert_eq!(head.status, 401);
        let body: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`cm auth login acme`"),
            "{body}"
        );
    }

    #[test]
    fn on_smol_a_success_or_a_request_without_a_login_passes_as_it_came() {
        let dir = TestDir::new("renewal-smol-ok");
        let store = CredentialStore::new(dir.path());
        let renewal = Renewal::with_login(login("old-token"), store, "https://a.example/v1");
        let (got, sent) = exchange_async(200, Some(renewal));
        assert_eq!(sent.len(), 1);
        assert!(matches!(&got[0], Input::HttpHead(_, head) if head.status == 200));
        assert!(matches!(&got[2], Input::HttpEnd(HttpId(7))));

        let (got, sent) = exchange_async(401, None);
        assert_eq!((got.len(), sent.len()), (3, 1));
        assert!(matches!(&got[0], Input::HttpHead(_, head) if head.status == 401));
    }
}
