//! The console's messages: what worker threads report back ([`Msg`]), and what a pane
//! asks of the shell or of other panes ([`Effect`], queued and handled in order). A pane
//! never reaches into another one: it says what should happen (`OpenLogs`, `Inspect`,
//! `ShowContainers`) and whichever pane does that picks it up.

use std::any::Any;
use std::fmt;

use wharf_engine::api::{ContainerStats, ContainerSummary, ImageSummary, SystemInfo, Volume};
use wharf_engine::events::Event;
use wharf_views::footer::{Level, Notification};
use wharf_views::form::Form;
use wharf_views::networks::NetworkRow;
use wharf_views::run_form::RunForm;
use wharf_views::Load;

use super::api::Call;

/// Which engine lists to read again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lists {
    pub containers: bool,
    pub images: bool,
    pub volumes: bool,
    pub networks: bool,
}

impl Lists {
    pub const NONE: Lists = Lists {
        containers: false,
        images: false,
        volumes: false,
        networks: false,
    };
    pub const ALL: Lists = Lists {
        containers: true,
        images: true,
        volumes: true,
        networks: true,
    };
    pub const CONTAINERS: Lists = Lists {
        containers: true,
        ..Lists::NONE
    };
    pub const IMAGES: Lists = Lists {
        images: true,
        ..Lists::NONE
    };
    pub const VOLUMES: Lists = Lists {
        volumes: true,
        ..Lists::NONE
    };
    pub const NETWORKS: Lists = Lists {
        networks: true,
        ..Lists::NONE
    };

    /// Both sets.
    pub const fn and(self, o: Lists) -> Lists {
        Lists {
            containers: self.containers || o.containers,
            images: self.images || o.images,
            volumes: self.volumes || o.volumes,
            networks: self.networks || o.networks,
        }
    }
}

/// The host's figures for the header.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostFigures {
    /// CPU use in percent of all cores, when the engine could measure it.
    pub cpu_percent: Option<f64>,
    /// (used, total) bytes of memory.
    pub mem: Option<(u64, u64)>,
}

/// A worker's answer for one pane, in that pane's own type (it downcasts).
pub struct PaneMsg(Box<dyn Any + Send>);

impl PaneMsg {
    /// Wrap a pane's own message.
    pub fn new<T: Any + Send>(m: T) -> PaneMsg {
        PaneMsg(Box::new(m))
    }

    /// The message, if it is a `T`.
    pub fn take<T: Any>(self) -> Option<T> {
        self.0.downcast::<T>().ok().map(|b| *b)
    }

    /// The message if it is a `T`; else the message back.
    pub fn take_or_keep<T: Any>(self) -> Result<T, PaneMsg> {
        self.0.downcast::<T>().map(|b| *b).map_err(PaneMsg)
    }
}

impl fmt::Debug for PaneMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaneMsg(..)")
    }
}

/// What a worker thread reports back.
#[derive(Debug)]
pub enum Msg {
    Info {
        info: Result<Box<SystemInfo>, String>,
    },
    Containers {
        load: Load<std::sync::Arc<Vec<ContainerSummary>>>,
    },
    Images {
        load: Load<Vec<ImageSummary>>,
    },
    Volumes {
        load: Load<Vec<Volume>>,
    },
    Networks {
        load: Load<Vec<NetworkRow>>,
    },
    /// An event; `live` is false for the ones read back from the journal at start.
    Event {
        event: Box<Event>,
        live: bool,
    },
    EventsEnded {
        why: String,
    },
    /// A round of the stats stream (running containers).
    Stats {
        batch: Vec<ContainerStats>,
    },
    StatsEnded {
        why: String,
    },
    Host {
        figures: HostFigures,
    },
    /// An action finished: the notification to show, and the lists it changed (read
    /// again at once, so the panes do not wait for the event stream).
    Done {
        note: Notification,
        refresh: Lists,
    },
    /// Progress of a long action (a pull), shown in the footer.
    Progress {
        text: String,
    },
    /// A text to show in a window (image history).
    Show {
        title: String,
        body: String,
    },
    /// An answer for one pane (`to`: its keymap context).
    Pane {
        to: &'static str,
        msg: PaneMsg,
    },
    /// About the console's hosts (reached, pinged, a host's own message).
    Fleet(super::fleet::FleetMsg),
    /// An action done for the teaching mode (its commands, what the engine did).
    Teach(super::teach::Report),
}

