//! NativeFs through the `FileSystem` trait, as the tool logic uses it, in a workspace
//! found the way `cm` finds it (the git root above the working directory).
#![allow(clippy::unwrap_used)]

#[path = "../src/test_dir.rs"]
#[allow(dead_code)]
mod test_dir;

use std::os::unix::fs::{symlink, PermissionsExt};

use cm_host::{NativeFs, Workspace};
use cm_proto::tool::{FileSystem, FsError};
use test_dir::TestDir;

/// A repository with `src/lib.rs`, opened from `src/` (as if cm ran there).
fn repo() -> (TestDir, NativeFs) {
    let dir = TestDir::new("nfs-repo");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub fn a() {}\n").unwrap();
    let workspace = Workspace::detect(&dir.join("src")).unwrap();
    assert_eq!(workspace.root(), dir.path());
    (dir, NativeFs::new(workspace))
}

fn edit(fs: &mut dyn FileSystem, path: &str, from: &str, to: &str) -> Result<(), FsError> {
    let before = String::from_utf8(fs.read(path)?).unwrap();
    fs.write(path, before.replace(from, to).as_bytes())
}

#[test]
fn paths_are_relative_to_the_root_not_the_working_directory() {
    let (dir, fs) = repo();
    assert_eq!(fs.resolve("src/lib.rs").unwrap(), "src/lib.rs");
    assert_eq!(fs.read("src/lib.rs").unwrap(), b"pub fn a() {}\n");
    let absolute = dir.join("src/lib.rs");
    assert_eq!(
        fs.resolve(absolute.to_str().unwrap()).unwrap(),
        "src/lib.rs"
    );
}

#[test]
fn an_edit_through_the_trait_keeps_mode_and_symlink() {
    let (dir, mut fs) = repo();
    std::fs::set_permissions(
        dir.join("src/lib.rs"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    symlink("src/lib.rs", dir.join("lib-link.rs")).unwrap();
    edit(&mut fs, "lib-link.rs", "a()", "b()").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "pub fn b() {}\n"
    );
    assert!(std::fs::symlink_metadata(dir.join("lib-link.rs"))
        .unwrap()
        .file_type()
        .is_symlink());
    let mode = std::fs::metadata(dir.join("src/lib.rs"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn new_files_get_their_parent_directories() {
    let (dir, mut fs) = repo();
    fs.write("tests/deep/new_test.rs", b"#[test] fn t() {}\n")
        .unwrap();
    assert!(dir.join("tests/deep/new_test.rs").is_file());
}

#[test]
fn escapes_are_refused_with_the_resolved_path() {
    let (dir, mut fs) = repo();
    let outside = TestDir::new("nfs-outside");
    symlink(outside.path(), dir.join("src/escape")).unwrap();
    let err = fs.write("src/escape/planted.rs", b"x").unwrap_err();
    let expected = outside.join("planted.rs");
    assert_eq!(
        err,
        FsError::OutsideWorkspace {
            path: "src/escape/planted.rs".into(),
            resolved: expected.to_str().unwrap().into(),
        }
    );
    assert!(!expected.exists());
    assert!(err.to_string().contains("external_directory"));
}
