//! The agent view: a calm terminal panel the agent glances at during a live call.
//!
//! ```text
//! records ──► AgentView (a Sink, on its sink thread) ──► ViewState::apply ──► draw ──► terminal
//!                  └── polls keys: q / Esc / Ctrl-C set the stop flag
//! ```
//!
//! * [`ViewState`] ([`state`]) is the model: who speaks, both parties' meters and pitch, the
//!   caller's agitation with its last minute and trend, talk ratio and counts, the last alerts,
//!   the summary once the call has ended. It does no I/O and holds fixed memory.
//! * [`draw()`] ([`draw`](mod@draw)) lays a state out in a ratatui frame, degrading gracefully
//!   on small terminals.
//! * [`AgentView`] is the [`Sink`]: it owns the terminal (alternate screen, raw mode, hidden
//!   cursor), redraws at most every [`ViewOptions::refresh`] but at once for an alert or the
//!   summary, and restores the terminal in [`Sink::finish`], on drop and on a panic.
//!
//! # Timing
//!
//! A sink must never hold up its channel for long. Applying a record is a few field updates;
//! drawing (the costly part) happens at most once per `refresh` (50 ms by default: 20 redraws
//! a second while a live call sends ~100 frames a second) and immediately for alerts, so an
//! alert is on screen within one draw of arriving. Key presses are polled with a zero timeout
//! on every record.

pub mod draw;
pub mod state;

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};

use crate::error::Error;
use crate::record::Record;
use crate::sink::Sink;

pub use draw::draw;
pub use state::{PartyMeter, Speaker, Trend, ViewState};

/// The default redraw interval of [`ViewOptions::refresh`].
pub const DEFAULT_REFRESH: Duration = Duration::from_millis(50);

/// How an [`AgentView`] is set up.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// The call's name, shown in the header.
    pub call_name: String,
    /// Set to `true` when the agent quits (`q`, `Esc` or `Ctrl-C`); the caller stops the call.
    pub stop: Arc<AtomicBool>,
    /// The shortest time between two redraws ([`DEFAULT_REFRESH`]); alerts redraw at once.
    pub refresh: Duration,
}

impl ViewOptions {
    /// Options for the call `call_name` with the stop flag `stop` and the default refresh.
    pub fn new(call_name: impl Into<String>, stop: Arc<AtomicBool>) -> Self {
        Self {
            call_name: call_name.into(),
            stop,
            refresh: DEFAULT_REFRESH,
        }
    }
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self::new("call", Arc::new(AtomicBool::new(false)))
    }
}

/// Whether some view has the terminal in raw mode on the alternate screen (read by the panic
/// hook; one terminal per process).
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// Puts the terminal back as it was, once: leaves the alternate screen, ends raw mode, shows
/// the cursor. Does nothing when no view holds the terminal.
fn restore_terminal() -> io::Result<()> {
    if !TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Try every step even when one fails, then report the first failure.
    let raw = terminal::disable_raw_mode();
    let screen = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
    raw.and(screen)
}

/// Installs (once per process) a panic hook that restores the terminal before the previous
/// hook prints the panic, so the message lands on a usable screen.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore_terminal();
            previous(info);
        }));
    });
}

/// The agent view as a [`Sink`]: draws the call in the terminal as records arrive.
///
/// It wants frame records ([`Sink::wants_frames`]) for its meters. Redraws are throttled to
/// [`ViewOptions::refresh`], alerts and the summary draw at once. Keys `q`, `Esc` and `Ctrl-C`
/// (raw mode turns Ctrl-C into a key, so no SIGINT arrives) set [`ViewOptions::stop`].
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use std::sync::atomic::AtomicBool;
/// use callpulse::sink::Sink;
/// use callpulse::view::{AgentView, ViewOptions};
///
/// # fn main() -> Result<(), callpulse::Error> {
/// let stop = Arc::new(AtomicBool::new(false));
/// let mut view = AgentView::new(ViewOptions::new("call 42", Arc::clone(&stop)))?;
/// // ... hand it to a Pipeline as a sink; stop the call when `stop` becomes true ...
/// view.finish()?;
/// # Ok(())
/// # }
/// ```
pub struct AgentView {
    state: ViewState,
    terminal: Terminal<CrosstermBackend<Stdout>>,
    stop: Arc<AtomicBool>,
    refresh: Duration,
    last_draw: Option<Instant>,
    /// The terminal has been restored (by `finish`); no more drawing.
    closed: bool,
}

