//! The render function: UI state in, a screen of cells out. No I/O.
//!
//! Rows from the top: the conversation, one activity row, the input box, the status
//! bar; dialogs are drawn over the conversation. The conversation is laid out from the
//! bottom up and only as far as the screen (plus the scroll offset) reaches, and each
//! entry's rows are kept in [`Layouts`] until the entry's version, the width or the
//! expansion changes — so a frame costs the same in a 5,000-message session as in a new
//! one. Streaming answers reuse their [`Markdown`] layout and lay out only new lines.

use super::markdown::{self, Line, Markdown, Span};
use super::screen::Screen;
use super::state::{Dialog, Entry, Item, State, ToolCard, ToolState, HELP, SPINNER};
use super::text::{char_width, ellipsis, width as text_width};
use super::theme::{Role, Theme};

/// The smallest usable terminal.
pub const MIN_WIDTH: u16 = 30;
/// The smallest usable terminal.
pub const MIN_HEIGHT: u16 = 8;
/// Diff rows a card shows before folding.
const DIFF_FOLD: usize = 12;
/// Rows a permission dialog shows of a command or diff.
const DIALOG_BODY: usize = 14;

/// Cached entry layouts.
#[derive(Debug, Default)]
pub struct Layouts {
    width: usize,
    epoch: u64,
    expanded: bool,
    entries: Vec<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    version: u64,
    lines: Vec<Line>,
    markdown: Option<Markdown>,
}

impl Layouts {
    /// Nothing cached.
    pub fn new() -> Layouts {
        Layouts::default()
    }

    fn reset_if_stale(&mut self, width: usize, epoch: u64, expanded: bool) {
        if self.width != width || self.epoch != epoch || self.expanded != expanded {
            // Keep the markdown layouts across expansion changes only: width and epoch
            // changes invalidate everything.
            if self.width != width || self.epoch != epoch {
                self.entries.clear();
            } else {
                for cached in self.entries.iter_mut().flatten() {
                    cached.version = u64::MAX;
                }
            }
            self.width = width;
            self.epoch = epoch;
            self.expanded = expanded;
        }
    }

    /// The rows of entry `index`.
    fn lines(&mut self, index: usize, item: &Item, state: &State) -> &[Line] {
        if self.entries.len() <= index {
            self.entries.resize_with(index + 1, || None);
        }
        let running_card = matches!(&item.entry, Entry::Tool(c) if c.state == ToolState::Running);
        let slot = &mut self.entries[index];
        let fresh = slot
            .as_ref()
            .is_some_and(|c| c.version == item.version && !running_card);
        if !fresh {
            let mut markdown = slot.take().and_then(|c| c.markdown);
            let lines = entry_lines(&item.entry, self.width, state, &mut markdown);
            *slot = Some(Cached {
                version: item.version,
                lines,
                markdown,
            });
        }
        slot.as_ref().map_or(&[], |c| c.lines.as_slice())
    }
}

/// What a frame learned about the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Frame {
    /// The largest useful scroll offset, when the frame reached the conversation's top.
    pub max_scroll: Option<usize>,
}

/// Draws `state` onto `screen` (of the terminal's size).
pub fn render(state: &State, layouts: &mut Layouts, screen: &mut Screen) -> Frame {
    let (w, h) = (screen.width(), screen.height());
    let theme = state.theme;
    *screen = Screen::new(w, h);
    if w < MIN_WIDTH || h < MIN_HEIGHT {
        too_small(screen, theme);
        return Frame::default();
    }
    let input_rows = input_lines(state, usize::from(w));
    let max_input = usize::from(h / 3).max(1);
    let shown_input = input_rows.rows.len().min(max_input);
    let status_y = h - 1;
    let input_y = status_y - shown_input as u16;
    let activity_y = input_y - 1;
    let conversation_h = usize::from(activity_y);

    let max_scroll = conversation(state, layouts, screen, conversation_h);
    activity(state, screen, activity_y);
    // The input box, scrolled so the cursor row shows.
    let first = input_rows
        .cursor
        .1
        .saturating_sub(shown_input.saturating_sub(1));
    for (k, row) in input_rows
        .rows
        .iter()
        .skip(first)
        .take(shown_input)
        .enumerate()
    {
        draw_line(screen, 0, input_y + k as u16, row, theme, w);
    }
    status_bar(state, screen, status_y);
    if state.dialog.is_none() {
        let (cx, cy) = input_rows.cursor;
        screen.cursor = Some((cx as u16, input_y + (cy - first) as u16));
    }
    if let Some(dialog) = &state.dialog {
        draw_dialog(state, dialog, screen, conversation_h as u16);
    }
    Frame { max_scroll }
}

