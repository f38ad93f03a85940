//! Human sign-in: `GET /admin/login` (the page), `POST /admin/login` (username, argon2id
//! password and TOTP code, as JSON or a form; or an admin token, as the dashboard's
//! original form), `POST /admin/logout` and `GET /admin/session`.
//!
//! Order of a user login: a cross-site request is refused (403); a locked user or address
//! is refused before any hashing; the password is checked with argon2 on the blocking
//! pool, at most [`MAX_HASHING`] at once (unknown users against a dummy hash, so they cost
//! the same); then the TOTP code, accepted once. Every failure is the same generic 401
//! "login failed"; the audit record says which step failed (never the password or code).
//! Success opens a session (see [`super::session`]) and returns its CSRF token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::PasswordVerifier as _;
use argon2::{Argon2, PasswordHash};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode};
use rampart_core::id::RequestId;
use rampart_core::problem::Reason;
use rampart_identity::lockout::{LockedBy, Lockout, LockoutConfig};
use serde::Deserialize;

use super::api::{self, Body, full};
use super::auth::{Principal, Via};
pub(crate) use super::login_page::Asset;
use super::login_page::page;
use super::session::{self, Owner};
use super::{AdminState, Conn, Outcome};

/// Argon2 verifications at once; more wait up to [`HASH_WAIT`], then get 503.
pub(crate) const MAX_HASHING: usize = 2;
const HASH_WAIT: Duration = Duration::from_secs(10);
/// Longest password considered (longer ones fail without hashing).
const MAX_PASSWORD_BYTES: usize = 1024;

/// Lockout of admin sign-in: after 5 failures of one user (20 of one address), each
/// within 15 minutes of the previous, 30 s locked, doubling up to 15 minutes. Stricter
/// than the edge's Basic defaults: people, not programs, sign in here.
fn lockout_config() -> LockoutConfig {
    LockoutConfig {
        threshold: 5,
        ip_threshold: 20,
        window: Duration::from_secs(900),
        base: Duration::from_secs(30),
        max: Duration::from_secs(900),
        capacity: 4096,
    }
}

/// Sign-in state shared by all admin connections.
pub(crate) struct Logins {
    lockout: Lockout,
    /// The TOTP step of each user's last login: a code is good once.
    last_steps: Mutex<HashMap<String, u64>>,
    hashing: Arc<tokio::sync::Semaphore>,
}

impl Default for Logins {
    fn default() -> Self {
        Logins {
            lockout: Lockout::new(lockout_config()),
            last_steps: Mutex::new(HashMap::new()),
            hashing: Arc::new(tokio::sync::Semaphore::new(MAX_HASHING)),
        }
    }
}

impl std::fmt::Debug for Logins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Logins(..)")
    }
}

/// What a sign-in call came to: its response and its audit record.
pub(crate) struct Answer {
    pub(crate) response: Response<Body>,
    pub(crate) outcome: Outcome,
    pub(crate) detail: String,
    pub(crate) principal: Option<Principal>,
}

/// Whether a browser says the request comes from another site (a login CSRF: signing
/// the victim in as the attacker). Absent headers (scripts, old clients) pass.
fn cross_site(headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match value("sec-fetch-site") {
        Some("cross-site" | "same-site") => return true,
        // The browser's own word; `Origin` may then be `null` (strict referrer policies).
        Some("same-origin") => return false,
        _ => {}
    }
    match (value("origin"), value("host")) {
        (None, _) => false,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_none_or(|(_, authority)| !authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => true,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Form {
    username: Option<String>,
    password: Option<String>,
    code: Option<String>,
    token: Option<String>,
}

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Option<(Form, bool)> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if json {
            return serde_json::from_slice(body).ok().map(|f| (f, true));
        }
        let field = |name| api::form_field(body, name);
        Some((
            Form {
                username: field("username"),
                password: field("password"),
                code: field("code"),
                token: field("token"),
            },
            false,
        ))
    }
}

fn failed(json: bool, request_id: &RequestId, detail: String) -> Answer {
    let response = if json {
        let mut r = api::problem(
            StatusCode::UNAUTHORIZED,
            Reason::Unauthenticated.code(),
            "login failed",
            request_id,
            None,
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"rampart-admin\""),
        );
        r
    } else {
        page(StatusCode::UNAUTHORIZED, true)
    };
    Answer {
        response,
        outcome: Outcome::Unauthenticated,
        detail,
        principal: None,
    }
}

