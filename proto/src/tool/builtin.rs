//! The core built-in tools: their definitions for the model, and a dispatcher for the file
//! tools.
//!
//! [`builtin_defs`] lists `read`, `write`, `edit`, `multiedit`, `apply_patch` and `bash`;
//! [`run_builtin`] runs the file tools and answers `None` for any other name, so the host
//! runs `bash` (and later tools) itself.

use serde_json::{json, Value};

use super::fs::FileSystem;
use super::{
    apply_patch, edit, multiedit, read, write, ReadLog, ToolDef, ToolOptions, ToolOutcome, ToolSpec,
};

/// `bash`'s timeout when the model gives none, in milliseconds.
pub const BASH_DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// The longest timeout `bash` accepts, in milliseconds.
pub const BASH_MAX_TIMEOUT_MS: u64 = 600_000;

fn def(
    name: &str,
    description: &str,
    input_schema: Value,
    permission: &str,
    subject: &str,
    exclusive: bool,
) -> ToolDef {
    ToolDef {
        spec: ToolSpec {
            name: name.into(),
            description: description.into(),
            input_schema,
        },
        permission: permission.into(),
        subject: Some(subject.into()),
        exclusive,
    }
}

/// `read`: permission `read`, subject `path`, shared.
pub fn read_def() -> ToolDef {
    def(
        "read",
        "Read a text file (or an image, if you can view images). Output has one line per \
         file line, formatted `N: text` where N is the 1-based line number; the `N: ` prefix \
         is not part of the file, so never copy it into edit's old_string.\n\
         - Reads up to 2000 lines from `offset` (default 1). For long files read the part \
         you need with `offset` and `limit`; a note at the end says when lines were left \
         out and which offset continues.\n\
         - Lines longer than 2000 characters are cut, and the output stops near 50 KB.\n\
         - Binary files are refused, and directories too (list them instead).\n\
         - You must read a file before you edit or overwrite it. Reading several files at \
         once is fine: read calls may run in parallel.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The file to read, relative to the workspace root or absolute."
                },
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The line number to start from (1-based). Default 1."
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "How many lines to read. Default 2000."
                }
            },
            "required": ["path"],
            "additionalProperties": false
        }),
        "read",
        "path",
        false,
    )
}

/// `write`: permission `edit`, subject `path`, exclusive.
pub fn write_def() -> ToolDef {
    def(
        "write",
        "Write a whole file, creating it (and its parent directories) or replacing it.\n\
         - To overwrite an existing file you must have read it first in this session, and \
         it must not have changed since; otherwise the call fails and tells you to read it.\n\
         - Prefer edit for changing part of an existing file: it is shorter and safer. Use \
         write for new files or complete rewrites.\n\
         - An existing file keeps its line endings (CRLF stays CRLF) and byte-order mark.\n\
         - Do not create documentation or other files nobody asked for.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The file to write, relative to the workspace root or absolute."
                },
                "content": {
                    "type": "string",
                    "description": "The complete new content of the file."
                }
            },
            "required": ["path", "content"],
            "additionalProperties": false
        }),
        "edit",
        "path",
        true,
    )
}

/// `edit`: permission `edit`, subject `path`, exclusive.
pub fn edit_def() -> ToolDef {
    def(
        "edit",
        "Replace text in a file: old_string becomes new_string.\n\
         - Read the file first in this session; edit fails on a file you have not read or \
         that changed since you read it.\n\
         - Copy old_string exactly from the file, whitespace and indentation included, \
         without the `N: ` line-number prefix that read shows.\n\
         - old_string must match exactly one place. If it matches several, add surrounding \
         lines to make it unique, or set replace_all to true to change every occurrence \
         (useful for renaming).\n\
         - Small drift in whitespace, indentation or line endings is tolerated when the \
         match is still unique; the result then says what was ignored.\n\
         - If nothing matches, the error shows the most similar part of the file; fix \
         old_string from it.\n\
         - An empty old_string creates a new file with new_string as its content.\n\
         - Prefer edit over write for changing existing files; the file keeps its line \
         endings and encoding.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The file to change, relative to the workspace root or absolute."
                },
                "old_string": {
                    "type": "string",
                    "description": "The exact text to replace (empty to create a new file)."
                },
                "new_string": {
                    "type": "string",
                    "description": "The text to put in its place; must differ from old_string."
                },
                "replace_all": {
                    "type": "boolean",
                    "default": false,
                    "description": "Replace every occurrence of old_string instead of exactly one."
                }
            },
            "required": ["path", "old_string", "new_string"],
            "additionalProperties": false
        }),
        "edit",
        "path",
        true,
    )
}

