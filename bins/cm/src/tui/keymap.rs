//! What a key does: it edits the state (pure) and may ask the program to act.
//!
//! Keys go to the open dialog first, then to the input box. Enter on the input box sends
//! the prompt or runs a `/command`; `//text` sends `/text`, and a line such as
//! `/etc/hosts looks odd` (a slash word with more slashes or words after it) is a prompt.

use cm_proto::agent::{AskId, Decision};

use super::editor::Editor;
use super::keys::Key;
use super::render::{filtered_sessions, fuzzy_filter};
use super::state::{Dialog, State};

/// Something the program must do after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this prompt.
    Prompt(String),
    /// Answer a permission question.
    Answer(AskId, Decision),
    /// Stop the running turn.
    Interrupt,
    /// Leave.
    Exit,
    /// Load the session list and open it.
    ListSessions,
    /// Open this session.
    OpenSession(String),
    /// Start a new session.
    NewSession,
    /// List the models and open the picker.
    ListModels,
    /// Use this `provider/model`.
    UseModel(String),
    /// Summarise the conversation.
    Compact,
    /// Repaint every cell (the terminal was written to by something else).
    Repaint,
    /// Turn mouse reporting (wheel scrolling) on or off.
    ToggleMouse,
}

/// Rows PgUp/PgDn move.
const PAGE: usize = 10;

/// Applies `key` to `state`; returns what the program must do, if anything.
pub fn on_key(state: &mut State, key: Key, page: usize) -> Option<Action> {
    if key != Key::Ctrl('c') {
        state.exit_armed = false;
    }
    if state.chord {
        state.chord = false;
        return match key {
            Key::Char('l' | 'L') | Key::Ctrl('l') => Some(Action::ListSessions),
            _ => None,
        };
    }
    let closable = matches!(
        state.dialog,
        Some(Dialog::Help | Dialog::Sessions { .. } | Dialog::Models { .. })
    );
    if closable && key == Key::Ctrl('c') {
        // Ctrl-C closes a list and still does what it does on the prompt.
        state.dialog = None;
    }
    if state.dialog.is_some() {
        return dialog_key(state, key);
    }
    let page = page.clamp(1, PAGE * 10);
    match key {
        // The first Ctrl-C stops the turn (or clears a draft), the next one exits.
        Key::Ctrl('c') if state.exit_armed => Some(Action::Exit),
        Key::Ctrl('c') if state.running => {
            state.exit_armed = true;
            Some(Action::Interrupt)
        }
        Key::Ctrl('c') if state.editor.is_empty() => {
            state.exit_armed = true;
            None
        }
        Key::Ctrl('c') => {
            state.editor.clear();
            None
        }
        Key::Ctrl('d') if state.editor.is_empty() => Some(Action::Exit),
        Key::Ctrl('d') => {
            state.editor.delete();
            None
        }
        Key::Ctrl('x') => {
            state.chord = true;
            None
        }
        Key::Ctrl('l') => Some(Action::Repaint),
        Key::Ctrl('o') => {
            state.expanded = !state.expanded;
            None
        }
        Key::Enter => submit(state),
        Key::NewLine => {
            state.editor.insert("\n");
            None
        }
        Key::Char(c) => {
            state.editor.insert(&c.to_string());
            None
        }
        Key::Tab => {
            state.editor.insert("    ");
            None
        }
        Key::Paste(text) => {
            state.editor.insert(&text);
            None
        }
        Key::Backspace => {
            state.editor.backspace();
            None
        }
        Key::Delete => {
            state.editor.delete();
            None
        }
        Key::Ctrl('w') | Key::Alt('\u{7f}') => {
            state.editor.delete_word_back();
            None
        }
        Key::Ctrl('u') => {
            state.editor.delete_to_line_start();
            None
        }
        Key::Left => {
            state.editor.left();
            None
        }
        Key::Right => {
            state.editor.right();
            None
        }
        Key::CtrlLeft | Key::Alt('b') => {
            state.editor.word_left();
            None
        }
        Key::CtrlRight | Key::Alt('f') => {
            state.editor.word_right();
            None
        }
        Key::Ctrl('a') => {
            state.editor.home();
            None
        }
        Key::Ctrl('e') => {
            state.editor.end();
            None
        }
        Key::Home if state.editor.is_empty() => {
            state.scroll = usize::MAX / 2;
            None
        }
        Key::End if state.editor.is_empty() => {
            state.scroll = 0;
            None
        }
        Key::Home => {
            state.editor.home();
            None
        }
        Key::End => {
            state.editor.end();
            None
        }
        Key::Up => {
            state.editor.up();
            None
        }
        Key::Down => {
            state.editor.down();
            None
        }
        Key::PageUp => {
            state.scroll = state.scroll.saturating_add(page);
            None
        }
        Key::PageDown => {
            state.scroll = state.scroll.saturating_sub(page);
            None
        }
        Key::WheelUp => {
            state.scroll = state.scroll.saturating_add(3);
            None
        }
        Key::WheelDown => {
            state.scroll = state.scroll.saturating_sub(3);
            None
        }
        Key::Esc | Key::Ctrl(_) | Key::Alt(_) => None,
    }
}