fn too_small(screen: &mut Screen, theme: Theme) {
    let (w, h) = (screen.width(), screen.height());
    let lines = [
        "terminal too small".to_string(),
        format!("{w}×{h}; needs {MIN_WIDTH}×{MIN_HEIGHT}"),
    ];
    for (k, line) in lines.iter().enumerate() {
        let y = (h / 2).saturating_sub(1) + k as u16;
        if y < h {
            let shown = ellipsis(line, usize::from(w));
            let x = (usize::from(w).saturating_sub(text_width(&shown)) / 2) as u16;
            screen.put(x, y, &shown, theme.style(Role::Error), w);
        }
    }
}

/// Draws the conversation; when its top was reached, returns the largest scroll offset
/// that still fills the screen (the caller clamps an over-scrolled state to it).
fn conversation(
    state: &State,
    layouts: &mut Layouts,
    screen: &mut Screen,
    height: usize,
) -> Option<usize> {
    let width = usize::from(screen.width());
    layouts.reset_if_stale(width, state.epoch, state.expanded);
    if state.items.is_empty() {
        let hint = [
            Line::plain("cm — type a prompt and press Enter", Role::Strong),
            Line::plain(
                "/help lists the keys and commands; /sessions opens an earlier session",
                Role::Dim,
            ),
        ];
        for (k, line) in hint.iter().enumerate() {
            draw_line(screen, 2, 1 + k as u16, line, state.theme, screen.width());
        }
        return Some(0);
    }
    let (mut rows, mut total) = visible_rows(state, layouts, state.scroll, height);
    let mut top = total.map(|t| t.saturating_sub(height));
    if let Some(max) = top.filter(|max| state.scroll > *max) {
        // Scrolled past the top: the top stays put.
        (rows, total) = visible_rows(state, layouts, max, height);
        top = total.map(|t| t.saturating_sub(height)).or(Some(max));
    }
    // Short conversations start at the top.
    for (k, line) in rows.iter().rev().enumerate() {
        draw_line(screen, 0, k as u16, line, state.theme, screen.width());
    }
    top
}

/// The rows `skip`..`skip + height` counted up from the bottom, bottom first, and the
/// total row count when the walk reached the first entry. Entries wholly below the
/// window are counted from their cached layout, not copied.
fn visible_rows(
    state: &State,
    layouts: &mut Layouts,
    skip: usize,
    height: usize,
) -> (Vec<Line>, Option<usize>) {
    let mut below = 0usize;
    let mut rows: Vec<Line> = Vec::with_capacity(height);
    for index in (0..state.items.len()).rev() {
        let item = &state.items[index];
        let gap = index > 0 && !both_cards(&state.items[index - 1], item);
        let lines = layouts.lines(index, item, state);
        let count = lines.len() + usize::from(gap);
        if below + count <= skip {
            below += count;
            continue;
        }
        let blank = Line::default();
        let block = lines.iter().rev().chain(gap.then_some(&blank));
        for line in block {
            if below >= skip {
                rows.push(line.clone());
                if rows.len() >= height {
                    return (rows, None);
                }
            }
            below += 1;
        }
    }
    (rows, Some(below))
}

fn both_cards(a: &Item, b: &Item) -> bool {
    matches!(a.entry, Entry::Tool(_)) && matches!(b.entry, Entry::Tool(_))
}