/// `multiedit`: permission `edit`, subject `path`, exclusive.
pub fn multiedit_def() -> ToolDef {
    def(
        "multiedit",
        "Make several edits to one file in one call: a list of old_string/new_string \
         replacements applied in order, all or nothing.\n\
         - Read the file first in this session, as for edit.\n\
         - Each edit works like edit (exact match first, same drift tolerance, must be \
         unique unless replace_all) and applies to the text as the edits before it left it: \
         an old_string must not expect text an earlier edit already changed.\n\
         - If any edit fails, none is applied and the file is untouched; the error names \
         the failing edit as edits[i] and says why. Fix it and send the whole list again.\n\
         - Prefer it over several edit calls on the same file. To create a file, give the \
         first edit an empty old_string and the content as its new_string.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The file to change, relative to the workspace root or absolute."
                },
                "edits": {
                    "type": "array",
                    "minItems": 1,
                    "description": "The edits, applied in order.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "old_string": {
                                "type": "string",
                                "description": "The exact text to replace."
                            },
                            "new_string": {
                                "type": "string",
                                "description": "The text to put in its place; must differ from old_string."
                            },
                            "replace_all": {
                                "type": "boolean",
                                "default": false,
                                "description": "Replace every occurrence of old_string instead of exactly one."
                            }
                        },
                        "required": ["old_string", "new_string"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["path", "edits"],
            "additionalProperties": false
        }),
        "edit",
        "path",
        true,
    )
}

/// `apply_patch`: permission `edit`, exclusive; its `patch` argument makes every path of
/// [`apply_patch::paths`](super::apply_patch::paths) a subject ([`ToolDef::subjects`]).
pub fn apply_patch_def() -> ToolDef {
    def(
        "apply_patch",
        "Add, delete, update and move files with one patch. All files change or none do.\n\
         The patch text:\n\
         *** Begin Patch\n\
         *** Add File: path/new.py\n\
         +every line of the new file, prefixed with +\n\
         *** Delete File: path/old.py\n\
         *** Update File: path/file.py\n\
         *** Move to: path/renamed.py\n\
         @@ def function_containing_the_change():\n\
         \x20context line (prefixed with one space)\n\
         -removed line\n\
         +added line\n\
         \x20context line\n\
         *** End Patch\n\
         Rules:\n\
         - Read files before updating or deleting them in this session.\n\
         - In an update, each hunk starts with @@, optionally followed by a line of the \
         file (such as the enclosing function or class) to search from. Give about 3 \
         lines of unchanged context above and below each change, copied exactly from the \
         file, so the hunk matches exactly one place. Hunks go in file order. End a hunk \
         that reaches the end of the file with `*** End of File`.\n\
         - `*** Move to:` is optional: it moves the updated file. Paths are relative to the \
         workspace root. Adding a file that exists is an error.\n\
         - If a hunk does not match, nothing is changed and the error shows the lines that \
         did not match and the most similar part of the file.",
        json!({
            "type": "object",
            "properties": {
                "patch": {
                    "type": "string",
                    "description": "The whole patch, from `*** Begin Patch` to `*** End Patch`."
                }
            },
            "required": ["patch"],
            "additionalProperties": false
        }),
        "edit",
        "patch",
        true,
    )
}

/// `bash`: permission `bash`, subject `command`, exclusive. Run by the host, not here.
pub fn bash_def() -> ToolDef {
    def(
        "bash",
        "Run a shell command with `bash -c` in the workspace root and get its combined \
         stdout and stderr plus the exit code.\n\
         - Use it for building, running tests, git, and other programs. Prefer read, edit \
         and write over cat, sed, echo and heredocs for files.\n\
         - Commands get no input (stdin is empty) and must not wait for a prompt: pass \
         flags such as --yes or --no-pager where needed.\n\
         - The timeout defaults to 120000 ms (2 minutes) and can be raised to 600000 ms; \
         on timeout the whole process group is killed. Do not start servers or watchers \
         that never exit.\n\
         - Long output is cut, keeping its beginning and end; filter it (grep, head, tail) \
         when you expect a lot.\n\
         - Each call starts a fresh shell: `cd` does not carry over, so use paths or \
         `cd dir && command`.\n\
         - Give a short description of what the command does, in a few words.",
        json!({
            "type": "object",
            "properties": {
                "command": {
                    "type": "string",
                    "description": "The command line to run."
                },
                "timeout": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": BASH_MAX_TIMEOUT_MS,
                    "description": "Timeout in milliseconds. Default 120000, maximum 600000."
                },
                "description": {
                    "type": "string",
                    "description": "What the command does, in 5-10 words, for the user."
                }
            },
            "required": ["command"],
            "additionalProperties": false
        }),
        "bash",
        "command",
        true,
    )
}

/// The definitions of the core built-ins, in the order the model sees them.
pub fn builtin_defs() -> Vec<ToolDef> {
    vec![
        read_def(),
        write_def(),
        edit_def(),
        multiedit_def(),
        apply_patch_def(),
        bash_def(),
    ]
}

