//! Vigil's events as typed structs: tests parse event lines into these rather than compare
//! strings; the whole JSON is kept for field-by-field checks.

use anyhow::{Context as _, Result};
use serde::Deserialize;

/// One Vigil event (ECS), the fields the tests check; the raw JSON is kept too.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `@timestamp`.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// `event.*`.
    pub event: EventMeta,
    /// `source.*`.
    #[serde(default)]
    pub source: Option<Source>,
    /// `user.*`.
    #[serde(default)]
    pub user: Option<User>,
    /// `url.*`.
    #[serde(default)]
    pub url: Option<Url>,
    /// `http.*`.
    #[serde(default)]
    pub http: Option<Http>,
    /// `vigil.*`.
    #[serde(default)]
    pub vigil: Option<serde_json::Value>,
    /// The whole event.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// `event.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventMeta {
    /// `event` or `alert`.
    pub kind: String,
    /// e.g. `authn_login_fail`.
    pub action: String,
    /// `success` / `failure` / `unknown`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// e.g. `token_expired`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `source.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// Client IP.
    #[serde(default)]
    pub ip: Option<String>,
    /// Client port.
    #[serde(default)]
    pub port: Option<u64>,
}

/// `user.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// User name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `url.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct Url {
    /// Path.
    #[serde(default)]
    pub path: Option<String>,
}

/// `http.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct Http {
    /// `http.request.*`.
    #[serde(default)]
    pub request: Option<HttpRequestMeta>,
    /// `http.response.*`.
    #[serde(default)]
    pub response: Option<HttpResponseMeta>,
}

/// `http.request.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpRequestMeta {
    /// `x-request-id`.
    #[serde(default)]
    pub id: Option<String>,
}

/// `http.response.*`.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpResponseMeta {
    /// Status code.
    #[serde(default)]
    pub status_code: Option<u64>,
}

impl Event {
    /// Parses one event line.
    pub fn parse(line: &str) -> Result<Event> {
        let raw: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("event line is not JSON: {line}"))?;
        let mut e: Event = serde_json::from_value(raw.clone())
            .with_context(|| format!("event line is not an ECS event: {line}"))?;
        e.raw = raw;
        Ok(e)
    }

    /// `event.action`.
    pub fn action(&self) -> &str {
        &self.event.action
    }

    /// `event.reason`.
    pub fn reason(&self) -> Option<&str> {
        self.event.reason.as_deref()
    }

    /// `user.name`.
    pub fn user_name(&self) -> Option<&str> {
        self.user.as_ref().and_then(|u| u.name.as_deref())
    }

    /// `http.request.id`.
    pub fn request_id(&self) -> Option<&str> {
        self.http
            .as_ref()
            .and_then(|h| h.request.as_ref())
            .and_then(|r| r.id.as_deref())
    }

    /// `http.response.status_code`.
    pub fn status(&self) -> Option<u64> {
        self.http
            .as_ref()
            .and_then(|h| h.response.as_ref())
            .and_then(|r| r.status_code)
    }

    /// A dotted path into the raw event (`vigil.user.source`).
    pub fn get(&self, dotted: &str) -> Option<&serde_json::Value> {
        dotted.split('.').try_fold(&self.raw, |v, k| v.get(k))
    }

    /// A dotted path as a string.
    pub fn get_str(&self, dotted: &str) -> Option<&str> {
        self.get(dotted).and_then(|v| v.as_str())
    }
}

/// `v` without the fields at these dotted paths (per-run values such as `event.id`).
pub fn without_fields(mut v: serde_json::Value, dotted: &[&str]) -> serde_json::Value {
    for path in dotted {
        let (parent, last) = match path.rsplit_once('.') {
            Some((p, l)) => (format!("/{}", p.replace('.', "/")), l),
            None => (String::new(), *path),
        };
        if let Some(obj) = v
            .pointer_mut(&parent)
            .and_then(serde_json::Value::as_object_mut)
        {
            obj.remove(last);
        }
    }
    v
}
