//! `vigil`: replay traffic through a proxy-wasm plugin under an emulated Envoy, test a
//! policy against expected events, count what each request costs in hostcalls, or
//! benchmark it.

mod playground;
mod test;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use clap::{Args, Parser, Subcommand};
use vigil_harness::counting::{totals, Category};
use vigil_harness::traffic::{parse_traffic, Exchange};
use vigil_harness::{AccessLogger, Harness, LogEntry, LogLevel, Plugin, SharedData, VmOptions};
use vigil_policies::envoy::{filter_state_key, MAX_RECORDS};
use vigil_policies::policy::SinkKind;
use vigil_policies::Policy;

#[derive(Parser)]
#[command(
    name = "vigil",
    about = "Run the Vigil proxy-wasm plugin under an emulated Envoy"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay a traffic file and print the emitted events, one per line.
    Replay {
        #[command(flatten)]
        common: Common,
        /// Number of workers (VMs sharing shared data), round-robin.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Print custom metrics to stderr at the end.
        #[arg(long)]
        metrics: bool,
        /// Print, per exchange on stderr, every callback into the plugin with its arguments
        /// and what it returned, local replies, stream controls and unanswered callouts.
        #[arg(long)]
        trace: bool,
        /// Which of the policy's sinks to print: `access_log` (the records Envoy's access
        /// loggers write: one logger per record slot, `wasm.vigil.event.<i>`) or `envoy_log`
        /// (the event lines of Envoy's log). Default: `access_log` when the policy has that
        /// sink, else `envoy_log`.
        #[arg(long, value_name = "SINK")]
        sink: Option<String>,
        /// Add an access logger printing this filter-state key, e.g. `wasm.vigil.event.0`
        /// (repeatable, in order), for plugins other than Vigil; replay then prints the
        /// access-log records, one per line, instead of the event log lines.
        #[arg(long = "access-log-key", value_name = "KEY")]
        access_log_keys: Vec<String>,
        /// Encode the events in this format instead of the policy's: `ecs`, `ocsf`, `cef`
        /// or `owasp` (every sink of the policy gets it).
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Check the hash chains of record files (any format, chains interleaved): one finding
    /// per line naming the chain, the sequence number and what is wrong; exit 0 when every
    /// chain is intact, 1 when something was found, 2 on bad input.
    Verify {
        /// The environment variable holding the checkpoint key (checks checkpoint MACs;
        /// without it the trail is not tamper-evident against a rewriter).
        #[arg(long = "key-env", value_name = "NAME")]
        key_env: Option<String>,
        /// Record files (Envoy's access log or log; other lines are skipped).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate a policy and explain it (routes, identity, detectors and their memory,
    /// sinks), or name every error with its JSON path (exit 2).
    Check {
        /// The policy file (JSON).
        policy: PathBuf,
    },
    /// Run case files (traffic whose exchanges carry `expect` lists of events by field
    /// subset) and print each failing case, then `N passed, M failed`; exit 1 on a failure.
    Test {
        /// The plugin `.wasm`.
        #[arg(long)]
        plugin: PathBuf,
        /// Plugin configuration file (the policy).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Environment variable for the VM, `KEY=VALUE` (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Which sink's records to check (as `replay --sink`).
        #[arg(long, value_name = "SINK")]
        sink: Option<String>,
        /// Case files (traffic format with `expect`), each run in a fresh harness.
        #[arg(required = true)]
        cases: Vec<String>,
    },
    /// Serve the policy playground (the page `scripts/web` builds) and print its URL.
    Playground {
        /// Address to listen on (loopback unless told otherwise).
        #[arg(long, default_value = "127.0.0.1:8717", value_name = "IP:PORT")]
        listen: String,
        /// The built page's directory (default: the repository's web/dist).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Replay a traffic file and print, per exchange, the hostcalls it made and their totals.
    Hostcalls {
        #[command(flatten)]
        common: Common,
    },
    /// Replay a traffic file repeatedly and print lifecycles per second.
    Bench {
        #[command(flatten)]
        common: Common,
        /// Passes over the traffic file.
        #[arg(long, default_value_t = 100)]
        iterations: usize,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// The plugin `.wasm`.
    #[arg(long)]
    plugin: PathBuf,
    /// Plugin configuration file (its bytes become the plugin configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Environment variable for the VM, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Traffic file (JSON Lines), `-` for stdin.
    traffic: String,
}

/// Exit code 2: bad input (traffic). 1: everything else.
struct Failure(u8, anyhow::Error);

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self(1, e)
    }
}

fn print_diagnostics(logs: &[LogEntry]) {
    let mut err = std::io::stderr().lock();
    for l in logs {
        if l.level >= LogLevel::Warn {
            let _ = writeln!(err, "vigil: plugin {}: {}", l.level.name(), l.message);
        }
    }
}

fn setup(
    c: &Common,
    workers: usize,
    tweak: impl FnOnce(&mut VmOptions),
) -> Result<(Harness, Vec<Exchange>), Failure> {
    let text = if c.traffic == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read stdin")?;
        s
    } else {
        std::fs::read_to_string(&c.traffic).with_context(|| format!("cannot read {}", c.traffic))?
    };
    let xs = parse_traffic(&c.traffic, &text).map_err(|e| Failure(2, anyhow!(e)))?;
    let config = match &c.config {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => Vec::new(),
    };
    let env = c
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("--env `{kv}` must be KEY=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let plugin = Plugin::load(&c.plugin).map_err(|e| anyhow!(e))?;
    let mut opts = VmOptions {
        plugin_config: config,
        env,
        shared: SharedData::new(),
        ..VmOptions::default()
    };
    tweak(&mut opts);
    let mut h = Harness::new(&plugin, opts, workers).map_err(|e| anyhow!(e))?;
    let started = h.start().map_err(|e| anyhow!(e))?;
    if !started {
        // One line: the plugin's own reason (the first error it logged), if any.
        // Envoy's canary VM is the one that refuses (nothing else starts then).
        let reason = h
            .canary_logs()
            .iter()
            .find(|l| l.level >= LogLevel::Error)
            .map(|l| format!(": {}", l.message))
            .unwrap_or_else(|| " (on_configure returned false)".into());
        return Err(anyhow!("the plugin rejected its configuration{reason}").into());
    }
    // Start-up warnings once, from the first worker (every worker says the same).
    let mut first = true;
    for vm in h.vms_mut() {
        let logs = vm.take_logs();
        if first {
            print_diagnostics(&logs);
            first = false;
        }
    }
    Ok((h, xs))
}

/// "line 3" or "line 3 (failed login)".
fn label(x: &Exchange) -> String {
    match &x.name {
        Some(n) => format!("line {} ({n})", x.line),
        None => format!("line {}", x.line),
    }
}

/// `property 9, header 4, ...` (every category).
fn totals_line(counts: &BTreeMap<String, u64>) -> String {
    totals(counts)
        .iter()
        .map(|(c, n)| format!("{} {n}", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_hostcalls(
    out: &mut impl std::io::Write,
    x: &Exchange,
    counts: &BTreeMap<String, u64>,
) -> std::io::Result<()> {
    let total: u64 = counts.values().sum();
    writeln!(out, "{}: {total} hostcalls", label(x))?;
    let width = counts.values().max().map_or(1, |n| n.to_string().len());
    for (k, n) in counts {
        writeln!(out, "  {n:>width$}  {k}")?;
    }
    writeln!(out, "  totals: {}", totals_line(counts))
}

/// The policy the plugin will get (empty = the baseline), if it is one (a bad policy is
/// reported by the plugin itself when it starts).
fn policy_of(common: &Common) -> Option<Policy> {
    let bytes = match &common.config {
        Some(p) => std::fs::read(p).ok()?,
        None => Vec::new(),
    };
    Policy::from_json(&bytes).ok()
}

/// The access-log keys that show what `sink` writes in Envoy (none for `envoy_log`).
fn sink_keys(common: &Common, sink: Option<&str>) -> Result<Vec<String>, Failure> {
    let policy = policy_of(common);
    let has = |k: SinkKind| {
        policy
            .as_ref()
            .is_some_and(|p| p.output.sinks.iter().any(|s| s.kind == k))
    };
    let access_log = match sink {
        Some("access_log") => true,
        Some("envoy_log") => false,
        Some(other) => {
            return Err(anyhow!("--sink `{other}`: expected `access_log` or `envoy_log`").into())
        }
        None => has(SinkKind::AccessLog),
    };
    Ok(if access_log {
        (0..MAX_RECORDS).filter_map(filter_state_key).collect()
    } else {
        Vec::new()
    })
}

fn print_trace(x: &Exchange, o: &vigil_harness::ExchangeOutcome) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "vigil: {}:", label(x));
    for c in &o.trace {
        let _ = writeln!(err, "  {c}");
    }
    for r in &o.local_responses {
        let _ = writeln!(
            err,
            "  local reply {} ({:?}, {} body bytes)",
            r.status,
            r.details,
            r.body.len()
        );
    }
    for s in &o.stream_controls {
        let _ = writeln!(err, "  {s}");
    }
    for p in &o.pending_callouts {
        let _ = writeln!(err, "  callout {} to {} unanswered", p.token, p.cluster);
    }
    if o.stalled {
        let _ = writeln!(err, "  stalled: paused with nothing to resume it");
    }
}

/// `common` with its policy's sinks set to `format` (a temporary policy file).
fn with_format(common: Common, format: Option<&str>) -> Result<Common, Failure> {
    let Some(f) = format else { return Ok(common) };
    if vigil_policies::policy::Format::from_name(f).is_none() {
        return Err(Failure(
            2,
            anyhow!("--format `{f}`: expected `ecs`, `ocsf`, `cef` or `owasp`"),
        ));
    }
    let bytes = match &common.config {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => Vec::new(),
    };
    let mut doc: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({"version": 1})
    } else {
        serde_json::from_slice(&bytes).map_err(|e| Failure(2, anyhow!("--config: {e}")))?
    };
    let sinks = doc
        .pointer("/output/sinks")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![serde_json::json!({"type": "envoy_log"})]);
    let sinks: Vec<serde_json::Value> = sinks
        .into_iter()
        .map(|mut s| {
            if let Some(o) = s.as_object_mut() {
                o.insert("format".into(), f.into());
            }
            s
        })
        .collect();
    match doc.as_object_mut() {
        Some(o) => {
            let out = o.entry("output").or_insert_with(|| serde_json::json!({}));
            if let Some(out) = out.as_object_mut() {
                out.insert("sinks".into(), sinks.into());
            }
        }
        None => return Err(Failure(2, anyhow!("--config: not a JSON object"))),
    }
    let path = std::env::temp_dir().join(format!("vigil-format-{}.json", std::process::id()));
    std::fs::write(&path, doc.to_string()).context("cannot write a temporary policy")?;
    Ok(Common {
        config: Some(path),
        ..common
    })
}

