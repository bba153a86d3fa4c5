//! The example page (`channel-wasm/www/index.html`) as a user opens it: served
//! on 127.0.0.1 with the installed package as `pkg/`, party 0 of a secure
//! sum in headless Chromium (driven over WebDriver by ChromeDriver) and the
//! other parties native `channel-http` clients. The finished page must show
//! the right sum; a page given a bad invitation must show its error. Each
//! ends with a screenshot in `target/js-package/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::Tools;
use crate::relay_session::RelaySession;
use crate::run::root;

/// Inputs of the secure sum's parties; party 0 is the page.
const INPUTS: [u64; 3] = [40, 2, 1000];
/// How long the page may take to show its outcome.
const PAGE_BOUND: Duration = Duration::from_secs(120);

/// What the page showed.
pub struct Shown {
    pub result: String,
    /// Milliseconds from the page's start until the module was ready.
    pub loaded_ms: u64,
    pub screenshot: PathBuf,
    pub took: Duration,
}

/// Runs the page with the package installed at `package` (its files are
/// served as `pkg/`); checks the sum and a failure's message.
pub fn check(tools: &Tools, package: &Path) -> Result<Shown, String> {
    let relay = RelaySession::start(INPUTS.len())?;
    let natives = relay.spawn_natives(1..INPUTS.len(), |mut ch, party| async move {
        let mut r = 0x5EED + party as u64;
        channel_core::reference::secure_sum(
            &mut ch,
            party,
            INPUTS.len(),
            INPUTS[party],
            move || {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r
            },
        )
        .await
        .map_err(|e| channel_core::error_chain(&e))
    });
    let www = root().join("channel-wasm").join("www");
    let site = relay.runtime.block_on(serve(www, package.to_path_buf()))?;
    let driver = Driver::start(tools)?;
    let outcome = relay.runtime.block_on(async {
        let browser = driver.session().await?;
        let (invitation, key) = relay.credentials(0);
        let url = format!(
            "{site}/#invitation={invitation}&key={key}&input={}",
            INPUTS[0]
        );
        let started = Instant::now();
        let shown = browser.open_and_wait(&url).await?;
        let took = started.elapsed();
        let screenshot = root().join("target").join("js-package").join("page.png");
        browser.screenshot(&screenshot).await?;
        let expected: u64 = INPUTS.iter().sum();
        if !shown.hash.is_empty() {
            return Err(format!(
                "the page left its credentials in the address bar: {}",
                shown.hash
            ));
        }
        if shown.state != "done" || !shown.result.contains(&expected.to_string()) {
            return Err(format!(
                "the page did not show the sum {expected}: state '{}', result '{}', error '{}', status '{}'",
                shown.state, shown.result, shown.error, shown.status
            ));
        }
        // A bad invitation: the page shows what is wrong, readably.
        let failing = browser
            .open_and_wait(&format!("{site}/index.html?again#invitation=not-an-invitation&key={key}&input=1"))
            .await?;
        browser
            .screenshot(&root().join("target").join("js-package").join("page-error.png"))
            .await?;
        if failing.state != "failed" || !failing.error.contains("not an invitation") {
            return Err(format!(
                "a bad invitation did not show its error: state '{}', error '{}'",
                failing.state, failing.error
            ));
        }
        if !failing.error_wraps {
            return Err("the error box does not wrap long lines".into());
        }
        // Without its module the page says what is wrong (no blank page).
        let broken = browser.open_and_wait(&format!("{site}/broken/index.html")).await?;
        if broken.state != "failed" || !broken.error.contains("Could not load the module") {
            return Err(format!(
                "a page without its module did not say so: state '{}', error '{}'",
                broken.state, broken.error
            ));
        }
        // The package's errors are instances of the class it exports.
        let class = browser.error_class(&format!("{site}/index.html?class")).await?;
        if class != "ChannelError setup true" {
            return Err(format!(
                "a failed join did not reject with the package's ChannelError: {class}"
            ));
        }
        // The page makes a demo session: a link per party.
        let links = browser.make_session(&format!("{site}/index.html?make"), &relay.url).await?;
        if links != INPUTS.len() {
            return Err(format!(
                "the page made {links} links for a session of {} parties",
                INPUTS.len()
            ));
        }
        browser.end().await;
        Ok(Shown {
            loaded_ms: shown.loaded_ms,
            result: shown.result,
            screenshot,
            took,
        })
    });
    drop(driver);
    match outcome {
        Ok(shown) => {
            let sums = relay.finish(natives)?;
            let expected: u64 = INPUTS.iter().sum();
            if sums.iter().any(|&s| s != expected) {
                return Err(format!(
                    "native parties computed {sums:?}, expected {expected}"
                ));
            }
            Ok(shown)
        }
        Err(e) => {
            relay.relay.shutdown();
            Err(e)
        }
    }
}

