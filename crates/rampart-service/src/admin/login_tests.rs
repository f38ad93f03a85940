//! Password + TOTP sign-in over real sockets: codes accepted once, old codes refused,
//! lockout, CSRF on state-changing cookie calls, logout, cookie attributes, audit.

use super::*;
use crate::admin::totp::{STEP_SECS, Secret};
use crate::admin::users::{UsersFile, upsert_user};

const PASSWORD: &str = "glacier-ferry-violet-37";

struct Users {
    secret: Secret,
    file: UsersFile,
}

/// A users file with `alice` (operator) and `vera` (viewer), both with `PASSWORD`.
fn users_file(dir: &std::path::Path) -> Users {
    let phc = rampart_identity::basic::hash_password(PASSWORD).unwrap();
    let secret = Secret::generate();
    let text = upsert_user("", "alice", Role::Operator, &phc, &secret).unwrap();
    let text = upsert_user(&text, "vera", Role::Viewer, &phc, &secret).unwrap();
    let path = dir.join("admin-users.toml");
    std::fs::write(&path, text).unwrap();
    Users {
        secret,
        file: UsersFile::load(&path).unwrap(),
    }
}

fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / STEP_SECS
}

async fn start_users(insecure_cookies: bool) -> (Harness, Secret) {
    let dir = audit::tests::temp_dir("users");
    let users = users_file(&dir);
    let h = start_with(
        |c| {
            c.users = Some(users.file.clone());
            c.insecure_cookies = insecure_cookies;
        },
        None,
    )
    .await;
    (h, users.secret)
}

async fn login(h: &Harness, user: &str, password: &str, code: &str) -> Reply {
    let body = serde_json::json!({ "username": user, "password": password, "code": code });
    call(
        h.addr,
        &Method::POST,
        "/admin/login",
        None,
        &body.to_string(),
    )
    .await
}

async fn with_cookie(
    h: &Harness,
    method: &Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: &str,
) -> StatusCode {
    let mut headers = vec![("cookie", cookie), ("content-type", "application/json")];
    if let Some(csrf) = csrf {
        headers.push(("x-csrf-token", csrf));
    }
    send(h.addr, method, path, &headers, body).await.status()
}