fn replay(
    common: &Common,
    workers: usize,
    metrics: bool,
    trace: bool,
    mut keys: Vec<String>,
    sink: Option<&str>,
) -> Result<(), Failure> {
    if keys.is_empty() || sink.is_some() {
        keys = sink_keys(common, sink)?;
    }
    let access_log = !keys.is_empty();
    let (mut h, xs) = setup(common, workers, |o| {
        o.access_loggers = keys.into_iter().map(AccessLogger::filter_state).collect();
        o.trace = trace;
    })?;
    let mut out = std::io::stdout().lock();
    for x in &xs {
        let o = h.run(x).map_err(|e| anyhow!(e))?;
        print_diagnostics(&o.logs);
        if trace {
            print_trace(x, &o);
        }
        if access_log {
            for r in &o.access_log {
                out.write_all(r)
                    .and_then(|()| out.write_all(b"\n"))
                    .context("cannot write stdout")?;
            }
        } else {
            for e in &o.events {
                writeln!(out, "{e}").context("cannot write stdout")?;
            }
        }
        if let Some(f) = &o.vm_failed {
            return Err(anyhow!("{}: the plugin VM failed: {f}", label(x)).into());
        }
    }
    if metrics {
        // Vigil batches its counters and flushes them on its heartbeat tick: let one pass.
        let beat = policy_of(common).map_or(1, |p| u64::from(p.output.heartbeat_seconds));
        h.advance_time((beat + 1) * 1_000_000_000)
            .map_err(|e| anyhow!(e))?;
    }
    for vm in h.vms_mut() {
        vm.take_logs();
    }
    if metrics {
        for (k, v) in h.shared().metrics() {
            eprintln!("vigil: metric {k} = {v:?}");
        }
    }
    Ok(())
}

