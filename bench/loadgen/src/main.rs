//! # vigil-loadgen: an open-loop HTTP/1.1 load generator for the Vigil benchmark
//!
//! ```text
//! vigil-loadgen --addr 127.0.0.1:10100 --rate 12000 --seconds 10 [--warmup 1]
//!     [--connections 32] [--workload attack|mix] [--sources 4096 --reconnect-every 20]
//!     [--users 1000] [--spin-us 50]
//! ```
//!
//! Request `i` is due at `start + i / rate`; it goes out on the first idle one of C
//! keep-alive HTTP/1.1 connections (one thread, non-blocking sockets, `ppoll` with a 1 µs
//! timer slack), and its latency is measured from its *due* time to the end of its response,
//! so a slow response delays, and is charged to, the requests queued behind it (no
//! coordinated omission, as in wrk2). `--rate 0` is a closed loop (each connection sends as
//! soon as the previous answer arrived). `--spin-us S` polls without sleeping for the last S
//! µs before each due time (timer wake-ups on a VM overshoot by tens of µs), at the price of
//! CPU time.
//!
//! Workloads: `attack`, every request a failed login `POST /login` (form body; `--users U`
//! rotates the username over U names); `mix`, 19 of 20 requests `GET /` and every 20th the
//! login. `--sources M` binds each new connection to the next of M addresses in
//! 127.0.0.0/8 (127.1.0.1, 127.1.0.2, ...), and `--reconnect-every R` opens a new connection
//! (the next source) every R requests: a rotating-IP attack on loopback.
//!
//! Prints one JSON object on stdout: requests, errors, statuses, achieved rate and latency
//! percentiles (µs) over the measured interval (after the warm-up).

mod conn;
mod engine;
mod poll;
mod report;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use report::Tally;

/// Command-line options.
#[derive(Debug, Clone)]
struct Opts {
    addr: SocketAddr,
    rate: f64,
    seconds: f64,
    warmup: f64,
    connections: u64,
    workload: String,
    sources: u64,
    reconnect_every: u64,
    users: u64,
    host: String,
    spin_us: u64,
}

const USAGE: &str = "usage: vigil-loadgen --addr HOST:PORT [--rate R (0 = closed loop)] \
[--seconds S] [--warmup S] [--connections C] [--workload attack|mix] [--sources M] \
[--reconnect-every R] [--users U] [--host NAME] [--spin-us US]";

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        addr: SocketAddr::from(([127, 0, 0, 1], 10100)),
        rate: 1000.0,
        seconds: 5.0,
        warmup: 1.0,
        connections: 32,
        workload: "attack".into(),
        sources: 0,
        reconnect_every: 0,
        users: 0,
        host: "bench".into(),
        spin_us: 0,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag}: value missing"));
        fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        }
        match flag.as_str() {
            "--addr" => o.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--rate" => o.rate = num(flag, value()?)?,
            "--seconds" => o.seconds = num(flag, value()?)?,
            "--warmup" => o.warmup = num(flag, value()?)?,
            "--connections" => o.connections = num(flag, value()?)?,
            "--workload" => o.workload = value()?.clone(),
            "--sources" => o.sources = num(flag, value()?)?,
            "--reconnect-every" => o.reconnect_every = num(flag, value()?)?,
            "--users" => o.users = num(flag, value()?)?,
            "--host" => o.host = value()?.clone(),
            "--spin-us" => o.spin_us = num(flag, value()?)?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    if !matches!(o.workload.as_str(), "attack" | "mix") {
        return Err(format!("--workload: `{}` is not attack or mix", o.workload));
    }
    if o.connections == 0 || o.connections > 4096 {
        return Err("--connections: 1..=4096".into());
    }
    if !(o.rate >= 0.0 && o.seconds > 0.0 && o.warmup >= 0.0) {
        return Err("--rate, --seconds, --warmup: non-negative (seconds positive)".into());
    }
    Ok(o)
}

/// The bytes of request number `i`.
fn request(o: &Opts, i: u64) -> Vec<u8> {
    let login = o.workload == "attack" || i % 20 == 19;
    if !login {
        return format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: vigil-loadgen\r\n\r\n",
            o.host
        )
        .into_bytes();
    }
    let user = if o.users == 0 {
        "alice".to_string()
    } else {
        format!("user{}%40example.com", i % o.users)
    };
    let body = format!("username={user}&password=wrong-password");
    format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nUser-Agent: vigil-loadgen\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        o.host,
        body.len(),
        body
    )
    .into_bytes()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_opts(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vigil-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let total = Tally::merge(vec![engine::run(&o)]);
    let mut fields = BTreeMap::new();
    fields.insert("workload", format!("\"{}\"", o.workload));
    fields.insert("rate", format!("{}", o.rate));
    fields.insert("seconds", format!("{}", o.seconds));
    fields.insert("connections", format!("{}", o.connections));
    fields.insert("sources", format!("{}", o.sources));
    fields.insert("users", format!("{}", o.users));
    println!("{}", total.to_json(&fields, o.seconds));
    if total.requests() == 0 {
        eprintln!(
            "vigil-loadgen: no request completed ({} errors)",
            total.errors
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_parse_and_requests_build() -> Result<(), String> {
        let o = parse_opts(&args("--rate 100 --workload mix --users 3 --sources 10"))?;
        assert_eq!((o.rate, o.users, o.sources), (100.0, 3, 10));
        let get = String::from_utf8_lossy(&request(&o, 0)).to_string();
        assert!(get.starts_with("GET / HTTP/1.1\r\n"));
        let login = String::from_utf8_lossy(&request(&o, 19)).to_string();
        assert!(login.starts_with("POST /login HTTP/1.1\r\n"));
        assert!(login.ends_with("username=user1%40example.com&password=wrong-password"));
        assert!(parse_opts(&args("--workload nope")).is_err());
        assert!(parse_opts(&args("--bogus 1")).is_err());
        assert!(parse_opts(&args("--connections 0")).is_err());
        Ok(())
    }
}
