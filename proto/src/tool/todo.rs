//! The session's todo list: `todowrite` replaces it, `todoread` shows it.
//!
//! The list is plain data owned by whoever runs the tools ([`run`] takes it by `&mut`).
//! `todowrite` validates the whole new list before replacing anything: a list with
//! duplicate ids, an unknown status or priority, or an empty item is refused as a whole,
//! and the old list stays. Every outcome carries the list in
//! [`ToolOutcome::display`] as `{"todos": [...]}` so interfaces can show it as it changes.
//!
//! Nothing is stored besides the history: [`from_history`] rebuilds the list after a
//! reload from the last `todowrite` call that succeeded.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ToolDef, ToolOutcome, ToolSpec};
use crate::message::{Message, Part};

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    /// Not started.
    Pending,
    /// Being worked on now.
    InProgress,
    /// Done.
    Completed,
    /// No longer needed.
    Cancelled,
}

/// How much an item matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoPriority {
    /// Do first.
    High,
    /// The default.
    Medium,
    /// When there is time.
    Low,
}

const STATUSES: &str = "pending, in_progress, completed, cancelled";
const PRIORITIES: &str = "high, medium, low";

impl TodoStatus {
    /// The name the model writes (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            TodoStatus::Pending => "pending",
            TodoStatus::InProgress => "in_progress",
            TodoStatus::Completed => "completed",
            TodoStatus::Cancelled => "cancelled",
        }
    }

    /// Reads a status, ignoring case and accepting `-` or a space for `_`.
    pub fn parse(text: &str) -> Option<TodoStatus> {
        match normalized(text).as_str() {
            "pending" => Some(TodoStatus::Pending),
            "in_progress" => Some(TodoStatus::InProgress),
            "completed" => Some(TodoStatus::Completed),
            "cancelled" | "canceled" => Some(TodoStatus::Cancelled),
            _ => None,
        }
    }
}

impl TodoPriority {
    /// The name the model writes.
    pub fn as_str(self) -> &'static str {
        match self {
            TodoPriority::High => "high",
            TodoPriority::Medium => "medium",
            TodoPriority::Low => "low",
        }
    }

    /// Reads a priority, ignoring case.
    pub fn parse(text: &str) -> Option<TodoPriority> {
        match normalized(text).as_str() {
            "high" => Some(TodoPriority::High),
            "medium" => Some(TodoPriority::Medium),
            "low" => Some(TodoPriority::Low),
            _ => None,
        }
    }
}

fn normalized(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// One item of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Todo {
    /// The model's id for it, unique in the list.
    pub id: String,
    /// What is to be done.
    pub content: String,
    /// Where it stands.
    pub status: TodoStatus,
    /// How much it matters.
    pub priority: TodoPriority,
}

/// Why a `todowrite` list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TodoError {
    /// `todos` is missing or not an array.
    NotAList {
        /// What was given instead, as JSON, shortened.
        got: String,
    },
    /// An item is not an object.
    NotAnObject {
        /// Its position, from 0.
        index: usize,
    },
    /// An item lacks a required field (or has it empty, or of the wrong type).
    Missing {
        /// Its position, from 0.
        index: usize,
        /// The field.
        field: &'static str,
    },
    /// An item's status is not one of the four.
    UnknownStatus {
        /// Its position, from 0.
        index: usize,
        /// What was given.
        got: String,
    },
    /// An item's priority is not one of the three.
    UnknownPriority {
        /// Its position, from 0.
        index: usize,
        /// What was given.
        got: String,
    },
    /// Several items share an id.
    DuplicateIds {
        /// Each repeated id once, in order of first appearance.
        ids: Vec<String>,
    },
}