fn submit(state: &mut State) -> Option<Action> {
    let text = state.editor.text().trim().to_string();
    if text.is_empty() {
        return None;
    }
    let command = text
        .strip_prefix('/')
        .filter(|rest| !rest.starts_with('/'))
        .map(|rest| rest.split_once(' ').unwrap_or((rest, "")));
    let action = match command {
        Some(("exit" | "quit" | "q", _)) => Some(Action::Exit),
        Some(("help" | "?", _)) => {
            state.dialog = Some(Dialog::Help);
            None
        }
        Some(("sessions" | "s", _)) => Some(Action::ListSessions),
        Some(("new", _)) => Some(Action::NewSession),
        Some(("compact", _)) => Some(Action::Compact),
        Some(("mouse", _)) => Some(Action::ToggleMouse),
        Some(("model", "")) => Some(Action::ListModels),
        Some(("model", name)) => Some(Action::UseModel(name.trim().to_string())),
        Some((word, rest)) if !word.contains('/') && rest.is_empty() => {
            state.notice(
                &format!(
                    "unknown command /{word}; /help lists the commands (start with // to send a /)"
                ),
                true,
            );
            state.editor.clear();
            return None;
        }
        _ => {
            state.editor.take();
            state.scroll = 0;
            let prompt = text.strip_prefix('/').filter(|t| t.starts_with('/'));
            return Some(Action::Prompt(prompt.unwrap_or(&text).to_string()));
        }
    };
    state.editor.take();
    action
}

fn dialog_key(state: &mut State, key: Key) -> Option<Action> {
    let dialog = state.dialog.as_mut()?;
    match dialog {
        Dialog::Help => {
            if matches!(key, Key::Esc | Key::Enter | Key::Char('q')) {
                state.dialog = None;
            }
            None
        }
        Dialog::Permission {
            id,
            choice,
            message,
            ..
        } => {
            let id = *id;
            if let Some(editor) = message {
                match key {
                    Key::Esc => *message = None,
                    Key::Enter => {
                        let text = editor.text().trim().to_string();
                        state.dialog = None;
                        return Some(Action::Answer(
                            id,
                            Decision::Deny {
                                message: (!text.is_empty()).then_some(text),
                            },
                        ));
                    }
                    other => edit_line(editor, other),
                }
                return None;
            }
            let decision = match key {
                Key::Char('y' | '1') => Some(Decision::AllowOnce),
                Key::Char('a' | '2') => Some(Decision::AllowAlways),
                Key::Char('n' | '3') | Key::Esc => Some(Decision::Deny { message: None }),
                Key::Char('m' | '4') => {
                    *choice = 3;
                    *message = Some(Editor::new());
                    None
                }
                Key::Up | Key::Left => {
                    *choice = choice.checked_sub(1).unwrap_or(3);
                    None
                }
                Key::Down | Key::Right | Key::Tab => {
                    *choice = (*choice + 1) % 4;
                    None
                }
                Key::Enter => match *choice {
                    0 => Some(Decision::AllowOnce),
                    1 => Some(Decision::AllowAlways),
                    2 => Some(Decision::Deny { message: None }),
                    _ => {
                        *message = Some(Editor::new());
                        None
                    }
                },
                Key::Ctrl('c') => {
                    state.dialog = None;
                    return Some(Action::Interrupt);
                }
                _ => None,
            };
            decision.map(|d| {
                state.dialog = None;
                Action::Answer(id, d)
            })
        }
        Dialog::Sessions {
            rows,
            selected,
            filter,
        } => {
            let count = filtered_sessions(rows, filter.text()).len();
            match key {
                Key::Esc => state.dialog = None,
                Key::Enter => {
                    let chosen = filtered_sessions(rows, filter.text())
                        .get(*selected)
                        .map(|r| r.id.clone());
                    if let Some(id) = chosen {
                        state.dialog = None;
                        return Some(Action::OpenSession(id));
                    }
                }
                Key::Up => *selected = selected.saturating_sub(1),
                Key::Down => *selected = (*selected + 1).min(count.saturating_sub(1)),
                other => {
                    edit_line(filter, other);
                    *selected = 0;
                }
            }
            None
        }
        Dialog::Models {
            models,
            selected,
            filter,
        } => {
            let count = fuzzy_filter(models, filter.text()).len();
            match key {
                Key::Esc => state.dialog = None,
                Key::Enter => {
                    let chosen = fuzzy_filter(models, filter.text())
                        .get(*selected)
                        .map(|m| m.to_string())
                        .or_else(|| {
                            let typed = filter.text().trim();
                            typed.contains('/').then(|| typed.to_string())
                        });
                    if let Some(model) = chosen {
                        state.dialog = None;
                        return Some(Action::UseModel(model));
                    }
                }
                Key::Up => *selected = selected.saturating_sub(1),
                Key::Down => *selected = (*selected + 1).min(count.saturating_sub(1)),
                other => {
                    edit_line(filter, other);
                    *selected = 0;
                }
            }
            None
        }
    }
}

