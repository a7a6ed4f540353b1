//! The console's shell: the tabs (the panes of [`TABS`]), the inspect layer, the
//! overlays (help, confirmations, text inputs, windows, the run form), the prompt (`:`
//! commands, `/` filter), and the routing. Keys become actions through the keymap; an
//! action goes to the inspect layer or the pane on screen, and what they leave is the
//! shell's. What panes ask for comes back as [`Effect`]s, done here in order. No
//! terminal here: [`super::ui`] draws the state.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use wharf_engine::policy::EffectiveRole;
use wharf_views::footer::{self, Level, Notification};
use wharf_views::help::{Binding, Section};
use wharf_views::run_form::{Field, RunForm};
use wharf_views::tabs::TabTitle;
use wharf_views::Theme;

use super::actions::{self, Action};
use super::api::Call;
use super::filter::Filter;
use super::keymap::{self, Key, Keymap, Lookup};
use super::msg::{Ask, Confirm, Effect, FormAsk, Handoff, Lists, Message, Msg};
use super::panes::inspect::Inspect;
use super::panes::{self, Ctx, Pane, TABS};
use super::store::Store;
use super::teach::Teach;
use super::worker::Worker;

/// A modal window over the panes.
#[derive(Debug)]
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Confirm(Confirm),
    Input(Ask),
    Message {
        title: String,
        body: String,
    },
    RunForm(Box<RunForm>),
    /// Another form (commit, cp, export, update, network create, connect; a registry
    /// login, a push, a policy edit).
    Form(Box<FormAsk>),
}

/// The one-line prompt at the bottom: the text and its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    None,
    Command(String, Option<String>),
    Filter(String, Option<String>),
}

/// A footer hint: the key and the action's short label.
pub type Hint = (String, String);

/// Which pane: a tab, or the inspect layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Tab(usize),
    Inspect,
}

/// Is `a` allowed for `role`? (The engine checks again.)
pub fn allowed(role: &Option<EffectiveRole>, a: Action) -> bool {
    match (a.permission, role) {
        (Some(p), Some(r)) => r.allows(p),
        _ => true,
    }
}

/// The actions a session in a container stands for (a shell is exec-shell, `run -it`
/// starts and attaches): the role must be allowed each.
fn handoff_actions(h: &Handoff) -> &'static [Action] {
    match h {
        Handoff::Exec { .. } => &[panes::containers::EXEC_SHELL],
        Handoff::Attach { .. } => &[panes::containers::ATTACH],
        Handoff::Run { .. } => &[panes::containers::START, panes::containers::ATTACH],
    }
}

/// The console.
pub struct App {
    pub worker: Worker,
    pub keymap: Keymap,
    pub theme: Theme,
    pub role: Option<EffectiveRole>,
    /// What the console knows of the engine.
    pub store: Store,
    /// The tabs, in [`TABS`] order.
    pub panes: Vec<Box<dyn Pane>>,
    pub tab: usize,
    pub inspect: Inspect,
    pub overlay: Overlay,
    pub prompt: Prompt,
    pending_keys: Vec<Key>,
    /// What panes asked for, done in order.
    queue: VecDeque<Effect>,
    pub note: Option<Notification>,
    /// A session waiting for the terminal (exec shell, attach).
    pub handoff: Option<Handoff>,
    pub mouse: bool,
    pub quit: bool,
    /// Where the last frame was drawn: the whole, the panes, the tab bar.
    pub screen: Rect,
    pub body_area: Rect,
    pub tabs_area: Rect,
    /// The console's hosts (`None`: the one engine it was started on).
    pub fleet: Option<super::fleet::Fleet>,
    /// The teaching mode: commands, trace, journal, replay.
    pub teach: Teach,
}

