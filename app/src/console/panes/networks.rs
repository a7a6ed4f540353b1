//! The networks pane: create (a form: subnet, gateway, IP range, internal), remove,
//! connect (a form: `--ip`, aliases) and disconnect containers, and the containers on
//! the selected network (in the containers pane).

use std::collections::BTreeMap;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::policy::Action as Perm;
use wharf_views::form::Form;
use wharf_views::forms::container_error;
use wharf_views::forms::network::{ConnectSpec, CreateSpec};
use wharf_views::networks::{self, NetworkRow};

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::Call;
use crate::console::msg::{Ask, Confirm, Effect, FormAsk, Message};
use crate::console::store::Store;

pub const CONTAINERS: Action = Action::new(
    "network-containers",
    "the containers on the selected network (in the containers pane)",
)
.short("containers");
pub const CREATE: Action = Action::new(
    "network-create",
    "create a bridge network (a form: subnet, gateway, IP range, internal)",
)
.short("create")
.needs(Perm::NetworkCreate);
pub const REMOVE: Action =
    Action::new("network-remove", "remove the selected network (asks first)")
        .short("remove")
        .needs(Perm::NetworkRemove);
pub const CONNECT: Action = Action::new(
    "network-connect",
    "connect a container to the selected network (a form: its address, aliases)",
)
.short("connect")
.needs(Perm::NetworkConnect);
pub const DISCONNECT: Action = Action::new(
    "network-disconnect",
    "disconnect a container from the selected network",
)
.short("disconnect")
.needs(Perm::NetworkDisconnect);

pub static INFO: PaneInfo = PaneInfo {
    title: "Networks",
    short: "Net",
    context: "networks",
    commands: &["networks", "net"],
    takes_container: false,
    actions: &[
        CONTAINERS,
        CONNECT,
        DISCONNECT,
        CREATE,
        REMOVE,
        actions::INSPECT,
    ],
    make: || Box::new(Networks::default()),
};

/// The networks pane.
#[derive(Debug, Default)]
pub struct Networks {
    list: ListState,
}

impl Networks {
    /// Networks shown.
    pub fn visible<'s>(&self, store: &'s Store) -> Vec<&'s NetworkRow> {
        let none = BTreeMap::new();
        store
            .networks
            .items
            .iter()
            .filter(|n| {
                self.list
                    .filter
                    .matches(&[&n.name, &n.driver, &n.subnet], &none)
            })
            .collect()
    }

    /// Ask for a container to disconnect from `net`.
    fn ask_disconnect(&self, cx: &mut Ctx, net: &NetworkRow) {
        let names = cx.store.container_names();
        let network = net.name.clone();
        cx.emit(Effect::Ask(Ask {
            title: format!("disconnect a container from {network}"),
            label: "container:".into(),
            value: net.containers.first().cloned().unwrap_or_default(),
            check: Box::new(move |v| container_error(&names, v)),
            then: Box::new(move |container| Effect::Call(Call::Disconnect { network, container })),
        }));
    }

    /// The connect form for `net`: a container, its address and aliases there.
    fn ask_connect(&self, cx: &mut Ctx, net: &NetworkRow) {
        let spec = ConnectSpec {
            network: net.name.clone(),
            subnet: net
                .subnet
                .split(", ")
                .next()
                .unwrap_or_default()
                .to_string(),
            user_defined: !matches!(net.name.as_str(), "bridge" | "host" | "none"),
            containers: cx.store.container_names(),
        };
        let s2 = spec.clone();
        cx.emit(Effect::Form(Box::new(FormAsk {
            form: Form::new(Box::new(spec)),
            then: Box::new(move |v| {
                let (container, opts) = s2.request(v);
                Effect::Call(Call::Connect {
                    network: s2.network.clone(),
                    container,
                    opts: Box::new(opts),
                })
            }),
        })));
    }

    /// The create form (names and subnets of the networks there are, to say a clash).
    fn ask_create(&self, cx: &mut Ctx) {
        let spec = CreateSpec {
            networks: cx
                .store
                .networks
                .items
                .iter()
                .map(|n| (n.name.clone(), n.subnet.clone()))
                .collect(),
        };
        let s2 = spec.clone();
        cx.emit(Effect::Form(Box::new(FormAsk {
            form: Form::new(Box::new(spec)),
            then: Box::new(move |v| {
                Effect::Call(Call::CreateNetwork {
                    spec: Box::new(s2.request(v)),
                })
            }),
        })));
    }
}

impl Pane for Networks {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        let rows = self.visible(cx.store);
        let sel = rows.get(self.list.cursor.selected).copied();
        match a {
            actions::DETAILS | actions::INSPECT => {
                if let Some(n) = sel {
                    cx.tell(Message::Inspect {
                        kind: "network",
                        id: n.name.clone(),
                        title: format!("network {}", n.name),
                    });
                }
            }
            CONTAINERS => {
                if let Some(n) = sel {
                    cx.tell(Message::ShowContainers {
                        network: n.name.clone(),
                    });
                }
            }
            CREATE => self.ask_create(cx),
            REMOVE => {
                if let Some(n) = sel {
                    cx.emit(Effect::Confirm(Confirm::new(
                        "remove",
                        format!("remove network {}?", n.name),
                        Call::RemoveNetwork {
                            name: n.name.clone(),
                        },
                    )));
                }
            }
            CONNECT => {
                if let Some(n) = sel {
                    self.ask_connect(cx, n);
                }
            }
            DISCONNECT => {
                if let Some(n) = sel {
                    self.ask_disconnect(cx, n);
                }
            }
            _ => return false,
        }
        true
    }

    fn list(&mut self) -> Option<&mut ListState> {
        Some(&mut self.list)
    }

    fn len(&self, store: &Store) -> usize {
        self.visible(store).len()
    }

    fn status(&self, store: &Store) -> String {
        format!("{} networks", store.networks.items.len()) + &self.list.filter_status()
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let rows = self.visible(v.store);
        networks::draw(
            f,
            area,
            v.theme,
            &v.store.networks.load,
            &rows,
            &mut self.list.cursor,
            v.focused,
        );
    }
}