/// Serves `www` at `/` and `pkg` at `/pkg/` on 127.0.0.1; returns the URL.
async fn serve(www: PathBuf, pkg: PathBuf) -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen for the page: {e}"))?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let roots = Arc::new((www, pkg));
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let roots = roots.clone();
        async move { file(&roots, uri.path()).await }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// One file of the site: under `pkg/` from the package, else from `www`.
async fn file(roots: &(PathBuf, PathBuf), path: &str) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    // `/broken/` is the page without its package: it must say so.
    if path.starts_with("/broken/pkg/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (base, rel) = match path.strip_prefix("/pkg/") {
        Some(rest) => (&roots.1, rest),
        None => (
            &roots.0,
            path.trim_start_matches("/broken").trim_start_matches('/'),
        ),
    };
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if rel.split('/').any(|part| part == ".." || part.is_empty()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let kind = match rel.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    // Small files, a test server: a blocking read is fine here.
    match std::fs::read(base.join(rel)) {
        Ok(bytes) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// ChromeDriver on a free port; stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    fn start(tools: &Tools) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a port for ChromeDriver: {e}"))?
            .port();
        let child = Command::new(&tools.toolchain.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start ChromeDriver: {e}"))?;
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: tools.toolchain.chromium.clone(),
        })
    }

    /// A headless Chromium session, once ChromeDriver answers (within 20 s).
    async fn session(&self) -> Result<Browser, String> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        // Bounded by the deadline.
        while http
            .get(format!("{}/status", self.url))
            .send()
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err("ChromeDriver did not answer within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=900,800"]
            }
        }}});
        let answer = post(&http, &format!("{}/session", self.url), &capabilities).await?;
        let id = answer["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("ChromeDriver gave no session: {answer}"))?;
        Ok(Browser {
            http,
            base: format!("{}/session/{id}", self.url),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Browser {
    http: reqwest::Client,
    base: String,
}

/// What the page shows.
struct Page {
    state: String,
    result: String,
    error: String,
    status: String,
    error_wraps: bool,
    loaded_ms: u64,
    /// The address's fragment once the page read it.
    hash: String,
}

impl Browser {
    /// Navigates to `url` (WebDriver's "navigate to").
    async fn open(&self, url: &str) -> Result<(), String> {
        let at = format!("{}/url", self.base);
        post(&self.http, &at, &json!({ "url": url }))
            .await
            .map(drop)
    }

    /// Opens `url` and waits (at most [`PAGE_BOUND`]) until the page says
    /// it is done or failed.
    async fn open_and_wait(&self, url: &str) -> Result<Page, String> {
        self.open(url).await?;
        let read = json!({ "script": "const e = document.getElementById('error'); \
            return { state: document.getElementById('result').dataset.state || '', \
                     result: document.getElementById('result').textContent, \
                     error: e.hidden ? '' : e.textContent, \
                     status: document.getElementById('status').textContent, \
                     wraps: getComputedStyle(e).whiteSpace === 'pre-wrap', \
                     loaded: Number(document.body.dataset.loadedMs || 0), \
                     hash: location.hash };", "args": [] });
        let deadline = Instant::now() + PAGE_BOUND;
        // Bounded by the deadline.
        loop {
            let answer = post(&self.http, &format!("{}/execute/sync", self.base), &read).await?;
            let v = &answer["value"];
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let page = Page {
                state: text("state"),
                result: text("result"),
                error: text("error"),
                status: text("status"),
                error_wraps: v["wraps"].as_bool().unwrap_or(false),
                loaded_ms: v["loaded"].as_u64().unwrap_or(0),
                hash: text("hash"),
            };
            if !page.state.is_empty() {
                return Ok(page);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the page showed no outcome within {PAGE_BOUND:?}; it says '{}'",
                    page.status
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Opens `url`, asks the page for a demo session of as many parties as
    /// [`INPUTS`] on `relay`, and returns how many party links it shows
    /// (each with an invitation in its fragment).
    async fn make_session(&self, url: &str, relay: &str) -> Result<usize, String> {
        self.open(url).await?;
        let start = json!({ "script": "const [relay, n] = arguments; \
            const wait = () => new Promise(r => setTimeout(r, 50)); \
            return (async () => { \
              for (let i = 0; i < 100 && document.getElementById('status').textContent.startsWith('Loading'); i++) await wait(); \
              document.getElementById('relay').value = relay; \
              document.getElementById('parties').value = String(n); \
              document.getElementById('make').click(); \
            })();", "args": [relay, INPUTS.len()] });
        post(&self.http, &format!("{}/execute/sync", self.base), &start).await?;
        let count = json!({ "script": "return { links: [...document.querySelectorAll('#links a')] \
            .filter(a => new URLSearchParams(a.hash.slice(1)).get('invitation')?.startsWith('mpc-invitation-v1.')).length, \
            error: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent };", "args": [] });
        let deadline = Instant::now() + Duration::from_secs(30);
        // Bounded by the deadline.
        loop {
            let answer = post(&self.http, &format!("{}/execute/sync", self.base), &count).await?;
            let links = answer["value"]["links"].as_u64().unwrap_or(0) as usize;
            let error = answer["value"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if links > 0 || !error.is_empty() || Instant::now() > deadline {
                if !error.is_empty() {
                    return Err(format!("the page could not make a session: {error}"));
                }
                return Ok(links);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Opens `url` and makes a call fail from the page's own import of the
    /// package: "<name> <kind> <whether an instance of the exported class>".
    async fn error_class(&self, url: &str) -> Result<String, String> {
        self.open(url).await?;
        let script = json!({ "script": "const done = arguments[arguments.length - 1]; \
            import('./pkg/index.js').then(async (m) => { \
              await m.default(); \
              const e = await m.RelayChannel.join('not an invitation', '0'.repeat(64)).then(() => null, (x) => x); \
              done(`${e && e.name} ${e && e.kind} ${e instanceof m.ChannelError}`); \
            }).catch((x) => done(`import failed: ${x}`));", "args": [] });
        let answer = post(&self.http, &format!("{}/execute/async", self.base), &script).await?;
        Ok(answer["value"].as_str().unwrap_or_default().to_string())
    }

    /// Saves a screenshot of the page as a PNG at `path`.
    async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let answer = self
            .http
            .get(format!("{}/screenshot", self.base))
            .send()
            .await
            .map_err(|e| format!("screenshot: {e}"))?
            .json::<Value>()
            .await
            .map_err(|e| format!("screenshot: {e}"))?;
        let encoded = answer["value"]
            .as_str()
            .ok_or("no screenshot in the answer")?;
        let png = data_encoding::BASE64
            .decode(encoded.as_bytes())
            .map_err(|e| format!("screenshot is not base64: {e}"))?;
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") || png.len() < 1000 {
            return Err(format!("the screenshot is not a PNG ({} bytes)", png.len()));
        }
        std::fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    async fn end(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value, String> {
    let answer = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("WebDriver {url}: {e}"))?;
    let status = answer.status();
    let value: Value = answer
        .json()
        .await
        .map_err(|e| format!("WebDriver {url}: {e}"))?;
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!("WebDriver {url} answered {status}: {value}"))
    }
}