impl fmt::Display for TodoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TodoError::NotAList { got } => {
                write!(f, "`todos` must be an array of items, got {got}")
            }
            TodoError::NotAnObject { index } => write!(
                f,
                "todos[{index}] must be an object with id, content, status and priority"
            ),
            TodoError::Missing { index, field } => {
                write!(f, "todos[{index}] needs a non-empty `{field}` string")
            }
            TodoError::UnknownStatus { index, got } => write!(
                f,
                "todos[{index}].status must be one of {STATUSES}, got {got:?}"
            ),
            TodoError::UnknownPriority { index, got } => write!(
                f,
                "todos[{index}].priority must be one of {PRIORITIES}, got {got:?}"
            ),
            TodoError::DuplicateIds { ids } => {
                let ids: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
                write!(
                    f,
                    "every todo needs its own id; repeated: {}",
                    ids.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for TodoError {}

/// `todowrite`: permission `todo`, no subject, exclusive.
pub fn todowrite_def() -> ToolDef {
    ToolDef {
        spec: ToolSpec {
            name: "todowrite".into(),
            description: "Replace the session's todo list with `todos` (the whole list, \
                 every time). Use it for work of three or more steps, or when the user gives \
                 several tasks: write the steps as pending, mark one in_progress before you \
                 start it, and mark it completed as soon as it is done (cancelled if it is \
                 no longer needed). Keep exactly one item in_progress while working. The user \
                 sees the list as it changes. Each item needs a unique id, the content, a \
                 status (pending, in_progress, completed, cancelled) and a priority (high, \
                 medium, low). Skip it for single, trivial tasks."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "todos": {
                        "type": "array",
                        "description": "The complete new list, in order.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string", "description": "Unique in the list."},
                                "content": {"type": "string", "description": "What to do, briefly."},
                                "status": {
                                    "type": "string",
                                    "enum": ["pending", "in_progress", "completed", "cancelled"]
                                },
                                "priority": {"type": "string", "enum": ["high", "medium", "low"]}
                            },
                            "required": ["id", "content", "status", "priority"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["todos"],
                "additionalProperties": false
            }),
        },
        permission: "todo".into(),
        subject: None,
        exclusive: true,
    }
}

/// `todoread`: permission `todo`, no subject, shared.
pub fn todoread_def() -> ToolDef {
    ToolDef {
        spec: ToolSpec {
            name: "todoread".into(),
            description: "Show the session's todo list (as last written with todowrite), \
                 with each item's id, status and priority. Use it to check what is left \
                 before you continue or finish. Takes no arguments."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {},
                "additionalProperties": false
            }),
        },
        permission: "todo".into(),
        subject: None,
        exclusive: false,
    }
}

/// Reads and validates a `todowrite` call's arguments into the new list.
///
/// Lenient where the meaning is plain: `todos` given as JSON text, numeric ids, a
/// status or priority in another case or with `-` for `_`, a missing priority (medium).
/// Every problem is reported, not just the first.
pub fn parse(input: &Value) -> Result<Vec<Todo>, Vec<TodoError>> {
    let parsed;
    let items = match input.get("todos") {
        Some(Value::Array(items)) => items,
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => {
                parsed = items;
                &parsed
            }
            _ => return Err(vec![not_a_list(input.get("todos"))]),
        },
        other => return Err(vec![not_a_list(other)]),
    };
    let mut todos = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match parse_item(index, item) {
            Ok(todo) => todos.push(todo),
            Err(mut problems) => errors.append(&mut problems),
        }
    }
    let ids = duplicate_ids(&todos);
    if !ids.is_empty() {
        errors.push(TodoError::DuplicateIds { ids });
    }
    if errors.is_empty() {
        Ok(todos)
    } else {
        Err(errors)
    }
}

fn not_a_list(got: Option<&Value>) -> TodoError {
    let got = got.map_or_else(|| "nothing".to_string(), Value::to_string);
    let got = match got.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &got[..cut]),
        None => got,
    };
    TodoError::NotAList { got }
}

fn parse_item(index: usize, item: &Value) -> Result<Todo, Vec<TodoError>> {
    let Some(object) = item.as_object() else {
        return Err(vec![TodoError::NotAnObject { index }]);
    };
    let mut errors = Vec::new();
    let text = |field: &'static str| match object.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) if field == "id" => Some(n.to_string()),
        _ => None,
    };
    let id = text("id");
    let content = text("content");
    for (value, field) in [(&id, "id"), (&content, "content")] {
        if value.is_none() {
            errors.push(TodoError::Missing { index, field });
        }
    }
    let status = match object.get("status") {
        None | Some(Value::Null) => Some(TodoStatus::Pending),
        Some(value) => {
            let parsed = value.as_str().and_then(TodoStatus::parse);
            if parsed.is_none() {
                errors.push(TodoError::UnknownStatus {
                    index,
                    got: shown(value),
                });
            }
            parsed
        }
    };
    let priority = match object.get("priority") {
        None | Some(Value::Null) => Some(TodoPriority::Medium),
        Some(value) => {
            let parsed = value.as_str().and_then(TodoPriority::parse);
            if parsed.is_none() {
                errors.push(TodoError::UnknownPriority {
                    index,
                    got: shown(value),
                });
            }
            parsed
        }
    };
    match (id, content, status, priority) {
        (Some(id), Some(content), Some(status), Some(priority)) if errors.is_empty() => Ok(Todo {
            id,
            content,
            status,
            priority,
        }),
        _ => Err(errors),
    }
}

