//! The volumes pane: create, remove, and prune, whose question names the volumes that
//! will go (the engine's prune takes unused anonymous volumes, named ones only with
//! `all`).

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::api::Volume;
use wharf_engine::policy::Action as Perm;
use wharf_views::footer::Level;
use wharf_views::run_form::valid_name;
use wharf_views::util::short_id;
use wharf_views::volumes::{self, VolumeRow};
use wharf_views::Load;

use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::Call;
use crate::console::msg::{Ask, Choice, Confirm, Effect, Message};
use crate::console::store::Store;

pub const CREATE: Action = Action::new("volume-create", "create a volume")
    .short("create")
    .needs(Perm::VolumeCreate);
pub const REMOVE: Action = Action::new("volume-remove", "remove the selected volume (asks first)")
    .short("remove")
    .needs(Perm::VolumeRemove);
pub const PRUNE: Action = Action::new(
    "volume-prune",
    "remove unused volumes: anonymous ones, or named ones too (asks first)",
)
.short("prune")
.needs(Perm::VolumePrune);

pub static INFO: PaneInfo = PaneInfo {
    title: "Volumes",
    short: "Vol",
    context: "volumes",
    commands: &["volumes", "vol"],
    takes_container: false,
    actions: &[CREATE, REMOVE, PRUNE, actions::INSPECT, actions::DISK_USAGE],
    make: || Box::new(Volumes::default()),
};

/// The volumes pane.
#[derive(Debug, Default)]
pub struct Volumes {
    list: ListState,
}

impl Volumes {
    /// Volumes shown.
    pub fn visible<'s>(&self, store: &'s Store) -> Vec<&'s Volume> {
        store
            .volumes
            .items
            .iter()
            .filter(|v| {
                self.list
                    .filter
                    .matches(&[&v.name, &v.mountpoint], &v.labels)
            })
            .collect()
    }
}

/// The prune question for these volumes: `None` when nothing is unused. Anonymous
/// volumes show by short id.
pub fn prune_question(vols: &[Volume]) -> Option<Effect> {
    let unused = |anonymous: bool| -> Vec<&str> {
        vols.iter()
            .filter(|v| v.anonymous == anonymous && v.usage_data.is_some_and(|u| u.ref_count == 0))
            .map(|v| {
                if anonymous {
                    short_id(&v.name)
                } else {
                    v.name.as_str()
                }
            })
            .collect()
    };
    let (anon, named) = (unused(true), unused(false));
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            format!("{n} {many}")
        }
    };
    let all = Call::PruneVolumes { all: true };
    let (question, then, also) = match (anon.is_empty(), named.is_empty()) {
        (true, true) => return None,
        (false, true) => (
            format!(
                "remove {}: {}?",
                plural(
                    anon.len(),
                    "the unused anonymous volume",
                    "unused anonymous volumes"
                ),
                anon.join(", ")
            ),
            Call::PruneVolumes { all: false },
            None,
        ),
        (false, false) => (
            format!(
                "remove {}: {}? Unused named volumes are kept ({}); a removes them too.",
                plural(
                    anon.len(),
                    "the unused anonymous volume",
                    "unused anonymous volumes"
                ),
                anon.join(", "),
                named.join(", ")
            ),
            Call::PruneVolumes { all: false },
            Some(Choice {
                key: 'a',
                label: format!("all {} unused", anon.len() + named.len()),
                then: all,
            }),
        ),
        (true, false) => (
            format!(
                "no anonymous volume is unused. Remove {} and {}: {}?",
                plural(
                    named.len(),
                    "the unused named volume",
                    "unused named volumes"
                ),
                if named.len() == 1 {
                    "its data"
                } else {
                    "their data"
                },
                named.join(", ")
            ),
            all,
            None,
        ),
    };
    Some(Effect::Confirm(Confirm {
        also,
        ..Confirm::new("prune volumes", question, then)
    }))
}