/// Something another pane can do; the shell offers it to every pane in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Follow this container's log.
    OpenLogs { id: String, name: String },
    /// Show the containers on this network.
    ShowContainers { network: String },
    /// Inspect an object (`kind`: container, image, network, volume).
    Inspect {
        kind: &'static str,
        id: String,
        title: String,
    },
    /// Select this container once it is listed (after a run).
    SelectContainer { name: String },
}

/// What a text input's value must look like; `None` when it is fine.
pub type Check = Box<dyn Fn(&str) -> Option<String>>;

/// What a text input's value becomes when Enter is pressed.
pub type Answer = Box<dyn FnOnce(String) -> Effect>;

/// A one-line text input a pane asks for.
pub struct Ask {
    pub title: String,
    pub label: String,
    pub value: String,
    pub check: Check,
    pub then: Answer,
}

impl fmt::Debug for Ask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ask")
            .field("title", &self.title)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

/// What a form's values become when Enter is pressed (they are checked first).
pub type Submit = Box<dyn Fn(&[String]) -> Effect>;

/// A form a pane asks for (commit, cp, export, update, network create, connect).
pub struct FormAsk {
    pub form: Form,
    pub then: Submit,
}

impl fmt::Debug for FormAsk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.form.fmt(f)
    }
}

/// A question before a destructive call, naming what will be destroyed.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub question: String,
    /// What `y` does, in a word or three.
    pub yes: String,
    pub then: Call,
    /// Another answer (`a`: all of them).
    pub also: Option<Choice>,
}

impl Confirm {
    /// `question`, y (yes) does `then`.
    pub fn new(title: &str, question: String, then: Call) -> Confirm {
        Confirm {
            title: title.into(),
            question,
            yes: "yes".into(),
            then,
            also: None,
        }
    }
}

/// A second answer a confirmation offers besides `y` (`a`: all of them).
#[derive(Debug, Clone)]
pub struct Choice {
    pub key: char,
    pub label: String,
    pub then: Call,
}

/// What a pane asks for.
#[derive(Debug)]
pub enum Effect {
    /// A notification in the footer (and the console's own log).
    Notify(Notification),
    /// Ask before a destructive call.
    Confirm(Confirm),
    /// A text input.
    Ask(Ask),
    /// A window with a text.
    Show { title: String, body: String },
    /// The run form.
    RunForm(Box<RunForm>),
    /// Another form (commit, update, network create, a registry login, a policy edit).
    Form(Box<FormAsk>),
    /// An engine call on a worker.
    Call(Call),
    /// Show the pane of this keymap context.
    Focus(&'static str),
    /// For whichever pane does it.
    Tell(Message),
    /// A session in a container takes the terminal.
    Handoff(Handoff),
    /// An answer for a pane (`to`: its context), e.g. a search typed in a text input.
    ToPane { to: &'static str, msg: PaneMsg },
    /// Switch to a host (`all`: the fleet view), as `:host NAME` does.
    Host(String),
    /// Put a text on the terminal's clipboard (OSC 52).
    Copy(String),
}

impl Effect {
    /// A notification of `level`.
    pub fn note(level: Level, text: impl Into<String>) -> Effect {
        Effect::Notify(Notification {
            level,
            text: text.into(),
            details: None,
        })
    }
}

/// The terminal handed to a session in a container: the loop suspends the console,
/// runs the session on the real terminal, and takes the terminal back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handoff {
    /// A shell (`exec -it CTR sh`, bash when the image has it).
    Exec { id: String, name: String },
    /// The container's own stdio (`attach`); ctrl-p ctrl-q detaches.
    Attach { id: String, name: String },
    /// `run -it`: create the container with a terminal, start it attached to ours;
    /// `line` is the equivalent command line.
    Run {
        spec: Box<wharf_engine::api::ContainerCreate>,
        line: String,
    },
}