#[tokio::test]
async fn totp_login_accepts_a_code_once_and_refuses_old_ones() {
    let (h, secret) = start_users(false).await;
    let step = step_now();
    // Look-alikes of the right answer, each refused with the same generic 401.
    let wrong: [(&str, &str, String); 6] = [
        ("alice", PASSWORD, secret.code(step - 2)),
        // Far enough ahead that no clock step during the test makes it valid.
        ("alice", PASSWORD, secret.code(step + 3)),
        ("alice", "glacier-ferry-violet-38", secret.code(step)),
        ("mallory", PASSWORD, secret.code(step)),
        ("Alice", PASSWORD, secret.code(step)),
        ("alice", PASSWORD, "12345".into()),
    ];
    for (user, password, code) in &wrong {
        let reply = login(&h, user, password, code).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{user} {code}");
        assert!(!reply.headers.contains_key("set-cookie"));
        assert_eq!(reply.json()["title"], "login failed");
        assert!(!reply.body.contains("password") && !reply.body.contains("code"));
    }
    let code = secret.code(step_now());
    let ok = login(&h, "alice", PASSWORD, &code).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["role"], "operator");
    let replay = login(&h, "alice", PASSWORD, &code).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "a code works once");

    let records = admin_records(&h);
    let details: Vec<&str> = records
        .iter()
        .filter(|r| r["endpoint"] == "/admin/login")
        .map(|r| r["detail"].as_str().unwrap())
        .collect();
    for want in [
        "wrong code",
        "wrong password",
        "unknown user",
        "login \"alice\" succeeded",
        "replayed or old code",
    ] {
        assert!(
            details.iter().any(|d| d.contains(want)),
            "{want} in {details:?}"
        );
    }
    let text = std::fs::read_to_string(&h.audit_path).unwrap();
    assert!(!text.contains(PASSWORD), "no password in the audit log");
    assert!(
        !text.contains(&format!("\"{code}\"")),
        "no code in the audit log"
    );
    assert!(
        records
            .iter()
            .any(|r| r["auth"] == "password+totp" && r["actor"] == "alice")
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_user_out_even_with_the_right_code() {
    let (h, secret) = start_users(false).await;
    for _ in 0..5 {
        let reply = login(&h, "alice", PASSWORD, "000000").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let locked = login(&h, "alice", PASSWORD, &secret.code(step_now())).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    // Another user from the same address is not locked (the address threshold is higher).
    let vera = login(&h, "vera", PASSWORD, &secret.code(step_now())).await;
    assert_eq!(vera.status, StatusCode::OK, "{}", vera.body);
    let records = admin_records(&h);
    assert!(records.iter().any(|r| {
        r["detail"]
            .as_str()
            .unwrap()
            .contains("user now locked out")
    }));
    assert!(records.iter().any(|r| {
        r["detail"]
            .as_str()
            .unwrap()
            .contains("login \"alice\" refused: user locked out")
    }));
}

#[tokio::test]
async fn a_cookie_session_needs_its_csrf_token_to_change_anything_and_dies_on_logout() {
    let (h, secret) = start_users(false).await;
    let ok = login(&h, "alice", PASSWORD, &secret.code(step_now())).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let csrf = ok.json()["csrf_token"].as_str().unwrap().to_owned();
    let set = ok.headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute}: {set}"
        );
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("rampart_session="));

    let mode = r#"{"mode":"detect"}"#;
    let path = "/admin/routes/orders/mode";
    let post = Method::POST;
    assert_eq!(
        with_cookie(&h, &post, path, &cookie, None, mode).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_cookie(&h, &post, path, &cookie, Some("wrong"), mode).await,
        StatusCode::FORBIDDEN
    );
    assert!(h.actions.calls().is_empty());
    assert_eq!(
        with_cookie(&h, &post, path, &cookie, Some(&csrf), mode).await,
        StatusCode::OK
    );
    assert_eq!(h.actions.calls(), vec!["route orders detect".to_owned()]);
    // Reads need no token; a bearer token needs no CSRF token.
    assert_eq!(
        with_cookie(&h, &Method::GET, "/admin/status", &cookie, None, "").await,
        StatusCode::OK
    );
    let session = call(h.addr, &Method::GET, "/admin/session", None, "").await;
    assert_eq!(session.status, StatusCode::UNAUTHORIZED);
    let by_token = call(h.addr, &post, path, Some(&h.operator), mode).await;
    assert_eq!(by_token.status, StatusCode::OK);

    let out = send(h.addr, &post, "/admin/logout", &[("cookie", &cookie)], "").await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        with_cookie(&h, &Method::GET, "/admin/status", &cookie, None, "").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_cookie(&h, &post, path, &cookie, Some(&csrf), mode).await,
        StatusCode::UNAUTHORIZED
    );
    let records = admin_records(&h);
    assert!(
        records
            .iter()
            .any(|r| r["endpoint"] == "/admin/logout" && r["actor"] == "alice")
    );
}

#[tokio::test]
async fn viewers_sessions_cannot_change_things_and_cross_site_logins_are_refused() {
    let (h, secret) = start_users(true).await;
    let ok = login(&h, "vera", PASSWORD, &secret.code(step_now())).await;
    assert_eq!(ok.status, StatusCode::OK);
    let set = ok.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        !set.contains("Secure"),
        "insecure_cookies on plain HTTP: {set}"
    );
    let csrf = ok.json()["csrf_token"].as_str().unwrap().to_owned();
    let cookie = set.split(';').next().unwrap().to_owned();
    let status = with_cookie(
        &h,
        &Method::POST,
        "/admin/routes/orders/mode",
        &cookie,
        Some(&csrf),
        r#"{"mode":"detect"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer");

    let body = serde_json::json!({
        "username": "alice", "password": PASSWORD, "code": secret.code(step_now() + 1)
    })
    .to_string();
    let cross = send(
        h.addr,
        &Method::POST,
        "/admin/login",
        &[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        &body,
    )
    .await;
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let page = call(h.addr, &Method::GET, "/admin/login", None, "").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"));
    assert!(page.body.contains("/admin/login.js"));
    for asset in ["/admin/login.js", "/admin/login.css"] {
        assert_eq!(
            call(h.addr, &Method::GET, asset, None, "").await.status,
            StatusCode::OK
        );
    }
}
