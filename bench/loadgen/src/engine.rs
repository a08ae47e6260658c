//! The load loop: one thread, non-blocking connections, `ppoll`. Request `i` is due at
//! `start + i / rate`; due requests wait in a queue for an idle connection, and each one's
//! latency runs from its due time (open loop, no coordinated omission). With rate 0 every
//! idle connection sends at once (closed loop).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::conn::{source_ip, Conn, Progress};
use crate::poll::{self, POLLERR, POLLHUP, POLLIN, POLLOUT};
use crate::report::Tally;
use crate::{request, Opts};

/// One connection slot.
#[derive(Default)]
struct Slot {
    conn: Option<Conn>,
    /// The request in flight: its due time and when it was sent.
    busy: Option<(Instant, Instant)>,
    /// Requests sent on the current connection.
    on_conn: u64,
}

/// Runs the load and returns what it saw.
pub fn run(o: &Opts) -> Tally {
    poll::tighten_timer_slack();
    let mut t = Tally::default();
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + Duration::from_secs_f64(o.warmup);
    let end = measure_from + Duration::from_secs_f64(o.seconds);
    let give_up = end + Duration::from_secs(5);
    let spin = Duration::from_micros(o.spin_us);
    let due = |i: u64| start + Duration::from_secs_f64(i as f64 / o.rate);
    let mut slots: Vec<Slot> = (0..o.connections).map(|_| Slot::default()).collect();
    let mut queue: VecDeque<(u64, Instant)> = VecDeque::new();
    let (mut next, mut opened) = (0u64, 0u64);
    loop {
        let now = Instant::now();
        if now >= give_up {
            t.unsent += queue.len() as u64;
            break;
        }
        if o.rate > 0.0 {
            while due(next) <= now && due(next) < end {
                queue.push_back((next, due(next)));
                next += 1;
            }
        }
        // Hand due requests to idle connections.
        for slot in slots.iter_mut().filter(|s| s.busy.is_none()) {
            let (i, due_at) = if o.rate > 0.0 {
                match queue.pop_front() {
                    Some(x) => x,
                    None => break,
                }
            } else if now < end && now >= start {
                next += 1;
                (next - 1, now)
            } else {
                break;
            };
            let measured = due_at >= measure_from;
            if o.reconnect_every > 0 && slot.on_conn >= o.reconnect_every {
                slot.conn = None;
            }
            if slot.conn.is_none() {
                let from = (o.sources > 0).then(|| source_ip(opened % o.sources));
                opened += 1;
                slot.on_conn = 0;
                match Conn::connect(o.addr, from) {
                    Ok(c) => {
                        slot.conn = Some(c);
                        t.connects += 1;
                    }
                    Err(e) => {
                        t.error(measured, &e);
                        continue;
                    }
                }
            }
            let Some(conn) = slot.conn.as_mut() else {
                continue;
            };
            match conn.send(request(o, i)) {
                Ok(()) => {
                    slot.busy = Some((due_at, Instant::now()));
                    slot.on_conn += 1;
                }
                Err(e) => {
                    t.error(measured, &e);
                    slot.conn = None;
                }
            }
        }
        let scheduling_done = if o.rate > 0.0 {
            due(next) >= end
        } else {
            now >= end
        };
        let in_flight = slots.iter().any(|s| s.busy.is_some());
        if scheduling_done && queue.is_empty() && !in_flight {
            break;
        }
        // Wait for an answer or the next due time.
        let wake = if o.rate > 0.0 && !scheduling_done {
            due(next)
        } else if o.rate == 0.0 && now < start {
            start
        } else {
            now + Duration::from_millis(100) + spin
        };
        let mut fds = Vec::with_capacity(slots.len());
        let mut idx = Vec::with_capacity(slots.len());
        for (k, s) in slots.iter().enumerate() {
            if let (Some(c), Some(_)) = (&s.conn, s.busy) {
                let ev = POLLIN | if c.wants_write() { POLLOUT } else { 0 };
                fds.push(poll::entry(c.fd(), ev));
                idx.push(k);
            }
        }
        // Sleep until `spin` before the due time, then poll without sleeping (the VM's timer
        // wake-ups overshoot by tens of µs).
        let timeout = wake
            .saturating_duration_since(Instant::now())
            .saturating_sub(spin);
        if let Err(e) = poll::wait(&mut fds, Some(timeout)) {
            t.error(true, &e);
            break;
        }
        for (fd, &k) in fds.iter().zip(&idx) {
            if fd.revents == 0 {
                continue;
            }
            let slot = &mut slots[k];
            let (Some(conn), Some((due_at, sent_at))) = (slot.conn.as_mut(), slot.busy) else {
                continue;
            };
            let measured = due_at >= measure_from;
            let mut progress = Ok(Progress::Pending);
            if fd.revents & POLLOUT != 0 {
                progress = conn.flush().map(|()| Progress::Pending);
            }
            if progress.is_ok() && fd.revents & (POLLIN | POLLHUP | POLLERR) != 0 {
                progress = conn.read();
            }
            match progress {
                Ok(Progress::Pending) => {}
                Ok(Progress::Done(status, keep)) => {
                    if measured {
                        t.record(status, Instant::now() - due_at, sent_at - due_at);
                    }
                    slot.busy = None;
                    if !keep {
                        slot.conn = None;
                    }
                }
                Err(e) => {
                    t.error(measured, &e);
                    slot.busy = None;
                    slot.conn = None;
                }
            }
        }
    }
    t
}