fn entry_lines(
    entry: &Entry,
    width: usize,
    state: &State,
    markdown: &mut Option<Markdown>,
) -> Vec<Line> {
    let inner = width.saturating_sub(2).max(1);
    let indent = |lines: Vec<Line>| -> Vec<Line> {
        lines
            .into_iter()
            .map(|mut l| {
                l.spans.insert(0, Span::new("  ", Role::Text));
                l
            })
            .collect()
    };
    match entry {
        Entry::User(text) => {
            let mut out = Vec::new();
            for (k, line) in text.split('\n').enumerate() {
                let first = if k == 0 { "› " } else { "  " };
                out.extend(markdown::wrap(
                    vec![Span::new(line, Role::User)],
                    width,
                    vec![Span::new(first, Role::User)],
                    vec![Span::new("  ", Role::User)],
                ));
            }
            out
        }
        Entry::Assistant(text) => {
            let layout = markdown.get_or_insert_with(Markdown::new);
            layout.update(text, inner);
            indent(layout.lines().cloned().collect())
        }
        Entry::Reasoning(text) => {
            if !state.expanded {
                let rows = text.lines().filter(|l| !l.trim().is_empty()).count();
                let noun = if rows == 1 { "line" } else { "lines" };
                return vec![Line::plain(
                    format!("  ▸ thinking ({rows} {noun}; Ctrl-O shows them)"),
                    Role::Dim,
                )];
            }
            let mut out = vec![Line::plain("  ▾ thinking", Role::Dim)];
            for line in text.split('\n') {
                out.extend(markdown::wrap(
                    vec![Span::new(line, Role::Dim)],
                    width,
                    vec![Span::new("  │ ", Role::Dim)],
                    vec![Span::new("  │ ", Role::Dim)],
                ));
            }
            out
        }
        Entry::Tool(card) => card_lines(card, width, state),
        Entry::Notice { text, error } => {
            let role = if *error { Role::Error } else { Role::Dim };
            let mut out = Vec::new();
            for line in text.split('\n') {
                out.extend(markdown::wrap(
                    vec![Span::new(line, role)],
                    width,
                    vec![Span::new("  ", role)],
                    vec![Span::new("  ", role)],
                ));
            }
            out
        }
    }
}

fn card_lines(card: &ToolCard, width: usize, state: &State) -> Vec<Line> {
    let (mark, role) = match card.state {
        ToolState::Writing | ToolState::Pending => ("○".to_string(), Role::ToolRunning),
        ToolState::Running => (
            SPINNER[state.spinner % SPINNER.len()].to_string(),
            Role::ToolRunning,
        ),
        ToolState::Done => ("✓".to_string(), Role::ToolOk),
        ToolState::Failed => ("✗".to_string(), Role::ToolFailed),
    };
    let took = if card.duration_ms >= 100 {
        format!(" ({:.1} s)", card.duration_ms as f64 / 1000.0)
    } else {
        String::new()
    };
    // Summaries often repeat the tool's name ("bash: cargo test", "read src/a.rs").
    let summary = card
        .summary
        .strip_prefix(card.name.as_str())
        .and_then(|rest| rest.strip_prefix(": ").or(rest.strip_prefix(' ')))
        .unwrap_or(&card.summary);
    let detail = if summary.is_empty() {
        card.subject.clone()
    } else {
        summary.to_string()
    };
    let room = width.saturating_sub(5 + text_width(&card.name) + text_width(&took));
    let head = Line::new(vec![
        Span::new(format!("  {mark} "), role),
        Span::new(card.name.clone(), Role::Strong),
        Span::new(format!(" {}", ellipsis(&detail, room)), Role::Text),
        Span::new(took, Role::Dim),
    ]);
    let mut out = vec![head];
    let body_width = width.saturating_sub(4);
    if let Some(diff) = card.diff.as_deref().filter(|d| !d.is_empty()) {
        let lines: Vec<&str> = diff.lines().collect();
        let limit = if state.expanded {
            lines.len()
        } else {
            DIFF_FOLD
        };
        for line in lines.iter().take(limit) {
            out.push(Line::new(vec![
                Span::new("    ", Role::Text),
                Span::new(ellipsis(line, body_width), diff_role(line)),
            ]));
        }
        if lines.len() > limit {
            out.push(Line::plain(
                format!(
                    "    … {} more lines (Ctrl-O shows them)",
                    lines.len() - limit
                ),
                Role::Dim,
            ));
        }
    }
    // A refused call's "output" is its refusal, already the summary.
    let output = card
        .output
        .as_deref()
        .filter(|o| !o.is_empty() && o.lines().next() != Some(card.summary.as_str()));
    if let Some(output) = output {
        for line in output.lines() {
            out.push(Line::new(vec![
                Span::new("    │ ", Role::Dim),
                Span::new(ellipsis(line, body_width.saturating_sub(2)), Role::Dim),
            ]));
        }
    }
    out
}