impl AgentView {
    /// Takes over the terminal on standard output: alternate screen, raw mode, hidden cursor,
    /// and draws the empty view.
    ///
    /// # Errors
    /// [`Error::Sink`] when standard output is not a terminal (the message says so) or the
    /// terminal cannot be set up; the terminal is left as it was.
    pub fn new(options: ViewOptions) -> Result<AgentView, Error> {
        if !io::stdout().is_terminal() {
            return Err(Error::Sink(io::Error::other(
                "the agent view needs a terminal; standard output is not one (run it in a \
                 terminal, or leave out --view and write JSON Lines)",
            )));
        }
        if TERMINAL_TAKEN.swap(true, Ordering::SeqCst) {
            return Err(Error::Sink(io::Error::other(
                "the agent view needs a terminal; another agent view already uses this one",
            )));
        }
        install_panic_hook();
        let setup = || -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
            terminal::enable_raw_mode()?;
            let mut out = io::stdout();
            execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
            let mut terminal = Terminal::new(CrosstermBackend::new(out))?;
            terminal.clear()?;
            Ok(terminal)
        };
        let terminal = setup().map_err(|e| {
            let _ = restore_terminal();
            Error::Sink(e)
        })?;
        let mut view = AgentView {
            state: ViewState::new(options.call_name),
            terminal,
            stop: options.stop,
            refresh: options.refresh,
            last_draw: None,
            closed: false,
        };
        view.draw()?;
        Ok(view)
    }

    /// The model being shown.
    pub fn state(&self) -> &ViewState {
        &self.state
    }

    fn draw(&mut self) -> Result<(), Error> {
        let state = &self.state;
        self.terminal
            .draw(|f| draw::draw(f, state))
            .map_err(Error::Sink)?;
        self.last_draw = Some(Instant::now());
        Ok(())
    }

    /// Reads pending key presses without waiting; quitting keys set the stop flag.
    fn poll_keys(&mut self) -> Result<(), Error> {
        while event::poll(Duration::ZERO).map_err(Error::Sink)? {
            match event::read().map_err(Error::Sink)? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    let quit = matches!(key.code, KeyCode::Char('q' | 'Q') | KeyCode::Esc)
                        || (key.code == KeyCode::Char('c')
                            && key.modifiers.contains(KeyModifiers::CONTROL));
                    if quit {
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
                // The next draw picks up the new size.
                _ => {}
            }
        }
        Ok(())
    }
}

impl Sink for AgentView {
    fn record(&mut self, record: &Record) -> Result<(), Error> {
        if self.closed || !TERMINAL_TAKEN.load(Ordering::SeqCst) {
            // Finished, or a panic elsewhere has already given the terminal back.
            return Ok(());
        }
        self.state.apply(record);
        self.poll_keys()?;
        let urgent = matches!(record, Record::Alert(_) | Record::Summary(_));
        let due = self
            .last_draw
            .is_none_or(|last| last.elapsed() >= self.refresh);
        if urgent || due {
            self.draw()?;
        }
        Ok(())
    }

    fn wants_frames(&self) -> bool {
        true
    }

    fn finish(&mut self) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let drawn = self.draw();
        let restored = restore_terminal().map_err(Error::Sink);
        drawn.and(restored)
    }
}

impl Drop for AgentView {
    fn drop(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = restore_terminal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_to_a_50_ms_refresh() {
        let o = ViewOptions::default();
        assert_eq!(o.refresh, Duration::from_millis(50));
        assert!(!o.stop.load(Ordering::SeqCst));
    }

    #[test]
    fn without_a_terminal_new_says_so() {
        // Under `cargo test` standard output is captured or piped, not a terminal.
        if io::stdout().is_terminal() {
            eprintln!("stdout is a terminal here; skipping the no-terminal check");
            return;
        }
        match AgentView::new(ViewOptions::default()) {
            Err(Error::Sink(e)) => {
                assert!(e.to_string().contains("needs a terminal"), "{e}");
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a view without a terminal"),
        }
        assert!(!TERMINAL_TAKEN.load(Ordering::SeqCst));
    }
}
