//! The build pane: a Dockerfile build, live. Each step as it starts (`Step 2/5 : RUN
//! ...`), whether it came from the cache, its time, its output as it comes and the image
//! it made; the step under way highlighted; at the end the image and its tags, the
//! error, or that the build was cancelled. [`BuildState`] is the pane's state; the app
//! feeds it the engine's [`BuildEvent`]s.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use wharf_engine::api::BuildEvent;

use crate::table::draw_message;
use crate::theme::Theme;
use crate::util::{fit, short_id, short_ref, width};

/// Output lines kept per step (the oldest are dropped, and counted).
pub const STEP_CAP: usize = 2000;

/// One step as the pane shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub total: usize,
    pub stage: String,
    pub instruction: String,
    pub cached: bool,
    /// The RUN step's container, while it runs.
    pub container: Option<String>,
    /// Output lines: (from stderr, text).
    pub output: Vec<(bool, String)>,
    /// Is the last output line still being written (no newline yet)?
    open: bool,
    /// Output lines dropped to keep [`STEP_CAP`].
    pub dropped: usize,
    pub elapsed_ms: u64,
    /// The image the step made, once done.
    pub image_id: Option<String>,
}

impl Step {
    fn push_output(&mut self, stderr: bool, data: &str) {
        for piece in data.split_inclusive('\n') {
            let complete = piece.ends_with('\n');
            let text = piece.trim_end_matches(['\n', '\r']).replace('\t', "    ");
            match self.output.last_mut() {
                Some((s, last)) if self.open && *s == stderr => last.push_str(&text),
                _ => self.output.push((stderr, text)),
            }
            self.open = !complete;
        }
        if self.output.len() > STEP_CAP {
            let n = self.output.len() - STEP_CAP;
            self.output.drain(..n);
            self.dropped += n;
        }
    }
}

/// A row of the build: a step, or a note of the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Step(Step),
    Note(String),
}

/// How the build is going.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Outcome {
    #[default]
    Running,
    Built {
        image_id: String,
        tags: Vec<String>,
    },
    Failed(String),
    Cancelled,
}

/// A build as the pane holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildState {
    /// The context directory.
    pub context: String,
    pub tags: Vec<String>,
    pub items: Vec<Item>,
    pub outcome: Outcome,
    /// A cancel was asked, the build has not ended yet.
    pub cancelling: bool,
    /// Lines scrolled up from the bottom (0: following the end).
    pub scroll: usize,
}

impl BuildState {
    pub fn new(context: &str, tags: &[String]) -> Self {
        BuildState {
            context: context.into(),
            tags: tags.to_vec(),
            ..Default::default()
        }
    }

    /// Is the build still going?
    pub fn running(&self) -> bool {
        self.outcome == Outcome::Running
    }

    fn step(&mut self, index: usize) -> Option<&mut Step> {
        self.items.iter_mut().rev().find_map(|i| match i {
            Item::Step(s) if s.index == index => Some(s),
            _ => None,
        })
    }

