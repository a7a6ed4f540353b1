//! The API trace pane: every engine call, live: when, who (and their role), where it
//! came from (the console, wharf's protocol, the Docker API), the call with its
//! arguments (or the HTTP method and path as a Docker client sent them), how long it
//! took, and its result; between the calls, the actions they were for, as the `wharf`
//! command that does the same.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::Frame;
use serde_json::Value;
use wharf_engine::trace::TraceEntry;

use crate::table::{self, Column, Row};
use crate::theme::Theme;
use crate::util::short_id;
use crate::ListCursor;

/// Columns, in order.
pub const COLUMNS: [Column; 6] = [
    Column {
        title: "TIME",
        width: 8,
        flex: false,
        priority: 1,
    },
    Column {
        title: "WHO",
        width: 14,
        flex: false,
        priority: 3,
    },
    Column {
        title: "FROM",
        width: 7,
        flex: false,
        priority: 4,
    },
    Column {
        title: "CALL",
        width: 26,
        flex: true,
        priority: 0,
    },
    Column {
        title: "TOOK",
        width: 8,
        flex: false,
        priority: 0,
    },
    Column {
        title: "RESULT",
        width: 16,
        flex: true,
        priority: 2,
    },
];

/// One row of the pane.
#[derive(Debug, Clone, Copy)]
pub enum TraceRow<'a> {
    /// An engine call.
    Call(&'a TraceEntry),
    /// An action: the wharf command that does it, what happened, when, and whether it worked.
    Action {
        command: &'a str,
        outcome: &'a str,
        time_nano: i64,
        ok: bool,
    },
}

/// Everything the pane draws.
pub struct Model<'a> {
    /// Rows to show (already filtered), oldest first.
    pub rows: &'a [TraceRow<'a>],
    /// New calls are not followed.
    pub paused: bool,
    /// Reads (lists, inspects, stats) are shown too.
    pub reads: bool,
    pub errors_only: bool,
    pub filter: &'a str,
    /// Local time offset, seconds east of UTC.
    pub tz: i32,
    pub focused: bool,
    /// Why the server's trace is not shown, or that it ended.
    pub note: Option<&'a str>,
}

/// `12 ms`, `0.4 ms`, `1.2 s`.
pub fn took(us: u64) -> String {
    if us < 1_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else if us < 1_000_000 {
        format!("{} ms", us / 1000)
    } else {
        format!("{:.1} s", us as f64 / 1e6)
    }
}

/// An argument as a word: strings as they are (long hex ids short), numbers, `{…}`.
fn arg_word(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            Some(format!("{:?}", short_id(s)))
        }
        Value::String(s) => Some(format!("{s:?}")),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Array(_) => Some("[…]".into()),
        Value::Object(o) => {
            // A create request reads by its name and image.
            let key = ["name", "Name", "image", "Image"]
                .iter()
                .filter_map(|k| {
                    o.get(*k)
                        .and_then(|v| v.as_str())
                        .map(|v| format!("{k}: {v:?}"))
                })
                .collect::<Vec<_>>();
            Some(if key.is_empty() {
                "{…}".into()
            } else {
                format!("{{{}}}", key.join(", "))
            })
        }
    }
}

/// The call as one line: `container_start("3f2a1b2c3d4e")`, or for the Docker API
/// `POST /v1.43/containers/create?name=web`.
pub fn call_text(e: &TraceEntry) -> String {
    if let Some(h) = &e.http {
        if e.source.starts_with("docker") {
            return format!("{} {}", h.method, h.path);
        }
    }
    let args = match &e.args {
        Value::Array(a) => a.iter().filter_map(arg_word).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => arg_word(other).unwrap_or_default(),
    };
    format!("{}({args})", e.method)
}

/// The result as a few words: `ok`, `ok: "3f2a1b…"`, `✖ the error`, `HTTP 201`.
pub fn result_text(e: &TraceEntry) -> String {
    if !e.ok {
        return format!("✖ {}", e.error.as_deref().unwrap_or("failed"));
    }
    let status = e
        .http
        .as_ref()
        .map(|h| format!("{} ", h.status))
        .unwrap_or_default();
    let what = match &e.answer {
        Value::Null => String::new(),
        Value::Array(a) => format!("{} items", a.len()),
        Value::String(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            short_id(s).to_string()
        }
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("streamed") => {
            format!("{} streamed", o["streamed"])
        }
        Value::Object(o) if o.contains_key("truncated") => {
            o["truncated"].as_str().unwrap_or("").to_string()
        }
        Value::Object(_) => "{…}".into(),
        other => other.to_string(),
    };
    format!(
        "{status}ok{}",
        if what.is_empty() {
            String::new()
        } else {
            format!(": {what}")
        }
    )
}