fn refused(status: StatusCode, reason: Reason, request_id: &RequestId, detail: &str) -> Answer {
    Answer {
        response: api::problem(status, reason.code(), reason.title(), request_id, None),
        outcome: if status == StatusCode::SERVICE_UNAVAILABLE {
            Outcome::Failed
        } else {
            Outcome::Refused
        },
        detail: detail.to_owned(),
        principal: None,
    }
}

/// Opens a session and answers: JSON with the CSRF token, or a 303 to the dashboard.
fn signed_in(
    state: &AdminState,
    conn: &Conn,
    owner: Owner,
    principal: Principal,
    json: bool,
    detail: String,
) -> Answer {
    let config = state.config();
    let life = config.session_lifetime();
    let opened = state.sessions.open(owner, life, Instant::now());
    let cookie = session::set_cookie(&opened.id, life, config.cookie_secure(conn.tls));
    let mut response = if json {
        let body = serde_json::json!({
            "user": principal.name,
            "role": principal.role.as_str(),
            "csrf_token": opened.csrf,
            "idle_timeout_secs": life.idle.as_secs(),
            "absolute_timeout_secs": life.absolute.as_secs(),
        });
        let mut r = Response::new(full(body.to_string()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    } else {
        let mut r = Response::new(full(""));
        *r.status_mut() = StatusCode::SEE_OTHER;
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/dashboard"));
        r
    };
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Answer {
        response,
        outcome: Outcome::Ok,
        detail,
        principal: Some(principal),
    }
}

/// A user name safe to write to the audit log.
fn shown(name: &str) -> String {
    if super::users::valid_user_name(name) {
        format!("{name:?}")
    } else {
        "(malformed name)".to_owned()
    }
}

/// `POST /admin/login`.
pub(crate) async fn login<B>(
    state: &Arc<AdminState>,
    conn: &Conn,
    req: Request<B>,
    request_id: &RequestId,
) -> Answer
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    if cross_site(&parts.headers) {
        return refused(
            StatusCode::FORBIDDEN,
            Reason::Forbidden,
            request_id,
            "cross-site login refused",
        );
    }
    let bytes = match api::read_body(body, &parts.headers, request_id).await {
        Ok(b) => b,
        Err(r) => {
            return Answer {
                response: *r,
                outcome: Outcome::Refused,
                detail: "unreadable body".into(),
                principal: None,
            };
        }
    };
    let Some((form, json)) = Form::parse(&parts.headers, &bytes) else {
        return failed(true, request_id, "login failed: malformed body".into());
    };
    if let Some(token) = form.token.as_deref() {
        return token_login(state, conn, token, json, request_id);
    }
    let (Some(username), Some(password), Some(code)) = (form.username, form.password, form.code)
    else {
        return failed(json, request_id, "login failed: missing fields".into());
    };
    user_login(state, conn, &username, password, &code, json, request_id).await
}

/// The dashboard's original sign-in with an admin token.
fn token_login(
    state: &AdminState,
    conn: &Conn,
    token: &str,
    json: bool,
    request_id: &RequestId,
) -> Answer {
    let config = state.config();
    // Tokens are too long to guess, but a guessing address is still slowed down.
    let ip = conn.peer.ip();
    if let Err(locked) = state.logins.lockout.check_address(ip, Instant::now()) {
        return failed(
            json,
            request_id,
            format!(
                "sign-in with a token refused: address locked out for {}s more",
                locked.retry_after.as_secs().max(1)
            ),
        );
    }
    match config.token(token) {
        Some(t) => {
            let principal = Principal {
                name: t.name.clone(),
                role: t.role,
                via: Via::Token,
            };
            signed_in(
                state,
                conn,
                Owner::Token(t.name.clone()),
                principal,
                json,
                "signed in with a token".into(),
            )
        }
        None => {
            state
                .logins
                .lockout
                .record_failure(None, ip, Instant::now());
            failed(json, request_id, "sign-in with a token failed".into())
        }
    }
}

/// Checks `password` against `hash`, or a dummy hash when the user is unknown.
fn verify_password(password: &str, hash: Option<&PasswordHash>) -> bool {
    static DUMMY: LazyLock<Option<PasswordHash>> = LazyLock::new(|| {
        rampart_identity::basic::hash_password("rampart-timing-equaliser")
            .ok()
            .and_then(|phc| PasswordHash::new(&phc).ok())
    });
    match hash {
        Some(hash) => Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok(),
        None => {
            if let Some(dummy) = DUMMY.as_ref() {
                let _ = Argon2::default().verify_password(password.as_bytes(), dummy);
            }
            false
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn user_login(
    state: &Arc<AdminState>,
    conn: &Conn,
    username: &str,
    password: String,
    code: &str,
    json: bool,
    request_id: &RequestId,
) -> Answer {
    let config = state.config();
    let who = shown(username);
    let Some(users) = config.users.as_ref().map(|u| u.current()) else {
        return failed(
            json,
            request_id,
            format!("login {who} failed: no users file"),
        );
    };
    let ip: IpAddr = conn.peer.ip();
    let logins = &state.logins;
    if let Err(locked) = logins.lockout.check(Some(username), ip, Instant::now()) {
        let by = match locked.by {
            LockedBy::User => "user",
            LockedBy::Address => "address",
        };
        return failed(
            json,
            request_id,
            format!(
                "login {who} refused: {by} locked out for {}s more",
                locked.retry_after.as_secs().max(1)
            ),
        );
    }
    let Ok(Ok(permit)) =
        tokio::time::timeout(HASH_WAIT, logins.hashing.clone().acquire_owned()).await
    else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::Overloaded,
            request_id,
            "login not checked: too many at once",
        );
    };
    let name = username.to_owned();
    let checked_users = users.clone();
    let password_ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        verify_password(&password, checked_users.users.get(&name).map(|u| &u.hash))
    })
    .await
    .unwrap_or(false);
    let user = users.users.get(username);
    let failure = match user {
        None => Some("unknown user"),
        Some(_) if !password_ok => Some("wrong password"),
        Some(user) => {
            let mut steps = logins.last_steps.lock().unwrap_or_else(|e| e.into_inner());
            let last = steps.get(username).copied();
            match user.secret.verify(code, unix_secs(), last) {
                Some(step) => {
                    if steps.len() >= 4 * super::users::MAX_USERS {
                        steps.retain(|n, _| users.users.contains_key(n));
                    }
                    steps.insert(username.to_owned(), step);
                    None
                }
                None => {
                    // Valid but not after the last login's step: a replay or an old code.
                    let replay =
                        last.is_some() && user.secret.verify(code, unix_secs(), None).is_some();
                    Some(if replay {
                        "replayed or old code"
                    } else {
                        "wrong code"
                    })
                }
            }
        }
    };
    match (failure, user) {
        (None, Some(user)) => {
            logins.lockout.record_success(username);
            let principal = Principal {
                name: username.to_owned(),
                role: user.role,
                via: Via::Login,
            };
            signed_in(
                state,
                conn,
                Owner::User(username.to_owned()),
                principal,
                json,
                format!("login {who} succeeded"),
            )
        }
        (failure, _) => {
            let now = Instant::now();
            logins.lockout.record_failure(Some(username), ip, now);
            let locked = match logins.lockout.check(Some(username), ip, now) {
                Err(l) if l.by == LockedBy::User => "; user now locked out",
                Err(_) => "; address now locked out",
                Ok(()) => "",
            };
            failed(
                json,
                request_id,
                format!(
                    "login {who} failed: {}{locked}",
                    failure.unwrap_or("unknown user")
                ),
            )
        }
    }
}

