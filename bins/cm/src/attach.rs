//! Attachments: `@path` in a prompt and `cm run -f FILE` add files to the user's message.
//!
//! A word of the prompt that starts with `@` is a mention when what follows looks like a
//! path (it has a `/` or a `.`-extension) or names an existing file; `bob@example.com`
//! is no mention, since its `@` does not start the word, and neither is `@alice`. Trailing
//! punctuation (`@src/a.rs,`) is not part of the path. A mention or `-f` that does not exist,
//! lies outside the workspace, or is a directory or binary (not an image) is an error
//! before any request is sent. Paths are relative to the working directory and confined
//! to the workspace like the tools' paths. Text files follow the prompt in
//! `<file path="...">` blocks; images become image parts when the model takes images.

use std::path::Path;

use cm_host::{LastLink, Workspace};
use cm_proto::message::{Image, Part};
use cm_proto::tool::sniff::{classify, Content};
use cm_proto::tool::{base64, FsError};

use crate::exit::Failure;

/// The largest file attached, in bytes.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// The `@path` mentions of a prompt, in order, without the `@`, each once.
pub fn mentions(prompt: &str, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in prompt.split_whitespace() {
        let Some(rest) = word.strip_prefix('@') else {
            continue;
        };
        let path = rest.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '"', '\'', '`']);
        if path.is_empty() || path.contains('@') {
            continue;
        }
        if (looks_like_path(path) || exists(path)) && !found.iter().any(|f| f == path) {
            found.push(path.to_string());
        }
    }
    found
}