impl App {
    /// A console on `worker`'s engine with `keymap`; `warning` is shown at start.
    pub fn new(
        worker: Worker,
        keymap: Keymap,
        warning: Option<String>,
        role: Option<EffectiveRole>,
        theme: Theme,
    ) -> App {
        // A bad keymap is said loudly: a window with the error, and the footer.
        let overlay = match &warning {
            Some(w) => Overlay::Message {
                title: "keymap".into(),
                body: w.replacen(": line", ":\nline", 1),
            },
            None => Overlay::None,
        };
        let note = warning.map(|w| Notification {
            level: Level::Warn,
            text: "bad keymap, using the default".into(),
            details: Some(w),
        });
        App {
            worker,
            keymap,
            theme,
            role,
            store: Store::default(),
            panes: panes::all().map(|p| (p.make)()).collect(),
            tab: 0,
            inspect: Inspect::default(),
            overlay,
            prompt: Prompt::None,
            pending_keys: Vec::new(),
            queue: VecDeque::new(),
            note,
            handoff: None,
            mouse: true,
            quit: false,
            screen: Rect::default(),
            body_area: Rect::default(),
            tabs_area: Rect::default(),
            fleet: None,
            teach: Teach::default(),
        }
    }

    /// Ask the engine for everything once, and start following stats and events.
    pub fn start(&mut self) {
        self.store.start(&self.worker);
        self.start_teaching();
    }

    /// Back from a session in a container: say how it ended, reload the containers.
    pub fn after_handoff(&mut self, note: Notification) {
        self.handle_msg(Msg::Done {
            note,
            refresh: Lists::CONTAINERS,
        });
    }

    /// Is an action allowed for the caller's role? (The engine checks again.)
    pub fn allowed(&self, a: Action) -> bool {
        allowed(&self.role, a)
    }

    /// The console's refusal of action `a` when the role may not take it.
    fn refusal(&self, a: Action) -> Option<String> {
        if self.allowed(a) {
            return None;
        }
        let who = self
            .role
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default();
        Some(format!("the role {who} may not {}", a.name))
    }

    /// Does the role only look?
    pub fn read_only(&self) -> bool {
        self.role.as_ref().is_some_and(|r| r.read_only())
    }

    /// The pane on screen (under the inspect layer when it is open).
    pub fn current(&self) -> &dyn Pane {
        self.panes[self.tab].as_ref()
    }

