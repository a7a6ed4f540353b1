//! Frame time of the containers pane with 1000 containers at 200x50 (goal: < 1 ms).
//! `cargo bench -p wharf-views --bench frame` prints the figures.

use std::collections::HashSet;
use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use wharf_views::containers::{self, Model, SortKey};
use wharf_views::{ListCursor, Load, Theme};

fn main() {
    let now = 1_767_225_600;
    let all = containers::sample(1000, now);
    let marked: HashSet<String> = all.iter().step_by(7).map(|c| c.id.clone()).collect();
    let load = Load::Ready(());
    // Every other container has a stats sample, as with half of them running.
    let stats: std::collections::HashMap<String, wharf_engine::api::StatsPoint> = all
        .iter()
        .step_by(2)
        .map(|c| {
            (
                c.id.clone(),
                wharf_engine::api::StatsPoint {
                    cpu_percent: 1.5,
                    mem_usage: 40 << 20,
                    net_rx: 1000,
                    net_tx: 2000,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("backend");
    let mut cur = ListCursor::default();
    let theme = Theme::default();
    let mut frame = |i: usize, cur: &mut ListCursor| {
        // What the console does per frame: filter/sort the visible set, then draw.
        let mut rows: Vec<&_> = all.iter().collect();
        containers::sort(&mut rows, SortKey::Name, false, &stats);
        let m = Model {
            load: &load,
            rows: &rows,
            total: all.len(),
            marked: &marked,
            sort: (SortKey::Name, false),
            filter: "",
            run_key: Some("n"),
            show_stopped_key: Some("a"),
            stopped_hidden: false,
            stats: &stats,
            now,
            focused: true,
        };
        cur.selected = (i * 13) % all.len();
        term.draw(|f| containers::draw(f, f.area(), &theme, &m, cur))
            .expect("draw");
    };
    for i in 0..200 {
        frame(i, &mut cur);
    }
    let n = 2000;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        frame(i, &mut cur);
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let mean = times.iter().sum::<f64>() / n as f64;
    println!(
        "containers pane, 1000 containers, 200x50, {n} frames (sort + draw + diff on TestBackend):"
    );
    println!(
        "  mean {:.0} µs   p50 {:.0} µs   p99 {:.0} µs   max {:.0} µs   (goal < 1000 µs)",
        mean,
        times[n / 2],
        times[n * 99 / 100],
        times[n - 1]
    );
}
