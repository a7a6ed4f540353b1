//! The build pane (`:build PATH [-t NAME]... [-f FILE] [--no-cache] [--target T]
//! [--build-arg K=V]`, or `b` on the images pane): a Dockerfile build, live. The line
//! is read by `wharf build`'s own flags ([`crate::cli::build::BuildLine`]) and made
//! into the engine's options by the same code; the build is a [`Call::Build`] on a
//! worker (so the teaching mode shows its command), its events coming back here as
//! they happen. `c` cancels it: the sink answers `false`, the engine stops the step
//! and removes its container. Leaving the console cancels a running build the same way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::policy::Action as Perm;
use wharf_views::build::{BuildState, Outcome};
use wharf_views::footer::Level;

use super::{Ctx, Pane, PaneInfo, View};
use crate::cli::build::{options, refused, BuildLine};
use crate::console::actions::{self, Action};
use crate::console::api::{BuildFeed, BuildLink, Call};
use crate::console::forms::{checked, Field};
use crate::console::msg::{Effect, PaneMsg};
use crate::console::store::Store;

pub const NEW: Action = Action::new(
    "build-new",
    "build an image from a Dockerfile: asks for the directory and a tag",
)
.short("build")
.needs(Perm::ImageBuild);
pub const CANCEL: Action = Action::new(
    "build-cancel",
    "cancel the running build (its step's container is removed; no image is made)",
)
.short("cancel")
.needs(Perm::ImageBuild);

pub static INFO: PaneInfo = PaneInfo {
    title: "Build",
    short: "Build",
    context: "build",
    commands: &["build"],
    takes_container: false,
    actions: &[CANCEL, NEW],
    make: || Box::new(Build::default()),
};

/// A build line the form made (its words after `build`).
struct Start(Vec<String>);

/// The build pane.
#[derive(Debug, Default)]
pub struct Build {
    build: Option<BuildState>,
    /// The running build's number (answers of older ones are dropped) and its cancel.
    serial: u64,
    cancel: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
}

