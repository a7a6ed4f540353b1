//! The images pane: one row per reference; remove (marks for several), tag, pull, prune,
//! history, the offline demo image, a build from a Dockerfile (in the build pane), and
//! the run form for the selected image.

use std::collections::{BTreeMap, HashSet};

use ratatui::layout::Rect;
use ratatui::Frame;
use wharf_engine::policy::Action as Perm;
use wharf_views::images::{self, ImageRow};
use wharf_views::run_form::Field;
use wharf_views::util::short_id;

use super::containers::ImageCmds;
use super::{Ctx, ListState, Pane, PaneInfo, View};
use crate::console::actions::{self, Action};
use crate::console::api::Call;
use crate::console::msg::{Ask, Check, Confirm, Effect, Message, PaneMsg};
use crate::console::store::Store;

pub const REMOVE: Action = Action::new(
    "image-remove",
    "remove the selected or marked images (asks first)",
)
.short("remove")
.needs(Perm::ImageRemove);
pub const TAG: Action = Action::new("image-tag", "tag the selected image")
    .short("tag")
    .needs(Perm::ImageTag);
pub const PRUNE: Action = Action::new("image-prune", "remove dangling images (asks first)")
    .short("prune")
    .needs(Perm::ImagePrune);
pub const DEMO: Action = Action::new(
    "image-demo",
    "build the offline demo image wharf/demo:latest",
)
.short("demo")
.needs(Perm::ImageLoad);
pub const HISTORY: Action = Action::new("history", "the selected image's layers");
pub const PULL: Action =
    Action::new("pull", "pull an image from a registry, with progress").needs(Perm::ImagePull);

pub static INFO: PaneInfo = PaneInfo {
    title: "Images",
    short: "Img",
    context: "images",
    commands: &["images", "i"],
    takes_container: false,
    actions: &[
        actions::RUN_FORM,
        REMOVE,
        PULL,
        super::build::NEW,
        TAG,
        actions::INSPECT,
        HISTORY,
        PRUNE,
        DEMO,
        actions::DISK_USAGE,
        actions::MARK,
        actions::MARK_ALL,
    ],
    make: || Box::new(Images::default()),
};

/// The demo image's reference.
const DEMO_REF: &str = "wharf/demo:latest";

/// The images pane.
#[derive(Debug, Default)]
pub struct Images {
    list: ListState,
    /// Marked rows, by reference.
    marked: HashSet<String>,
    seen_rev: u64,
    image_cmds: ImageCmds,
}

impl Images {
    /// Image rows shown.
    pub fn visible<'s>(&self, store: &'s Store) -> Vec<ImageRow<'s>> {
        let none = BTreeMap::new();
        images::rows(&store.images.items)
            .into_iter()
            .filter(|r| {
                self.list
                    .filter
                    .matches(&[&r.reference, &r.image.id], &none)
            })
            .collect()
    }

    /// What the engine calls the selected row: its reference, or its id when untagged.
    fn selected_ref(&self, store: &Store) -> Option<String> {
        self.visible(store)
            .get(self.list.cursor.selected)
            .map(engine_ref)
    }

    fn ask_remove(&self, cx: &mut Ctx) {
        let mut refs: Vec<String> = self.marked.iter().cloned().collect();
        refs.sort();
        if refs.is_empty() {
            refs.extend(self.selected_ref(cx.store));
        }
        if refs.is_empty() {
            return;
        }
        let what = if refs.len() == 1 {
            format!("image {}", refs[0])
        } else {
            format!("{} images: {}", refs.len(), refs.join(", "))
        };
        cx.emit(Effect::Confirm(Confirm::new(
            "remove",
            format!("remove {what}?"),
            Call::RemoveImages { refs },
        )));
    }

    fn ask_prune(&self, cx: &mut Ctx) {
        let dangling: Vec<&str> = cx
            .store
            .images
            .items
            .iter()
            .filter(|i| i.repo_tags.is_empty() && i.containers == 0)
            .map(|i| short_id(&i.id))
            .collect();
        let q = if dangling.is_empty() {
            "remove dangling images? (none are listed right now)".to_string()
        } else {
            format!(
                "remove {} dangling images: {}?",
                dangling.len(),
                dangling.join(", ")
            )
        };
        cx.emit(Effect::Confirm(Confirm::new(
            "prune images",
            q,
            Call::PruneImages,
        )));
    }
}

/// The reference the engine takes for a row (the id of an untagged image).
fn engine_ref(r: &ImageRow) -> String {
    if r.reference == "<none>:<none>" {
        r.image.id.clone()
    } else {
        r.reference.clone()
    }
}

