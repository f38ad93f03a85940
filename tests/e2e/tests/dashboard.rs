//! The inner's dashboard in a real headless Chromium: an admin signs in with a viewer
//! token, sees both tiers (the edge through `[admin] peers`), watches the request
//! counters move when traffic flows, and finds an attack's denial in the event list
//! with the explanation of its reason code.
//!
//! Chromium is driven by `chromedriver` over the WebDriver HTTP API with a small
//! blocking JSON client below (a dozen calls; no WebDriver crate and its HTTP/TLS stack
//! for that). Debian's `chromium` and `chromium-driver` must be installed
//! (`scripts/test.sh` installs them); without them the test fails, unless
//! `RAMPART_SKIP_BROWSER=1`. With `RAMPART_DASHBOARD_SCREENSHOT=path` it saves a PNG
//! of the page (that is how `docs/dashboard.png` is made).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::Backend;
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};
use serde_json::{Value, json};

use crate::common::bins;

/// One WebDriver call at most (a new session starts Chromium: slow on a loaded box).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Waiting for the page to show something.
const SHOW_TIMEOUT: Duration = Duration::from_secs(30);

/// `chromedriver`, killed on drop.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    /// Starts chromedriver on a free port; `None` when it is not installed.
    fn start() -> Option<Driver> {
        // The port is picked by binding and released for chromedriver to take: it has
        // no way to announce a port it chose itself.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        // Its first line says it started; the status call below says it is ready.
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    eprintln!("[chromedriver] {line}");
                }
            });
        }
        let driver = Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(status) = driver.call("GET", "/status", None)
                && status["value"]["ready"] == true
            {
                return Some(driver);
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One WebDriver command: JSON in, JSON out.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut tcp = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(CALL_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        // chromedriver keeps the connection open whatever the request says: read the
        // head, then exactly Content-Length bytes.
        let mut reader = BufReader::new(tcp);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err(format!("{method} {path}: connection closed in the head"));
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        let mut raw = Vec::new();
        match length {
            Some(n) => {
                raw.resize(n, 0);
                reader.read_exact(&mut raw).map_err(|e| e.to_string())?;
            }
            None => {
                reader.read_to_end(&mut raw).map_err(|e| e.to_string())?;
            }
        }
        let body = String::from_utf8_lossy(&raw);
        let value: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if head.get(9..12) != Some("200") {
            return Err(format!("{method} {path}: {head}: {value}"));
        }
        Ok(value)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session, closed (Chromium quits) on drop.
struct Browser<'a> {
    driver: &'a Driver,
    id: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl<'a> Browser<'a> {
    fn open(driver: &'a Driver) -> Browser<'a> {
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                // Root in containers needs --no-sandbox; /dev/shm is small there.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1440,1200",
                         "--no-first-run", "--disable-extensions"],
            },
        }}});
        let session = driver
            .call("POST", "/session", Some(&capabilities))
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"));
        Browser {
            driver,
            id: session["value"]["sessionId"]
                .as_str()
                .expect("session id")
                .to_owned(),
        }
    }

    fn command(&self, method: &str, path: &str, body: &Value) -> Value {
        let path = format!("/session/{}{path}", self.id);
        let body = (method == "POST").then_some(body);
        self.driver
            .call(method, &path, body)
            .unwrap_or_else(|e| panic!("{e}"))["value"]
            .take()
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", &json!({ "url": url }));
    }

    fn element(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            &json!({ "using": "css selector", "value": css }),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            &json!({ "text": text }),
        );
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.command("POST", &format!("/element/{id}/click"), &json!({}));
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    fn eval(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            &json!({ "script": script, "args": [] }),
        )
    }

    /// Evaluates `script` until `done` accepts its value; panics with `what` and the
    /// last value after [`SHOW_TIMEOUT`].
    fn wait_for(&self, what: &str, script: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SHOW_TIMEOUT;
        loop {
            let value = self.eval(script);
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "the dashboard never showed {what}; last: {value}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn screenshot(&self) -> Vec<u8> {
        let png = self.command("GET", "/screenshot", &Value::Null);
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes")
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .call("DELETE", &format!("/session/{}", self.id), None);
    }
}

/// A TCP relay on a port known before the edge starts (the inner's config names its
/// peer, the edge, but the inner starts first): it forwards to the edge's admin
/// listener once that is known, and refuses until then.
async fn relay() -> (SocketAddr, Arc<OnceLock<SocketAddr>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let target = Arc::new(OnceLock::<SocketAddr>::new());
    let known = target.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let Some(to) = known.get().copied() else {
                continue;
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, target)
}

/// The tiers the page shows: name, ready, requests and denials as displayed.
const TIERS: &str = "return Array.from(document.querySelectorAll('#tier-list .tier')).map(e => ({
    tier: e.dataset.tier,
    ready: !!e.querySelector('.head .ok'),
    requests: Number(e.querySelector('.totals').dataset.requests),
    denials: Number(e.querySelector('.totals').dataset.denials),
  }));";

fn shown(tiers: &Value, tier: &str) -> Option<Value> {
    tiers
        .as_array()?
        .iter()
        .find(|t| t["tier"] == tier)
        .cloned()
}

fn request_id(reply: &str) -> String {
    reply
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-request-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no x-request-id in {reply}"))
}

