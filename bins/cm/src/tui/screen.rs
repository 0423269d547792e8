//! The virtual screen: a grid of styled cells that the render function fills, and the
//! writer that turns the difference between two screens into terminal output.
//!
//! Only cells that changed are sent, with a cursor move only where the changed cells are
//! not contiguous and a style change only where the style differs. A wide character takes
//! two cells, the second holding [`WIDE_TAIL`]. Cells never hold control characters.

use std::fmt::Write as _;

use super::text::{char_width, is_control};
use super::theme::{Color, Style};

/// The second cell of a wide character.
pub const WIDE_TAIL: char = '\0';

/// One screen position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The character (a space when empty).
    pub ch: char,
    /// How it is drawn.
    pub style: Style,
}

impl Default for Cell {
    fn default() -> Cell {
        Cell {
            ch: ' ',
            style: Style::default(),
        }
    }
}

/// A grid of cells and where the cursor shows (hidden when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    width: u16,
    height: u16,
    cells: Vec<Cell>,
    /// Where the terminal's cursor is left, as (column, row).
    pub cursor: Option<(u16, u16)>,
}

impl Screen {
    /// A blank screen.
    pub fn new(width: u16, height: u16) -> Screen {
        Screen {
            width,
            height,
            cells: vec![Cell::default(); usize::from(width) * usize::from(height)],
            cursor: None,
        }
    }

    /// Columns.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The cell at (`x`, `y`), if on screen.
    pub fn cell(&self, x: u16, y: u16) -> Option<&Cell> {
        (x < self.width && y < self.height)
            .then(|| &self.cells[usize::from(y) * usize::from(self.width) + usize::from(x)])
    }

    fn set(&mut self, x: u16, y: u16, cell: Cell) {
        if x < self.width && y < self.height {
            let i = usize::from(y) * usize::from(self.width) + usize::from(x);
            self.cells[i] = cell;
        }
    }

    /// Fills row `y` from column `x` to the end with spaces in `style`.
    pub fn fill_row(&mut self, x: u16, y: u16, style: Style) {
        for col in x..self.width {
            self.set(col, y, Cell { ch: ' ', style });
        }
    }

    /// Writes `text` at (`x`, `y`) without passing column `limit` (exclusive, clipped to
    /// the width); returns the column after the last character written. Control
    /// characters are skipped; a wide character that does not fit is not written.
    pub fn put(&mut self, x: u16, y: u16, text: &str, style: Style, limit: u16) -> u16 {
        let limit = limit.min(self.width);
        let mut col = x;
        for c in text.chars() {
            if is_control(c) {
                continue;
            }
            let w = char_width(c) as u16;
            if w == 0 {
                continue;
            }
            if col.saturating_add(w) > limit {
                break;
            }
            self.set(col, y, Cell { ch: c, style });
            if w == 2 {
                self.set(
                    col + 1,
                    y,
                    Cell {
                        ch: WIDE_TAIL,
                        style,
                    },
                );
            }
            col += w;
        }
        col
    }

    /// Row `y` as plain text, trailing spaces removed.
    #[cfg(test)]
    pub fn row_text(&self, y: u16) -> String {
        let mut line: String = (0..self.width)
            .filter_map(|x| self.cell(x, y))
            .filter(|c| c.ch != WIDE_TAIL)
            .map(|c| c.ch)
            .collect();
        line.truncate(line.trim_end().len());
        line
    }

    /// The whole screen as plain text, one line per row (for snapshots).
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for y in 0..self.height {
            out.push_str(&self.row_text(y));
            out.push('\n');
        }
        out
    }
}

