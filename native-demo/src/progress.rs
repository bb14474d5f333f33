//! Progress of one group on stderr. On a terminal, one line rewritten in
//! place ("[2/5] fish: 6 photos ... VGG16 (3/6)"); in a log file or a batch
//! job, where a rewritten line would be noise, a new line whenever the stage
//! changes, and at least every few seconds within a long stage, each with the
//! elapsed time, so that a log never goes quiet for minutes.

use std::time::{Duration, Instant};

use crate::text::secs;

/// The most a log stays silent while a stage runs.
const LOG_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    interactive: bool,
    tag: String,
    head: String,
    started: Instant,
    last_line: Instant,
    last_stage: String,
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
        Progress {
            interactive,
            tag: tag.to_string(),
            head,
            started: now,
            last_line: now,
            last_stage: String::new(),
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
        let now = Instant::now();
        if stage != self.last_stage || now - self.last_line >= LOG_EVERY {
            eprintln!(
                "{}: {stage} ({k}/{total}), {} elapsed",
                self.tag,
                secs((now - self.started).as_secs_f64())
            );
            self.last_line = now;
            self.last_stage = stage.to_string();
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
}
