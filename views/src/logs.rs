//! The logs pane: one container's log in a bounded buffer (the newest lines are kept),
//! with follow, search with highlights (n/N), wrap, timestamps, a stdout/stderr filter
//! and top/bottom. [`LogsState`] is the pane's state; the app feeds it lines.

use std::collections::VecDeque;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;
use wharf_engine::api::LogLine;

use crate::table::draw_message;
use crate::theme::Theme;
use crate::Load;

/// Which streams are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Streams {
    #[default]
    Both,
    Stdout,
    Stderr,
}

impl Streams {
    /// Both → stdout → stderr → both.
    pub fn next(self) -> Streams {
        match self {
            Streams::Both => Streams::Stdout,
            Streams::Stdout => Streams::Stderr,
            Streams::Stderr => Streams::Both,
        }
    }
    fn shows(self, stream: &str) -> bool {
        match self {
            Streams::Both => true,
            Streams::Stdout => stream == "stdout",
            Streams::Stderr => stream == "stderr",
        }
    }
    /// Label for the status line.
    pub fn label(self) -> &'static str {
        match self {
            Streams::Both => "stdout+stderr",
            Streams::Stdout => "stdout",
            Streams::Stderr => "stderr",
        }
    }
}

/// Default number of lines kept.
pub const DEFAULT_CAP: usize = 20_000;

/// One container's log as the pane holds it.
#[derive(Debug, Clone)]
pub struct LogsState {
    /// Container id and name.
    pub id: String,
    pub name: String,
    pub load: Load<()>,
    lines: VecDeque<LogLine>,
    cap: usize,
    /// Lines dropped off the front (so positions stay meaningful).
    dropped: usize,
    /// Stick to the newest line.
    pub follow: bool,
    pub wrap: bool,
    pub timestamps: bool,
    pub streams: Streams,
    /// Case-insensitive search text.
    pub search: String,
    /// Absolute index (dropped + position) of the current match.
    current: Option<usize>,
    /// Absolute index of the first line shown when not following.
    top: usize,
    /// Why the stream ended (container stopped, error), shown in the status.
    pub ended: Option<String>,
}

impl LogsState {
    /// An empty log for a container, following.
    pub fn new(id: &str, name: &str) -> Self {
        LogsState {
            id: id.into(),
            name: name.into(),
            load: Load::Loading,
            lines: VecDeque::new(),
            cap: DEFAULT_CAP,
            dropped: 0,
            follow: true,
            wrap: false,
            timestamps: false,
            streams: Streams::Both,
            search: String::new(),
            current: None,
            top: 0,
            ended: None,
        }
    }

    /// Keep at most `cap` lines.
    pub fn with_cap(mut self, cap: usize) -> Self {
        self.cap = cap.max(1);
        self
    }

    /// Add a line at the end, dropping the oldest beyond the cap.
    pub fn push(&mut self, l: LogLine) {
        if self.lines.len() >= self.cap {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(l);
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No lines held.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Absolute indexes of the lines that pass the stream filter.
    fn visible(&self) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| self.streams.shows(&l.stream))
            .map(|(i, _)| i + self.dropped)
            .collect()
    }

    fn line(&self, abs: usize) -> Option<&LogLine> {
        abs.checked_sub(self.dropped)
            .and_then(|i| self.lines.get(i))
    }

    fn matches(&self, abs: usize) -> bool {
        !self.search.is_empty()
            && self
                .line(abs)
                .is_some_and(|l| l.log.to_lowercase().contains(&self.search.to_lowercase()))
    }

    /// Jump to the next (`forward`) or previous line matching the search; stops following.
    /// Returns false when nothing matches.
    pub fn find(&mut self, forward: bool) -> bool {
        let vis = self.visible();
        if vis.is_empty() || self.search.is_empty() {
            return false;
        }
        let m = |a: &usize| self.matches(*a);
        let hit = match (forward, self.current) {
            (true, Some(c)) => vis.iter().copied().filter(|&a| a > c).find(|a| m(a)),
            (true, None) => vis
                .iter()
                .copied()
                .filter(|&a| a >= self.top)
                .find(|a| m(a)),
            (false, Some(c)) => vis.iter().rev().copied().filter(|&a| a < c).find(|a| m(a)),
            (false, None) => vis
                .iter()
                .rev()
                .copied()
                .filter(|&a| a <= self.top)
                .find(|a| m(a)),
        };
        // Wrap around.
        let hit = hit.or_else(|| {
            if forward {
                vis.iter().copied().find(|a| m(a))
            } else {
                vis.iter().rev().copied().find(|a| m(a))
            }
        });
        match hit {
            Some(a) => {
                self.current = Some(a);
                self.follow = false;
                self.top = a;
                true
            }
            None => false,
        }
    }

    /// Set the search text and jump to the first match from the top of the view.
    pub fn set_search(&mut self, s: &str) -> bool {
        self.search = s.to_string();
        self.current = None;
        self.find(true)
    }