impl Pane for Volumes {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        let rows = self.visible(cx.store);
        let sel = rows.get(self.list.cursor.selected).copied();
        match a {
            actions::DISK_USAGE => cx.emit(Effect::Call(Call::DiskUsage)),
            actions::DETAILS | actions::INSPECT => {
                if let Some(v) = sel {
                    cx.tell(Message::Inspect {
                        kind: "volume",
                        id: v.name.clone(),
                        title: format!("volume {}", v.name),
                    });
                }
            }
            CREATE => cx.emit(Effect::Ask(Ask {
                title: "new volume".into(),
                label: "name (empty: random):".into(),
                value: String::new(),
                check: Box::new(|v| {
                    (!v.is_empty() && !valid_name(v))
                        .then(|| "a volume name may contain only [a-zA-Z0-9_.-]".to_string())
                }),
                then: Box::new(|v| {
                    Effect::Call(Call::CreateVolume {
                        name: (!v.is_empty()).then_some(v),
                    })
                }),
            })),
            REMOVE => {
                if let Some(v) = sel {
                    cx.emit(Effect::Confirm(Confirm::new(
                        "remove",
                        format!("remove volume {} and its data?", v.name),
                        Call::RemoveVolume {
                            name: v.name.clone(),
                        },
                    )));
                }
            }
            PRUNE => match prune_question(&cx.store.volumes.items) {
                Some(q) => cx.emit(q),
                None => cx.emit(Effect::note(
                    Level::Info,
                    "no volume is unused: nothing to prune",
                )),
            },
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
        format!("{} volumes", store.volumes.items.len()) + &self.list.filter_status()
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let load = match &v.store.volumes.load {
            Load::Ready(()) => Load::Ready(
                self.visible(v.store)
                    .into_iter()
                    .map(|v| VolumeRow {
                        name: v.name.clone(),
                        driver: v.driver.clone(),
                        mountpoint: v.mountpoint.clone(),
                        size: v.usage_data.map(|u| u.size),
                        used_by: v.usage_data.map(|u| u.ref_count),
                    })
                    .collect(),
            ),
            other => other.clone().map(|()| Vec::new()),
        };
        volumes::draw(f, area, v.theme, &load, &mut self.list.cursor, v.focused);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine::api::VolumeUsage;

    fn vol(name: &str, anonymous: bool, users: u64) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            mountpoint: String::new(),
            created_at: String::new(),
            labels: Default::default(),
            scope: "local".into(),
            options: Default::default(),
            usage_data: Some(VolumeUsage {
                size: 0,
                ref_count: users,
            }),
            owner: 0,
            project: None,
            anonymous,
        }
    }

    fn question(vols: &[Volume]) -> (String, Call, Option<Call>) {
        match prune_question(vols) {
            Some(Effect::Confirm(Confirm {
                question,
                then,
                also,
                ..
            })) => (question, then, also.map(|c| c.then)),
            other => panic!("expected a question, got {other:?}"),
        }
    }

    /// Reported: "remove unused anonymous volumes (of: vol2)?" for a named volume,
    /// then 0 pruned. The question names what goes, and the call does exactly that.
    #[test]
    fn prune_says_what_it_removes_and_does_it() {
        let anon = "f".repeat(64);
        assert!(prune_question(&[vol("used", false, 1)]).is_none());
        let (q, then, also) = question(&[vol("vol2", false, 0), vol("used", true, 1)]);
        assert_eq!(
            q,
            "no anonymous volume is unused. Remove the unused named volume and its data: vol2?"
        );
        assert_eq!((then, also), (Call::PruneVolumes { all: true }, None));
        let (q, then, also) = question(&[vol(&anon, true, 0)]);
        assert_eq!(q, "remove the unused anonymous volume: ffffffffffff?");
        assert_eq!((then, also), (Call::PruneVolumes { all: false }, None));
        let (q, then, also) =
            question(&[vol(&anon, true, 0), vol("a", false, 0), vol("b", false, 0)]);
        assert!(q.contains("kept (a, b); a removes them too"), "{q}");
        assert_eq!(
            (then, also),
            (
                Call::PruneVolumes { all: false },
                Some(Call::PruneVolumes { all: true })
            )
        );
    }
}