/// The bytes that turn a terminal showing `before` (or anything, when `None` or of
/// another size) into `after`.
pub fn diff(before: Option<&Screen>, after: &Screen) -> String {
    let mut out = String::new();
    let before = before.filter(|b| b.width == after.width && b.height == after.height);
    // Hide the cursor while drawing, so it never flickers across the screen.
    out.push_str("\u{1b}[?25l");
    if before.is_none() {
        out.push_str("\u{1b}[0m\u{1b}[2J");
    }
    let mut pen: Option<Style> = None;
    let mut at: Option<(u16, u16)> = None;
    for y in 0..after.height {
        for x in 0..after.width {
            let Some(cell) = after.cell(x, y) else {
                continue;
            };
            if cell.ch == WIDE_TAIL {
                continue;
            }
            let unchanged = match before {
                Some(b) => b.cell(x, y) == Some(cell),
                // After a clear, blank default cells are already right.
                None => *cell == Cell::default(),
            };
            // A wide character whose tail changed is redrawn whole.
            let tail_changed = char_width(cell.ch) == 2
                && before.is_some_and(|b| b.cell(x + 1, y) != after.cell(x + 1, y));
            if unchanged && !tail_changed {
                continue;
            }
            if at != Some((x, y)) {
                let _ = write!(out, "\u{1b}[{};{}H", y + 1, x + 1);
            }
            if pen != Some(cell.style) {
                sgr(&mut out, cell.style);
                pen = Some(cell.style);
            }
            out.push(cell.ch);
            let next = x.saturating_add(char_width(cell.ch) as u16);
            at = (next < after.width).then_some((next, y));
        }
    }
    out.push_str("\u{1b}[0m");
    if let Some((x, y)) = after.cursor {
        let _ = write!(out, "\u{1b}[{};{}H\u{1b}[?25h", y + 1, x + 1);
    }
    out
}

fn sgr(out: &mut String, style: Style) {
    out.push_str("\u{1b}[0");
    if style.bold {
        out.push_str(";1");
    }
    if style.dim {
        out.push_str(";2");
    }
    if style.italic {
        out.push_str(";3");
    }
    if style.underline {
        out.push_str(";4");
    }
    if style.reverse {
        out.push_str(";7");
    }
    if let Color::Indexed(c) = style.fg {
        let _ = write!(out, ";38;5;{c}");
    }
    if let Color::Indexed(c) = style.bg {
        let _ = write!(out, ";48;5;{c}");
    }
    out.push('m');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_clips_skips_controls_and_marks_wide_tails() {
        let mut screen = Screen::new(6, 2);
        let end = screen.put(0, 0, "a\u{1b}b日本", Style::default(), 5);
        assert_eq!(end, 4, "ab + one wide char; the second does not fit");
        assert_eq!(screen.row_text(0), "ab日");
        assert_eq!(screen.cell(3, 0).map(|c| c.ch), Some(WIDE_TAIL));
        screen.put(4, 1, "xyz", Style::default(), 10);
        assert_eq!(screen.row_text(1), "    xy");
    }

    #[test]
    fn the_first_frame_clears_and_paints_only_non_blank_cells() {
        let mut screen = Screen::new(10, 2);
        screen.put(2, 1, "hi", Style::default(), 10);
        let out = diff(None, &screen);
        assert_eq!(
            out,
            "\u{1b}[?25l\u{1b}[0m\u{1b}[2J\u{1b}[2;3H\u{1b}[0mhi\u{1b}[0m"
        );
    }

    #[test]
    fn later_frames_send_only_changed_cells_and_styles() {
        let mut before = Screen::new(10, 2);
        before.put(0, 0, "hello", Style::default(), 10);
        let mut after = before.clone();
        assert_eq!(diff(Some(&before), &after), "\u{1b}[?25l\u{1b}[0m");
        let bold = Style {
            bold: true,
            ..Style::default()
        };
        after.put(1, 0, "ipp", Style::default(), 10);
        after.put(0, 1, "!", bold, 10);
        after.cursor = Some((3, 1));
        assert_eq!(
            diff(Some(&before), &after),
            "\u{1b}[?25l\u{1b}[1;2H\u{1b}[0mipp\u{1b}[2;1H\u{1b}[0;1m!\u{1b}[0m\u{1b}[2;4H\u{1b}[?25h"
        );
    }

    #[test]
    fn a_resize_repaints_everything() {
        let before = Screen::new(5, 5);
        let mut after = Screen::new(6, 5);
        after.put(0, 0, "x", Style::default(), 6);
        assert!(diff(Some(&before), &after).contains("\u{1b}[2J"));
    }
}
