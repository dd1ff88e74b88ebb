//! Progress of long runs: on a terminal, a bar naming the tenant or account at hand (on
//! standard error); elsewhere nothing, since apply prints a plain line per change anyway.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// A bar when standard error is a terminal.
    pub fn new() -> Progress {
        Progress { enabled: std::io::stderr().is_terminal(), bar: Mutex::new(None) }
    }

    fn bar(&self) -> Option<ProgressBar> {
        self.bar.lock().ok().and_then(|b| b.clone())
    }

    /// Starts a phase of `len` steps.
    pub fn start(&self, len: usize, phase: &str) {
        if !self.enabled || len == 0 {
            return;
        }
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {wide_msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::new(len as u64).with_style(style).with_prefix(phase.to_owned());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    /// Names the step at hand.
    pub fn working_on(&self, item: &str) {
        if let Some(bar) = self.bar() {
            bar.set_message(item.to_owned());
        }
    }

    /// One step done.
    pub fn advance(&self, item: &str) {
        if let Some(bar) = self.bar() {
            bar.set_message(item.to_owned());
            bar.inc(1);
        }
    }

    /// Prints a line to standard output, above the bar when there is one.
    pub fn println(&self, line: &str) {
        match self.bar() {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }
}