fn diff_role(line: &str) -> Role {
    if line.starts_with("+++") || line.starts_with("---") {
        Role::Dim
    } else if line.starts_with('+') {
        Role::DiffAdd
    } else if line.starts_with('-') {
        Role::DiffDel
    } else if line.starts_with("@@") {
        Role::DiffHunk
    } else {
        Role::Text
    }
}

fn activity(state: &State, screen: &mut Screen, y: u16) {
    let w = screen.width();
    let theme = state.theme;
    let border = theme.style(Role::Border);
    let rule: String = "─".repeat(usize::from(w));
    screen.put(0, y, &rule, border, w);
    let label = if state.exit_armed {
        Some((" press Ctrl-C again to exit ".to_string(), Role::Error))
    } else if state.chord {
        Some((
            " Ctrl-X: L sessions · any other key cancels ".to_string(),
            Role::DialogTitle,
        ))
    } else if state.running {
        let frame = SPINNER[state.spinner % SPINNER.len()];
        Some((
            format!(" {frame} {}… · Ctrl-C stops ", state.activity),
            Role::ToolRunning,
        ))
    } else if state.scroll > 0 {
        Some((" scrolled up · End returns ".to_string(), Role::Dim))
    } else {
        None
    };
    if let Some((text, role)) = label {
        screen.put(1, y, &text, theme.style(role), w);
    }
    let hint = " /help ";
    let x = w.saturating_sub(text_width(hint) as u16 + 1);
    screen.put(x, y, hint, theme.style(Role::Dim), w);
}

/// The input box's rows and the cursor's (column, row) among them.
struct InputRows {
    rows: Vec<Line>,
    cursor: (usize, usize),
}

fn input_lines(state: &State, width: usize) -> InputRows {
    let room = width.saturating_sub(2).max(1);
    let text = state.editor.text();
    let (cursor_line, cursor_col) = state.editor.cursor_line_column();
    let mut rows = Vec::new();
    let mut cursor = (2, 0);
    for (k, line) in text.split('\n').enumerate() {
        let prefix = if k == 0 { "› " } else { "  " };
        let mut row = String::new();
        let mut used = 0;
        let mut col_chars = 0;
        let mut first_row = true;
        let mut pieces = Vec::new();
        for c in line.chars() {
            let cw = char_width(c);
            if used + cw > room {
                pieces.push(std::mem::take(&mut row));
                used = 0;
            }
            if k == cursor_line && col_chars == cursor_col {
                cursor = (2 + used, rows.len() + pieces.len());
            }
            row.push(c);
            used += cw;
            col_chars += 1;
        }
        if k == cursor_line && col_chars == cursor_col {
            if used >= room {
                pieces.push(std::mem::take(&mut row));
                used = 0;
            }
            cursor = (2 + used, rows.len() + pieces.len());
        }
        pieces.push(row);
        for piece in pieces {
            let lead = if first_row { prefix } else { "  " };
            first_row = false;
            rows.push(Line::new(vec![
                Span::new(lead, Role::User),
                Span::new(piece, Role::Text),
            ]));
        }
    }
    InputRows { rows, cursor }
}

fn status_bar(state: &State, screen: &mut Screen, y: u16) {
    let w = screen.width();
    let style = state.theme.style(Role::Status);
    screen.fill_row(0, y, style);
    let s = &state.status;
    let mut parts = vec![format!("{}/{}", s.provider, s.model)];
    if let Some(window) = s.context_window.filter(|w| *w > 0) {
        let percent = s.context_used.saturating_mul(100) / window;
        parts.push(format!("ctx {percent}%"));
    }
    parts.push(format!("{} tok", tokens(s.session_tokens)));
    if let Some(cost) = s.session_cost {
        parts.push(format!("${cost:.2}"));
    }
    parts.push(s.cwd.clone());
    if let Some(branch) = &s.branch {
        parts.push(format!("⎇ {branch}"));
    }
    let text = format!(" {}", parts.join(" · "));
    screen.put(0, y, &ellipsis(&text, usize::from(w)), style, w);
}