    /// The steps, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.items.iter().filter_map(|i| match i {
            Item::Step(s) => Some(s),
            _ => None,
        })
    }

    /// The step under way (the last one started and not done).
    pub fn current(&self) -> Option<&Step> {
        self.steps().last().filter(|s| s.image_id.is_none())
    }

    /// Take an event of the engine.
    pub fn event(&mut self, ev: &BuildEvent) {
        match ev {
            BuildEvent::Step {
                index,
                total,
                stage,
                instruction,
            } => self.items.push(Item::Step(Step {
                index: *index,
                total: *total,
                stage: stage.clone(),
                instruction: instruction.clone(),
                ..Default::default()
            })),
            BuildEvent::Cached { index } => {
                if let Some(s) = self.step(*index) {
                    s.cached = true;
                }
            }
            BuildEvent::Container { index, id } => {
                if let Some(s) = self.step(*index) {
                    s.container = Some(id.clone());
                }
            }
            BuildEvent::Output {
                index,
                stream,
                data,
            } => {
                if let Some(s) = self.step(*index) {
                    s.push_output(stream == "stderr", data);
                }
            }
            BuildEvent::Running { index, elapsed_ms } => {
                if let Some(s) = self.step(*index) {
                    s.elapsed_ms = *elapsed_ms;
                }
            }
            BuildEvent::StepDone {
                index,
                image_id,
                elapsed_ms,
                ..
            } => {
                if let Some(s) = self.step(*index) {
                    s.image_id = Some(image_id.clone());
                    s.elapsed_ms = *elapsed_ms;
                    s.container = None;
                }
            }
            BuildEvent::Message { text } => self.items.push(Item::Note(text.clone())),
            BuildEvent::Done { image_id, tags } => {
                self.outcome = Outcome::Built {
                    image_id: image_id.clone(),
                    tags: tags.clone(),
                }
            }
        }
    }

    /// The build ended: with its image, an error, or cancelled.
    pub fn finish(&mut self, outcome: Outcome) {
        self.cancelling = false;
        // A Done event already said it; an end without one says how it ended.
        if self.outcome == Outcome::Running || outcome != Outcome::Running {
            self.outcome = outcome;
        }
    }

    /// Scroll by `d` lines (negative: up, away from the end).
    pub fn scroll_by(&mut self, d: isize) {
        self.scroll = if d < 0 {
            self.scroll.saturating_add(d.unsigned_abs())
        } else {
            self.scroll.saturating_sub(d as usize)
        };
    }

    /// The status right of the tabs.
    pub fn status(&self) -> String {
        let step = self
            .steps()
            .last()
            .map(|s| format!("step {}/{}", s.index, s.total));
        let state = match &self.outcome {
            Outcome::Running if self.cancelling => "cancelling".to_string(),
            Outcome::Running => "building".into(),
            Outcome::Built { .. } => "built".into(),
            Outcome::Failed(_) => "failed".into(),
            Outcome::Cancelled => "cancelled".into(),
        };
        let mut v: Vec<String> = step.into_iter().collect();
        v.push(state);
        if self.scroll > 0 {
            v.push("scrolled".into());
        }
        v.join(" · ")
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// `text` cut into pieces of at most `w` columns (at spaces where it can).
fn wrap(text: &str, w: usize) -> Vec<String> {
    let w = w.max(10);
    let mut out = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && width(&line) + 1 + width(word) > w {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            while width(&line) > w {
                let cut: String = line.chars().take(w).collect();
                line = line.chars().skip(cut.chars().count()).collect();
                out.push(cut);
            }
        }
        out.push(line);
    }
    out
}

/// The lines of the steps (scrolled) part.
fn step_lines<'a>(s: &'a BuildState, theme: &Theme, w: usize) -> Vec<Line<'a>> {
    let current = s.running().then(|| s.current().map(|c| c.index)).flatten();
    let failed_at = matches!(s.outcome, Outcome::Failed(_) | Outcome::Cancelled)
        .then(|| s.current().map(|c| c.index))
        .flatten();
    // Stages are named only in a build of several.
    let first = s.steps().next().map(|x| x.stage.as_str());
    let multi = s.steps().any(|x| Some(x.stage.as_str()) != first);
    // Right of each step: CACHED, its time, the image it made.
    let right_w = 6 + 1 + 7 + 2 + 12;
    let mut out = Vec::new();
    for item in &s.items {
        match item {
            Item::Note(n) => {
                for l in n.lines() {
                    out.push(Line::styled(format!("  {}", fit(l, w - 2)), theme.warn()));
                }
            }
            Item::Step(st) => {
                let is_current = current == Some(st.index);
                let (mark, mark_style) = if st.image_id.is_some() {
                    ("✓", theme.ok())
                } else if failed_at == Some(st.index) {
                    if s.outcome == Outcome::Cancelled {
                        ("■", theme.warn())
                    } else {
                        ("✗", theme.error())
                    }
                } else {
                    ("▶", theme.accent())
                };
                let stage = if !multi || st.stage.is_empty() {
                    String::new()
                } else {
                    format!("[{}] ", st.stage)
                };
                let left = format!("Step {}/{} : {stage}{}", st.index, st.total, st.instruction);
                let left_w = w.saturating_sub(2 + right_w + 1).max(10);
                let left = fit(&left, left_w);
                let pad = left_w.saturating_sub(width(&left));
                let cached = if st.cached { "CACHED" } else { "" };
                let id = st.image_id.as_deref().map(short_id).unwrap_or("");
                let base = if is_current {
                    theme.selected()
                } else {
                    theme.text()
                };
                out.push(Line::from(vec![
                    Span::styled(format!("{mark} "), mark_style.patch(base)),
                    Span::styled(format!("{left}{} ", " ".repeat(pad)), base),
                    Span::styled(format!("{cached:>6} "), theme.dim().patch(base)),
                    Span::styled(format!("{:>7}  ", secs(st.elapsed_ms)), base),
                    Span::styled(format!("{id:<12}"), theme.dim().patch(base)),
                ]));
                if st.dropped > 0 {
                    out.push(Line::styled(
                        format!("    │ … {} earlier lines not kept", st.dropped),
                        theme.dim(),
                    ));
                }
                for (err, text) in &st.output {
                    let style = if *err { theme.warn() } else { theme.text() };
                    out.push(Line::from(vec![
                        Span::styled("    │ ", theme.dim()),
                        Span::styled(fit(text, w.saturating_sub(6)), style),
                    ]));
                }
            }
        }
    }
    out
}