    /// The tabs' titles.
    pub fn tab_titles(&self) -> Vec<TabTitle<'static>> {
        TABS.iter()
            .map(|p| TabTitle {
                title: p.title,
                short: p.short,
            })
            .collect()
    }

    fn which(&self, context: &str) -> Option<Which> {
        if context == panes::inspect::INFO.context {
            return Some(Which::Inspect);
        }
        panes::all()
            .position(|p| p.context == context)
            .map(Which::Tab)
    }

    fn page(&self) -> isize {
        (self.body_area.height.saturating_sub(2)).max(1) as isize
    }

    /// Run `f` on a pane with its context (the store, the keymap, the worker, the queue).
    fn on_pane<R>(&mut self, w: Which, f: impl FnOnce(&mut dyn Pane, &mut Ctx) -> R) -> R {
        let page = self.page();
        let App {
            panes,
            inspect,
            store,
            keymap,
            worker,
            queue,
            ..
        } = self;
        let mut cx = Ctx {
            store,
            keymap,
            worker,
            out: queue,
            page,
        };
        let p: &mut dyn Pane = match w {
            Which::Tab(i) => panes[i].as_mut(),
            Which::Inspect => inspect,
        };
        f(p, &mut cx)
    }

    fn notify(&mut self, level: Level, text: impl Into<String>) {
        self.show(Notification {
            level,
            text: text.into(),
            details: None,
        });
    }

    /// Show a notification (and log it). An error that the footer would cut opens in
    /// a window, whole.
    fn show(&mut self, n: Notification) {
        match n.level {
            Level::Error => tracing::error!("{}", n.details.as_deref().unwrap_or(&n.text)),
            Level::Warn => tracing::warn!("{}", n.text),
            _ => tracing::info!("{}", n.text),
        }
        if n.level == Level::Error
            && self.screen.width > 0
            && matches!(self.overlay, Overlay::None)
            && self.prompt == Prompt::None
        {
            let (hints, help) = self.hints();
            if !footer::note_fits(self.screen.width, &n, &hints, help.as_ref()) {
                let body = match &n.details {
                    Some(d) if !n.text.contains(d.as_str()) => format!("{}\n\n{d}", n.text),
                    _ => n.text.clone(),
                };
                self.overlay = Overlay::Message {
                    title: "error".into(),
                    body,
                };
            }
        }
        self.note = Some(n);
    }

    // ----- what the shell offers -----

    /// Keymap contexts in force, most specific first.
    pub fn contexts(&self) -> Vec<&'static str> {
        let first = if matches!(self.overlay, Overlay::Help { .. }) {
            "help"
        } else if self.inspect.is_open() {
            panes::inspect::INFO.context
        } else {
            self.current().info().context
        };
        vec![first, "list", "global"]
    }

    /// Footer hints: (key, label) of the actions on screen the role may take, most
    /// wanted first; and the help's, which is always shown.
    pub fn hints(&self) -> (Vec<Hint>, Option<Hint>) {
        let ctx = self.contexts()[0];
        let offered: &[Action] = if matches!(self.overlay, Overlay::Help { .. }) {
            &[]
        } else if self.inspect.is_open() {
            panes::inspect::INFO.actions
        } else {
            self.current().info().actions
        };
        let first_key = |k: String| k.split(", ").next().unwrap_or(&k).to_string();
        let hints = offered
            .iter()
            .filter(|a| self.allowed(**a))
            .filter_map(|a| {
                self.keymap
                    .keys_for(&[ctx], *a)
                    .map(|k| (first_key(k), a.short.to_string()))
            })
            .collect();
        let help = self
            .keymap
            .keys_for(&["global"], actions::HELP)
            .map(|k| (first_key(k), "help".to_string()));
        (hints, help)
    }

    /// What the help says an action does (`tab-2`: the pane's name).
    fn describe(a: Action) -> String {
        match actions::TABS.iter().position(|t| *t == a) {
            Some(i) => TABS
                .get(i)
                .map(|p| p.title.to_lowercase())
                .unwrap_or_else(|| "no pane".into()),
            None => a.description.to_string(),
        }
    }

    /// The help, generated from the keymap (actions the role may not take are left out).
    pub fn help_sections(&self) -> Vec<Section> {
        keymap::contexts()
            .iter()
            .map(|(ctx, _)| Section {
                context: ctx.to_string(),
                bindings: self
                    .keymap
                    .context(ctx)
                    .into_iter()
                    .filter(|(_, a)| self.allowed(*a))
                    .map(|(k, a)| Binding {
                        keys: k,
                        action: a.name.into(),
                        description: Self::describe(a),
                    })
                    .collect(),
            })
            .filter(|s| !s.bindings.is_empty())
            .collect()
    }

    /// The text right of the tabs.
    pub fn tab_status(&self) -> String {
        self.current().status(&self.store)
    }

    /// Completions for the `:` line: the panes' names, `help`, `quit`; container names
    /// after a pane's name that takes one (`logs w`).
    pub fn completions(&self, input: &str) -> Vec<String> {
        let mut cmds: Vec<&str> = TABS.iter().map(|p| p.commands[0]).collect();
        cmds.extend(
            panes::MENUS
                .iter()
                .filter(|m| self.may_open(m))
                .map(|m| m.info.commands[0]),
        );
        cmds.extend(["help", "quit", "q"]);
        let with_name: Vec<&str> = TABS
            .iter()
            .filter(|p| p.takes_container)
            .flat_map(|p| p.commands.iter().copied())
            .collect();
        let names: Vec<&str> = self
            .store
            .containers
            .items
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        wharf_views::command::complete(input, &cmds, &with_name, &names)
    }

    // ----- engine messages -----

    /// Apply a worker's message.
    pub fn handle_msg(&mut self, m: Msg) {
        match self.store.apply(m, &self.worker) {
            Ok(applied) => {
                if let Some(w) = applied.warning {
                    self.notify(Level::Warn, w);
                }
            }
            Err(Msg::Done { note, refresh }) => {
                match self.fleet.as_mut().filter(|f| f.all) {
                    Some(f) => f.refresh(refresh),
                    None => self.store.refresh(refresh, &self.worker),
                }
                self.show(note);
            }
            Err(Msg::Fleet(m)) => self.fleet_msg(m),
            Err(Msg::Progress { text }) => {
                self.note = Some(Notification {
                    level: Level::Info,
                    text,
                    details: None,
                })
            }
            Err(Msg::Show { title, body }) => self.overlay = Overlay::Message { title, body },
            Err(Msg::Pane { to, msg }) => {
                if let Some(w) = self.which(to) {
                    self.on_pane(w, |p, cx| p.answer(msg, cx));
                    self.drain();
                }
            }
            Err(Msg::Teach(r)) => self.taught(r),
            Err(other) => tracing::debug!("message for nobody: {other:?}"),
        }
    }

    /// Before each frame: the panes follow what changed; true when one did.
    pub fn sync(&mut self) -> bool {
        let mut changed = self.sync_fleet();
        for i in 0..self.panes.len() {
            let shown = i == self.tab && !self.inspect.is_open();
            changed |= self.on_pane(Which::Tab(i), |p, cx| p.sync(cx, shown));
        }
        self.drain();
        changed
    }

    /// The slow tick: the panes' (the split's log tail), the header's host figures.
    pub fn tick(&mut self) {
        for i in 0..self.panes.len() {
            let shown = i == self.tab && !self.inspect.is_open();
            self.on_pane(Which::Tab(i), |p, cx| p.tick(cx, shown));
        }
        self.drain();
        self.worker.run(|e, c| Msg::Host {
            figures: super::api::host(e, c),
        });
        if let Some(f) = self.fleet.as_mut() {
            f.tick();
        }
    }

    // ----- effects -----

    /// Do what the panes asked for, in order (an effect may queue more).
    fn drain(&mut self) {
        while let Some(e) = self.queue.pop_front() {
            match e {
                Effect::Notify(n) => self.show(n),
                Effect::Confirm(c) => self.overlay = Overlay::Confirm(c),
                Effect::Ask(a) => self.overlay = Overlay::Input(a),
                Effect::Show { title, body } => self.overlay = Overlay::Message { title, body },
                Effect::RunForm(f) => self.overlay = Overlay::RunForm(f),
                Effect::Form(f) => self.overlay = Overlay::Form(f),
                Effect::Call(call) => self.perform(call),
                Effect::Focus(ctx) => {
                    if let Some(Which::Tab(i)) = self.which(ctx) {
                        self.switch_tab(i);
                    }
                }
                Effect::Tell(m) => self.deliver(&m),
                // A session is the actions it stands for: each must be allowed.
                Effect::Handoff(h) => {
                    match handoff_actions(&h).iter().find_map(|&a| self.refusal(a)) {
                        Some(e) => self.notify(Level::Warn, e),
                        None => self.handoff = Some(h),
                    }
                }
                Effect::ToPane { to, msg } => {
                    if let Some(w) = self.which(to) {
                        self.on_pane(w, |p, cx| p.answer(msg, cx));
                    }
                }
                Effect::Host(name) => {
                    if let Err(e) = self.switch_host(&name) {
                        self.notify(Level::Warn, e);
                    }
                }
                Effect::Copy(text) => self.copy(text),
            }
        }
    }

    /// Offer a message to the panes (the inspect layer first) until one takes it.
    fn deliver(&mut self, m: &Message) {
        let all = std::iter::once(Which::Inspect).chain((0..self.panes.len()).map(Which::Tab));
        for w in all {
            if self.on_pane(w, |p, cx| p.receive(m, cx)) {
                return;
            }
        }
        tracing::debug!("no pane took {m:?}");
    }

    /// An engine call on a worker; its outcome comes back as [`Msg::Done`].
    /// (Traced as an action of the teaching mode: its report brings the commands that
    /// do the same and what the engine did.)
    fn perform(&mut self, call: Call) {
        self.perform_taught(call);
    }

    fn switch_tab(&mut self, i: usize) {
        if i < self.panes.len() {
            self.inspect.close();
            self.overlay = Overlay::None;
            self.tab = i;
        }
    }

    // ----- input -----

    /// A key press.
    pub fn handle_key(&mut self, ev: KeyEvent) {
        if ev.kind != crossterm::event::KeyEventKind::Press {
            return;
        }
        // ctrl-c always leaves.
        if ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        if self.handle_modal_key(&ev) {
            self.drain();
            return;
        }
        let Some(k) = Key::from_event(&ev) else {
            return;
        };
        self.pending_keys.push(k);
        let ctx = self.contexts();
        match self.keymap.lookup(&ctx, &self.pending_keys) {
            Lookup::Pending => {}
            Lookup::Action(a) => {
                self.pending_keys.clear();
                self.act(a);
            }
            Lookup::None => {
                // A sequence that went nowhere: try the last key alone.
                let retry = self.pending_keys.len() > 1;
                self.pending_keys.clear();
                if retry {
                    if let Lookup::Action(a) = self.keymap.lookup(&ctx, &[k]) {
                        self.act(a);
                    }
                }
            }
        }
    }

    /// Keys for the prompt, dialogs and forms; true when consumed.
    fn handle_modal_key(&mut self, ev: &KeyEvent) -> bool {
        if self.prompt != Prompt::None {
            self.prompt_key(ev);
            return true;
        }
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match &mut self.overlay {
            Overlay::None | Overlay::Help { .. } => return false,
            Overlay::Message { .. } => {
                if matches!(ev.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
                    self.overlay = Overlay::None;
                }
            }
            Overlay::Confirm(Confirm { then, also, .. }) => match ev.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    let call = then.clone();
                    self.overlay = Overlay::None;
                    self.perform(call);
                }
                KeyCode::Char(c) if also.as_ref().is_some_and(|a| a.key == c) => {
                    let call = also.as_ref().map(|a| a.then.clone());
                    self.overlay = Overlay::None;
                    if let Some(call) = call {
                        self.perform(call);
                    }
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Enter => {
                    self.overlay = Overlay::None
                }
                _ => {}
            },
            Overlay::Input(ask) => match ev.code {
                KeyCode::Esc => self.overlay = Overlay::None,
                // Enter does nothing while the value is wrong (the error shows).
                KeyCode::Enter if (ask.check)(&ask.value).is_none() => {
                    if let Overlay::Input(ask) = std::mem::replace(&mut self.overlay, Overlay::None)
                    {
                        self.queue.push_back((ask.then)(ask.value));
                    }
                }
                KeyCode::Backspace => {
                    ask.value.pop();
                }
                KeyCode::Char('u') if ctrl => ask.value.clear(),
                KeyCode::Char(c) => ask.value.push(c),
                _ => {}
            },
            Overlay::RunForm(form) => match ev.code {
                KeyCode::Esc => self.overlay = Overlay::None,
                KeyCode::Tab | KeyCode::Down => form.move_focus(1),
                KeyCode::BackTab | KeyCode::Up => form.move_focus(-1),
                KeyCode::Left => form.cycle(-1),
                KeyCode::Right => form.cycle(1),
                KeyCode::Backspace => form.backspace(),
                KeyCode::Char('u') if ctrl => form.clear_field(),
                KeyCode::Char(c) => form.type_char(c),
                KeyCode::Enter => {
                    form.submitted = true;
                    match form.to_create() {
                        Ok(spec) => {
                            let line = form.command_line();
                            let mode = form.mode();
                            self.overlay = Overlay::None;
                            tracing::info!("run: {line}");
                            if let Some(name) = spec.name.clone() {
                                self.queue
                                    .push_back(Effect::Tell(Message::SelectContainer { name }));
                            }
                            self.queue
                                .push_back(Effect::Focus(panes::containers::INFO.context));
                            self.queue
                                .push_back(super::forms::start(mode, Box::new(spec), line));
                        }
                        Err((f, _)) => {
                            form.focus = Field::ALL.iter().position(|x| *x == f).unwrap_or(0)
                        }
                    }
                }
                _ => {}
            },
            Overlay::Form(fa) => match super::forms::key(fa, ev) {
                super::forms::Key::Stay => {}
                super::forms::Key::Close => self.overlay = Overlay::None,
                super::forms::Key::Done(e) => {
                    self.overlay = Overlay::None;
                    self.queue.push_back(*e);
                }
            },
        }
        true
    }

    /// A key on the `:` or `/` line.
    fn prompt_key(&mut self, ev: &KeyEvent) {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let (is_cmd, mut s) = match &self.prompt {
            Prompt::Command(s, _) => (true, s.clone()),
            Prompt::Filter(s, _) => (false, s.clone()),
            Prompt::None => return,
        };
        let mut done = false;
        let mut cancel = false;
        match ev.code {
            KeyCode::Esc => cancel = true,
            KeyCode::Enter => done = true,
            // Backspace on an empty filter closes it.
            KeyCode::Backspace if s.is_empty() && !is_cmd => cancel = true,
            KeyCode::Backspace => {
                s.pop();
            }
            KeyCode::Char('u') if ctrl => s.clear(),
            KeyCode::Tab if is_cmd => {
                if let Some(c) = self.completions(&s).first() {
                    s = c.clone();
                }
            }
            KeyCode::Char(c) => s.push(c),
            _ => {}
        }
        if is_cmd {
            self.prompt = Prompt::Command(s.clone(), None);
            if cancel {
                self.prompt = Prompt::None;
            } else if done {
                self.run_command(&s);
            }
            return;
        }
        // The filter applies as it is typed.
        let parsed = Filter::parse(&s);
        let err = parsed.as_ref().err().cloned();
        let tab = self.tab;
        let list = self.panes[tab].list();
        if let (Some(l), Ok(f)) = (list, parsed) {
            l.set_filter(&s, f);
        }
        self.prompt = Prompt::Filter(s, err);
        if cancel {
            if let Some(l) = self.panes[tab].list() {
                l.clear_filter();
            }
            self.prompt = Prompt::None;
        } else if done {
            self.prompt = Prompt::None;
        }
    }

    /// May the role open `m`? (The engine checks every call anyway.)
    fn may_open(&self, m: &panes::Menu) -> bool {
        match (m.needs, &self.role) {
            (Some(p), Some(r)) => r.allows(p),
            _ => true,
        }
    }

    fn run_command(&mut self, s: &str) {
        let s = s.trim();
        let (cmd, arg) = s
            .split_once(' ')
            .map(|(a, b)| (a, b.trim()))
            .unwrap_or((s, ""));
        if let Some(m) = panes::MENUS
            .iter()
            .find(|m| m.info.commands.contains(&cmd) && !self.may_open(m))
        {
            let role = self.role.as_ref().map(|r| r.name.as_str()).unwrap_or("");
            let needs = m.needs.map(|p| p.as_str()).unwrap_or("");
            self.prompt = Prompt::Command(
                s.to_string(),
                Some(format!(
                    "the role {role} may not open :{cmd} (it needs {needs})"
                )),
            );
            return;
        }
        // A pane's name with flags (`:ps -a`, `:logs -f web`, `:trace --all`) is the
        // wharf command of that name; the build pane takes `build`'s flags itself.
        let pane = panes::all().position(|p| p.commands.contains(&cmd));
        let flags_are_its =
            |i: &usize| panes::all().nth(*i).map(|p| p.context) == Some(panes::build::INFO.context);
        if let Some(i) = pane.filter(|i| !arg.starts_with('-') || flags_are_its(i)) {
            // `:stacks up FILE`, `:logs NAME` ... are the pane's actions: the role must
            // be allowed them.
            let needs = self.panes[i].command_action(arg);
            if let Some(e) = needs.and_then(|a| self.refusal(a)) {
                self.prompt = Prompt::Command(s.to_string(), Some(e));
                return;
            }
            match self.on_pane(Which::Tab(i), |p, cx| p.command(arg, cx)) {
                Ok(()) => {
                    self.prompt = Prompt::None;
                    self.switch_tab(i);
                }
                Err(e) => self.prompt = Prompt::Command(s.to_string(), Some(e)),
            }
            self.drain();
            return;
        }
        match cmd {
            "q" | "quit" | "q!" => self.quit = true,
            "host" | "hosts" if !arg.is_empty() => match self.switch_host(arg) {
                Ok(()) => self.prompt = Prompt::None,
                Err(e) => self.prompt = Prompt::Command(s.to_string(), Some(e)),
            },
            "fleet" => match self.switch_host("all") {
                Ok(()) => self.prompt = Prompt::None,
                Err(e) => self.prompt = Prompt::Command(s.to_string(), Some(e)),
            },
            "help" => {
                self.prompt = Prompt::None;
                self.overlay = Overlay::Help { scroll: 0 };
            }
            // Any wharf command, run on the console's engine.
            _ => match self.run_typed(s, false) {
                Ok(()) => self.prompt = Prompt::None,
                Err(e) => self.prompt = Prompt::Command(s.to_string(), Some(e)),
            },
        }
    }

    /// Do an action: the help's scrolling, the inspect layer's or the pane's, else the
    /// shell's.
    pub fn act(&mut self, a: Action) {
        if let Some(e) = self.refusal(a) {
            self.notify(Level::Warn, e);
            return;
        }
        if matches!(self.overlay, Overlay::Help { .. }) {
            self.help_act(a);
        } else {
            let w = if self.inspect.is_open() {
                Which::Inspect
            } else {
                Which::Tab(self.tab)
            };
            if !self.on_pane(w, |p, cx| p.act(a, cx) || p.list_act(a, cx)) {
                self.shell_act(a);
            }
        }
        self.drain();
    }

    /// With the help open: scroll it, close it, or the shell's actions.
    fn help_act(&mut self, a: Action) {
        let delta = match a {
            actions::UP => -1,
            actions::DOWN => 1,
            actions::PAGE_UP => -self.page(),
            actions::PAGE_DOWN => self.page(),
            actions::TOP => -100_000,
            actions::BOTTOM => 100_000,
            actions::BACK | actions::HELP => {
                self.overlay = Overlay::None;
                return;
            }
            _ => return self.shell_act(a),
        };
        // The last lines stay on screen: scrolling stops where the help ends.
        let sections = self.help_sections();
        let width = wharf_views::help::text_width(self.screen);
        let lines = wharf_views::help::lines(&self.theme, &self.keymap.name, &sections, width);
        let max = lines.len().saturating_sub(3) as isize;
        if let Overlay::Help { scroll } = &mut self.overlay {
            *scroll = (*scroll as isize + delta).clamp(0, max) as u16;
        }
    }

    /// The actions no pane took.
    fn shell_act(&mut self, a: Action) {
        match a {
            actions::QUIT => self.quit = true,
            actions::HELP => {
                self.overlay = if matches!(self.overlay, Overlay::Help { .. }) {
                    Overlay::None
                } else {
                    Overlay::Help { scroll: 0 }
                }
            }
            actions::COMMAND => self.prompt = Prompt::Command(String::new(), None),
            actions::FILTER => {
                let tab = self.tab;
                if let Some(l) = self.panes[tab].list() {
                    self.prompt = Prompt::Filter(l.filter_text.clone(), None);
                }
            }
            actions::NEXT_TAB | actions::PREV_TAB => {
                // The tabs cycle; from a menu, next is the first tab and previous the last.
                let n = TABS.len() as isize;
                let d = if a == actions::NEXT_TAB { 1 } else { -1 };
                let from = if self.tab >= TABS.len() {
                    if d > 0 {
                        -1
                    } else {
                        n
                    }
                } else {
                    self.tab as isize
                };
                self.switch_tab((from + d).rem_euclid(n) as usize);
            }
            actions::MOUSE_TOGGLE => {
                self.mouse = !self.mouse;
                self.notify(
                    Level::Info,
                    if self.mouse {
                        "mouse on: click and scroll"
                    } else {
                        "mouse released: select text with it; M takes it back"
                    },
                );
            }
            actions::NOTIFICATION => {
                if let Some(n) = &self.note {
                    self.overlay = Overlay::Message {
                        title: "notification".into(),
                        body: n.details.clone().unwrap_or_else(|| n.text.clone()),
                    };
                }
            }
            actions::BACK => self.overlay = Overlay::None,
            actions::REFRESH => match self.fleet.as_mut().filter(|f| f.all) {
                Some(f) => f.refresh(Lists::ALL),
                None => self.store.refresh_all(&self.worker),
            },
            _ if self.teach_act(a) => {}
            _ => {
                if let Some(i) = actions::TABS.iter().position(|t| *t == a) {
                    self.switch_tab(i);
                }
            }
        }
    }

    /// A mouse event (only delivered while the mouse is captured).
    pub fn handle_mouse(&mut self, m: MouseEvent) {
        match m.kind {
            MouseEventKind::ScrollDown => (0..3).for_each(|_| self.act(actions::DOWN)),
            MouseEventKind::ScrollUp => (0..3).for_each(|_| self.act(actions::UP)),
            MouseEventKind::Down(MouseButton::Left) => {
                if !matches!(self.overlay, Overlay::None) {
                    return;
                }
                if m.row == self.tabs_area.y {
                    let titles = self.tab_titles();
                    let status = self.tab_status();
                    if let Some(i) =
                        wharf_views::tabs::hit(self.tabs_area, &titles, self.tab, &status, m.column)
                    {
                        self.switch_tab(i);
                    }
                    return;
                }
                if self.inspect.is_open() {
                    return;
                }
                let (body, tab) = (self.body_area, self.tab);
                self.on_pane(Which::Tab(tab), |p, cx| p.click(m.column, m.row, body, cx));
                self.drain();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {

    use wharf_engine::api::ContainerCreate;
    use wharf_views::run_form::Mode;

    use super::*;

    fn app_as(dir: &std::path::Path, role: &str) -> App {
        let (worker, _rx) = crate::console::worker::Worker::on_temp_root(dir);
        let mut a = App::new(
            worker,
            Keymap::default_keymap(),
            None,
            None,
            Theme::default(),
        );
        let policy =
            wharf_engine::policy::Policy::parse(std::path::Path::new("policy.json"), "{}").unwrap();
        a.role = policy.role(role).cloned();
        a
    }

    fn note(a: &App) -> String {
        a.note.as_ref().map(|n| n.text.clone()).unwrap_or_default()
    }

    /// A pane's command is the action it stands for: `:stacks up FILE` needs what
    /// stack-up needs (a viewer may not create containers).
    #[test]
    fn a_command_needs_its_actions_permission() {
        let dir = tempfile::tempdir().unwrap();
        let mut viewer = app_as(dir.path(), "viewer");
        viewer.run_command("stacks up x.yml");
        match &viewer.prompt {
            Prompt::Command(s, Some(e)) => {
                assert_eq!(s, "stacks up x.yml");
                assert_eq!(e, "the role viewer may not stack-up");
            }
            _ => panic!("expected a refusal in the prompt"),
        }
        // A viewer may not read logs (they may hold secrets) ...
        viewer.run_command("logs web");
        assert!(
            matches!(&viewer.prompt, Prompt::Command(_, Some(e)) if e == "the role viewer may not logs")
        );
        // ... but may look at a project: that command reaches the pane.
        viewer.run_command("stacks nosuch");
        assert!(
            matches!(&viewer.prompt, Prompt::Command(_, Some(e)) if e.contains("no compose project"))
        );
        // An admin's command reaches the pane (which finds no file).
        let mut admin = app_as(dir.path(), "admin");
        admin.run_command("stacks up x.yml");
        if let Prompt::Command(_, Some(e)) = &admin.prompt {
            assert!(!e.contains("may not"), "{e}");
        }
    }

    /// The run form's interactive mode starts and attaches: a role that may not do
    /// both gets the console's refusal, not a session; so do a shell and an attach.
    #[test]
    fn a_session_needs_the_actions_it_stands_for() {
        let dir = tempfile::tempdir().unwrap();
        let run = || {
            let spec = ContainerCreate {
                image: "alpine".into(),
                ..ContainerCreate::default()
            };
            super::super::forms::start(Mode::Interactive, Box::new(spec), "run -it alpine".into())
        };
        let mut viewer = app_as(dir.path(), "viewer");
        viewer.queue.push_back(run());
        viewer.drain();
        assert!(viewer.handoff.is_none());
        assert_eq!(note(&viewer), "the role viewer may not start");
        for (h, refusal) in [
            (
                Handoff::Exec {
                    id: "c1".into(),
                    name: "web".into(),
                },
                "the role viewer may not exec-shell",
            ),
            (
                Handoff::Attach {
                    id: "c1".into(),
                    name: "web".into(),
                },
                "the role viewer may not attach",
            ),
        ] {
            viewer.queue.push_back(Effect::Handoff(h));
            viewer.drain();
            assert!(viewer.handoff.is_none());
            assert_eq!(note(&viewer), refusal);
        }
        let mut admin = app_as(dir.path(), "admin");
        admin.queue.push_back(run());
        admin.drain();
        assert!(matches!(admin.handoff, Some(Handoff::Run { .. })));
    }
}