fn hostcalls(common: &Common) -> Result<(), Failure> {
    let (mut h, xs) = setup(common, 1, |o| o.count_hostcalls = true)?;
    let mut out = std::io::stdout().lock();
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    for x in &xs {
        let o = h.run(x).map_err(|e| anyhow!(e))?;
        print_diagnostics(&o.logs);
        if let Some(f) = &o.vm_failed {
            return Err(anyhow!("{}: the plugin VM failed: {f}", label(x)).into());
        }
        write_hostcalls(&mut out, x, &o.hostcalls).context("cannot write stdout")?;
        for (k, n) in o.hostcalls {
            *all.entry(k).or_default() += n;
        }
        h.vm_mut(0).take_logs();
    }
    let total: u64 = all.values().sum();
    let n = xs.len().max(1) as f64;
    let per = |c: Category| totals(&all).get(&c).copied().unwrap_or(0) as f64 / n;
    let avg = Category::ALL
        .iter()
        .map(|c| format!("{} {:.1}", c.name(), per(*c)))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(
        out,
        "all {} exchanges: {total} hostcalls, {:.1} per exchange: {avg}",
        xs.len(),
        total as f64 / n
    )
    .context("cannot write stdout")?;
    Ok(())
}

fn bench(common: &Common, iterations: usize) -> Result<(), Failure> {
    let (mut h, xs) = setup(common, 1, |_| {})?;
    if xs.is_empty() {
        return Err(anyhow!("{}: no exchanges", common.traffic).into());
    }
    // Shared, so a run does not copy its exchange.
    let xs: Vec<Arc<Exchange>> = xs.into_iter().map(Arc::new).collect();
    let start = Instant::now();
    let mut n = 0u64;
    for _ in 0..iterations.max(1) {
        for x in &xs {
            let o = h.run(x).map_err(|e| anyhow!(e))?;
            if let Some(f) = o.vm_failed {
                return Err(anyhow!("the plugin VM failed: {f}").into());
            }
            n += 1;
        }
        h.vm_mut(0).take_logs();
        h.vm_mut(0).take_access_log();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} lifecycles in {secs:.3} s: {:.0} lifecycles/s, {:.2} us/lifecycle",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    Ok(())
}