/// The lines of the end (always shown under the steps).
fn end_lines<'a>(s: &'a BuildState, theme: &Theme, w: usize) -> Vec<Line<'a>> {
    match &s.outcome {
        Outcome::Running if s.cancelling => {
            vec![Line::styled(
                "cancelling: the step under way is being stopped…",
                theme.warn(),
            )]
        }
        Outcome::Running => vec![],
        Outcome::Built { image_id, tags } => {
            let mut l = vec![Span::styled(
                format!("✓ built {}", short_id(image_id)),
                theme.ok(),
            )];
            if !tags.is_empty() {
                let t: Vec<&str> = tags.iter().map(|t| short_ref(t)).collect();
                l.push(Span::styled(
                    format!("  tagged {}", t.join(", ")),
                    theme.text(),
                ));
            }
            vec![
                Line::from(l),
                Line::styled(format!("  {image_id}"), theme.dim()),
            ]
        }
        Outcome::Failed(e) => {
            let mut v = vec![Line::styled("✗ the build failed", theme.error())];
            v.extend(
                wrap(e, w.saturating_sub(2))
                    .into_iter()
                    .map(|l| Line::styled(format!("  {l}"), theme.text())),
            );
            v
        }
        Outcome::Cancelled => vec![Line::styled(
            "■ cancelled: the step's container was removed; no image was made",
            theme.warn(),
        )],
    }
}

