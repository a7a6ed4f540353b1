//! The events pane: the engine's live event stream (Docker's vocabulary), newest at the
//! bottom; it follows new events unless paused, and scrolls back.

use std::collections::VecDeque;

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use wharf_engine::events::{Event, EventType};

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::short_id;
use crate::{ListCursor, Load};

/// Columns, in order.
pub const COLUMNS: [Column; 5] = [
    Column {
        title: "TIME",
        width: 8,
        flex: false,
        priority: 0,
    },
    Column {
        title: "TYPE",
        width: 9,
        flex: false,
        priority: 2,
    },
    Column {
        title: "ACTION",
        width: 14,
        flex: false,
        priority: 0,
    },
    Column {
        title: "OBJECT",
        width: 16,
        flex: false,
        priority: 1,
    },
    Column {
        title: "ATTRIBUTES",
        width: 20,
        flex: true,
        priority: 3,
    },
];

/// Local `HH:MM:SS` of a time in nanoseconds, `tz` seconds east of UTC.
pub fn clock(time_nano: i64, tz: i32) -> String {
    let secs = time_nano.div_euclid(1_000_000_000) + tz as i64;
    let d = secs.rem_euclid(86400);
    format!("{:02}:{:02}:{:02}", d / 3600, d / 60 % 60, d % 60)
}

/// The name of the object an event is about (its `name` attribute, else a short id).
pub fn object(ev: &Event) -> String {
    if let Some(n) = ev.actor.attributes.get("name") {
        return n.clone();
    }
    // Long hex ids (containers, images) are shortened; names (volumes, networks) are not.
    let id = ev.actor.id.strip_prefix("sha256:").unwrap_or(&ev.actor.id);
    if id.len() > 12 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        short_id(id).to_string()
    } else {
        ev.actor.id.clone()
    }
}

/// Everything the events pane draws.
pub struct Model<'a> {
    pub load: &'a Load<()>,
    /// Events to show (already filtered), oldest first.
    pub events: &'a [&'a Event],
    /// New events are not followed.
    pub paused: bool,
    pub filter: &'a str,
    /// Local time offset, seconds east of UTC.
    pub tz: i32,
    pub focused: bool,
}

/// Draw the pane. While not paused the last event is selected.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    let buf = f.buffer_mut();
    let lines = table::load_lines(
        m.load,
        "reading the event journal…",
        "cannot read events",
        theme,
    )
    .or_else(|| match m.load {
        Load::Ready(()) if m.events.is_empty() && m.filter.is_empty() => Some(vec![
            ("No events in the last hour.".to_string(), theme.text()),
            (
                "Anything done here or by another wharf shows up live.".into(),
                theme.dim(),
            ),
        ]),
        Load::Ready(()) if m.events.is_empty() => Some(vec![(
            format!("No event matches /{}.", m.filter),
            theme.text(),
        )]),
        _ => None,
    });
    if let Some(lines) = lines {
        return table::draw_empty(buf, area, theme, &COLUMNS, None, &lines);
    }
    if !m.paused {
        cursor.bottom(m.events.len());
    }
    table::draw_rows(
        buf,
        area,
        theme,
        &COLUMNS,
        None,
        m.events.len(),
        cursor,
        m.focused,
        |i| {
            let ev = &m.events[i];
            let action_style = match ev.action.as_str() {
                "die" | "kill" | "oom" | "destroy" | "delete" | "untag" => theme
                    .error()
                    .remove_modifier(ratatui::style::Modifier::BOLD),
                "start" | "create" | "unpause" | "pull" | "tag" | "load" | "import" => theme.ok(),
                "pause" | "stop" | "rename" => {
                    theme.warn().remove_modifier(ratatui::style::Modifier::BOLD)
                }
                _ => theme.text(),
            };
            let attrs: Vec<String> = ev
                .actor
                .attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "name")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            Row {
                cells: vec![
                    Span::styled(clock(ev.time_nano, m.tz), theme.dim()),
                    Span::styled(
                        ev.kind.as_str(),
                        if ev.kind == EventType::Container {
                            theme.accent()
                        } else {
                            theme.text()
                        },
                    ),
                    Span::styled(ev.action.as_str(), action_style),
                    Span::raw(object(ev)),
                    Span::styled(attrs.join(" "), theme.dim()),
                ],
                marked: false,
            }
        },
    );
}

/// Keep at most `cap` events, dropping the oldest.
pub fn push_bounded(buf: &mut VecDeque<Event>, ev: Event, cap: usize) {
    if buf.len() >= cap {
        buf.pop_front();
    }
    buf.push_back(ev);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn ev(t: i64, kind: EventType, action: &str, name: &str) -> Event {
        let mut e = Event::new(kind, action, format!("{name}0123456789abcdef")).attr("name", name);
        e.time_nano = t * 1_000_000_000;
        e.time = t;
        e
    }

    fn shot(w: u16, load: Load<()>, evs: &[Event], paused: bool) -> String {
        let refs: Vec<&Event> = evs.iter().collect();
        let m = Model {
            load: &load,
            events: &refs,
            paused,
            filter: "",
            tz: 3600,
            focused: true,
        };
        let mut cur = ListCursor::default();
        render(w, 6, |f| draw(f, f.area(), &Theme::default(), &m, &mut cur))
    }

    fn sample() -> Vec<Event> {
        vec![
            ev(1_767_225_600, EventType::Image, "tag", "wharf/demo:latest"),
            ev(1_767_225_601, EventType::Container, "create", "web-1").attr("image", "wharf/demo"),
            ev(1_767_225_602, EventType::Container, "start", "web-1").attr("image", "wharf/demo"),
            ev(1_767_225_700, EventType::Container, "die", "web-1").attr("exitCode", "137"),
            ev(1_767_225_701, EventType::Container, "destroy", "web-1"),
            ev(1_767_225_702, EventType::Container, "create", "db"),
        ]
    }

    #[test]
    fn follows_the_newest() {
        insta::assert_snapshot!(shot(100, Load::Ready(()), &sample(), false));
    }
    #[test]
    fn paused_stays_put_and_narrow() {
        insta::assert_snapshot!(shot(60, Load::Ready(()), &sample(), true));
    }
    #[test]
    fn empty_and_error() {
        insta::assert_snapshot!(shot(80, Load::Ready(()), &[], false));
        insta::assert_snapshot!(shot(
            80,
            Load::Error("reading /x/events.jsonl: permission denied".into()),
            &[],
            false
        ));
    }
    #[test]
    fn clock_is_local() {
        assert_eq!(clock(1_767_225_600_000_000_000, 3600), "01:00:00");
    }
}