/// Runs the file tool called `name`; `None` when it is not one of them (e.g. `bash`).
pub fn run_builtin(
    name: &str,
    input: &Value,
    fs: &mut dyn FileSystem,
    log: &mut ReadLog,
    options: &ToolOptions,
) -> Option<ToolOutcome> {
    match name {
        "read" => Some(read(fs, input, log, options)),
        "write" => Some(write(fs, input, log)),
        "edit" => Some(edit(fs, input, log)),
        "multiedit" => Some(multiedit(fs, input, log)),
        "apply_patch" => Some(apply_patch(fs, input, log)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::MemoryFs;

    #[test]
    fn builtin_defs_are_guarded_and_scheduled_as_the_contract_says() {
        let got: Vec<(String, String, Option<String>, bool)> = builtin_defs()
            .into_iter()
            .map(|d| (d.spec.name, d.permission, d.subject, d.exclusive))
            .collect();
        let want = [
            ("read", "read", Some("path"), false),
            ("write", "edit", Some("path"), true),
            ("edit", "edit", Some("path"), true),
            ("multiedit", "edit", Some("path"), true),
            ("apply_patch", "edit", Some("patch"), true),
            ("bash", "bash", Some("command"), true),
        ];
        assert_eq!(got.len(), want.len());
        for ((name, permission, subject, exclusive), w) in got.iter().zip(want) {
            assert_eq!(
                (
                    name.as_str(),
                    permission.as_str(),
                    subject.as_deref(),
                    *exclusive
                ),
                (w.0, w.1, w.2, w.3)
            );
        }
    }

    #[test]
    fn builtin_schemas_are_objects_whose_required_fields_are_properties() {
        for def in builtin_defs() {
            let schema = &def.spec.input_schema;
            assert_eq!(schema["type"], "object", "{}", def.spec.name);
            let properties = schema["properties"].as_object().expect("properties");
            for field in schema["required"].as_array().expect("required") {
                let field = field.as_str().expect("string");
                assert!(properties.contains_key(field), "{}: {field}", def.spec.name);
            }
            if let Some(subject) = def.subject.as_deref() {
                assert!(properties.contains_key(subject), "{}", def.spec.name);
            }
            assert!(def.spec.description.len() > 100, "{}", def.spec.name);
        }
    }

    #[test]
    fn the_patch_shown_in_apply_patch_description_is_valid() {
        let description = apply_patch_def().spec.description;
        let start = description.find("*** Begin Patch").expect("example start");
        let end = description.find("*** End Patch").expect("example end");
        let example = &description[start..end + "*** End Patch".len()];
        let patch = crate::tool::apply_patch::parse::parse(example).expect("parses");
        assert_eq!(patch.ops.len(), 3);
        assert_eq!(
            apply_patch::paths(&json!({ "patch": example })),
            vec![
                "path/new.py",
                "path/old.py",
                "path/file.py",
                "path/renamed.py"
            ]
        );
    }

    #[test]
    fn bash_schema_states_the_timeout_limits() {
        let def = bash_def();
        let timeout = &def.spec.input_schema["properties"]["timeout"];
        assert_eq!(timeout["maximum"], 600_000);
        assert!(timeout["description"].as_str().unwrap().contains("120000"));
    }

    #[test]
    fn descriptions_teach_read_before_edit() {
        assert!(edit_def().spec.description.contains("Read the file first"));
        assert!(write_def().spec.description.contains("Prefer edit"));
        assert!(read_def().spec.description.contains("offset"));
    }

    #[test]
    fn run_builtin_dispatches_file_tools_and_leaves_others_to_the_host() {
        let mut fs = MemoryFs::new();
        let mut log = ReadLog::new();
        let options = ToolOptions::default();
        let created = run_builtin(
            "write",
            &json!({"path": "a.txt", "content": "hi\n"}),
            &mut fs,
            &mut log,
            &options,
        )
        .expect("write is built in");
        assert!(!created.is_error);
        let read = run_builtin(
            "read",
            &json!({"path": "a.txt"}),
            &mut fs,
            &mut log,
            &options,
        )
        .expect("read is built in");
        assert_eq!(read.summary, "read a.txt (1 line)");
        let edited = run_builtin(
            "edit",
            &json!({"path": "a.txt", "old_string": "hi", "new_string": "ho"}),
            &mut fs,
            &mut log,
            &options,
        )
        .expect("edit is built in");
        assert!(!edited.is_error, "{edited:?}");
        assert_eq!(fs.file("a.txt"), Some(&b"ho\n"[..]));
        let multi = run_builtin(
            "multiedit",
            &json!({"path": "a.txt", "edits": [{"old_string": "ho", "new_string": "hey"}]}),
            &mut fs,
            &mut log,
            &options,
        )
        .expect("multiedit is built in");
        assert!(!multi.is_error, "{multi:?}");
        let patched = run_builtin(
            "apply_patch",
            &json!({"patch": "*** Begin Patch\n*** Update File: a.txt\n-hey\n+hi\n*** End Patch"}),
            &mut fs,
            &mut log,
            &options,
        )
        .expect("apply_patch is built in");
        assert!(!patched.is_error, "{patched:?}");
        assert_eq!(fs.file("a.txt"), Some(&b"hi\n"[..]));
        assert!(run_builtin(
            "bash",
            &json!({"command": "ls"}),
            &mut fs,
            &mut log,
            &options
        )
        .is_none());
        assert!(run_builtin("nope", &json!({}), &mut fs, &mut log, &options).is_none());
    }
}