/// 950, 12.3k, 4.5M.
pub fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

fn draw_line(screen: &mut Screen, x: u16, y: u16, line: &Line, theme: Theme, limit: u16) {
    let mut col = x;
    for span in &line.spans {
        col = screen.put(col, y, &span.text, theme.style(span.role), limit);
    }
    if let Some(fill) = line.fill {
        // Code blocks keep their background from the indent to the edge.
        let style = theme.style(fill);
        let start = col.min(limit);
        for c in start..limit {
            screen.put(c, y, " ", style, limit);
        }
    }
}

/// A dialog's rows, drawn in a box.
fn draw_dialog(state: &State, dialog: &Dialog, screen: &mut Screen, area_h: u16) {
    let theme = state.theme;
    let w = screen.width();
    let box_w = (w.saturating_sub(4)).min(100);
    let inner = usize::from(box_w.saturating_sub(4));
    let (title, body) = dialog_body(dialog, inner, usize::from(area_h.saturating_sub(2)));
    let box_h = (body.len() as u16 + 2).min(area_h);
    let x0 = (w - box_w) / 2;
    let y0 = area_h.saturating_sub(box_h);
    let border = theme.style(Role::Border);
    let fill = theme.style(Role::Dialog);
    for y in y0..y0 + box_h {
        for x in x0..x0 + box_w {
            screen.put(x, y, " ", fill, w);
        }
    }
    let top = format!("┌ {title} {}", "─".repeat(usize::from(box_w)));
    screen.put(x0, y0, &top, border, x0 + box_w - 1);
    screen.put(
        x0 + 1,
        y0,
        &format!(" {title} "),
        theme.style(Role::DialogTitle),
        x0 + box_w - 1,
    );
    screen.put(x0 + box_w - 1, y0, "┐", border, w);
    let bottom = format!("└{}┘", "─".repeat(usize::from(box_w.saturating_sub(2))));
    screen.put(x0, y0 + box_h - 1, &bottom, border, x0 + box_w);
    for (k, line) in body
        .iter()
        .take(usize::from(box_h.saturating_sub(2)))
        .enumerate()
    {
        let y = y0 + 1 + k as u16;
        screen.put(x0, y, "│", border, w);
        screen.put(x0 + box_w - 1, y, "│", border, w);
        draw_line(screen, x0 + 2, y, line, theme, x0 + box_w - 2);
    }
    if let Some((col, row)) = dialog_cursor(dialog, &body) {
        let y = y0 + 1 + row as u16;
        if y < y0 + box_h - 1 {
            screen.cursor = Some((x0 + 2 + col as u16, y));
        }
    }
}

fn dialog_cursor(dialog: &Dialog, body: &[Line]) -> Option<(usize, usize)> {
    let (editor, marker) = match dialog {
        Dialog::Permission {
            message: Some(editor),
            ..
        } => (editor, "why: "),
        Dialog::Sessions { filter, .. } | Dialog::Models { filter, .. } => (filter, "filter: "),
        _ => return None,
    };
    let row = body
        .iter()
        .position(|l| l.spans.first().is_some_and(|s| s.text == marker))?;
    let before = &editor.text()[..editor.cursor()];
    Some((text_width(marker) + text_width(before), row))
}

/// The rows matching a fuzzy `filter`, best first: every filter character must appear in
/// order; earlier and tighter matches rank higher.
pub fn fuzzy_filter<'a>(items: &'a [String], filter: &str) -> Vec<&'a String> {
    let needle: Vec<char> = filter
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut scored: Vec<(usize, usize, &String)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| fuzzy_score(&item.to_lowercase(), &needle).map(|s| (s, i, item)))
        .collect();
    // Ties go to the shorter item: `gpt-5` before `gpt-5-mini`.
    scored.sort_by_key(|(score, i, item)| (*score, item.len(), *i));
    scored.into_iter().map(|(_, _, item)| item).collect()
}