/// Draw the build pane: `s`, or how to start one (`hint`).
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, s: Option<&BuildState>, hint: &str) {
    let Some(s) = s else {
        return draw_message(
            f.buffer_mut(),
            area,
            &[
                ("No build yet.".into(), theme.text()),
                (hint.to_string(), theme.accent()),
            ],
        );
    };
    if area.height == 0 || area.width < 20 {
        return;
    }
    let w = area.width as usize;
    let tags = if s.tags.is_empty() {
        String::new()
    } else {
        format!(" as {}", s.tags.join(", "))
    };
    let head = Line::from(vec![
        Span::styled(format!("build {}", s.context), theme.accent()),
        Span::styled(tags, theme.text()),
        Span::styled(format!("  · {}", s.status()), theme.dim()),
    ]);
    let body = step_lines(s, theme, w);
    let mut end = end_lines(s, theme, w);
    if !end.is_empty() {
        end.insert(0, Line::raw(""));
    }
    if s.items.is_empty() && s.running() && !s.cancelling {
        end.push(Line::styled("reading the Dockerfile…", theme.dim()));
    }
    let h = area.height as usize;
    // The end first (it keeps its place), then the header, then as many steps as fit.
    let end_h = end.len().min(h.saturating_sub(1));
    let body_h = h - 1 - end_h;
    let max_scroll = body.len().saturating_sub(body_h);
    let scroll = s.scroll.min(max_scroll);
    let start = body.len().saturating_sub(body_h + scroll);
    // The end goes right under the steps while they are few.
    let mut out = vec![head];
    out.extend(body.into_iter().skip(start).take(body_h));
    out.extend(end.into_iter().take(end_h));
    let style: Style = theme.text();
    f.render_widget(Paragraph::new(out).style(style), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn ev_step(index: usize, instruction: &str) -> BuildEvent {
        BuildEvent::Step {
            index,
            total: 3,
            stage: "0".into(),
            instruction: instruction.into(),
        }
    }

    fn done(index: usize, id: &str, ms: u64) -> BuildEvent {
        BuildEvent::StepDone {
            index,
            image_id: format!("sha256:{id}"),
            removed_container: None,
            elapsed_ms: ms,
        }
    }

    fn out(index: usize, data: &str) -> BuildEvent {
        BuildEvent::Output {
            index,
            stream: "stdout".into(),
            data: data.into(),
        }
    }

    /// Steps 1 done (cached), 2 running with output.
    fn running() -> BuildState {
        let mut s = BuildState::new("./site", &["built:1".into()]);
        for e in [
            ev_step(1, "FROM wharf/demo"),
            BuildEvent::Cached { index: 1 },
            done(1, "3f57d9401f8d4be2a1c0b1f2e3d4c5b6a7980912", 0),
            ev_step(
                2,
                "RUN echo hi > /x && for i in 1 2 3; do echo line $i; done",
            ),
            BuildEvent::Container {
                index: 2,
                id: "c0ffee".into(),
            },
            out(2, "line 1\nline "),
            out(2, "2\n"),
            BuildEvent::Output {
                index: 2,
                stream: "stderr".into(),
                data: "warning: something on stderr\n".into(),
            },
            BuildEvent::Running {
                index: 2,
                elapsed_ms: 1250,
            },
        ] {
            s.event(&e);
        }
        s
    }

    fn built() -> BuildState {
        let mut s = running();
        for e in [
            out(2, "line 3\n"),
            done(2, "a1b2c3d4e5f60718293a4b5c6d7e8f90", 1830),
            ev_step(3, "CMD [\"cat\", \"/x\"]"),
            done(3, "9e8d7c6b5a4f30211233445566778899", 12),
            BuildEvent::Done {
                image_id: "sha256:9e8d7c6b5a4f30211233445566778899".into(),
                tags: vec!["docker.io/library/built:1".into()],
            },
        ] {
            s.event(&e);
        }
        s.finish(Outcome::Running);
        s
    }

    fn shot(w: u16, h: u16, s: Option<&BuildState>) -> String {
        render(w, h, |f| {
            draw(
                f,
                f.area(),
                &Theme::default(),
                s,
                "Press b on the images pane, or type :build DIR -t NAME",
            )
        })
    }

    #[test]
    fn output_lines_join_pieces() {
        let s = running();
        let st = s.steps().nth(1).unwrap();
        assert_eq!(
            st.output,
            vec![
                (false, "line 1".to_string()),
                (false, "line 2".to_string()),
                (true, "warning: something on stderr".to_string())
            ]
        );
        assert_eq!(s.current().map(|c| c.index), Some(2));
        assert_eq!(s.status(), "step 2/3 · building");
    }

    #[test]
    fn empty() {
        insta::assert_snapshot!(shot(80, 6, None));
    }

    #[test]
    fn running_with_output() {
        let s = running();
        insta::assert_snapshot!("running_80x24", shot(80, 24, Some(&s)));
        insta::assert_snapshot!("running_160x45", shot(160, 45, Some(&s)));
    }

    #[test]
    fn built_with_tags() {
        let s = built();
        assert_eq!(s.status(), "step 3/3 · built");
        insta::assert_snapshot!("done_80x24", shot(80, 24, Some(&s)));
        insta::assert_snapshot!("done_160x45", shot(160, 45, Some(&s)));
    }

    #[test]
    fn failed() {
        let mut s = running();
        s.event(&out(2, "sh: nosuchcmd: not found\n"));
        s.finish(Outcome::Failed(
            "Dockerfile:2: RUN echo hi > /x && nosuchcmd: the command '/bin/sh -c echo hi > /x && nosuchcmd' returned a non-zero code: 127".into(),
        ));
        insta::assert_snapshot!("failed_80x24", shot(80, 24, Some(&s)));
        insta::assert_snapshot!("failed_160x45", shot(160, 45, Some(&s)));
    }

    #[test]
    fn cancelled() {
        let mut s = running();
        s.cancelling = true;
        assert_eq!(s.status(), "step 2/3 · cancelling");
        s.finish(Outcome::Cancelled);
        insta::assert_snapshot!("cancelled_80x24", shot(80, 24, Some(&s)));
        insta::assert_snapshot!("cancelled_160x45", shot(160, 45, Some(&s)));
    }

    #[test]
    fn stages_are_named_in_a_build_of_several() {
        let mut s = BuildState::new(".", &[]);
        for (i, stage, ins) in [
            (1, "builder", "FROM wharf/demo AS builder"),
            (2, "builder", "RUN echo x > /x"),
            (3, "1", "FROM wharf/demo"),
        ] {
            s.event(&BuildEvent::Step {
                index: i,
                total: 3,
                stage: stage.into(),
                instruction: ins.into(),
            });
        }
        let a = shot(80, 6, Some(&s));
        assert!(a.contains("Step 2/3 : [builder] RUN"), "{a}");
        assert!(a.contains("Step 3/3 : [1] FROM"), "{a}");
        let b = shot(80, 6, Some(&running()));
        assert!(!b.contains('['), "{b}");
    }

    #[test]
    fn long_output_follows_the_end_and_scrolls() {
        let mut s = running();
        for i in 0..100 {
            s.event(&out(2, &format!("output line {i}\n")));
        }
        let a = shot(80, 10, Some(&s));
        assert!(a.contains("output line 99"), "{a}");
        s.scroll_by(-20);
        let b = shot(80, 10, Some(&s));
        assert!(
            !b.contains("output line 99") && b.contains("output line 79"),
            "{b}"
        );
        s.scroll_by(-1000);
        let c = shot(80, 10, Some(&s));
        assert!(c.contains("Step 1/3"), "{c}");
    }
}
