//! Shared plumbing of the test log receivers (`fluentd`, `otlp`): a loopback TCP listener on
//! an ephemeral port served by a background thread, one thread per connection, a bounded
//! record store that tests can wait on, and a clean stop (also on drop).
//!
//! Records from different connections arrive in no particular order: compare them as sets.

use anyhow::{bail, Context as _, Result};
use std::io::{ErrorKind, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(25);
/// Connections served at once; more are refused (closed at once).
const MAX_CONNECTIONS: usize = 64;
/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A record a receiver collects: it may carry one event (the bytes Vigil set).
pub trait Record: Clone + Send + 'static {
    /// The event bytes this record carries, if any.
    fn event(&self) -> Option<&[u8]>;
}

/// Limits of a receiver.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records kept; later ones are counted in [`Receiver::overflow`] and dropped.
    pub max_records: usize,
    /// Largest frame accepted (one msgpack message, one HTTP body), in bytes.
    pub max_frame_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_records: 100_000,
            max_frame_bytes: 16 << 20,
        }
    }
}

struct Store<T> {
    records: Vec<T>,
    errors: Vec<String>,
    overflow: u64,
    connections: u64,
}

/// State shared by the listener thread, the connection threads and the test.
pub struct Shared<T> {
    store: Mutex<Store<T>>,
    changed: Condvar,
    stop: AtomicBool,
    limits: Limits,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Store<T>> {
        // A panicking connection thread must not hide what was already received.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a record (or counts it as overflow once the cap is reached).
    pub fn push(&self, record: T) {
        let mut store = self.lock();
        if store.records.len() < self.limits.max_records {
            store.records.push(record);
        } else {
            store.overflow += 1;
        }
        drop(store);
        self.changed.notify_all();
    }

    /// Records a protocol error (the connection is usually closed after it).
    pub fn error(&self, message: String) {
        self.lock().errors.push(message);
        self.changed.notify_all();
    }

    /// True once the receiver is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The receiver's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// A connection handler: serves one accepted connection until EOF, error or stop.
pub type Handler<T> = Arc<dyn Fn(TcpStream, &Shared<T>) -> Result<()> + Send + Sync>;

/// A running receiver: a listener on `127.0.0.1:<ephemeral>` and its threads.
pub struct Receiver<T> {
    addr: SocketAddr,
    shared: Arc<Shared<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Record> Receiver<T> {
    /// Binds `127.0.0.1:0` and serves every connection with `handler` on its own thread.
    pub fn start(limits: Limits, handler: Handler<T>) -> Result<Receiver<T>> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            store: Mutex::new(Store {
                records: Vec::new(),
                errors: Vec::new(),
                overflow: 0,
                connections: 0,
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            limits,
        });
        let for_thread = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("receiver-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &for_thread, &handler))
            .context("spawning the receiver thread")?;
        Ok(Receiver {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The listening address (127.0.0.1 and an ephemeral port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every record received so far.
    pub fn records(&self) -> Vec<T> {
        self.shared.lock().records.clone()
    }

    /// The event bytes of every record received so far (records without one are skipped).
    pub fn events(&self) -> Vec<Vec<u8>> {
        events_of(&self.records())
    }

    /// Protocol errors seen so far (empty when everything decoded).
    pub fn errors(&self) -> Vec<String> {
        self.shared.lock().errors.clone()
    }

    /// Records dropped because `max_records` was reached.
    pub fn overflow(&self) -> u64 {
        self.shared.lock().overflow
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.lock().connections
    }

    /// Waits until at least `n` records arrived (or `timeout` passed: an error that says how
    /// many did), then returns all records received so far.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<T>> {
        let deadline = Instant::now() + timeout;
        let mut store = self.shared.lock();
        while store.records.len() < n {
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "receiver {}: {} of {n} records after {timeout:?} (errors: {:?})",
                    self.addr,
                    store.records.len(),
                    store.errors
                );
            }
            store = self
                .shared
                .changed
                .wait_timeout(store, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        Ok(store.records.clone())
    }

    /// [`Receiver::wait_for`] `n` records, then their event bytes.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        Ok(events_of(&self.wait_for(n, timeout)?))
    }

    /// Stops accepting, closes every connection and joins the threads (idempotent; also
    /// done on drop). Records stay readable.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                self.shared
                    .error("the receiver thread panicked".to_string());
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn events_of<T: Record>(records: &[T]) -> Vec<Vec<u8>> {
    records
        .iter()
        .filter_map(|r| r.event().map(<[u8]>::to_vec))
        .collect()
}

fn accept_loop<T: Record>(listener: &TcpListener, shared: &Arc<Shared<T>>, handler: &Handler<T>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, peer)) => {
                workers.retain(|w| !w.is_finished());
                if workers.len() >= MAX_CONNECTIONS {
                    shared.error(format!(
                        "refused {peer}: {MAX_CONNECTIONS} connections open"
                    ));
                    continue;
                }
                shared.lock().connections += 1;
                let for_conn = Arc::clone(shared);
                let handler = Arc::clone(handler);
                let spawned = thread::Builder::new()
                    .name(format!("receiver-conn-{}", peer.port()))
                    .spawn(move || {
                        if let Err(e) = prepare(&stream).and_then(|()| handler(stream, &for_conn)) {
                            for_conn.error(format!("connection from {peer}: {e:#}"));
                        }
                    });
                match spawned {
                    Ok(worker) => workers.push(worker),
                    Err(e) => shared.error(format!("spawning a connection thread: {e}")),
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(e) => {
                shared.error(format!("accept: {e}"));
                thread::sleep(POLL);
            }
        }
    }
    for worker in workers {
        if worker.join().is_err() {
            shared.error("a connection thread panicked".to_string());
        }
    }
}

fn prepare(stream: &TcpStream) -> Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_nodelay(true)?;
    Ok(())
}

/// Reads more bytes from `stream` into `buf`: `Ok(true)` if some arrived, `Ok(false)` on EOF
/// or stop. Waits (polling the stop flag) up to the idle timeout.
pub fn fill<T>(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared<T>) -> Result<bool> {
    let idle_since = Instant::now();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if shared.stopping() {
            return Ok(false);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if idle_since.elapsed() > IDLE_TIMEOUT {
                    bail!("idle for {IDLE_TIMEOUT:?}");
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Line(Vec<u8>);

    impl Record for Line {
        fn event(&self) -> Option<&[u8]> {
            Some(&self.0)
        }
    }

    /// One record per newline-terminated line.
    fn lines() -> Result<Receiver<Line>> {
        let handler: Handler<Line> = Arc::new(|mut stream, shared| {
            let mut buf = Vec::new();
            loop {
                while let Some(at) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=at).take(at).collect();
                    shared.push(Line(line));
                }
                if !fill(&mut stream, &mut buf, shared)? {
                    return Ok(());
                }
            }
        });
        Receiver::start(Limits::default(), handler)
    }

    #[test]
    fn waits_times_out_and_stops_with_connections_open() -> Result<()> {
        use std::io::Write as _;
        let mut receiver = lines()?;
        assert!(receiver.addr().ip().is_loopback() && receiver.port() != 0);
        let mut idle = TcpStream::connect(receiver.addr())?;
        let mut busy = TcpStream::connect(receiver.addr())?;
        busy.write_all(b"a\nb")?;
        assert_eq!(
            receiver.wait_for_events(1, Duration::from_secs(5))?,
            vec![b"a".to_vec()]
        );
        let err = receiver.wait_for(2, Duration::from_millis(50)).err();
        assert!(format!("{err:?}").contains("1 of 2 records"), "{err:?}");
        idle.write_all(b"c\n")?;
        receiver.wait_for(2, Duration::from_secs(5))?;
        let started = Instant::now();
        receiver.stop();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(receiver.connections(), 2);
        assert_eq!(receiver.events().len(), 2);
        // The listener is closed.
        assert!(TcpStream::connect(receiver.addr()).is_err());
        receiver.stop();
        Ok(())
    }
}
