//! The token file, `$XDG_DATA_HOME/cm/serve/<port>.json`: how a local client finds a
//! running server and its token without the token ever being printed.
//!
//! It is written atomically (a private temporary file renamed into place), readable by
//! the user only, and removed when the [`TokenFile`] is dropped.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A written token file; dropping it removes the file.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// Writes `{"url", "token", "pid"}` for the server on `port` into `dir` (created,
    /// mode 0700, if missing) as `<port>.json`, mode 0600.
    pub fn write(dir: &Path, port: u16, url: &str, token: &str) -> io::Result<TokenFile> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let path = dir.join(format!("{port}.json"));
        let temporary = dir.join(format!(".{port}.json.{}.tmp", std::process::id()));
        let text = serde_json::json!({
            "url": url,
            "token": token,
            "pid": std::process::id(),
        })
        .to_string();
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&temporary, &path)
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(error);
        }
        Ok(TokenFile { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_is_private_and_removed_on_drop() {
        let dir = TestDir::new("cm-token-file");
        let serve = dir.join("cm/serve");
        let file = TokenFile::write(&serve, 4100, "http://127.0.0.1:4100", "t0k").unwrap();
        let mode = fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(&serve).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let value: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(file.path()).unwrap()).unwrap();
        assert_eq!(value["url"], "http://127.0.0.1:4100");
        assert_eq!(value["token"], "t0k");
        assert_eq!(value["pid"], std::process::id());
        let path = file.path().to_path_buf();
        drop(file);
        assert!(!path.exists());
        assert_eq!(
            fs::read_dir(&serve).unwrap().count(),
            0,
            "no temporary left"
        );
    }
}