/// `POST /admin/logout`: ends the cookie's session and clears the cookie.
pub(crate) fn logout(state: &AdminState, conn: &Conn, headers: &HeaderMap) -> Answer {
    let config = state.config();
    let owner = super::auth::session_cookie(headers).and_then(|id| state.sessions.remove(id));
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::SEE_OTHER;
    let h = response.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/admin/login"));
    if let Ok(cookie) =
        HeaderValue::from_str(&session::clear_cookie(config.cookie_secure(conn.tls)))
    {
        h.insert(header::SET_COOKIE, cookie);
    }
    let (principal, detail) = match owner {
        Some(Owner::User(name)) => (Some(name), "signed out"),
        Some(Owner::Token(name)) => (Some(name), "signed out (token session)"),
        None => (None, "sign-out without a session"),
    };
    Answer {
        response,
        outcome: Outcome::Ok,
        detail: detail.to_owned(),
        principal: principal.map(|name| Principal {
            role: config.role_of(&name).unwrap_or(super::config::Role::Viewer),
            name,
            via: Via::Session,
        }),
    }
}

/// `GET /admin/session`: who the cookie belongs to and its CSRF token, for a page that
/// was reloaded (the token is only readable by same-origin scripts: no CORS here).
pub(crate) fn session_info(
    state: &AdminState,
    headers: &HeaderMap,
    who: &Principal,
) -> Response<Body> {
    let csrf = super::auth::session_cookie(headers).and_then(|id| state.sessions.csrf(id));
    let body = serde_json::json!({
        "user": who.name,
        "role": who.role.as_str(),
        "via": who.via.as_str(),
        "csrf_token": csrf,
    });
    let mut r = Response::new(full(body.to_string()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
#[path = "login_unit_tests.rs"]
mod tests;
