//! The full-screen console (`wharf` with no arguments): a tokio loop over terminal
//! input (crossterm's EventStream), worker messages, signals and a slow tick. Engine
//! calls run on worker threads ([`worker::Worker`]); the loop only redraws when something
//! changed, with synchronized output so the terminal never shows half a frame.

pub mod actions;
pub mod api;
pub mod app;
pub mod filter;
pub mod fleet;
pub mod forms;
pub mod handoff;
pub mod keymap;
pub mod msg;
pub mod panes;
pub mod router;
pub mod store;
pub mod teach;
pub mod ui;
pub mod worker;

use std::io::{self, Stdout};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event as TermEvent, EventStream};
use crossterm::terminal::{
    self, BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use wharf_engine::policy::EffectiveRole;
use wharf_engine::{Caller, Engine};
use wharf_views::Theme;

use app::App;
use keymap::Keymap;
use msg::Msg;
pub use worker::Worker;

type Term = Terminal<CrosstermBackend<Stdout>>;

fn setup_terminal() -> io::Result<Term> {
    terminal::enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, EnableMouseCapture, cursor::Hide)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Take the terminal back after a session: raw mode, the alternate screen, a full redraw.
fn resume_terminal(term: &mut Term, mouse: bool) -> io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        cursor::Hide,
        terminal::Clear(terminal::ClearType::All)
    )?;
    if mouse {
        execute!(io::stdout(), EnableMouseCapture)?;
    }
    // A new terminal has a blank back buffer, so the next frame is drawn whole (its
    // `clear` would ask the terminal for the cursor position, which is not needed here).
    *term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok(())
}

/// Put the terminal back as it was; safe to call more than once.
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// The console's own log: tracing events go to tui-logger's buffer. tui-logger's
/// `init_logger` starts a thread that wakes every 10 ms to move events; the console
/// moves them itself before each frame instead, so an idle console stays asleep.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    tui_logger::set_default_level(tui_logger::LevelFilter::Info);
    let sub = tracing_subscriber::registry().with(tui_logger::TuiTracingSubscriberLayer);
    let _ = tracing::subscriber::set_global_default(sub);
}

/// The console's hosts besides the engine it starts on.
pub struct Hosts {
    /// The host the console starts on (already reached).
    pub first: crate::hosts::HostSpec,
    /// Other known hosts (the hosts file, the docker contexts), reached in the background.
    pub others: Vec<crate::hosts::HostSpec>,
    /// This process's caller.
    pub me: Caller,
    pub open_local: fleet::OpenLocal,
    /// The first host as reached (its kind and version).
    pub first_conn: Option<crate::hosts::Connected>,
}

/// Where the console starts (one value, made once: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Start {
    /// On one engine, already reached.
    One {
        engine: Arc<dyn Engine>,
        caller: Caller,
        role: Option<EffectiveRole>,
        hosts: Hosts,
        session: Session,
    },
    /// On several hosts at once (the fleet view), none reached yet.
    Many {
        chosen: Vec<crate::hosts::HostSpec>,
        others: Vec<crate::hosts::HostSpec>,
        me: Caller,
        open_local: fleet::OpenLocal,
        session: Session,
    },
}

/// Run the console on several hosts at once (`--host` given more than once): the fleet
/// view of `chosen`, with `others` to switch to.
pub fn run_fleet(
    chosen: Vec<crate::hosts::HostSpec>,
    others: Vec<crate::hosts::HostSpec>,
    me: Caller,
    open_local: fleet::OpenLocal,
    keymap_arg: Option<&str>,
    session: Session,
) -> i32 {
    run_start(
        Start::Many {
            chosen,
            others,
            me,
            open_local,
            session,
        },
        keymap_arg,
    )
}

/// What a console session is besides its engine: where its journal goes, who previews
/// whom, whether the engine is a server's, a journal to replay.
#[derive(Debug, Default)]
pub struct Session {
    pub journal_dir: std::path::PathBuf,
    /// The admin behind `--as USER`.
    pub preview_by: Option<String>,
    /// The engine is a `wharf serve` (`--host`).
    pub remote: bool,
    pub replay: Option<teach::Replay>,
}

/// Run the console until the user quits (or a SIGTERM/SIGHUP); returns the exit code.
/// Every engine call it makes is traced (the trace pane, the teaching strip).
pub fn run(
    engine: Arc<dyn Engine>,
    caller: Caller,
    role: Option<EffectiveRole>,
    keymap_arg: Option<&str>,
    hosts: Hosts,
    session: Session,
) -> i32 {
    run_start(
        Start::One {
            engine,
            caller,
            role,
            hosts,
            session,
        },
        keymap_arg,
    )
}

fn run_start(start: Start, keymap_arg: Option<&str>) -> i32 {
    let tracer = wharf_engine::trace::Tracer::default();
    init_logging();
    let (keymap, warning) = Keymap::load(keymap_arg);
    if let Some(w) = &warning {
        tracing::warn!("{w}");
    }
    tracing::info!("console started with keymap {}", keymap.name);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wharf: cannot start the console: {e}");
            return 1;
        }
    };
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev(info);
    }));
    let mut term = match setup_terminal() {
        Ok(t) => t,
        Err(e) => {
            restore_terminal();
            eprintln!("wharf: cannot open the terminal: {e} (the console needs a terminal; try `wharf ps`)");
            return 1;
        }
    };
    let code = rt.block_on(event_loop(&mut term, start, keymap, warning, tracer));
    restore_terminal();
    code
}