fn fuzzy_score(hay: &str, needle: &[char]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    // A contiguous match ranks above any scattered one.
    let word: String = needle.iter().collect();
    if let Some(at) = hay.find(&word) {
        return Some(hay[..at].chars().count());
    }
    let chars: Vec<char> = hay.chars().collect();
    let mut pos = 0;
    let mut first = None;
    let mut gaps = 0;
    for &n in needle {
        let found = chars[pos..].iter().position(|&c| c == n)?;
        if first.is_none() {
            first = Some(pos + found);
        } else {
            gaps += found;
        }
        pos += found + 1;
    }
    Some(10_000 + gaps * 4 + first.unwrap_or(0))
}

/// The session rows a filter keeps, as `(index, row)`.
pub fn filtered_sessions<'a>(
    rows: &'a [super::state::SessionRow],
    filter: &str,
) -> Vec<&'a super::state::SessionRow> {
    let labels: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r.title, r.when, r.id))
        .collect();
    let kept = fuzzy_filter(&labels, filter);
    kept.into_iter()
        .filter_map(|label| labels.iter().position(|l| std::ptr::eq(l, label)))
        .map(|i| &rows[i])
        .collect()
}

fn dialog_body(dialog: &Dialog, inner: usize, max_rows: usize) -> (String, Vec<Line>) {
    match dialog {
        Dialog::Permission {
            question,
            choice,
            message,
            ..
        } => {
            let mut body = Vec::new();
            let what = match question.permission.as_str() {
                "bash" => "run a command",
                "edit" => "change a file",
                "external_directory" => "use a path outside the workspace",
                "doom_loop" => "repeat the same call a third time",
                _ => "use a tool",
            };
            body.push(Line::new(vec![
                Span::new("cm wants to ", Role::Text),
                Span::new(what, Role::Strong),
                Span::new(format!(" ({})", question.tool), Role::Dim),
            ]));
            let (subject, diff) = super::state::describe_call(&question.tool, &question.arguments);
            let shown = if subject.is_empty() {
                super::text::neutralise(&question.subject)
            } else {
                subject
            };
            // A command is shown whole, line by line (a heredoc, a chain), not cut.
            let command = serde_json::from_str::<serde_json::Value>(&question.arguments)
                .ok()
                .and_then(|a| a.get("command")?.as_str().map(super::text::neutralise))
                .filter(|c| question.tool == "bash" && !c.trim().is_empty());
            let room = DIALOG_BODY.min(max_rows.saturating_sub(8)).max(2);
            match command {
                Some(command) => {
                    let lines: Vec<&str> = command.lines().collect();
                    for line in lines.iter().take(room) {
                        body.extend(markdown::wrap(
                            vec![Span::new(*line, Role::Code)],
                            inner,
                            vec![Span::new("  ", Role::Text)],
                            vec![Span::new("    ", Role::Text)],
                        ));
                    }
                    if lines.len() > room {
                        body.push(Line::plain(
                            format!("  … {} more lines", lines.len() - room),
                            Role::Dim,
                        ));
                    }
                }
                None => body.push(Line::new(vec![
                    Span::new("  ", Role::Text),
                    Span::new(ellipsis(&shown, inner.saturating_sub(2)), Role::Code),
                ])),
            }
            if let Some(diff) = diff.filter(|d| !d.is_empty()) {
                let lines: Vec<&str> = diff.lines().collect();
                for line in lines.iter().take(room) {
                    body.push(Line::new(vec![
                        Span::new("  ", Role::Text),
                        Span::new(ellipsis(line, inner.saturating_sub(2)), diff_role(line)),
                    ]));
                }
                if lines.len() > room {
                    body.push(Line::plain(
                        format!("  … {} more lines", lines.len() - room),
                        Role::Dim,
                    ));
                }
            }
            body.push(Line::default());
            let labels = [
                "y  allow once",
                "a  allow always (this session)",
                "n  deny",
                "m  deny with a message to the model",
            ];
            for (k, label) in labels.iter().enumerate() {
                let role = if k == *choice {
                    Role::Selected
                } else {
                    Role::Text
                };
                let marker = if k == *choice { "▸ " } else { "  " };
                body.push(Line::new(vec![
                    Span::new(marker, Role::Bullet),
                    Span::new(*label, role),
                ]));
            }
            if let Some(editor) = message {
                body.push(Line::default());
                body.push(Line::new(vec![
                    Span::new("why: ", Role::DialogTitle),
                    Span::new(editor.text().replace('\n', " "), Role::Text),
                ]));
                body.push(Line::plain(
                    "Enter sends the denial · Esc goes back",
                    Role::Dim,
                ));
            } else {
                body.push(Line::plain(
                    "↑/↓ choose · Enter confirms · Esc denies",
                    Role::Dim,
                ));
            }
            ("Permission".to_string(), body)
        }
        Dialog::Sessions {
            rows,
            selected,
            filter,
        } => {
            let kept = filtered_sessions(rows, filter.text());
            let mut body = vec![
                Line::new(vec![
                    Span::new("filter: ", Role::DialogTitle),
                    Span::new(filter.text(), Role::Text),
                ]),
                Line::default(),
            ];
            let room = max_rows.saturating_sub(4).max(1);
            let start = selected.saturating_sub(room.saturating_sub(1));
            if kept.is_empty() {
                body.push(Line::plain("no session matches", Role::Dim));
            }
            for (k, row) in kept.iter().enumerate().skip(start).take(room) {
                let right = format!("  {}  {}", row.when, row.id);
                let title_room = inner.saturating_sub(text_width(&right) + 2);
                let title = ellipsis(&row.title, title_room);
                let pad = " ".repeat(title_room.saturating_sub(text_width(&title)));
                let role = if k == *selected {
                    Role::Selected
                } else {
                    Role::Text
                };
                body.push(Line::new(vec![
                    Span::new(if k == *selected { "▸ " } else { "  " }, Role::Bullet),
                    Span::new(format!("{title}{pad}"), role),
                    Span::new(right, Role::Dim),
                ]));
            }
            body.push(Line::plain(
                "Enter opens · Esc closes · type to filter",
                Role::Dim,
            ));
            (format!("Sessions ({})", rows.len()), body)
        }
        Dialog::Models {
            models,
            selected,
            filter,
        } => {
            let kept = fuzzy_filter(models, filter.text());
            let mut body = vec![
                Line::new(vec![
                    Span::new("filter: ", Role::DialogTitle),
                    Span::new(filter.text(), Role::Text),
                ]),
                Line::default(),
            ];
            let room = max_rows.saturating_sub(4).max(1);
            let start = selected.saturating_sub(room.saturating_sub(1));
            if kept.is_empty() {
                body.push(Line::plain(
                    "no known model matches; Enter uses the text as provider/model",
                    Role::Dim,
                ));
            }
            for (k, model) in kept.iter().enumerate().skip(start).take(room) {
                let role = if k == *selected {
                    Role::Selected
                } else {
                    Role::Text
                };
                body.push(Line::new(vec![
                    Span::new(if k == *selected { "▸ " } else { "  " }, Role::Bullet),
                    Span::new(model.as_str(), role),
                ]));
            }
            body.push(Line::plain(
                "Enter switches · Esc closes · type to filter",
                Role::Dim,
            ));
            ("Model".to_string(), body)
        }
        Dialog::Help => {
            let key_w = HELP.iter().map(|(k, _)| text_width(k)).max().unwrap_or(0) + 2;
            let mut body: Vec<Line> = HELP
                .iter()
                .map(|(key, what)| {
                    let pad = " ".repeat(key_w.saturating_sub(text_width(key)));
                    Line::new(vec![
                        Span::new(format!("{key}{pad}"), Role::Strong),
                        Span::new(*what, Role::Text),
                    ])
                })
                .collect();
            body.push(Line::default());
            body.push(Line::plain("Esc closes", Role::Dim));
            ("Keys and commands".to_string(), body)
        }
    }
}