#[test]
fn the_inner_dashboard_shows_both_tiers_live_in_headless_chromium() {
    if std::env::var("RAMPART_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("RAMPART_SKIP_BROWSER=1: headless-browser dashboard test skipped");
        return;
    }
    let driver = Driver::start().expect(
        "chromedriver is not installed: install Debian's chromium and chromium-driver \
         (scripts/test.sh does), or set RAMPART_SKIP_BROWSER=1 to skip this test",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let backend = runtime.block_on(Backend::start());
    let (relay_addr, relay_target) = runtime.block_on(relay());

    let (inner_viewer, inner_viewer_toml) = new_admin_token("ops-viewer", Role::Viewer);
    let (edge_viewer, edge_viewer_toml) = new_admin_token("inner-dashboard", Role::Viewer);
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("edge-viewer.token");
    std::fs::write(&token_file, format!("{edge_viewer}\n")).unwrap();

    let mut opts = StackOptions::new(backend.url());
    opts.inner_extra = format!(
        // The test's admin listener is plain HTTP: the browser keeps only a cookie
        // without `Secure` there.
        "[admin]\ninsecure_cookies = true\npeers = [{{ name = \"edge\", url = \"http://{relay_addr}\", token_file = {:?} }}]\n\n{inner_viewer_toml}",
        token_file.display().to_string()
    );
    opts.edge_extra = edge_viewer_toml;
    let stack = Stack::start(&bins(), &opts);
    relay_target.set(stack.edge.addr("admin")).unwrap();
    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");

    let browser = Browser::open(&driver);
    // Not signed in: the sign-in page; a viewer token opens the dashboard.
    browser.go(&format!("http://{inner_admin}/dashboard"));
    // The token form may sit in a folded section next to the user-name sign-in.
    browser.eval(
        "document.querySelectorAll('details').forEach(d => { if (d.querySelector('#token')) d.open = true; });",
    );
    browser.type_into("#token", &inner_viewer);
    browser.click("form:has(#token) button[type=submit]");
    browser.wait_for(
        "the dashboard after signing in",
        "return !!document.getElementById('events') && location.pathname;",
        |v| v == "/dashboard",
    );

    // Both tiers, the edge through the inner's peer link, both ready.
    let tiers = browser.wait_for("both tiers ready", TIERS, |v| {
        ["edge", "inner"]
            .iter()
            .all(|t| shown(v, t).is_some_and(|t| t["ready"] == true))
    });
    let before = shown(&tiers, "edge").unwrap()["requests"].as_u64().unwrap();
    let inner_before = shown(&tiers, "inner").unwrap()["requests"]
        .as_u64()
        .unwrap();
    let card_before = browser.eval("return document.getElementById('req-total').textContent;");

    // Traffic through the edge: the numbers move, on both tiers and on the main card.
    for _ in 0..5 {
        let reply = blocking_get(stack.http(), "/hello");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
    let tiers = browser.wait_for("the request counters moving", TIERS, |v| {
        shown(v, "edge").is_some_and(|t| t["requests"].as_u64() >= Some(before + 5))
            && shown(v, "inner").is_some_and(|t| t["requests"].as_u64() >= Some(inner_before + 5))
    });
    let card_after = browser.eval("return document.getElementById('req-total').textContent;");
    assert_ne!(card_before, card_after, "the requests card did not change");
    assert_eq!(shown(&tiers, "edge").unwrap()["denials"], 0);

    // An attack: its denial shows in the event list, with what its reason means.
    let attack = blocking_get(stack.http(), "/items?id=1%27%20OR%20%271%27%3D%271");
    assert!(attack.starts_with("HTTP/1.1 403"), "{attack}");
    let id = request_id(&attack);
    let row = browser.wait_for(
        "the denial in the event list",
        &format!(
            "const tr = Array.from(document.querySelectorAll('#events tr.ev'))
               .find(r => r.dataset.requestId === {id:?});
             return tr ? {{ tier: tr.dataset.tier, reason: tr.dataset.reason,
                            why: tr.querySelector('td.reason .why').textContent,
                            visible: tr.offsetParent !== null }} : null;"
        ),
        |v| !v.is_null(),
    );
    assert_eq!(row["reason"], "attack-detected", "{row}");
    assert!(
        row["why"].as_str().unwrap().contains("attack pattern"),
        "{row}"
    );
    assert_eq!(row["visible"], true);
    assert!(["edge", "inner"].contains(&row["tier"].as_str().unwrap()));
    // The denying tier's own counter and the top reasons include it.
    let denier = row["tier"].as_str().unwrap().to_owned();
    browser.wait_for("the denial counted", TIERS, |v| {
        shown(v, &denier).is_some_and(|t| t["denials"].as_u64() >= Some(1))
    });
    browser.wait_for(
        "the denial in the blocked card (all tiers)",
        "return Number(document.getElementById('blocks').textContent);",
        |v| v.as_u64() >= Some(1),
    );
    browser.wait_for(
        "the top reasons",
        "return document.getElementById('top-reasons').textContent;",
        |v| v.as_str().is_some_and(|t| t.contains("attack-detected")),
    );

    if let Ok(path) = std::env::var("RAMPART_DASHBOARD_SCREENSHOT") {
        // A few seconds of mixed traffic, so the chart has a shape.
        for i in 0..12 {
            for _ in 0..(3 + i % 4) {
                let _ = blocking_get(stack.http(), "/hello");
            }
            if i % 3 == 0 {
                let _ = blocking_get(
                    stack.http(),
                    "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        std::thread::sleep(Duration::from_millis(2500));
        std::fs::write(&path, browser.screenshot()).unwrap();
        eprintln!("dashboard screenshot written to {path}");
    }
    drop(browser);
    drop(stack);
    drop(backend);
}