fn no_spaces(what: &'static str) -> Check {
    Box::new(move |v| (v.trim().is_empty() || v.contains(char::is_whitespace)).then(|| what.into()))
}

impl Pane for Images {
    fn info(&self) -> &'static PaneInfo {
        &INFO
    }

    fn act(&mut self, a: Action, cx: &mut Ctx) -> bool {
        let store = cx.store;
        let rows = self.visible(store);
        let sel = rows.get(self.list.cursor.selected);
        match a {
            super::build::NEW => cx.emit(super::build::form()),
            actions::DETAILS | actions::INSPECT => {
                if let Some(r) = sel {
                    cx.tell(Message::Inspect {
                        kind: "image",
                        id: r.image.id.clone(),
                        title: format!("image {}", r.reference),
                    });
                }
            }
            actions::MARK => {
                if let Some(r) = sel.map(|r| r.reference.clone()) {
                    if !self.marked.remove(&r) {
                        self.marked.insert(r);
                    }
                    self.list.cursor.step(1, rows.len());
                }
            }
            actions::MARK_ALL => {
                if self.marked.is_empty() {
                    self.marked = rows.iter().map(|r| r.reference.clone()).collect();
                } else {
                    self.marked.clear();
                }
            }
            actions::DISK_USAGE => cx.emit(Effect::Call(Call::DiskUsage)),
            actions::RUN_FORM => {
                let mut form = self.image_cmds.run_form(store);
                if let Some(r) = sel.filter(|r| r.reference != "<none>:<none>") {
                    form.set(Field::Image, &r.reference);
                    form.focus = 1;
                }
                cx.emit(Effect::RunForm(Box::new(form)));
            }
            REMOVE => self.ask_remove(cx),
            TAG => {
                if let Some(src) = sel.map(engine_ref) {
                    cx.emit(Effect::Ask(Ask {
                        title: format!("tag {src}"),
                        label: "new reference:".into(),
                        value: String::new(),
                        check: no_spaces("a reference like name:tag, without spaces"),
                        then: Box::new(move |dst| Effect::Call(Call::TagImage { src, dst })),
                    }));
                }
            }
            PRUNE => self.ask_prune(cx),
            DEMO => cx.emit(Effect::Call(Call::DemoImage {
                reference: DEMO_REF.into(),
            })),
            HISTORY => {
                if let Some(reference) = sel.map(engine_ref) {
                    cx.emit(Effect::Call(Call::ImageHistory { reference }));
                }
            }
            PULL => cx.emit(Effect::Ask(Ask {
                title: "pull".into(),
                label: "reference:".into(),
                value: String::new(),
                check: no_spaces("no spaces, please"),
                then: Box::new(|reference| Effect::Call(Call::PullImage { reference })),
            })),
            actions::BACK if !self.list.clear_filter() => {
                if self.marked.is_empty() {
                    return false;
                }
                self.marked.clear();
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
        let mut s = format!("{} images", store.images.items.len());
        if !self.marked.is_empty() {
            s.push_str(&format!(" · {} marked", self.marked.len()));
        }
        s + &self.list.filter_status()
    }

    fn answer(&mut self, m: PaneMsg, _cx: &mut Ctx) {
        let _ = self.image_cmds.answer(m);
    }

    /// Marks of references that are gone (removed) go too.
    fn sync(&mut self, cx: &mut Ctx, shown: bool) -> bool {
        if shown {
            self.image_cmds.sync(cx, INFO.context);
        }
        if cx.store.images.rev == self.seen_rev {
            return false;
        }
        self.seen_rev = cx.store.images.rev;
        if !self.marked.is_empty() {
            let refs: HashSet<String> = images::rows(&cx.store.images.items)
                .into_iter()
                .map(|r| r.reference)
                .collect();
            self.marked.retain(|m| refs.contains(m));
        }
        true
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, v: &View) {
        let rows = self.visible(v.store);
        let demo_key = v.key_if_allowed(INFO.context, DEMO);
        let m = images::Model {
            load: &v.store.images.load,
            rows: &rows,
            total: v.store.images.items.len(),
            marked: &self.marked,
            filter: &self.list.filter_text,
            demo_key: demo_key.as_deref(),
            now: v.now,
            focused: v.focused,
        };
        images::draw(f, area, v.theme, &m, &mut self.list.cursor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_rows_are_named_by_id() {
        let img = wharf_engine::api::ImageSummary {
            id: "sha256:abc".into(),
            repo_tags: vec![],
            repo_digests: vec![],
            created: 0,
            size: 0,
            containers: 0,
        };
        let r = ImageRow {
            reference: "<none>:<none>".into(),
            image: &img,
        };
        assert_eq!(engine_ref(&r), "sha256:abc");
    }
}
