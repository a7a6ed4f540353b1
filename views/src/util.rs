//! Small formatting helpers shared by the panes.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// "2 h ago", "40 min ago", "3 s ago" relative to `now` (seconds since the epoch).
pub fn ago(then: i64, now: i64) -> String {
    let d = (now - then).max(0);
    match d {
        0..=59 => format!("{d} s ago"),
        60..=3599 => format!("{} min ago", d / 60),
        3600..=86399 => format!("{} h ago", d / 3600),
        86400..=2_591_999 => format!("{} d ago", d / 86400),
        _ => format!("{} mo ago", d / 2_592_000),
    }
}

/// Binary sizes as the console shows them: `38 MiB`, `1.2 GiB`, `512 B`.
pub fn size(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY.decimal_places(1).decimal_zeroes(0))
}

/// Docker-style decimal sizes: `4.27 MB`.
pub fn dsize(bytes: u64) -> String {
    humansize::format_size(
        bytes,
        humansize::DECIMAL.decimal_places(2).decimal_zeroes(0),
    )
}

/// The first 12 hex digits of an id, without a `sha256:` prefix.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// Cut `s` to at most `width` columns, ending with `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for ch in s.chars() {
        let cw = ch.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(ch);
        w += cw;
    }
    out.push('…');
    out
}

/// Display width of `s` in columns.
pub fn width(s: &str) -> usize {
    s.width()
}

/// Shorten an image reference as people write it: `docker.io/library/busybox:latest` → `busybox:latest`.
pub fn short_ref(r: &str) -> &str {
    r.strip_prefix("docker.io/library/")
        .or_else(|| r.strip_prefix("docker.io/"))
        .unwrap_or(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(ago(100, 160), "1 min ago");
        assert_eq!(ago(0, 7300), "2 h ago");
        assert_eq!(size(38 * 1024 * 1024), "38 MiB");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(
            short_ref("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
    }
}
