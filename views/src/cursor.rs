//! The selection and scroll position of a list.

/// Selected row and first visible row of a list or table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    pub selected: usize,
    pub offset: usize,
}

impl ListCursor {
    /// Move by `delta` rows within `len`.
    pub fn step(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let s = self.selected as isize + delta;
        self.selected = s.clamp(0, len as isize - 1) as usize;
    }
    /// First row.
    pub fn top(&mut self) {
        self.selected = 0;
    }
    /// Last row.
    pub fn bottom(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }
    /// Keep the selection inside `len` rows.
    pub fn clamp(&mut self, len: usize) {
        if self.selected >= len {
            self.selected = len.saturating_sub(1);
        }
    }
    /// Scroll so the selection is inside a window of `height` rows; returns the offset.
    pub fn scroll(&mut self, height: usize, len: usize) -> usize {
        self.clamp(len);
        if height == 0 {
            return self.offset;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolls_minimally() {
        let mut c = ListCursor::default();
        c.step(12, 100);
        assert_eq!(c.scroll(10, 100), 3);
        c.step(-5, 100);
        assert_eq!(
            c.scroll(10, 100),
            3,
            "moving inside the window does not scroll"
        );
        c.step(-5, 100);
        assert_eq!(c.scroll(10, 100), 2);
        c.bottom(100);
        assert_eq!(c.scroll(10, 100), 90);
        c.clamp(5);
        assert_eq!(c.scroll(10, 5), 0);
        assert_eq!(c.selected, 4);
    }
}
