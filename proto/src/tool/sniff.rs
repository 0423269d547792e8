//! What a file's bytes are: an image the model can look at, binary data, or text.
//!
//! Images are recognised by magic bytes (PNG, JPEG, GIF, WebP), whatever their name.
//! Binary is a known binary extension, a NUL byte in the first 8 KiB, or more than 10%
//! control bytes there. Bytes above 0x7f never count against text, so Latin-1 and other
//! legacy encodings are still text (read shows them lossily).

/// How much of a file is inspected.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// An image format models accept; the value is its media type.
    Image(&'static str),
    /// Binary data; the value says why it was judged so.
    Binary(&'static str),
    /// Text (possibly not UTF-8).
    Text,
}

const BINARY_EXTENSIONS: &[&str] = &[
    "7z", "a", "avi", "bin", "bmp", "bz2", "class", "db", "dll", "dmg", "doc", "docx", "dylib",
    "eot", "exe", "flac", "gz", "ico", "iso", "jar", "lib", "mkv", "mov", "mp3", "mp4", "o", "obj",
    "odt", "ogg", "otf", "pdf", "ppt", "pptx", "pyc", "pyo", "rlib", "so", "sqlite", "sqlite3",
    "tar", "tgz", "tif", "tiff", "ttf", "wasm", "wav", "webm", "woff", "woff2", "xls", "xlsx",
    "xz", "zip", "zst",
];

/// Classifies a file from its name and contents.
pub fn classify(path: &str, bytes: &[u8]) -> Content {
    if let Some(media_type) = image_type(bytes) {
        return Content::Image(media_type);
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if let Some((_, ext)) = name.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        if BINARY_EXTENSIONS.contains(&ext.as_str()) {
            return Content::Binary("its extension is that of a binary format");
        }
    }
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return Content::Binary("it contains NUL bytes");
    }
    let control = head
        .iter()
        .filter(|&&b| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0x08)) || b == 0x7f
        })
        .count();
    if control.saturating_mul(10) > head.len() {
        return Content::Binary("most of its first bytes are not text");
    }
    Content::Text
}

/// The media type of an image, from its magic bytes.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_magic_bytes_not_names() {
        assert_eq!(
            classify("x.txt", b"\x89PNG\r\n\x1a\n...."),
            Content::Image("image/png")
        );
        assert_eq!(
            classify("x", &[0xff, 0xd8, 0xff, 0xe0]),
            Content::Image("image/jpeg")
        );
        assert_eq!(classify("x", b"GIF89a..."), Content::Image("image/gif"));
        assert_eq!(
            classify("x", b"RIFF\0\0\0\0WEBPVP8 "),
            Content::Image("image/webp")
        );
        assert_eq!(classify("x.png", b"not really"), Content::Text);
    }

    #[test]
    fn nul_bytes_binary_extensions_and_control_noise_are_binary() {
        assert!(matches!(classify("a.txt", b"ab\0cd"), Content::Binary(_)));
        assert!(matches!(classify("lib/x.SO", b"text"), Content::Binary(_)));
        let noise: Vec<u8> = (0..100u8)
            .map(|i| if i % 4 == 0 { 1 } else { b'a' })
            .collect();
        assert!(matches!(classify("n", &noise), Content::Binary(_)));
    }

    #[test]
    fn latin1_and_tabs_are_text() {
        assert_eq!(classify("a.txt", b"caf\xe9\tna\xefve\r\n"), Content::Text);
        assert_eq!(classify("Makefile", b"all:\n\tcc x.c\n"), Content::Text);
        assert_eq!(classify("empty", b""), Content::Text);
    }
}
