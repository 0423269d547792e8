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
            self.clear_wide_overlap(col, y, w);
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

    /// Before `columns` cells at (`x`, `y`) are overwritten: a wide character cut in half
    /// by them becomes a space, as a terminal shows it, so the grid never holds half of one.
    fn clear_wide_overlap(&mut self, x: u16, y: u16, columns: u16) {
        let blank = |cell: Option<&Cell>| Cell {
            ch: ' ',
            style: cell.map_or_else(Style::default, |c| c.style),
        };
        if x > 0 && self.cell(x, y).is_some_and(|c| c.ch == WIDE_TAIL) {
            let head = blank(self.cell(x - 1, y));
            self.set(x - 1, y, head);
        }
        let after = x + columns;
        if self.cell(after, y).is_some_and(|c| c.ch == WIDE_TAIL) {
            let tail = blank(self.cell(after, y));
            self.set(after, y, tail);
        }
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
        // Overwriting half of a wide character blanks the other half.
        screen.put(3, 0, "z", Style::default(), 6);
        assert_eq!(screen.row_text(0), "ab z");
        screen.put(0, 1, "日", Style::default(), 6);
        screen.put(0, 1, "q", Style::default(), 6);
        assert_eq!(screen.row_text(1), "q   xy");
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

#[cfg(test)]
mod terminal_tests {
    use super::*;

    /// A minimal terminal for the sequences [`diff`] writes: cursor moves, SGR, clear,
    /// cursor visibility and printable characters (wide ones take two columns).
    struct Terminal {
        grid: Screen,
        at: (u16, u16),
        pen: Style,
    }

    impl Terminal {
        fn new(width: u16, height: u16) -> Terminal {
            Terminal {
                grid: Screen::new(width, height),
                at: (0, 0),
                pen: Style::default(),
            }
        }

        fn feed(&mut self, bytes: &str) {
            let mut chars = bytes.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\u{1b}' {
                    let (x, y) = self.at;
                    let w = char_width(c) as u16;
                    self.grid.set(
                        x,
                        y,
                        Cell {
                            ch: c,
                            style: self.pen,
                        },
                    );
                    if w == 2 {
                        self.grid.set(
                            x + 1,
                            y,
                            Cell {
                                ch: WIDE_TAIL,
                                style: self.pen,
                            },
                        );
                    }
                    self.at = (x + w, y);
                    continue;
                }
                assert_eq!(chars.next(), Some('['), "only CSI sequences are written");
                let mut params = String::new();
                let end = loop {
                    let c = chars.next().expect("a complete sequence");
                    if c.is_ascii_alphabetic() {
                        break c;
                    }
                    params.push(c);
                };
                let numbers: Vec<u16> = params
                    .trim_start_matches('?')
                    .split(';')
                    .map(|n| n.parse().unwrap_or(0))
                    .collect();
                match end {
                    'H' => self.at = (numbers[1] - 1, numbers[0] - 1),
                    'J' => self.grid = Screen::new(self.grid.width, self.grid.height),
                    'm' => self.pen = parse_sgr(&numbers),
                    'l' | 'h' => assert_eq!(params, "?25"),
                    other => panic!("unexpected sequence ending in {other}"),
                }
            }
        }
    }

    fn parse_sgr(numbers: &[u16]) -> Style {
        let mut style = Style::default();
        let mut i = 0;
        while i < numbers.len() {
            match numbers[i] {
                0 => style = Style::default(),
                1 => style.bold = true,
                2 => style.dim = true,
                3 => style.italic = true,
                4 => style.underline = true,
                7 => style.reverse = true,
                38 => {
                    style.fg = Color::Indexed(numbers[i + 2] as u8);
                    i += 2;
                }
                48 => {
                    style.bg = Color::Indexed(numbers[i + 2] as u8);
                    i += 2;
                }
                other => panic!("unexpected SGR {other}"),
            }
            i += 1;
        }
        style
    }

    #[test]
    fn a_terminal_fed_the_diffs_shows_every_frame_exactly() {
        let words = ["cm", "日本", "fn", "─", "é", "x", "  ", "ok!"];
        let styles = [
            Style::default(),
            Style {
                bold: true,
                fg: Color::Indexed(203),
                ..Style::default()
            },
            Style {
                bg: Color::Indexed(236),
                dim: true,
                ..Style::default()
            },
        ];
        let mut seed = 9u32;
        let mut next = move |n: usize| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as usize % n
        };
        let mut terminal = Terminal::new(24, 6);
        let mut shown: Option<Screen> = None;
        let mut frame = Screen::new(24, 6);
        for _ in 0..300 {
            for _ in 0..next(6) {
                let (x, y) = (next(24) as u16, next(6) as u16);
                frame.put(
                    x,
                    y,
                    words[next(words.len())],
                    styles[next(styles.len())],
                    24,
                );
            }
            frame.cursor = (next(2) == 0).then(|| (next(24) as u16, next(6) as u16));
            let bytes = diff(shown.as_ref(), &frame);
            terminal.feed(&bytes);
            assert_eq!(terminal.grid.cells, frame.cells);
            shown = Some(frame.clone());
        }
    }
}