/// Draw the pane. While not paused the last row is selected.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, m: &Model, cursor: &mut ListCursor) {
    let buf = f.buffer_mut();
    let (area, note_row) = match m.note {
        Some(n) if area.height > 3 => {
            let r = Rect {
                y: area.bottom() - 1,
                height: 1,
                ..area
            };
            buf.set_stringn(
                r.x + 1,
                r.y,
                n,
                r.width.saturating_sub(2) as usize,
                theme.dim(),
            );
            (
                Rect {
                    height: area.height - 1,
                    ..area
                },
                true,
            )
        }
        _ => (area, false),
    };
    let _ = note_row;
    if m.rows.is_empty() {
        let what = match (m.errors_only, m.reads) {
            (true, _) => "No failed call yet.",
            (false, false) => "No call that changes anything yet.",
            (false, true) => "No engine call yet.",
        };
        let mut lines = vec![(what.to_string(), theme.text())];
        if !m.filter.is_empty() {
            lines = vec![(format!("No call matches /{}.", m.filter), theme.text())];
        }
        lines.push((
            "Act in any pane, or type a wharf command after :, and its engine calls show up here live."
                .into(),
            theme.dim(),
        ));
        return table::draw_empty(buf, area, theme, &COLUMNS, None, &lines);
    }
    if !m.paused {
        cursor.bottom(m.rows.len());
    }
    table::draw_rows(
        buf,
        area,
        theme,
        &COLUMNS,
        None,
        m.rows.len(),
        cursor,
        m.focused,
        |i| {
            let clock = |t: i64| crate::events::clock(t, m.tz);
            match m.rows[i] {
                TraceRow::Call(e) => {
                    let who = format!("{} ({})", e.caller.name, e.caller.role);
                    let call_style = if e.mutating {
                        theme.text()
                    } else {
                        theme.dim()
                    };
                    Row {
                        cells: vec![
                            Span::styled(clock(e.time_nano), theme.dim()),
                            Span::raw(who),
                            Span::styled(e.source.clone(), theme.dim()),
                            Span::styled(call_text(e), call_style),
                            Span::raw(took(e.duration_us)),
                            Span::styled(
                                result_text(e),
                                if e.ok {
                                    theme.ok().remove_modifier(ratatui::style::Modifier::BOLD)
                                } else {
                                    theme.error()
                                },
                            ),
                        ],
                        marked: false,
                    }
                }
                TraceRow::Action {
                    command,
                    outcome,
                    time_nano,
                    ok,
                } => Row {
                    cells: vec![
                        Span::styled(clock(time_nano), theme.dim()),
                        Span::styled("action", theme.accent()),
                        Span::styled("you", theme.accent()),
                        Span::styled(format!("$ {command}"), theme.accent()),
                        Span::raw(""),
                        Span::styled(
                            outcome.to_string(),
                            if ok { theme.ok() } else { theme.error() },
                        ),
                    ],
                    marked: false,
                },
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{render, NOW};
    use wharf_engine::trace::HttpCall;
    use wharf_engine::Caller;

    fn entry(method: &str, args: Value, us: u64) -> TraceEntry {
        let mut e = TraceEntry::new(&Caller::root(), "console", method);
        e.time_nano = NOW * 1_000_000_000;
        e.args = args;
        e.duration_us = us;
        e
    }

    #[test]
    fn calls_and_actions_read_as_a_log() {
        let create = {
            let mut e = entry(
                "container_create",
                serde_json::json!([{"name": "web", "image": "wharf/demo"}]),
                12_300,
            );
            e.answer = Value::String("3f2a1b2c3d4e".repeat(5) + "abcd");
            e
        };
        let start = entry(
            "container_start",
            serde_json::json!(["3f2a1b2c3d4e3f2a1b2c3d4e3f2a1b2c3d4e3f2a1b2c3d4e3f2a1b2c3d4eabcd"]),
            231_000,
        );
        let docker = {
            let mut c = Caller::root();
            c.name = "alice".into();
            c.role = wharf_engine::Role("user".into());
            let mut e = TraceEntry::new(&c, "docker", "POST /containers/create");
            e.time_nano = NOW * 1_000_000_000;
            e.http = Some(HttpCall {
                method: "POST".into(),
                path: "/v1.43/containers/create?name=db".into(),
                status: 403,
                user_agent: None,
            });
            e.ok = false;
            e.error = Some("alice (user) may not publish ports".into());
            e.duration_us = 800;
            e
        };
        let rows = [
            TraceRow::Call(&create),
            TraceRow::Call(&start),
            TraceRow::Action {
                command: "wharf run -d --name web wharf/demo",
                outcome: "started web (3f2a1b2c3d4e)",
                time_nano: NOW * 1_000_000_000,
                ok: true,
            },
            TraceRow::Call(&docker),
        ];
        let m = Model {
            rows: &rows,
            paused: false,
            reads: false,
            errors_only: false,
            filter: "",
            tz: 0,
            focused: true,
            note: None,
        };
        let mut cur = ListCursor::default();
        let s = render(160, 6, |f| {
            draw(f, f.area(), &Theme::default(), &m, &mut cur)
        });
        insta::assert_snapshot!(s);
        assert!(
            s.contains("container_create({name: \"web\", image: \"wharf/demo\"})"),
            "{s}"
        );
        assert!(
            s.contains("container_start(\"3f2a1b2c3d4e\")") && s.contains("231 ms"),
            "{s}"
        );
        assert!(s.contains("$ wharf run -d --name web wharf/demo"), "{s}");
        assert!(
            s.contains("POST /v1.43/containers/create?name=db")
                && s.contains("✖ alice (user) may not"),
            "{s}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(took(400), "0.4 ms");
        assert_eq!(took(12_300), "12 ms");
        assert_eq!(took(1_234_000), "1.2 s");
    }
}
