//! The log on stderr. Lines go through a bounded queue to one writer thread, so a slow or
//! blocked stderr (a pipe nobody reads fills at 64 KiB) never holds up a request: when the
//! queue is full the line is dropped and counted, never waited for. The next line that gets
//! through ends with `(N log lines dropped)`, and `/healthz` and `GET /_admin/log` report
//! the total since the process started.
//!
//! One log per process (in-process test servers share it, as they share stderr).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Lines the queue holds before new ones are dropped.
const QUEUE_LINES: usize = 4096;
/// How long the writer thread lets lines gather after each write.
const WRITE_PAUSE: Duration = Duration::from_millis(1);
/// The most bytes of lines the writer thread gathers into one write.
const BATCH_BYTES: usize = 64 * 1024;

/// Lines dropped since the process started.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Lines dropped that no written line has mentioned yet.
static UNREPORTED: AtomicU64 = AtomicU64::new(0);
/// Lines queued and not yet written (for `flush`).
static PENDING: AtomicU64 = AtomicU64::new(0);

fn queue() -> &'static SyncSender<String> {
    static QUEUE: OnceLock<SyncSender<String>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<String>(QUEUE_LINES);
        std::thread::Builder::new()
            .name("log".into())
            .spawn(move || {
                // Every line already queued goes out in one write: under load one system
                // call carries many lines instead of one each.
                let mut batch = Vec::with_capacity(BATCH_BYTES);
                while let Ok(line) = rx.recv() {
                    let mut lines = 0;
                    let mut next = Some(line);
                    while let Some(line) = next.take() {
                        // Here, off the request path: no secret reaches stderr.
                        batch.extend_from_slice(crate::redact::text(&line).as_bytes());
                        let lost = UNREPORTED.swap(0, Ordering::Relaxed);
                        if lost > 0 {
                            let _ = write!(batch, " ({lost} log lines dropped)");
                        }
                        batch.push(b'\n');
                        lines += 1;
                        if batch.len() < BATCH_BYTES {
                            next = rx.try_recv().ok();
                        }
                    }
                    // A failed write (stderr closed) loses the lines; nothing to tell anyone.
                    let _ = std::io::stderr().lock().write_all(&batch);
                    batch.clear();
                    PENDING.fetch_sub(lines, Ordering::Relaxed);
                    // Lines that arrive meanwhile queue up for the next write instead of
                    // waking this thread one by one: under load, a wake-up per request cost
                    // 2 to 3 % of the server's CPU (bench/README.md). The queue holds
                    // QUEUE_LINES, far more than a millisecond brings.
                    std::thread::sleep(WRITE_PAUSE);
                }
            })
            .expect("spawning the log thread");
        tx
    })
}

/// Logs one line (no trailing newline), or drops and counts it when the queue is full.
pub fn line(text: String) {
    PENDING.fetch_add(1, Ordering::Relaxed);
    if queue().try_send(text).is_err() {
        PENDING.fetch_sub(1, Ordering::Relaxed);
        DROPPED.fetch_add(1, Ordering::Relaxed);
        UNREPORTED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Lines dropped since the process started.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Waits until every queued line is written, or `timeout` passed (stderr may be blocked).
pub fn flush(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while PENDING.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Lines about something that can happen very often (a flood): at most one a second.
#[derive(Default)]
pub struct Throttle {
    last: Option<Instant>,
    unreported: u64,
}

impl Throttle {
    /// Counts one event; when a line is due (the first, then at most one a second), the
    /// events since the last line, this one included.
    pub fn due(&mut self) -> Option<u64> {
        self.unreported += 1;
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// What the vendored HTTP server reports through the `log` facade (connections shed or
/// refused, accepts failing), as lines of this log; its debug chatter is left out.
struct HttpServerReports;

impl ::log::Log for HttpServerReports {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        metadata.level() <= ::log::Level::Warn && metadata.target().starts_with("tiny_http")
    }

    fn log(&self, record: &::log::Record<'_>) {
        if self.enabled(record.metadata()) {
            line(format!("http: {}", record.args()));
        }
    }

    fn flush(&self) {}
}

/// Sends the HTTP server's reports here (once per process; a second call changes nothing).
/// The binary does; a program that embeds the server keeps its own `log` logger, which gets
/// them under the target `tiny_http`.
pub fn take_http_server_reports() {
    static REPORTS: HttpServerReports = HttpServerReports;
    if ::log::set_logger(&REPORTS).is_ok() {
        ::log::set_max_level(::log::LevelFilter::Warn);
    }
}