fn shown(value: &Value) -> String {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string);
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn duplicate_ids(todos: &[Todo]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut reported = HashSet::new();
    let mut repeated = Vec::new();
    for todo in todos {
        if !seen.insert(todo.id.as_str()) && reported.insert(todo.id.as_str()) {
            repeated.push(todo.id.clone());
        }
    }
    repeated
}

/// Runs `todowrite` or `todoread` over `list`; `None` for any other tool name.
pub fn run(list: &mut Vec<Todo>, name: &str, input: &Value) -> Option<ToolOutcome> {
    match name {
        "todowrite" => Some(write(list, input)),
        "todoread" => Some(read(list)),
        _ => None,
    }
}

/// `todowrite`: replaces `list` with the validated new one; a refused list changes nothing.
pub fn write(list: &mut Vec<Todo>, input: &Value) -> ToolOutcome {
    match parse(input) {
        Ok(todos) => {
            *list = todos;
            let summary = match list.len() {
                0 => "todos cleared".to_string(),
                n => format!(
                    "todos: {}/{n} completed",
                    count(list, TodoStatus::Completed)
                ),
            };
            shown_outcome(list, summary)
        }
        Err(errors) => {
            let mut text = String::from("todo list not changed:");
            for error in errors.iter().take(20) {
                text.push_str("\n- ");
                text.push_str(&error.to_string());
            }
            if errors.len() > 20 {
                text.push_str(&format!("\n- … and {} more", errors.len() - 20));
            }
            let mut outcome = ToolOutcome::error(text);
            if let Some(first) = errors.first() {
                outcome.summary = format!("todo list not changed: {first}");
            }
            outcome
        }
    }
}

/// `todoread`: the list as it stands.
pub fn read(list: &[Todo]) -> ToolOutcome {
    let summary = format!("todos: {} items", list.len());
    shown_outcome(list, summary)
}

fn shown_outcome(list: &[Todo], summary: String) -> ToolOutcome {
    let mut outcome = ToolOutcome::text(render(list), summary);
    outcome.display = Some(display(list));
    outcome
}

/// The structured form interfaces show: `{"todos": [{id, content, status, priority}, …]}`.
pub fn display(list: &[Todo]) -> Value {
    json!({ "todos": list })
}

fn count(list: &[Todo], status: TodoStatus) -> usize {
    list.iter().filter(|t| t.status == status).count()
}

/// The list as the model reads it: one line per item, with a count by status first.
pub fn render(list: &[Todo]) -> String {
    if list.is_empty() {
        return "The todo list is empty.".to_string();
    }
    let mut counts = Vec::new();
    for status in [
        TodoStatus::InProgress,
        TodoStatus::Pending,
        TodoStatus::Completed,
        TodoStatus::Cancelled,
    ] {
        let n = count(list, status);
        if n > 0 {
            counts.push(format!("{n} {}", status.as_str()));
        }
    }
    let mut text = format!("{} todos ({}):", list.len(), counts.join(", "));
    for todo in list {
        text.push_str(&format!(
            "\n- [{}] {} (id: {}, priority: {})",
            todo.status.as_str(),
            todo.content,
            todo.id,
            todo.priority.as_str()
        ));
    }
    text
}

