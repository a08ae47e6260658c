//! Adds Vigil's event loggers (`envoy/access-log/{file,otel,fluentd}.yaml`, one access logger
//! per record slot) and their clusters to a rendered Envoy bootstrap, as `envoy/render.py
//! --event-log` does: the fragments' placeholders are filled by string replacement and their
//! list items inserted under the bootstrap's first `access_log:` / `clusters:` key.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use vigil_tests::access_log::{add_event_log, EventSink};
//! let otlp = vigil_tests::otlp::start()?;
//! let bootstrap = std::fs::read_to_string("rendered.yaml")?;
//! let with_otel = add_event_log(&bootstrap, &EventSink::otel(otlp.port()))?;
//! # Ok(()) }
//! ```

use anyhow::{bail, Context as _, Result};
use std::fs;
use std::path::PathBuf;

/// Cluster name of the OTLP collector (as in `envoy/render.py`).
pub const OTEL_CLUSTER: &str = "vigil_otel";
/// Cluster name of the fluentd forward input (as in `envoy/render.py`).
pub const FLUENTD_CLUSTER: &str = "vigil_fluentd";

/// Where Envoy sends Vigil's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSink {
    /// `file.yaml`: one event per line in this file.
    File {
        /// The events file.
        path: PathBuf,
    },
    /// `otel.yaml` + `otel-cluster.yaml`: OTLP/HTTP to `http://<host>:<port>/v1/logs`.
    Otel {
        /// Collector host (an IP address or a DNS name).
        host: String,
        /// Collector port.
        port: u16,
    },
    /// `fluentd.yaml` + `fluentd-cluster.yaml`: the Forward protocol to `<host>:<port>`.
    Fluentd {
        /// Forward input host.
        host: String,
        /// Forward input port.
        port: u16,
    },
}

impl EventSink {
    /// OTLP/HTTP to `127.0.0.1:port` (e.g. an [`crate::otlp`] receiver's port).
    pub fn otel(port: u16) -> EventSink {
        EventSink::Otel {
            host: "127.0.0.1".to_string(),
            port,
        }
    }

    /// Forward protocol to `127.0.0.1:port` (e.g. a [`crate::fluentd`] receiver's port).
    pub fn fluentd(port: u16) -> EventSink {
        EventSink::Fluentd {
            host: "127.0.0.1".to_string(),
            port,
        }
    }
}

/// `envoy/access-log/<name>.yaml` with `values` replaced.
pub fn fragment(name: &str, values: &[(&str, String)]) -> Result<String> {
    let path = crate::envoy::workspace_root().join(format!("envoy/access-log/{name}.yaml"));
    let mut text =
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    for (key, value) in values {
        text = text.replace(key, value);
    }
    Ok(text)
}

/// Inserts YAML list items (written at column 0) right after the first `key:` line of `text`,
/// at the indentation of that list's existing items (or of the key).
pub fn insert_items(text: &str, key: &str, items: &str) -> Result<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let Some(at) = lines
        .iter()
        .position(|l| l.trim_start().strip_prefix(key).map(str::trim) == Some(":"))
    else {
        bail!("no `{key}:` block list in the bootstrap");
    };
    let mut indent = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
    let next_item = lines[at + 1..]
        .iter()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if let Some(next) = next_item {
        if next.trim_start().starts_with('-') {
            indent = &next[..next.len() - next.trim_start().len()];
        }
    }
    let block = items.trim_end_matches('\n').split('\n').map(|l| {
        if l.trim().is_empty() {
            l.to_string()
        } else {
            format!("{indent}{l}")
        }
    });
    let mut out: Vec<String> = lines[..=at].iter().map(|l| l.to_string()).collect();
    out.extend(block);
    out.extend(lines[at + 1..].iter().map(|l| l.to_string()));
    Ok(out.join("\n"))
}

/// Adds the event loggers of `sink` (and, for otel and fluentd, its cluster) to a rendered
/// bootstrap.
pub fn add_event_log(bootstrap: &str, sink: &EventSink) -> Result<String> {
    let (name, values) = match sink {
        EventSink::File { path } => {
            let path = path.to_str().context("the events path is not UTF-8")?;
            let values = vec![("@EVENTS_PATH@", serde_json::to_string(path)?)];
            return insert_items(bootstrap, "access_log", &fragment("file", &values)?);
        }
        EventSink::Otel { host, port } => (
            "otel",
            vec![
                (
                    "@OTEL_ENDPOINT@",
                    serde_json::to_string(&format!("http://{host}:{port}/v1/logs"))?,
                ),
                ("@OTEL_CLUSTER@", OTEL_CLUSTER.to_string()),
                ("@OTEL_HOST@", host.clone()),
                ("@OTEL_PORT@", port.to_string()),
            ],
        ),
        EventSink::Fluentd { host, port } => (
            "fluentd",
            vec![
                ("@FLUENTD_CLUSTER@", FLUENTD_CLUSTER.to_string()),
                ("@FLUENTD_HOST@", host.clone()),
                ("@FLUENTD_PORT@", port.to_string()),
            ],
        ),
    };
    let text = insert_items(bootstrap, "access_log", &fragment(name, &values)?)?;
    insert_items(
        &text,
        "clusters",
        &fragment(&format!("{name}-cluster"), &values)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOTSTRAP: &str =
        "a:\n  access_log:\n  # old\n  - name: old\n  clusters:\n    - name: c\n";

    #[test]
    fn inserts_at_the_list_indentation() -> Result<()> {
        let out = insert_items(BOOTSTRAP, "access_log", "# x\n- name: new\n  k: v\n")?;
        assert_eq!(
            out,
            "a:\n  access_log:\n  # x\n  - name: new\n    k: v\n  # old\n  - name: old\n  clusters:\n    - name: c\n"
        );
        let out = insert_items(BOOTSTRAP, "clusters", "- name: d\n\n  k: v")?;
        assert!(
            out.ends_with("  clusters:\n    - name: d\n\n      k: v\n    - name: c\n"),
            "{out}"
        );
        assert!(insert_items(BOOTSTRAP, "listeners", "- x").is_err());
        Ok(())
    }

    #[test]
    fn every_sink_fills_every_placeholder() -> Result<()> {
        let sinks = [
            EventSink::File {
                path: PathBuf::from("/tmp/a \"b\".log"),
            },
            EventSink::otel(4318),
            EventSink::fluentd(24224),
        ];
        for sink in &sinks {
            let out = add_event_log(BOOTSTRAP, sink)?;
            let placeholder =
                out.split('@').skip(1).step_by(2).find(|s| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                });
            assert_eq!(placeholder, None, "{sink:?}: {out}");
            for slot in 0..3 {
                let expression = format!("'wasm.vigil.event.{slot}' in filter_state");
                assert_eq!(out.matches(&expression).count(), 1, "{sink:?} slot {slot}");
            }
        }
        let out = add_event_log(BOOTSTRAP, &sinks[0])?;
        assert!(out.contains(r#"path: "/tmp/a \"b\".log""#));
        let out = add_event_log(BOOTSTRAP, &sinks[1])?;
        assert!(out.contains(r#"uri: "http://127.0.0.1:4318/v1/logs""#));
        assert!(out.contains("    - name: vigil_otel\n"));
        Ok(())
    }
}