/// `src/main.rs`, `./x`, `notes.txt`, `~/a` — not `alice` or `v2`.
fn looks_like_path(text: &str) -> bool {
    if text.contains('/') {
        return true;
    }
    match text.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && !ext.is_empty()
                && ext.len() <= 10
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// The user's message: the prompt, then every mentioned and `-f` file.
pub fn build(
    prompt: &str,
    files: &[String],
    cwd: &Path,
    workspace: &Workspace,
    images: bool,
) -> Result<Vec<Part>, Failure> {
    let exists = |p: &str| cwd.join(p).is_file();
    let mut paths: Vec<String> = files.to_vec();
    for mention in mentions(prompt, &exists) {
        if !paths.contains(&mention) {
            paths.push(mention);
        }
    }
    let mut text = prompt.to_string();
    let mut image_parts = Vec::new();
    for path in &paths {
        match load(path, cwd, workspace)? {
            Loaded::Text {
                display,
                text: body,
            } => {
                text.push_str(&format!(
                    "\n\n<file path=\"{display}\">\n{}\n</file>",
                    body.trim_end_matches('\n')
                ));
            }
            Loaded::Image {
                display,
                media_type,
                bytes,
            } => {
                if !images {
                    return Err(Failure::usage(format!(
                        "cannot attach {path}: it is an image ({media_type}) and the model \
                         does not take images (set \"images\": true for the model in config \
                         if it does)"
                    )));
                }
                text.push_str(&format!("\n\n(Attached image: {display})"));
                image_parts.push(Part::Image(Image::Base64 {
                    media_type: media_type.to_string(),
                    data: base64::encode(&bytes),
                }));
            }
        }
    }
    let mut parts = vec![Part::text(text)];
    parts.extend(image_parts);
    Ok(parts)
}

enum Loaded {
    Text {
        display: String,
        text: String,
    },
    Image {
        display: String,
        media_type: &'static str,
        bytes: Vec<u8>,
    },
}

fn load(path: &str, cwd: &Path, workspace: &Workspace) -> Result<Loaded, Failure> {
    let cannot = |why: String| Failure::usage(format!("cannot attach {path}: {why}"));
    let absolute = cwd.join(path);
    let resolved = workspace
        .resolve(&absolute.to_string_lossy(), LastLink::Follow, false)
        .map_err(|e| match e {
            FsError::OutsideWorkspace { resolved, .. } => cannot(format!(
                "it resolves to {resolved}, outside the workspace {}; cm attaches files of \
                 this project only",
                workspace.root().display()
            )),
            other => cannot(other.to_string()),
        })?;
    let meta = std::fs::metadata(&resolved.path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => cannot("no such file".into()),
        _ => cannot(e.to_string()),
    })?;
    if meta.is_dir() {
        return Err(cannot(
            "it is a directory; attach files, or ask cm to look at the directory".into(),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(cannot(format!(
            "it has {} bytes, over the limit of {MAX_FILE_BYTES}; ask cm to read the part you need",
            meta.len()
        )));
    }
    let bytes = std::fs::read(&resolved.path).map_err(|e| cannot(e.to_string()))?;
    match classify(&resolved.display, &bytes) {
        Content::Image(media_type) => Ok(Loaded::Image {
            display: resolved.display,
            media_type,
            bytes,
        }),
        Content::Binary(why) => Err(cannot(format!("it is not text ({why})"))),
        Content::Text => Ok(Loaded::Text {
            display: resolved.display,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn mentions_are_words_starting_with_at_that_look_like_paths() {
        assert_eq!(
            mentions("explain @src/main.rs, then @notes.txt.", &none),
            ["src/main.rs", "notes.txt"]
        );
        assert!(mentions("mail bob@example.com or @alice about v2", &none).is_empty());
        assert!(mentions("@ alone and @@twice and @a@b.c", &none).is_empty());
        assert_eq!(
            mentions("(see @Makefile)", &|p| p == "Makefile"),
            ["Makefile"]
        );
        assert_eq!(mentions("@a.rs and @a.rs again", &none), ["a.rs"]);
        assert!(
            mentions("version @1.2", &none).is_empty(),
            "digits only is no extension"
        );
    }

    #[test]
    fn text_files_follow_the_prompt_in_blocks_and_images_become_parts() {
        let dir = TestDir::new("cm-attach");
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.rs"), "fn a() {}\n").unwrap();
        std::fs::write(root.join("shot.png"), b"\x89PNG\r\n\x1a\n0000").unwrap();
        let workspace = Workspace::at(&root).unwrap();
        let parts = build(
            "look at @src/a.rs",
            &["shot.png".into()],
            &root,
            &workspace,
            true,
        )
        .unwrap();
        assert_eq!(parts.len(), 2);
        let Part::Text { text } = &parts[0] else {
            panic!("{parts:?}")
        };
        assert_eq!(
            text,
            "look at @src/a.rs\n\n(Attached image: shot.png)\n\n<file path=\"src/a.rs\">\nfn a() {}\n</file>"
        );
        assert!(
            matches!(&parts[1], Part::Image(Image::Base64 { media_type, .. }) if media_type == "image/png")
        );

        let no_images = build("x", &["shot.png".into()], &root, &workspace, false).unwrap_err();
        assert!(no_images.message.contains("does not take images"));
    }

    #[test]
    fn missing_outside_and_directory_paths_are_errors_naming_the_path() {
        let dir = TestDir::new("cm-attach-bad");
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("work/sub")).unwrap();
        std::fs::write(root.join("secret.txt"), "s").unwrap();
        let work = root.join("work");
        let workspace = Workspace::at(&work).unwrap();
        let missing = build("fix @src/nope.rs", &[], &work, &workspace, true).unwrap_err();
        assert_eq!(missing.status, crate::exit::Status::Usage);
        assert!(
            missing.message.contains("cannot attach src/nope.rs"),
            "{}",
            missing.message
        );
        let outside = build("x", &["../secret.txt".into()], &work, &workspace, true).unwrap_err();
        assert!(
            outside.message.contains("../secret.txt"),
            "{}",
            outside.message
        );
        assert!(outside.message.contains("outside"), "{}", outside.message);
        let directory = build("x", &["sub".into()], &work, &workspace, true).unwrap_err();
        assert!(directory.message.contains("is a directory"));
    }
}
