//! Where the command line's output goes: this process's stdout and stderr, or, while
//! the console runs a command typed at its `:` prompt ([`capture`]), buffers the console
//! shows in a window. The CLI itself behaves as before: nothing is captured unless the
//! console asks.
//!
//! The commands print with `println!`, `print!`, `eprintln!` and `eprint!` as usual: in
//! the `cli` modules those names are the macros below (`#[macro_use]` on this module
//! shadows std's), which write through [`stdout`] and [`stderr`]. Code that needs a
//! writer uses [`stdout()`] rather than `std::io::stdout()`, asks [`stdout_is_terminal`]
//! and [`stdin_is_terminal`], and reads answers to prompts with [`read_line`].

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

/// What a captured command wrote, and whether it asked a question it got no answer to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    /// A prompt read a line and found no answer (give one with [`capture`]'s `input`).
    pub asked: bool,
}

struct State {
    got: Captured,
    input: Vec<u8>,
}

/// The capture in force, if any.
static CAPTURE: Mutex<Option<State>> = Mutex::new(None);
/// One captured command at a time.
static RUN: Mutex<()> = Mutex::new(());

fn state() -> std::sync::MutexGuard<'static, Option<State>> {
    CAPTURE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Is the output being captured?
pub fn capturing() -> bool {
    state().is_some()
}

/// Run `f` with the CLI's output captured; `input` is what prompts read (`y\n`).
/// Commands are captured one at a time.
pub fn capture<R>(input: Option<&str>, f: impl FnOnce() -> R) -> (R, Captured) {
    let _one = RUN.lock().unwrap_or_else(|p| p.into_inner());
    *state() = Some(State {
        got: Captured::default(),
        input: input.unwrap_or("").as_bytes().to_vec(),
    });
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            // Even when `f` panics, the capture ends with it.
            let mut s = state();
            if s.as_ref().is_some_and(|_| std::thread::panicking()) {
                *s = None;
            }
        }
    }
    let stop = Stop;
    let r = f();
    drop(stop);
    let got = state().take().map(|s| s.got).unwrap_or_default();
    (r, got)
}

/// The command line's standard output.
pub struct Stdout;

/// The command line's standard error.
pub struct Stderr;

/// The command line's standard output: this process's, or the capture.
pub fn stdout() -> Stdout {
    Stdout
}

/// The command line's standard error: this process's, or the capture.
pub fn stderr() -> Stderr {
    Stderr
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(s) = state().as_mut() {
            s.got.out.extend_from_slice(buf);
            return Ok(buf.len());
        }
        io::stdout().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if capturing() {
            return Ok(());
        }
        io::stdout().flush()
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(s) = state().as_mut() {
            s.got.err.extend_from_slice(buf);
            return Ok(buf.len());
        }
        io::stderr().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if capturing() {
            return Ok(());
        }
        io::stderr().flush()
    }
}

/// Is standard output a terminal? A capture counts as one: its text is shown to a
/// person (so a tar is not written there), though it draws no progress bars
/// ([`capturing`] says so).
pub fn stdout_is_terminal() -> bool {
    capturing() || io::stdout().is_terminal()
}

/// Is standard input a terminal? Under a capture it is the console's: prompts ask
/// (and read [`capture`]'s input), nothing is read from it as data.
pub fn stdin_is_terminal() -> bool {
    capturing() || io::stdin().is_terminal()
}

/// Standard input as data (an archive piped in); under a capture there is none to read.
pub fn stdin_for_data() -> Result<io::StdinLock<'static>, wharf_engine::EngineError> {
    if capturing() {
        return Err(wharf_engine::EngineError::invalid(
            "this reads data from standard input, which a command typed in the console does not have: give a file instead",
        ));
    }
    Ok(io::stdin().lock())
}

/// Read an answer to a prompt: from standard input, or under a capture from its input
/// (none: end of input, and the capture notes that a question went unanswered).
pub fn read_line(buf: &mut String) -> io::Result<usize> {
    {
        let mut s = state();
        if let Some(s) = s.as_mut() {
            if s.input.is_empty() {
                s.got.asked = true;
                return Ok(0);
            }
            let end = s
                .input
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(s.input.len());
            let line: Vec<u8> = s.input.drain(..end).collect();
            let text = String::from_utf8_lossy(&line);
            buf.push_str(&text);
            return Ok(line.len());
        }
    }
    io::stdin().read_line(buf)
}

/// `println!` for the command line: through [`stdout`].
macro_rules! println {
    () => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::out::stdout());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::out::stdout(), $($t)*);
    }};
}

/// `print!` for the command line: through [`stdout`].
macro_rules! print {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!($crate::cli::out::stdout(), $($t)*);
    }};
}

/// `eprintln!` for the command line: through [`stderr`].
macro_rules! eprintln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::out::stderr());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::out::stderr(), $($t)*);
    }};
}

/// `eprint!` for the command line: through [`stderr`].
macro_rules! eprint {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!($crate::cli::out::stderr(), $($t)*);
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_answers_go_through_the_capture_only_while_it_lasts() {
        let ((), got) = capture(None, || {
            println!("hello {}", 1);
            print!("no newline");
            eprintln!("an error");
            let mut l = String::new();
            assert_eq!(read_line(&mut l).unwrap(), 0);
            assert!(stdout_is_terminal() && stdin_is_terminal());
        });
        assert_eq!(String::from_utf8_lossy(&got.out), "hello 1\nno newline");
        assert_eq!(String::from_utf8_lossy(&got.err), "an error\n");
        assert!(got.asked);
        assert!(!capturing());
        let ((), got) = capture(Some("y\n"), || {
            let mut l = String::new();
            read_line(&mut l).unwrap();
            assert_eq!(l, "y\n");
        });
        assert!(!got.asked);
    }
}
