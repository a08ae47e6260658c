//! Where an end-to-end Envoy's events come from: Envoy's log (the `envoy_log` sink), or one
//! of Envoy's own access loggers fed by the `access_log` sink (the file logger, the
//! OpenTelemetry logger to an OTLP/HTTP receiver, the fluentd logger to a Forward receiver).

use crate::access_log::{add_event_log, EventSink};
use crate::fluentd::FluentdReceiver;
use crate::otlp::OtlpReceiver;
use anyhow::Result;
use std::fs;
use std::path::{Path, PathBuf};
use vigil_policies::envoy::{is_event_message, wasm_log_message};

/// The policy the access-log runs use when a test gives none: the baseline, with the
/// `access_log` sink instead of `envoy_log`.
pub const ACCESS_LOG_POLICY: &str = r#"{"version":1,"output":{"sinks":[{"type":"access_log"}]}}"#;

/// How events leave Envoy in a test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `proxy_log` lines in Envoy's log (the default `envoy_log` sink).
    EnvoyLog,
    /// The file access logger (`envoy/access-log/file.yaml`), one record per line.
    File,
    /// The OpenTelemetry access logger (`envoy/access-log/otel.yaml`) to an OTLP/HTTP receiver.
    Otel,
    /// The fluentd access logger (`envoy/access-log/fluentd.yaml`) to a Forward receiver.
    Fluentd,
}

/// A run's event source.
pub enum Source {
    /// Envoy's log.
    Log,
    /// The events file.
    File(PathBuf),
    /// The OTLP receiver.
    Otel(OtlpReceiver),
    /// The fluentd receiver.
    Fluentd(FluentdReceiver),
}

/// Starts what `via` needs (a receiver) and adds its loggers to a rendered bootstrap.
pub fn attach(via: Via, bootstrap: String, dir: &Path) -> Result<(String, Source)> {
    Ok(match via {
        Via::EnvoyLog => (bootstrap, Source::Log),
        Via::File => {
            let path = dir.join("events.jsonl");
            fs::write(&path, b"")?;
            let sink = EventSink::File { path: path.clone() };
            (add_event_log(&bootstrap, &sink)?, Source::File(path))
        }
        Via::Otel => {
            let r = crate::otlp::start()?;
            let config = add_event_log(&bootstrap, &EventSink::otel(r.port()))?;
            (config, Source::Otel(r))
        }
        Via::Fluentd => {
            let r = crate::fluentd::start()?;
            let config = add_event_log(&bootstrap, &EventSink::fluentd(r.port()))?;
            (config, Source::Fluentd(r))
        }
    })
}

impl Source {
    /// Every record so far, as raw bytes. From Envoy's log: the lines whose wasm log
    /// message is an event ([`vigil_policies::envoy`] decides what an event line is).
    pub fn records(&self, log_path: &Path) -> Vec<Vec<u8>> {
        match self {
            Source::Log => fs::read(log_path)
                .unwrap_or_default()
                .split(|b| *b == b'\n')
                .filter_map(log_event)
                .map(<[u8]>::to_vec)
                .collect(),
            Source::File(path) => {
                let bytes = fs::read(path).unwrap_or_default();
                // Only whole lines: Envoy may be mid-write.
                let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                bytes[..end]
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            }
            Source::Otel(r) => r.events(),
            Source::Fluentd(r) => r.events(),
        }
    }
}

/// The event in one line of Envoy's log, if the line is one (a line that is not UTF-8
/// cannot be one of Vigil's records, which always are).
pub fn log_event(line: &[u8]) -> Option<&[u8]> {
    let text = std::str::from_utf8(line).ok()?;
    let msg = wasm_log_message(text);
    is_event_message(msg).then(|| &line[line.len() - msg.len()..])
}