/// The list as it stood at the end of `history`: the arguments of the last `todowrite`
/// call whose result is present and not an error; empty when there is none.
pub fn from_history(history: &[Message]) -> Vec<Todo> {
    let mut outcomes: HashMap<&str, bool> = HashMap::new();
    for message in history {
        for part in &message.parts {
            if let Part::ToolResult(result) = part {
                outcomes.insert(result.call_id.as_str(), result.is_error);
            }
        }
    }
    let calls = history
        .iter()
        .rev()
        .flat_map(|m| m.parts.iter().rev())
        .filter_map(|part| match part {
            Part::ToolCall(call) if call.name == "todowrite" => Some(call),
            _ => None,
        });
    for call in calls {
        if outcomes.get(call.id.as_str()) != Some(&false) {
            continue;
        }
        let Ok(arguments) = call.parse_arguments() else {
            continue;
        };
        if let Ok(todos) = parse(&arguments) {
            return todos;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Role, ToolCall, ToolResult};

    fn item(id: &str, content: &str, status: &str, priority: &str) -> Value {
        json!({"id": id, "content": content, "status": status, "priority": priority})
    }

    #[test]
    fn write_replaces_the_list_and_read_returns_it() {
        let mut list = Vec::new();
        let input = json!({"todos": [
            item("1", "Write the parser", "in_progress", "high"),
            item("2", "Test it", "pending", "medium"),
            item("3", "Old idea", "cancelled", "low"),
        ]});
        let written = run(&mut list, "todowrite", &input).unwrap();
        assert!(!written.is_error, "{written:?}");
        assert_eq!(written.summary, "todos: 0/3 completed");
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].status, TodoStatus::InProgress);
        assert_eq!(list[2].priority, TodoPriority::Low);

        let read = run(&mut list, "todoread", &json!({})).unwrap();
        let text = match &read.content[..] {
            [crate::message::ToolOutput::Text { text }] => text.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text,
            "3 todos (1 in_progress, 1 pending, 1 cancelled):\n\
             - [in_progress] Write the parser (id: 1, priority: high)\n\
             - [pending] Test it (id: 2, priority: medium)\n\
             - [cancelled] Old idea (id: 3, priority: low)"
        );
        assert_eq!(read.display, Some(json!({"todos": input["todos"]})));
        assert!(run(&mut list, "read", &json!({})).is_none());
    }

    #[test]
    fn display_round_trips_through_serde() {
        let mut list = Vec::new();
        let outcome = write(
            &mut list,
            &json!({"todos": [item("a", "x", "completed", "high")]}),
        );
        let shown = outcome.display.unwrap();
        let back: Vec<Todo> = serde_json::from_value(shown["todos"].clone()).unwrap();
        assert_eq!(back, list);
        assert_eq!(shown["todos"][0]["status"], "completed");
    }

    #[test]
    fn duplicate_ids_are_refused_by_name_and_the_old_list_stays() {
        let mut list = Vec::new();
        write(
            &mut list,
            &json!({"todos": [item("1", "keep", "pending", "low")]}),
        );
        let outcome = write(
            &mut list,
            &json!({"todos": [
                item("1", "a", "pending", "low"),
                item("2", "b", "pending", "low"),
                item("1", "c", "pending", "low"),
                item("2", "d", "pending", "low"),
                item("1", "e", "pending", "low"),
            ]}),
        );
        assert!(outcome.is_error);
        assert_eq!(
            outcome.summary,
            "todo list not changed: every todo needs its own id; repeated: \"1\", \"2\""
        );
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].content, "keep");
        assert_eq!(outcome.display, None);
    }

    #[test]
    fn unknown_status_and_priority_name_the_allowed_values() {
        let errors = parse(&json!({"todos": [item("1", "a", "done", "urgent")]})).unwrap_err();
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "todos[0].status must be one of pending, in_progress, completed, cancelled, got \"done\"",
                "todos[0].priority must be one of high, medium, low, got \"urgent\"",
            ]
        );
        let errors =
            parse(&json!({"todos": [{"id": "1", "content": "a", "status": 3}]})).unwrap_err();
        assert_eq!(
            errors,
            [TodoError::UnknownStatus {
                index: 0,
                got: "3".into()
            }]
        );
    }

    #[test]
    fn empty_content_and_missing_ids_are_refused_and_all_problems_reported() {
        let mut list = Vec::new();
        let outcome = write(
            &mut list,
            &json!({"todos": [
                item("1", "  ", "pending", "low"),
                {"content": "no id"},
                "not an object",
            ]}),
        );
        assert!(outcome.is_error);
        let text = match &outcome.content[..] {
            [crate::message::ToolOutput::Text { text }] => text.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text,
            "todo list not changed:\n\
             - todos[0] needs a non-empty `content` string\n\
             - todos[1] needs a non-empty `id` string\n\
             - todos[2] must be an object with id, content, status and priority"
        );
        assert!(list.is_empty());
    }

    #[test]
    fn lenient_forms_are_read_as_meant() {
        let todos = parse(&json!({"todos": format!("[{}]", json!({
            "id": 7, "content": " Ship it ", "status": "In-Progress", "priority": "HIGH"
        }))}))
        .unwrap();
        assert_eq!(
            todos,
            [Todo {
                id: "7".into(),
                content: "Ship it".into(),
                status: TodoStatus::InProgress,
                priority: TodoPriority::High,
            }]
        );
        let todos = parse(&json!({"todos": [{"id": "x", "content": "y"}]})).unwrap();
        assert_eq!(todos[0].status, TodoStatus::Pending);
        assert_eq!(todos[0].priority, TodoPriority::Medium);
    }

    #[test]
    fn todos_that_are_not_a_list_are_refused() {
        for input in [
            json!({}),
            json!({"todos": {"id": 1}}),
            json!({"todos": "[oops"}),
        ] {
            let errors = parse(&input).unwrap_err();
            assert!(
                matches!(errors[..], [TodoError::NotAList { .. }]),
                "{input}: {errors:?}"
            );
        }
        let mut list = Vec::new();
        assert_eq!(
            write(&mut list, &json!({"todos": []})).summary,
            "todos cleared"
        );
        assert_eq!(read(&list).summary, "todos: 0 items");
    }

    fn call(id: &str, arguments: Value) -> Message {
        Message {
            role: Role::Assistant,
            parts: vec![Part::ToolCall(ToolCall {
                id: id.into(),
                name: "todowrite".into(),
                arguments: arguments.to_string(),
                item_id: None,
                signature: None,
                origin: Default::default(),
            })],
        }
    }

    fn result(id: &str, is_error: bool) -> Message {
        Message {
            role: Role::User,
            parts: vec![Part::ToolResult(ToolResult {
                call_id: id.into(),
                name: "todowrite".into(),
                content: Vec::new(),
                is_error,
            })],
        }
    }

    #[test]
    fn from_history_takes_the_last_successful_write() {
        let first = json!({"todos": [item("1", "first", "pending", "high")]});
        let second = json!({"todos": [item("1", "second", "completed", "high")]});
        let refused = json!({"todos": [item("1", "dup", "pending", "high"), item("1", "dup", "pending", "high")]});
        let history = vec![
            Message::user("plan it"),
            call("c1", first),
            result("c1", false),
            call("c2", second),
            result("c2", false),
            // Failed: validation refused it.
            call("c3", refused),
            result("c3", true),
            // Never answered (the turn broke off): it did not run.
            call("c4", json!({"todos": []})),
        ];
        let todos = from_history(&history);
        assert_eq!(todos.len(), 1);
        assert_eq!(todos[0].content, "second");
        assert_eq!(todos[0].status, TodoStatus::Completed);
    }

    #[test]
    fn from_history_rebuilds_what_the_live_list_was() {
        let mut live = Vec::new();
        let mut history = vec![Message::user("go")];
        let inputs = [
            json!({"todos": [item("a", "one", "pending", "low"), item("b", "two", "pending", "low")]}),
            json!({"todos": [item("a", "one", "completed", "low"), item("a", "two", "pending", "low")]}),
            json!({"todos": [item("a", "one", "completed", "low"), item("b", "two", "in_progress", "low")]}),
        ];
        for (n, input) in inputs.into_iter().enumerate() {
            let id = format!("call{n}");
            let outcome = write(&mut live, &input);
            history.push(call(&id, input));
            history.push(result(&id, outcome.is_error));
            assert_eq!(from_history(&history), live);
        }
        assert_eq!(from_history(&[]), Vec::<Todo>::new());
    }

    #[test]
    fn defs_use_the_todo_permission() {
        let write = todowrite_def();
        let read = todoread_def();
        assert_eq!((write.permission.as_str(), write.exclusive), ("todo", true));
        assert_eq!((read.permission.as_str(), read.exclusive), ("todo", false));
        assert_eq!(write.subject, None);
        assert_eq!(
            write.spec.input_schema["properties"]["todos"]["items"]["properties"]["status"]["enum"],
            json!(["pending", "in_progress", "completed", "cancelled"])
        );
    }
}
