//! `wharf system df` in a window: images, the staging of loads under way or left by
//! killed ones, containers, local volumes and the build cache, with what each takes and
//! what removing the unused ones would give back.

use crate::util::dsize;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// `Images`, `Staging`, `Containers`, `Local Volumes`, `Build Cache`.
    pub kind: &'static str,
    pub total: usize,
    /// In use (images of containers, running containers, volumes mounted).
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// The window's text: the table as `docker system df` prints it, then what the rows
/// mean and the command line.
pub fn text(rows: &[Usage]) -> String {
    let mut s = format!(
        "{:<15}{:>6}{:>8}{:>12}   {}\n",
        "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"
    );
    for r in rows {
        let pct = (r.reclaimable * 100).checked_div(r.size).unwrap_or(0);
        s.push_str(&format!(
            "{:<15}{:>6}{:>8}{:>12}   {} ({pct}%)\n",
            r.kind,
            r.total,
            r.active,
            dsize(r.size),
            dsize(r.reclaimable)
        ));
    }
    s.push_str(
        "\nReclaimable: what removing the unused ones gives back (wharf system prune).\n\
         Staging: loads, pulls, imports and commits under way (active), or left by killed\n\
         ones (reclaimable: wharf image prune, or the next start, removes them).\n\
         \n$ wharf system df",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::draw_message;
    use crate::testutil::render;
    use crate::Theme;

    #[test]
    fn the_table_in_a_window() {
        let u = |kind, total, active, size, reclaimable| Usage {
            kind,
            total,
            active,
            size,
            reclaimable,
        };
        let rows = vec![
            u("Images", 2, 1, 2_700_000, 1_350_000),
            u("Staging", 1, 0, 4096, 4096),
            u("Containers", 3, 1, 12_288, 8192),
            u("Local Volumes", 1, 0, 0, 0),
            u("Build Cache", 0, 0, 0, 0),
        ];
        let t = text(&rows);
        assert!(
            t.contains("Images              2       1     2.70 MB   1.35 MB (50%)"),
            "{t}"
        );
        insta::assert_snapshot!(render(90, 18, |f| draw_message(
            f,
            f.area(),
            &Theme::default(),
            "disk usage",
            &t
        )));
    }
}