/// Leaving the console cancels a running build and waits (a few seconds at most) for
/// the engine to remove its step's container.
impl Drop for Build {
    fn drop(&mut self) {
        if !self.running() || self.ended.load(Ordering::SeqCst) {
            return;
        }
        self.cancel.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.ended.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The first line of a clap error, without its `error: `.
fn clap_error(e: &clap::Error) -> String {
    let s = e.to_string();
    let first = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first.trim_start_matches("error: ").trim().to_string()
}

/// The form `b` opens: a directory and a tag.
pub fn form() -> Effect {
    let dir = ".";
    let form = checked(
        "build an image",
        vec![
            Field::new("directory", dir).hint("the build context (holds the Dockerfile)"),
            Field::new("tag", "").hint("name[:tag], e.g. myapp:1 (optional)"),
        ],
        "build",
        Box::new(|v| {
            let d = v[0].trim();
            if d.is_empty() {
                return Err((Some(0), "the directory to build".into()));
            }
            if !std::path::Path::new(d).is_dir() {
                return Err((Some(0), format!("{d}: no such directory")));
            }
            let t = v[1].trim();
            if !t.is_empty() {
                if let Err(e) = wharf_engine::image::Reference::parse(t) {
                    return Err((Some(1), e.to_string()));
                }
            }
            Ok(if t.is_empty() {
                format!("wharf build {d}")
            } else {
                format!("wharf build -t {t} {d}")
            })
        }),
        Box::new(|v| {
            let mut w = Vec::new();
            if !v[1].trim().is_empty() {
                w.extend(["-t".to_string(), v[1].trim().to_string()]);
            }
            w.push(v[0].trim().to_string());
            Effect::ToPane {
                to: INFO.context,
                msg: PaneMsg::new(Start(w)),
            }
        }),
    );
    Effect::Form(Box::new(form))
}

impl Build {
    fn running(&self) -> bool {
        self.build.as_ref().is_some_and(|b| b.running())
    }

    /// Start a build from `build`'s words (flags and the context).
    fn start(&mut self, words: Vec<String>, cx: &mut Ctx) -> Result<(), String> {
        if self.running() {
            let k = cx
                .keys_for(INFO.context, CANCEL)
                .unwrap_or_else(|| "c".into());
            return Err(format!("a build is running: wait, or cancel it ({k})"));
        }
        let line = BuildLine::try_parse_from(std::iter::once("build".to_string()).chain(words))
            .map_err(|e| clap_error(&e))?;
        let a = line.args;
        if let Some(why) = refused(&a) {
            return Err(why);
        }
        if let Some(why) = pane_refusal(&a) {
            return Err(why);
        }
        if a.context == "-" {
            return Err("the console builds a directory: give its path".into());
        }
        if a.file.as_deref() == Some("-") {
            return Err("-f -: the console cannot read standard input; give the file".into());
        }
        if !std::path::Path::new(&a.context).is_dir() {
            return Err(format!("{}: no such directory", a.context));
        }
        let opts = options(&a, &mut false).map_err(|e| e.to_string())?;
        self.serial += 1;
        self.cancel = Arc::new(AtomicBool::new(false));
        self.ended = Arc::new(AtomicBool::new(false));
        self.build = Some(BuildState::new(&a.context, &a.tags));
        let link = BuildLink {
            serial: self.serial,
            to: INFO.context,
            cancel: self.cancel.clone(),
            ended: self.ended.clone(),
            tx: Some(cx.worker.tx.clone()),
        };
        cx.emit(Effect::Call(Call::Build {
            context: a.context,
            file: a.file,
            opts: Box::new(opts),
            link: Box::new(link),
        }));
        cx.emit(Effect::Focus(INFO.context));
        Ok(())
    }
}

impl Pane for Build {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        let page = cx.page;
        match a {
            NEW => cx.emit(form()),
            CANCEL => {
                if self.running() {
                    self.cancel.store(true, Ordering::SeqCst);
                    if let Some(b) = &mut self.build {
                        b.cancelling = true;
                    }
                } else {
                    cx.emit(Effect::note(Level::Info, "no build is running"));
                }
            }
            actions::BACK => cx.emit(Effect::Focus(super::images::INFO.context)),
            _ => {
                let Some(b) = self.build.as_mut() else {
                    return false;
                };
                match a {
                    actions::UP => b.scroll_by(-1),
                    actions::DOWN => b.scroll_by(1),
                    actions::PAGE_UP => b.scroll_by(-page),
                    actions::PAGE_DOWN => b.scroll_by(page),
                    actions::TOP => b.scroll = usize::MAX / 2,
                    actions::BOTTOM => b.scroll = 0,
                    _ => return false,
                }
            }
        }
        true
    }

    fn answer(&mut self, m: PaneMsg, cx: &mut Ctx) {
        let m = match m.take_or_keep::<Start>() {
            Ok(Start(words)) => {
                if let Err(e) = self.start(words, cx) {
                    cx.emit(Effect::note(Level::Warn, e));
                }
                return;
            }
            Err(m) => m,
        };
        let Some(f) = m.take::<BuildFeed>() else {
            return;
        };
        let serial = self.serial;
        let Some(b) = self.build.as_mut() else { return };
        match f {
            BuildFeed::Event { serial: s, event } if s == serial => b.event(&event),
            BuildFeed::End {
                serial: s,
                result,
                cancelled,
            } if s == serial => b.finish(match result {
                Ok(r) => Outcome::Built {
                    image_id: r.image_id,
                    tags: r.tags,
                },
                Err(_) if cancelled => Outcome::Cancelled,
                Err(e) => Outcome::Failed(e),
            }),
            _ => {}
        }
    }

    fn command_action(&self, arg: &str) -> Option<Action> {
        (!arg.trim().is_empty()).then_some(NEW)
    }

    /// `:build PATH [flags]`; `:build` alone shows the last build.
    fn command(&mut self, arg: &str, cx: &mut Ctx) -> Result<(), String> {
        if arg.trim().is_empty() {
            return Ok(());
        }
        let words = shlex::split(arg).ok_or("unbalanced quotes")?;
        self.start(words, cx)
    }

    /// A menu names itself in the status: `Build · step 2/3 · building`.
    fn status(&self, _store: &Store) -> String {
        match &self.build {
            Some(b) => format!("{} · {}", INFO.title, b.status()),
            None => INFO.title.to_string(),
        }
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let k = v
            .key_if_allowed(super::images::INFO.context, NEW)
            .map(|k| format!("Press {k} on the images pane, or type :build DIR -t NAME"))
            .unwrap_or_else(|| "Type :build DIR -t NAME".into());
        wharf_views::build::draw(f, area, v.theme, self.build.as_ref(), &k);
    }
}

/// Flags about the terminal's output have no meaning in the pane: refused by name,
/// never ignored.
fn pane_refusal(a: &crate::cli::build::BuildArgs) -> Option<String> {
    if a.quiet {
        return Some("-q: the pane shows every step and the image id at the end; wharf build -q in a shell prints the id alone".into());
    }
    if a.iidfile.is_some() {
        return Some("--iidfile: the pane shows the image id at the end; wharf build --iidfile in a shell writes it to a file".into());
    }
    if a.progress != "auto" {
        return Some(format!(
            "--progress {}: the pane is the build's view; wharf build --progress in a shell picks the terminal's",
            a.progress
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_flags_are_refused_by_name() {
        for (flag, what) in [
            (vec!["-q"], "-q"),
            (vec!["--iidfile", "/tmp/id"], "--iidfile"),
            (vec!["--progress", "plain"], "--progress plain"),
        ] {
            let words = ["build"].into_iter().chain(flag).chain(["."]);
            let a = BuildLine::try_parse_from(words).unwrap().args;
            let why = pane_refusal(&a).expect("refused");
            assert!(why.starts_with(what), "{why}");
        }
        let a = BuildLine::try_parse_from(["build", "-t", "x", "."])
            .unwrap()
            .args;
        assert_eq!(pane_refusal(&a), None);
    }

    #[test]
    fn clap_errors_are_one_line() {
        let e = BuildLine::try_parse_from(["build", "--bogus", "."]).unwrap_err();
        let s = clap_error(&e);
        assert!(s.contains("--bogus"), "{s}");
        assert!(!s.contains('\n'));
    }
}