    /// Which match the current one is, and how many there are: `(2, 7)`.
    pub fn match_position(&self) -> Option<(usize, usize)> {
        let vis = self.visible();
        let all: Vec<usize> = vis.into_iter().filter(|&a| self.matches(a)).collect();
        let cur = self.current?;
        Some((all.iter().position(|&a| a == cur)? + 1, all.len()))
    }

    /// Scroll by `delta` lines; scrolling up stops following.
    pub fn scroll(&mut self, delta: isize) {
        let vis = self.visible();
        if vis.is_empty() {
            return;
        }
        let pos = vis
            .iter()
            .position(|&a| a >= self.top)
            .unwrap_or(vis.len() - 1);
        if self.follow {
            if delta >= 0 {
                return;
            }
            self.follow = false;
            let last = vis.len() - 1;
            self.top = vis[last.saturating_sub(20)];
        }
        let np = (pos as isize + delta).clamp(0, vis.len() as isize - 1) as usize;
        self.top = vis[np];
        if delta > 0 && np == vis.len() - 1 {
            self.follow = true;
        }
    }

    /// First line, stop following.
    pub fn go_top(&mut self) {
        self.follow = false;
        self.top = self.visible().first().copied().unwrap_or(0);
    }

    /// Last line, follow again.
    pub fn go_bottom(&mut self) {
        self.follow = true;
    }

    /// The lines shown (stream filter applied), as text, with timestamps when they are on.
    pub fn export(&self) -> String {
        let mut out = String::new();
        for abs in self.visible() {
            if let Some(l) = self.line(abs) {
                if self.timestamps {
                    out.push_str(&l.time);
                    out.push(' ');
                }
                out.push_str(l.log.trim_end_matches('\n'));
                out.push('\n');
            }
        }
        out
    }

    /// The status text: `web-1 · following · 1200 lines · match 2/7`.
    pub fn status(&self) -> String {
        let mut s = vec![self.name.clone()];
        s.push(if self.follow {
            "following".into()
        } else {
            "paused".into()
        });
        s.push(format!("{} lines", self.lines.len()));
        if self.streams != Streams::Both {
            s.push(self.streams.label().into());
        }
        if self.wrap {
            s.push("wrap".into());
        }
        if !self.search.is_empty() {
            match self.match_position() {
                Some((i, n)) => s.push(format!("/{} {i}/{n}", self.search)),
                None => s.push(format!("/{} no match", self.search)),
            }
        }
        if let Some(e) = &self.ended {
            s.push(e.clone());
        }
        s.join(" · ")
    }
}

fn highlight<'a>(text: &'a str, needle: &str, base: Style, hl: Style) -> Vec<Span<'a>> {
    if needle.is_empty() {
        return vec![Span::styled(text, base)];
    }
    let lower = text.to_lowercase();
    let nl = needle.to_lowercase();
    // Lowercasing may change byte lengths for some scripts; only highlight when it does not.
    if lower.len() != text.len() {
        return vec![Span::styled(text, base)];
    }
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(p) = lower[at..].find(&nl) {
        let s = at + p;
        let e = s + nl.len();
        if !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            break;
        }
        if s > at {
            out.push(Span::styled(&text[at..s], base));
        }
        out.push(Span::styled(&text[s..e], hl));
        at = e;
    }
    if at < text.len() {
        out.push(Span::styled(&text[at..], base));
    }
    out
}

/// Rows a line takes when wrapped to `width`.
fn rows_of(text_width: usize, width: usize, wrap: bool) -> usize {
    if !wrap || width == 0 {
        1
    } else {
        text_width.div_ceil(width).max(1)
    }
}

