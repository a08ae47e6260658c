//! Counting what happened: statuses, errors, latencies, and the JSON summary.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one or all connections saw over the measured interval.
#[derive(Debug, Default)]
pub struct Tally {
    /// Response latency from the scheduled send time, ns.
    pub latencies: Vec<u64>,
    /// Lag of the actual send behind the schedule, ns.
    pub lags: Vec<u64>,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failed exchanges or connects (measured interval).
    pub errors: u64,
    /// The first error's text.
    pub first_error: Option<String>,
    /// Requests never sent (the generator fell more than 5 s behind).
    pub unsent: u64,
    /// Connections opened (whole run).
    pub connects: u64,
}

impl Tally {
    /// Records one response.
    pub fn record(&mut self, status: u16, latency: Duration, lag: Duration) {
        self.latencies.push(latency.as_nanos() as u64);
        self.lags.push(lag.as_nanos() as u64);
        *self.statuses.entry(status).or_default() += 1;
    }

    /// Records one failure.
    pub fn error(&mut self, measured: bool, e: &std::io::Error) {
        if measured {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    /// Responses received.
    pub fn requests(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// Adds the connections' tallies up.
    pub fn merge(all: Vec<Tally>) -> Tally {
        let mut t = Tally::default();
        for x in all {
            t.latencies.extend(x.latencies);
            t.lags.extend(x.lags);
            for (s, n) in x.statuses {
                *t.statuses.entry(s).or_default() += n;
            }
            t.errors += x.errors;
            t.unsent += x.unsent;
            t.connects += x.connects;
            t.first_error = t.first_error.or(x.first_error);
        }
        t.latencies.sort_unstable();
        t.lags.sort_unstable();
        t
    }

    /// The summary as one JSON object; `extra` fields (already JSON) come first.
    pub fn to_json(&self, extra: &BTreeMap<&str, String>, seconds: f64) -> String {
        let mut out: Vec<String> = extra.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        out.push(format!("\"requests\":{}", self.requests()));
        out.push(format!(
            "\"achieved_rps\":{:.1}",
            self.requests() as f64 / seconds
        ));
        out.push(format!("\"errors\":{}", self.errors));
        out.push(format!("\"unsent\":{}", self.unsent));
        out.push(format!("\"connects\":{}", self.connects));
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("\"{s}\":{n}"))
            .collect();
        out.push(format!("\"status\":{{{}}}", statuses.join(",")));
        out.push(format!("\"latency_us\":{}", percentiles(&self.latencies)));
        out.push(format!("\"send_lag_us\":{}", percentiles(&self.lags)));
        if let Some(e) = &self.first_error {
            let clean: String = e
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect();
            out.push(format!("\"first_error\":\"{clean}\""));
        }
        format!("{{{}}}", out.join(","))
    }
}

/// The p-th quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn percentiles(sorted_ns: &[u64]) -> String {
    let us = |p: f64| quantile(sorted_ns, p) as f64 / 1000.0;
    format!(
        "{{\"p50\":{:.1},\"p90\":{:.1},\"p99\":{:.1},\"p99.9\":{:.1},\"max\":{:.1}}}",
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        us(1.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(quantile(&v, 0.5), 500);
        assert_eq!(quantile(&v, 0.99), 990);
        assert_eq!(quantile(&v, 0.999), 999);
        assert_eq!(quantile(&v, 1.0), 1000);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn merged_tallies_summarize() {
        let mut a = Tally::default();
        a.record(401, Duration::from_micros(100), Duration::ZERO);
        let mut b = Tally::default();
        b.record(200, Duration::from_micros(300), Duration::ZERO);
        let t = Tally::merge(vec![a, b]);
        let json = t.to_json(&BTreeMap::new(), 1.0);
        assert!(json.contains("\"status\":{\"200\":1,\"401\":1}"));
        assert!(json.contains("\"p50\":100.0"));
    }
}
