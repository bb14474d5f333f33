//! Progress of one group on stderr. On a terminal, one line rewritten in
//! place ("[2/5] fish: 6 photos ... vgg conv3 (3/13)"); in a log file or a
//! batch job, where a rewritten line would be noise, a new line whenever the
//! stage changes, and a heartbeat line at least every [`LOG_EVERY`] while a
//! stage runs (a stage of a large group takes minutes on a CPU adapter), each
//! with the elapsed time, so that a log never goes quiet for long.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::text::secs;

/// The most a log stays silent while a group runs.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

struct State {
    tag: String,
    started: Instant,
    last_line: Instant,
    /// The current stage as printed: "vgg conv3 (3/13)".
    stage: String,
    stage_name: String,
    ended: bool,
}

impl State {
    fn print(&mut self, now: Instant) {
        eprintln!(
            "{}: {}, {} elapsed",
            self.tag,
            self.stage,
            secs((now - self.started).as_secs_f64())
        );
        self.last_line = now;
    }
}

pub struct Progress {
    interactive: bool,
    tag: String,
    head: String,
    state: Arc<(Mutex<State>, Condvar)>,
    heartbeat: Option<JoinHandle<()>>,
    /// A terminal line is open (printed without a newline).
    open: bool,
}

impl Progress {
    /// Prints the group's head line: `tag: what`.
    pub fn start(interactive: bool, tag: &str, what: String) -> Progress {
        let head = format!("{tag}: {what}");
        if interactive {
            eprint!("{head}");
        } else {
            eprintln!("{head}");
        }
        let now = Instant::now();
        let state = Arc::new((
            Mutex::new(State {
                tag: tag.to_string(),
                started: now,
                last_line: now,
                stage: String::new(),
                stage_name: String::new(),
                ended: false,
            }),
            Condvar::new(),
        ));
        let heartbeat = (!interactive).then(|| {
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                let (lock, wake) = &*state;
                let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !s.ended {
                    let due = s.last_line + LOG_EVERY;
                    let now = Instant::now();
                    if now >= due {
                        if !s.stage.is_empty() {
                            s.print(now);
                        } else {
                            s.last_line = now;
                        }
                        continue;
                    }
                    s = wake
                        .wait_timeout(s, due - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            })
        });
        Progress {
            interactive,
            tag: tag.to_string(),
            head,
            state,
            heartbeat,
            open: interactive,
        }
    }

    /// Stage `stage`, item `k` of `total`, has started.
    pub fn stage(&mut self, stage: &str, k: usize, total: usize) {
        if self.interactive {
            eprint!("\r\x1b[K{} {stage} ({k}/{total})", self.head);
            self.open = true;
            return;
        }
        let mut s = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        s.stage = format!("{stage} ({k}/{total})");
        if s.stage_name != stage {
            s.stage_name = stage.to_string();
            s.print(Instant::now());
        }
    }

    /// Ends the open terminal line before other messages are printed.
    pub fn interrupt(&mut self) {
        if self.interactive && self.open {
            eprintln!();
            self.open = false;
        }
    }

    /// The group's last word: on a terminal it completes the head line
    /// ("... 12.3 s (2.1 s/photo)"), in a log it is a line of its own.
    pub fn end(&mut self, result: &str) {
        self.stop();
        if self.interactive {
            if self.open {
                eprint!("\r\x1b[K");
            }
            eprintln!("{} {result}", self.head);
        } else {
            eprintln!("{}: {result}", self.tag);
        }
        self.open = false;
    }

    fn stop(&mut self) {
        {
            let mut s = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
            s.ended = true;
        }
        self.state.1.notify_all();
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}
