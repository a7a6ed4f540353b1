//! The networks pane: create, remove, connect and disconnect containers, and the
//! containers on the selected network (in the containers pane).

use std::collections::BTreeMap;

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::policy::Action as Perm;
use wharf_views::networks::{self, NetworkRow};
use wharf_views::run_form::valid_name;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::Call;
use crate::console::msg::{Ask, Confirm, Effect, Message};
use crate::console::store::Store;

pub const CONTAINERS: Action = Action::new(
    "network-containers",
    "the containers on the selected network (in the containers pane)",
)
.short("containers");
pub const CREATE: Action = Action::new("network-create", "create a bridge network")
    .short("create")
    .needs(Perm::NetworkCreate);
pub const REMOVE: Action =
    Action::new("network-remove", "remove the selected network (asks first)")
        .short("remove")
        .needs(Perm::NetworkRemove);
pub const CONNECT: Action = Action::new(
    "network-connect",
    "connect a container to the selected network",
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

    /// Ask for a container to connect to (or disconnect from) `net`.
    fn ask_container(&self, cx: &mut Ctx, net: &NetworkRow, connect: bool) {
        let names = cx.store.container_names();
        let network = net.name.clone();
        let (title, value) = if connect {
            (format!("connect a container to {network}"), String::new())
        } else {
            (
                format!("disconnect a container from {network}"),
                net.containers.first().cloned().unwrap_or_default(),
            )
        };
        cx.emit(Effect::Ask(Ask {
            title,
            label: "container:".into(),
            value,
            check: Box::new(move |v| container_error(&names, v)),
            then: Box::new(move |container| {
                Effect::Call(if connect {
                    Call::Connect { network, container }
                } else {
                    Call::Disconnect { network, container }
                })
            }),
        }));
    }
}

/// Why `v` is not one of `names`, with the names it may have meant.
fn container_error(names: &[String], v: &str) -> Option<String> {
    if names.iter().any(|n| n == v) {
        return None;
    }
    let near: Vec<&str> = names
        .iter()
        .filter(|n| !v.is_empty() && n.starts_with(v))
        .map(String::as_str)
        .take(4)
        .collect();
    Some(if near.is_empty() {
        "the name of a container (see the containers pane)".into()
    } else {
        format!("did you mean {}?", near.join(", "))
    })
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
            CREATE => cx.emit(Effect::Ask(Ask {
                title: "new bridge network".into(),
                label: "name:".into(),
                value: String::new(),
                check: Box::new(|v| {
                    (!valid_name(v))
                        .then(|| "a network name may contain only [a-zA-Z0-9_.-]".to_string())
                }),
                then: Box::new(|name| Effect::Call(Call::CreateNetwork { name })),
            })),
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
            CONNECT | DISCONNECT => {
                if let Some(n) = sel {
                    self.ask_container(cx, n, a == CONNECT);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_name_is_checked_with_suggestions() {
        let names = vec!["srv".to_string(), "srv-2".to_string(), "db".to_string()];
        assert_eq!(container_error(&names, "srv"), None);
        assert_eq!(
            container_error(&names, "sr").as_deref(),
            Some("did you mean srv, srv-2?")
        );
        assert!(container_error(&names, "x")
            .unwrap()
            .contains("name of a container"));
    }
}