/// One-line editing inside a dialog.
fn edit_line(editor: &mut Editor, key: Key) {
    match key {
        Key::Char(c) => editor.insert(&c.to_string()),
        Key::Paste(text) => editor.insert(&text.replace('\n', " ")),
        Key::Backspace => editor.backspace(),
        Key::Delete => editor.delete(),
        Key::Left => editor.left(),
        Key::Right => editor.right(),
        Key::Home | Key::Ctrl('a') => editor.home(),
        Key::End | Key::Ctrl('e') => editor.end(),
        Key::Ctrl('w') => editor.delete_word_back(),
        Key::Ctrl('u') => editor.delete_to_line_start(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::{SessionRow, Status};
    use crate::tui::theme::Theme;
    use cm_proto::agent::Question;

    fn state() -> State {
        State::new(Theme::Plain, Status::default())
    }

    fn typed(state: &mut State, text: &str) {
        for c in text.chars() {
            on_key(state, Key::Char(c), 10);
        }
    }

    #[test]
    fn enter_sends_prompts_and_runs_commands() {
        let mut s = state();
        typed(&mut s, "fix it");
        on_key(&mut s, Key::NewLine, 10);
        typed(&mut s, "please");
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::Prompt("fix it\nplease".into()))
        );
        assert!(s.editor.is_empty());
        typed(&mut s, "/model openai/gpt-5");
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::UseModel("openai/gpt-5".into()))
        );
        typed(&mut s, "//new");
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::Prompt("/new".into()))
        );
        typed(&mut s, "/etc/hosts looks odd");
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::Prompt("/etc/hosts looks odd".into()))
        );
        typed(&mut s, "/frob");
        assert_eq!(on_key(&mut s, Key::Enter, 10), None);
        assert_eq!(s.items.len(), 1, "an unknown command is a notice");
        typed(&mut s, "/help");
        on_key(&mut s, Key::Enter, 10);
        assert_eq!(s.dialog, Some(Dialog::Help));
        on_key(&mut s, Key::Esc, 10);
        assert_eq!(s.dialog, None);
    }

    #[test]
    fn ctrl_c_stops_a_turn_and_twice_exits_when_idle() {
        let mut s = state();
        s.running = true;
        assert_eq!(on_key(&mut s, Key::Ctrl('c'), 10), Some(Action::Interrupt));
        assert_eq!(
            on_key(&mut s, Key::Ctrl('c'), 10),
            Some(Action::Exit),
            "a second Ctrl-C exits"
        );
        s.running = false;
        s.exit_armed = false;
        typed(&mut s, "draft");
        assert_eq!(on_key(&mut s, Key::Ctrl('c'), 10), None);
        assert!(s.editor.is_empty(), "the first Ctrl-C clears the draft");
        assert_eq!(on_key(&mut s, Key::Ctrl('c'), 10), None);
        assert!(s.exit_armed);
        assert_eq!(on_key(&mut s, Key::Ctrl('c'), 10), Some(Action::Exit));
        assert_eq!(on_key(&mut s, Key::Ctrl('d'), 10), Some(Action::Exit));
    }

    #[test]
    fn ctrl_c_closes_a_list_and_still_stops_the_turn() {
        let mut s = state();
        s.running = true;
        s.dialog = Some(Dialog::Help);
        assert_eq!(on_key(&mut s, Key::Ctrl('c'), 10), Some(Action::Interrupt));
        assert_eq!(s.dialog, None);
        assert_eq!(on_key(&mut s, Key::Ctrl('l'), 10), Some(Action::Repaint));
    }

    #[test]
    fn the_permission_dialog_answers_once_always_or_deny_with_a_message() {
        let question = Question {
            permission: "bash".into(),
            subject: "ls".into(),
            tool: "bash".into(),
            call_id: "c".into(),
            arguments: r#"{"command":"ls"}"#.into(),
        };
        let open = |s: &mut State| {
            s.dialog = Some(Dialog::Permission {
                id: AskId(7),
                question: question.clone(),
                choice: 0,
                message: None,
            })
        };
        let mut s = state();
        open(&mut s);
        on_key(&mut s, Key::Down, 10);
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::Answer(AskId(7), Decision::AllowAlways))
        );
        assert_eq!(s.dialog, None);
        open(&mut s);
        assert_eq!(
            on_key(&mut s, Key::Char('y'), 10),
            Some(Action::Answer(AskId(7), Decision::AllowOnce))
        );
        open(&mut s);
        on_key(&mut s, Key::Char('m'), 10);
        typed(&mut s, "use the script");
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::Answer(
                AskId(7),
                Decision::Deny {
                    message: Some("use the script".into())
                }
            ))
        );
        open(&mut s);
        assert_eq!(
            on_key(&mut s, Key::Esc, 10),
            Some(Action::Answer(AskId(7), Decision::Deny { message: None }))
        );
    }

    #[test]
    fn the_model_picker_ranks_exact_and_contiguous_matches_first() {
        let models: Vec<String> = [
            "openai/gpt-5.1",
            "openai/gpt-5-mini",
            "openai/gpt-5",
            "anthropic/claude-opus-4-1",
        ]
        .iter()
        .map(|m| m.to_string())
        .collect();
        let mut s = state();
        s.dialog = Some(Dialog::Models {
            models: models.clone(),
            selected: 0,
            filter: Editor::new(),
        });
        typed(&mut s, "gpt-5");
        assert_eq!(
            fuzzy_filter(&models, "gpt-5"),
            ["openai/gpt-5", "openai/gpt-5.1", "openai/gpt-5-mini"]
        );
        assert_eq!(
            fuzzy_filter(&models, "opus")[0],
            "anthropic/claude-opus-4-1"
        );
        assert_eq!(
            fuzzy_filter(&models, "acl4").len(),
            1,
            "scattered letters match"
        );
        on_key(&mut s, Key::Down, 10);
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::UseModel("openai/gpt-5.1".into()))
        );
    }

    #[test]
    fn ctrl_x_l_lists_sessions_and_the_filter_picks_one() {
        let mut s = state();
        on_key(&mut s, Key::Ctrl('x'), 10);
        assert_eq!(
            on_key(&mut s, Key::Char('l'), 10),
            Some(Action::ListSessions)
        );
        let row = |id: &str, title: &str| SessionRow {
            id: id.into(),
            title: title.into(),
            when: "today".into(),
        };
        s.dialog = Some(Dialog::Sessions {
            rows: vec![row("ses_a", "fix the parser"), row("ses_b", "write docs")],
            selected: 0,
            filter: Editor::new(),
        });
        typed(&mut s, "dcs");
        assert_eq!(
            on_key(&mut s, Key::Enter, 10),
            Some(Action::OpenSession("ses_b".into()))
        );
    }
}
