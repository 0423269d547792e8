//! The input box: multi-line text with a cursor, word movement and prompt history.
//!
//! The text is one `String` and the cursor a byte offset on a character boundary. Up and
//! Down move between lines, and past the first or last line walk the history; what was
//! being typed is kept while browsing and comes back below the newest entry.

/// The editor's text, cursor and history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    text: String,
    cursor: usize,
    history: Vec<String>,
    /// Index into `history` while browsing it.
    browsing: Option<usize>,
    /// What was typed before browsing began.
    draft: String,
}

impl Editor {
    /// An empty editor.
    pub fn new() -> Editor {
        Editor::default()
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor's byte offset.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Inserts text at the cursor (a paste may hold newlines).
    pub fn insert(&mut self, text: &str) {
        self.text.insert_str(self.cursor, text);
        self.cursor += text.len();
        self.browsing = None;
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if let Some(prev) = self.prev_boundary(self.cursor) {
            self.text.replace_range(prev..self.cursor, "");
            self.cursor = prev;
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if let Some(next) = self.next_boundary(self.cursor) {
            self.text.replace_range(self.cursor..next, "");
        }
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word_back(&mut self) {
        let start = self.word_left_of(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn delete_to_line_start(&mut self) {
        let start = self.line_start(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// One character left.
    pub fn left(&mut self) {
        if let Some(prev) = self.prev_boundary(self.cursor) {
            self.cursor = prev;
        }
    }

    /// One character right.
    pub fn right(&mut self) {
        if let Some(next) = self.next_boundary(self.cursor) {
            self.cursor = next;
        }
    }

    /// To the start of the previous word.
    pub fn word_left(&mut self) {
        self.cursor = self.word_left_of(self.cursor);
    }

    /// To the end of the next word.
    pub fn word_right(&mut self) {
        let rest = &self.text[self.cursor..];
        let skip_space = rest.len() - rest.trim_start().len();
        let word = rest[skip_space..]
            .find(char::is_whitespace)
            .unwrap_or(rest.len() - skip_space);
        self.cursor += skip_space + word;
    }

    /// To the start of the line.
    pub fn home(&mut self) {
        self.cursor = self.line_start(self.cursor);
    }

    /// To the end of the line.
    pub fn end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i);
    }

    /// Up a line, or to the previous history entry from the first line.
    pub fn up(&mut self) {
        let start = self.line_start(self.cursor);
        if start == 0 {
            self.history_back();
            return;
        }
        let column = self.text[start..self.cursor].chars().count();
        let prev_start = self.line_start(start - 1);
        self.cursor = self.at_column(prev_start, column);
    }

    /// Down a line, or to the next history entry from the last line.
    pub fn down(&mut self) {
        let Some(newline) = self.text[self.cursor..].find('\n') else {
            self.history_forward();
            return;
        };
        let column = self.text[self.line_start(self.cursor)..self.cursor]
            .chars()
            .count();
        self.cursor = self.at_column(self.cursor + newline + 1, column);
    }

    /// Takes the text to send: it joins the history and the editor empties.
    pub fn take(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
        }
        text
    }

    /// Empties the editor without keeping the text.
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// The line and column (in characters) of the cursor.
    pub fn cursor_line_column(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let column = before[self.line_start(self.cursor)..].chars().count();
        (line, column)
    }

    fn history_back(&mut self) {
        let next = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.browsing = Some(next);
        self.text = self.history[next].clone();
        self.cursor = self.text.len();
    }

    fn history_forward(&mut self) {
        let Some(i) = self.browsing else {
            return;
        };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            self.text = self.history[i + 1].clone();
        } else {
            self.browsing = None;
            self.text = std::mem::take(&mut self.draft);
        }
        self.cursor = self.text.len();
    }

    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    fn at_column(&self, line_start: usize, column: usize) -> usize {
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        self.text[line_start..line_end]
            .char_indices()
            .nth(column)
            .map_or(line_end, |(i, _)| line_start + i)
    }

    fn prev_boundary(&self, at: usize) -> Option<usize> {
        self.text[..at].char_indices().next_back().map(|(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> Option<usize> {
        self.text[at..].chars().next().map(|c| at + c.len_utf8())
    }

    fn word_left_of(&self, at: usize) -> usize {
        let before = &self.text[..at];
        let trimmed = before.trim_end();
        trimmed.rfind(char::is_whitespace).map_or(0, |i| {
            i + trimmed[i..].chars().next().map_or(1, char::len_utf8)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Editor {
        let mut editor = Editor::new();
        editor.insert(text);
        editor
    }

    #[test]
    fn typing_moving_and_deleting_by_characters_and_words() {
        let mut editor = typed("fix the büg");
        editor.backspace();
        editor.insert("ug!");
        assert_eq!(editor.text(), "fix the büug!");
        editor.word_left();
        assert_eq!(&editor.text()[editor.cursor()..], "büug!");
        editor.word_left();
        editor.delete_word_back();
        assert_eq!(editor.text(), "the büug!");
        editor.word_right();
        assert_eq!(&editor.text()[..editor.cursor()], "the");
        editor.home();
        editor.delete();
        assert_eq!(editor.text(), "he büug!");
        editor.end();
        editor.left();
        editor.backspace();
        assert_eq!(editor.text(), "he büu!");
    }

    #[test]
    fn up_and_down_move_between_lines_keeping_the_column() {
        let mut editor = typed("first line\nab\nthird");
        assert_eq!(editor.cursor_line_column(), (2, 5));
        editor.up();
        assert_eq!(
            editor.cursor_line_column(),
            (1, 2),
            "clamped to the short line"
        );
        editor.up();
        assert_eq!(editor.cursor_line_column(), (0, 2));
        editor.down();
        editor.down();
        assert_eq!(editor.cursor_line_column(), (2, 2));
        editor.delete_to_line_start();
        assert_eq!(editor.text(), "first line\nab\nird");
    }

    #[test]
    fn history_walks_back_and_returns_to_the_draft() {
        let mut editor = Editor::new();
        for prompt in ["one", "two", "two", "  "] {
            editor.insert(prompt);
            editor.take();
        }
        editor.insert("draft");
        editor.up();
        assert_eq!(editor.text(), "two", "duplicates and blanks are not kept");
        editor.up();
        assert_eq!(editor.text(), "one");
        editor.up();
        assert_eq!(editor.text(), "one");
        editor.down();
        assert_eq!(editor.text(), "two");
        editor.down();
        assert_eq!(editor.text(), "draft");
    }
}