/// Draw the pane.
pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, s: &LogsState) {
    match &s.load {
        Load::Loading if s.lines.is_empty() => {
            return draw_message(
                f.buffer_mut(),
                area,
                &[(format!("reading the log of {}…", s.name), theme.dim())],
            )
        }
        Load::Error(e) if s.lines.is_empty() => {
            return draw_message(
                f.buffer_mut(),
                area,
                &[
                    (format!("cannot read the log of {}", s.name), theme.error()),
                    (e.clone(), theme.text()),
                ],
            )
        }
        Load::Unavailable(w) => {
            return draw_message(f.buffer_mut(), area, &[(w.clone(), theme.dim())])
        }
        _ => {}
    }
    let vis = s.visible();
    if vis.is_empty() {
        let what = if s.lines.is_empty() {
            "The log is empty.".to_string()
        } else {
            format!("No {} lines.", s.streams.label())
        };
        return draw_message(
            f.buffer_mut(),
            area,
            &[
                (what, theme.text()),
                ("New lines show up as they are written.".into(), theme.dim()),
            ],
        );
    }
    let width = area.width as usize;
    let height = area.height as usize;
    let prefix = |l: &LogLine| -> String {
        if s.timestamps {
            let t = l.time.get(..19).unwrap_or(&l.time).replace('T', " ");
            format!("{t} ")
        } else {
            String::new()
        }
    };
    let text_w = |l: &LogLine| prefix(l).width() + l.log.trim_end_matches(['\n', '\r']).width();
    // Pick the window: from the bottom when following, else from `top`.
    let start = if s.follow {
        let mut used = 0;
        let mut i = vis.len();
        while i > 0 {
            let r = rows_of(text_w(s.line(vis[i - 1]).expect("visible")), width, s.wrap);
            if used + r > height {
                break;
            }
            used += r;
            i -= 1;
        }
        i
    } else {
        vis.iter().position(|&a| a >= s.top).unwrap_or(0)
    };
    let mut lines: Vec<Line> = Vec::new();
    let mut used = 0;
    for &abs in &vis[start..] {
        let l = s.line(abs).expect("visible");
        let text = l.log.trim_end_matches(['\n', '\r']);
        let base = if l.stream == "stderr" {
            theme
                .error()
                .remove_modifier(ratatui::style::Modifier::BOLD)
        } else {
            theme.text()
        };
        let hl = if s.current == Some(abs) {
            theme.current_match()
        } else {
            theme.highlight()
        };
        let mut spans = Vec::new();
        let p = prefix(l);
        if !p.is_empty() {
            spans.push(Span::styled(p, theme.dim()));
        }
        spans.extend(highlight(text, &s.search, base, hl));
        let r = rows_of(text_w(l), width, s.wrap);
        if used + r > height && used > 0 {
            break;
        }
        used += r;
        lines.push(Line::from(spans));
    }
    let mut p = ratatui::widgets::Paragraph::new(lines);
    if s.wrap {
        p = p.wrap(ratatui::widgets::Wrap { trim: false });
    }
    f.render_widget(p, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::render;

    fn line(n: usize, stream: &str, text: &str) -> LogLine {
        LogLine {
            stream: stream.into(),
            log: format!("{text}\n"),
            time: format!("2026-01-01T10:41:{:02}.123456789Z", n % 60),
        }
    }

    fn state(n: usize) -> LogsState {
        let mut s = LogsState::new("abc", "web-1");
        s.load = Load::Ready(());
        for i in 0..n {
            let st = if i % 5 == 4 { "stderr" } else { "stdout" };
            s.push(line(
                i,
                st,
                &format!("GET /api/items?page={i} 200 {}ms", i % 13),
            ));
        }
        s
    }

    fn shot(w: u16, h: u16, s: &LogsState) -> String {
        render(w, h, |f| draw(f, f.area(), &Theme::default(), s))
    }

    #[test]
    fn follows_the_tail() {
        insta::assert_snapshot!(shot(60, 5, &state(50)));
    }

    #[test]
    fn search_highlights_and_moves() {
        let mut s = state(50);
        s.go_top();
        assert!(s.set_search("page=1"));
        assert_eq!(s.match_position(), Some((1, 11)), "page=1, page=10..19");
        assert!(s.find(true));
        assert_eq!(s.match_position(), Some((2, 11)));
        assert!(s.find(false));
        assert!(s.find(false), "wraps around backwards");
        assert_eq!(s.match_position(), Some((11, 11)));
        s.set_search("page=1");
        s.timestamps = true;
        insta::assert_snapshot!(shot(70, 4, &s));
        assert!(!s.set_search("nothing like this"));
        assert!(s.status().contains("no match"));
    }

    #[test]
    fn stream_filter_wrap_and_narrow() {
        let mut s = state(20);
        s.streams = Streams::Stderr;
        insta::assert_snapshot!(shot(40, 4, &s));
        s.streams = Streams::Both;
        s.wrap = true;
        s.timestamps = true;
        insta::assert_snapshot!(shot(30, 6, &s));
    }

    #[test]
    fn bounded_buffer_keeps_the_newest() {
        let mut s = LogsState::new("a", "a").with_cap(10);
        for i in 0..25 {
            s.push(line(i, "stdout", &format!("line {i}")));
        }
        assert_eq!(s.len(), 10);
        s.go_top();
        s.load = Load::Ready(());
        insta::assert_snapshot!(shot(20, 2, &s));
    }

    #[test]
    fn export_follows_the_filter() {
        let mut s = state(10);
        s.streams = Streams::Stderr;
        assert_eq!(
            s.export(),
            "GET /api/items?page=4 200 4ms\nGET /api/items?page=9 200 9ms\n"
        );
    }

    #[test]
    fn scroll_up_stops_following_and_bottom_resumes() {
        let mut s = state(100);
        s.scroll(-3);
        assert!(!s.follow);
        s.go_bottom();
        assert!(s.follow);
    }

    #[test]
    fn empty_loading_error() {
        let mut s = LogsState::new("a", "web-1");
        insta::assert_snapshot!(shot(60, 3, &s));
        s.load = Load::Ready(());
        insta::assert_snapshot!(shot(60, 3, &s));
        s.load =
            Load::Error("container \"web-1\" not found: list containers with wharf ps -a".into());
        insta::assert_snapshot!(shot(80, 3, &s));
    }
}