/// The app for `start`, its first reads asked for.
fn start_app(
    start: Start,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    keymap: Keymap,
    warning: Option<String>,
    tracer: &wharf_engine::trace::Tracer,
) -> App {
    let traced = |e: Arc<dyn Engine>| -> Arc<dyn Engine> {
        Arc::new(wharf_engine::trace::Traced::new(
            e,
            tracer.clone(),
            "console",
        ))
    };
    match start {
        Start::One {
            engine,
            caller,
            role,
            hosts,
            session,
        } => {
            let mut specs = vec![hosts.first.clone()];
            specs.extend(hosts.others);
            let mut f = fleet::Fleet::new(specs, hosts.me, hosts.open_local, tx.clone());
            f.tracer = Some(tracer.clone());
            let first = hosts.first_conn.unwrap_or_else(|| crate::hosts::Connected {
                engine: engine.clone(),
                caller: caller.clone(),
                role: role.clone(),
                kind: hosts.first.kind.unwrap_or(crate::hosts::Kind::Wharf),
                version: String::new(),
                latency: Duration::ZERO,
                local: None,
            });
            f.set_connected(0, first);
            let worker = f.new_worker(0).unwrap_or(Worker {
                engine: traced(engine),
                caller,
                tx,
            });
            let mut app = App::new(worker, keymap, warning, role, Theme::from_env());
            app.set_session(session, tracer);
            app.start();
            f.connect_all();
            app.fleet = Some(f);
            app
        }
        Start::Many {
            chosen,
            others,
            me,
            open_local,
            session,
        } => {
            let mut specs = chosen;
            specs.extend(others);
            let mut f = fleet::Fleet::new(specs, me, open_local, tx.clone());
            f.tracer = Some(tracer.clone());
            let worker = f.router_worker();
            let mut app = App::new(worker, keymap, warning, None, Theme::from_env());
            app.set_session(session, tracer);
            // The fleet view of the hosts named with --host; the others wait in the hosts pane.
            f.all = true;
            f.dirty = true;
            app.store.fleet_view = true;
            f.connect_all();
            app.fleet = Some(f);
            app
        }
    }
}

async fn event_loop(
    term: &mut Term,
    start: Start,
    keymap: Keymap,
    warning: Option<String>,
    tracer: wharf_engine::trace::Tracer,
) -> i32 {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let mut app = start_app(start, tx, keymap, warning, &tracer);
    let mut input = EventStream::new();
    let (mut term_sig, mut hup_sig) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return 1,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut mouse_on = true;
    let mut dirty = true;
    let mut last_minute = 0;
    loop {
        if app.quit {
            return 0;
        }
        let typed = app.take_terminal();
        if app.handoff.is_some() || typed.is_some() {
            // The terminal goes to a session in a container (or a typed command that
            // needs it), then comes back. Dropping the event stream stops crossterm's
            // reader so it takes none of the keys.
            drop(input);
            restore_terminal();
            let h = app.handoff.take();
            let (note, outcome) = match (h, typed) {
                (Some(h), _) => (
                    Some(handoff::run(
                        app.worker.engine.as_ref(),
                        &app.worker.caller,
                        &h,
                    )),
                    None,
                ),
                (None, Some(t)) => (
                    None,
                    Some(teach::typed::on_terminal(
                        app.worker.engine.clone(),
                        app.worker.caller.clone(),
                        t,
                    )),
                ),
                (None, None) => (None, None),
            };
            if let Err(e) = resume_terminal(term, app.mouse) {
                restore_terminal();
                eprintln!("wharf: cannot take the terminal back: {e}");
                return 1;
            }
            input = EventStream::new();
            if let Some(note) = note {
                app.after_handoff(note);
            }
            if let Some(o) = outcome {
                app.typed_done(o);
            }
            dirty = true;
        }
        if let Some(text) = app.teach.clipboard.take() {
            // OSC 52: the terminal (and tmux, and over SSH) puts it on its clipboard.
            use std::io::Write;
            let mut out = io::stdout();
            let _ = out.write_all(teach::osc52(&text).as_bytes());
            let _ = out.flush();
        }
        if app.mouse != mouse_on {
            mouse_on = app.mouse;
            let _ = if mouse_on {
                execute!(io::stdout(), EnableMouseCapture)
            } else {
                execute!(io::stdout(), DisableMouseCapture)
            };
        }
        dirty |= app.sync();
        if dirty {
            dirty = false;
            tui_logger::move_events();
            let _ = execute!(io::stdout(), BeginSynchronizedUpdate);
            let r = term.draw(|f| ui::draw(f, &mut app));
            let _ = execute!(io::stdout(), EndSynchronizedUpdate);
            if let Err(e) = r {
                tracing::error!("drawing failed: {e}");
                return 1;
            }
        }
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => { app.handle_key(k); dirty = true; }
                Some(Ok(TermEvent::Mouse(m))) => { if app.mouse { app.handle_mouse(m); dirty = true; } }
                Some(Ok(TermEvent::Resize(..))) => { let _ = term.autoresize(); dirty = true; }
                Some(Ok(_)) => {}
                // The terminal went away.
                Some(Err(_)) | None => return 0,
            },
            Some(m) = rx.recv() => {
                app.handle_msg(m);
                // Take whatever else is queued before drawing (a log burst is one frame).
                let mut n = 0;
                while let Ok(m) = rx.try_recv() {
                    app.handle_msg(m);
                    n += 1;
                    if n > 20_000 { break; }
                }
                dirty = true;
            }
            _ = term_sig.recv() => { tracing::info!("SIGTERM"); return 0; }
            _ = hup_sig.recv() => return 0,
            _ = tick.tick() => {
                // The split's log tail, the host figures: off the draw path.
                app.tick();
                // "3 min ago" texts change once a minute.
                let minute = chrono::Utc::now().timestamp() / 60;
                if minute != last_minute {
                    last_minute = minute;
                    dirty = true;
                }
            }
        }
    }
}