fn check(path: &std::path::Path) -> Result<(), Failure> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let errs = Policy::all_errors(&bytes);
    if !errs.is_empty() {
        let mut out = std::io::stdout().lock();
        for e in &errs {
            writeln!(out, "{}: {e}", path.display()).context("cannot write stdout")?;
        }
        return Err(Failure(
            2,
            anyhow!("{}: {} error(s)", path.display(), errs.len()),
        ));
    }
    let policy = Policy::from_json(&bytes).map_err(|e| Failure(2, anyhow!(e)))?;
    print!("{}", vigil_policies::explain::explain(&policy));
    Ok(())
}

fn verify(key_env: Option<&str>, files: &[PathBuf]) -> Result<(), Failure> {
    use vigil_policies::chain::verify;
    let key = match key_env {
        Some(name) => Some(
            std::env::var(name)
                .map_err(|_| Failure(2, anyhow!("--key-env {name}: not set")))?
                .into_bytes(),
        ),
        None => None,
    };
    let mut records = Vec::new();
    for f in files {
        let text = std::fs::read(f)
            .map_err(|e| Failure(2, anyhow!("cannot read {}: {e}", f.display())))?;
        let text = String::from_utf8_lossy(&text);
        for (i, line) in text.lines().enumerate() {
            if let Some(r) = verify::parse(&format!("{}:{}", f.display(), i + 1), line) {
                records.push(r);
            }
        }
    }
    if records.is_empty() {
        return Err(Failure(2, anyhow!("no chained records in the given files")));
    }
    let findings = verify::verify(&records, key.as_deref());
    let mut problems = 0;
    for f in &findings {
        println!("{f}");
        if !f.starts_with("warning:") {
            problems += 1;
        }
    }
    let chains: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.fields.id.as_str()).collect();
    if problems == 0 {
        println!(
            "{} chain(s), {} record(s): intact",
            chains.len(),
            records.len()
        );
        Ok(())
    } else {
        Err(Failure(1, anyhow!("{problems} finding(s)")))
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Verify { key_env, files } => verify(key_env.as_deref(), &files),
        Cmd::Replay {
            common,
            workers,
            metrics,
            trace,
            sink,
            access_log_keys,
            format,
        } => replay(
            &with_format(common, format.as_deref())?,
            workers,
            metrics,
            trace,
            access_log_keys,
            sink.as_deref(),
        ),
        Cmd::Test {
            plugin,
            config,
            env,
            sink,
            cases,
        } => {
            let common = Common {
                plugin,
                config,
                env,
                traffic: String::new(),
            };
            if test::run(&common, &cases, sink.as_deref())? {
                Ok(())
            } else {
                Err(Failure(1, anyhow!("some cases failed")))
            }
        }
        Cmd::Check { policy } => check(&policy),
        Cmd::Playground { listen, dir } => {
            playground::serve(&listen, dir.as_deref()).map_err(|e| Failure(2, e))
        }
        Cmd::Hostcalls { common } => hostcalls(&common),
        Cmd::Bench { common, iterations } => bench(&common, iterations),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, e)) => {
            eprintln!("vigil: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(code)
        }
    }
}
