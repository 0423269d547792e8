//! Terminal input bytes to keys, incrementally: escape sequences split across reads are
//! kept until complete, bracketed paste arrives as one [`Key::Paste`], and bytes that
//! make no sense are dropped, never a panic.
//!
//! A lone ESC at the end of a read is the Esc key (terminals send a sequence in one
//! write); [`Decoder::feed`] is told whether more bytes were waiting.

/// One key press (or paste, or mouse wheel step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A character.
    Char(char),
    /// Ctrl and a letter (lowercase).
    Ctrl(char),
    /// Alt and a character.
    Alt(char),
    /// Enter.
    Enter,
    /// Alt+Enter or Shift+Enter (when the terminal tells them apart).
    NewLine,
    /// Tab.
    Tab,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Esc.
    Esc,
    /// Arrows.
    Left,
    /// Right arrow.
    Right,
    /// Up arrow.
    Up,
    /// Down arrow.
    Down,
    /// Ctrl+Left (word left).
    CtrlLeft,
    /// Ctrl+Right (word right).
    CtrlRight,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Text pasted with bracketed paste.
    Paste(String),
    /// Mouse wheel up.
    WheelUp,
    /// Mouse wheel down.
    WheelDown,
}

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";
/// A paste larger than this is cut (the rest is dropped).
const PASTE_LIMIT: usize = 1 << 20;

/// The incremental decoder.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    paste: Option<Vec<u8>>,
}

impl Decoder {
    /// A decoder with nothing pending.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes `bytes`; `read_ended` says the read returned everything that was waiting,
    /// so a trailing lone ESC is the Esc key.
    pub fn feed(&mut self, bytes: &[u8], read_ended: bool) -> Vec<Key> {
        self.pending.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut i = 0;
        let buf = std::mem::take(&mut self.pending);
        while i < buf.len() {
            if let Some(paste) = &mut self.paste {
                match find(&buf[i..], PASTE_END) {
                    Some(end) => {
                        if paste.len() < PASTE_LIMIT {
                            paste.extend_from_slice(&buf[i..i + end]);
                        }
                        let text = String::from_utf8_lossy(paste).replace("\r\n", "\n");
                        keys.push(Key::Paste(text.replace('\r', "\n")));
                        self.paste = None;
                        i += end + PASTE_END.len();
                        continue;
                    }
                    None => {
                        // Keep a possible partial end marker for the next read.
                        let keep = partial_suffix(&buf[i..], PASTE_END);
                        let take = buf.len() - i - keep;
                        if paste.len() < PASTE_LIMIT {
                            paste.extend_from_slice(&buf[i..i + take]);
                        }
                        self.pending = buf[buf.len() - keep..].to_vec();
                        return keys;
                    }
                }
            }
            match decode_one(&buf[i..], read_ended) {
                Step::Key(key, used) => {
                    keys.extend(key);
                    i += used;
                }
                Step::PasteStart(used) => {
                    self.paste = Some(Vec::new());
                    i += used;
                }
                Step::Incomplete => {
                    self.pending = buf[i..].to_vec();
                    // A sequence that never completes is dropped rather than kept forever.
                    if self.pending.len() > 64 {
                        self.pending.clear();
                    }
                    return keys;
                }
            }
        }
        keys
    }
}

enum Step {
    Key(Option<Key>, usize),
    PasteStart(usize),
    Incomplete,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How many bytes at the end of `hay` could start `marker`.
fn partial_suffix(hay: &[u8], marker: &[u8]) -> usize {
    (1..marker.len())
        .rev()
        .find(|&n| n <= hay.len() && hay[hay.len() - n..] == marker[..n])
        .unwrap_or(0)
}

fn decode_one(buf: &[u8], read_ended: bool) -> Step {
    let b = buf[0];
    match b {
        0x1b => decode_escape(buf, read_ended),
        b'\r' | b'\n' => Step::Key(Some(Key::Enter), 1),
        b'\t' => Step::Key(Some(Key::Tab), 1),
        0x7f | 0x08 => Step::Key(Some(Key::Backspace), 1),
        0x01..=0x1a => Step::Key(Some(Key::Ctrl(char::from(b - 1 + b'a'))), 1),
        0x00 | 0x1c..=0x1f => Step::Key(None, 1),
        _ => decode_utf8(buf, read_ended),
    }
}

fn decode_utf8(buf: &[u8], read_ended: bool) -> Step {
    let len = match buf[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Step::Key(None, 1),
    };
    if buf.len() < len {
        return if read_ended {
            Step::Key(None, buf.len())
        } else {
            Step::Incomplete
        };
    }
    match std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) => Step::Key(Some(Key::Char(c)), len),
        None => Step::Key(None, 1),
    }
}

fn decode_escape(buf: &[u8], read_ended: bool) -> Step {
    let Some(&second) = buf.get(1) else {
        return if read_ended {
            Step::Key(Some(Key::Esc), 1)
        } else {
            Step::Incomplete
        };
    };
    match second {
        b'[' => decode_csi(buf, read_ended),
        b'O' => match buf.get(2) {
            None if !read_ended => Step::Incomplete,
            Some(b'H') => Step::Key(Some(Key::Home), 3),
            Some(b'F') => Step::Key(Some(Key::End), 3),
            Some(b'A') => Step::Key(Some(Key::Up), 3),
            Some(b'B') => Step::Key(Some(Key::Down), 3),
            Some(b'C') => Step::Key(Some(Key::Right), 3),
            Some(b'D') => Step::Key(Some(Key::Left), 3),
            Some(_) => Step::Key(None, 3),
            None => Step::Key(Some(Key::Alt('O')), 2),
        },
        b'\r' | b'\n' => Step::Key(Some(Key::NewLine), 2),
        0x7f => Step::Key(Some(Key::Alt('\u{7f}')), 2),
        0x1b => Step::Key(Some(Key::Esc), 1),
        _ => match decode_utf8(&buf[1..], read_ended) {
            Step::Key(Some(Key::Char(c)), used) => Step::Key(Some(Key::Alt(c)), used + 1),
            Step::Incomplete => Step::Incomplete,
            _ => Step::Key(None, 2),
        },
    }
}

fn decode_csi(buf: &[u8], read_ended: bool) -> Step {
    // ESC [ parameters (0x30–0x3f)* intermediates (0x20–0x2f)* final (0x40–0x7e)
    let mut end = 2;
    while let Some(&b) = buf.get(end) {
        if (0x40..=0x7e).contains(&b) {
            break;
        }
        if !(0x20..=0x3f).contains(&b) {
            return Step::Key(None, end);
        }
        end += 1;
    }
    let Some(&last) = buf.get(end) else {
        return if read_ended && buf.len() > 2 {
            Step::Key(None, buf.len())
        } else if read_ended {
            Step::Key(Some(Key::Alt('[')), 2)
        } else {
            Step::Incomplete
        };
    };
    let used = end + 1;
    if &buf[..used] == PASTE_START {
        return Step::PasteStart(used);
    }
    let params = std::str::from_utf8(&buf[2..end]).unwrap_or("");
    let mut numbers = params
        .trim_start_matches('<')
        .split(';')
        .map(|n| n.parse::<u32>().ok());
    let first = numbers.next().flatten();
    let modifier = numbers.next().flatten();
    let ctrl = modifier == Some(5);
    let key = match (last, first) {
        (b'A', _) => Some(Key::Up),
        (b'B', _) => Some(Key::Down),
        (b'C', _) if ctrl => Some(Key::CtrlRight),
        (b'D', _) if ctrl => Some(Key::CtrlLeft),
        (b'C', _) => Some(Key::Right),
        (b'D', _) => Some(Key::Left),
        (b'H', _) => Some(Key::Home),
        (b'F', _) => Some(Key::End),
        (b'~', Some(1 | 7)) => Some(Key::Home),
        (b'~', Some(4 | 8)) => Some(Key::End),
        (b'~', Some(3)) => Some(Key::Delete),
        (b'~', Some(5)) => Some(Key::PageUp),
        (b'~', Some(6)) => Some(Key::PageDown),
        // xterm's modifyOtherKeys: 27;MOD;CODE~ (27;2;13~ is Shift+Enter).
        (b'~', Some(27)) => {
            let code = params
                .rsplit(';')
                .next()
                .and_then(|c| c.parse::<u32>().ok());
            match (modifier, code) {
                (_, Some(13)) => Some(Key::NewLine),
                (Some(2), Some(c)) => char::from_u32(c).filter(|c| !c.is_control()).map(Key::Char),
                _ => None,
            }
        }
        // The kitty protocol's Shift+Enter.
        (b'u', Some(13)) if modifier.is_some_and(|m| m > 1) => Some(Key::NewLine),
        // SGR mouse: wheel buttons are 64 and 65.
        (b'M' | b'm', Some(64)) if params.starts_with('<') => Some(Key::WheelUp),
        (b'M' | b'm', Some(65)) if params.starts_with('<') => Some(Key::WheelDown),
        _ => None,
    };
    Step::Key(key, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        Decoder::new().feed(bytes, true)
    }

    #[test]
    fn characters_controls_and_special_keys() {
        assert_eq!(
            keys("aé\r\x03\x7f\t".as_bytes()),
            [
                Key::Char('a'),
                Key::Char('é'),
                Key::Enter,
                Key::Ctrl('c'),
                Key::Backspace,
                Key::Tab
            ]
        );
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[5~\x1b[6~\x1b[H\x1b[4~\x1b[1;5D\x1b[3~\x1bOF"),
            [
                Key::Up,
                Key::Down,
                Key::PageUp,
                Key::PageDown,
                Key::Home,
                Key::End,
                Key::CtrlLeft,
                Key::Delete,
                Key::End
            ]
        );
        assert_eq!(keys(b"\x1b\r\x1bb"), [Key::NewLine, Key::Alt('b')]);
        assert_eq!(
            keys(b"\x1b[27;2;13~\x1b[13;2u\x1b[27;5;13~\x1b[27;2;65~\x1b[27;5;9~"),
            [Key::NewLine, Key::NewLine, Key::NewLine, Key::Char('A')]
        );
        assert_eq!(
            keys(b"\x1b[<64;3;4M\x1b[<65;3;4M"),
            [Key::WheelUp, Key::WheelDown]
        );
    }

    #[test]
    fn a_lone_escape_is_esc_only_when_the_read_ended() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.feed(b"\x1b", false), []);
        assert_eq!(decoder.feed(b"[D", true), [Key::Left]);
        assert_eq!(Decoder::new().feed(b"\x1b", true), [Key::Esc]);
    }

    #[test]
    fn bracketed_paste_is_one_key_with_newlines_kept() {
        assert_eq!(
            keys(b"x\x1b[200~line 1\r\nline 2\x1b[A\x1b[201~y"),
            [
                Key::Char('x'),
                Key::Paste("line 1\nline 2\x1b[A".into()),
                Key::Char('y')
            ]
        );
    }

    #[test]
    fn every_split_of_the_input_gives_the_same_keys() {
        let input = "a\x1b[200~p\r\nq\x1b[201~\x1b[1;5C日\x1b[6~".as_bytes();
        let whole = keys(input);
        for cut in 0..=input.len() {
            let mut decoder = Decoder::new();
            let mut got = decoder.feed(&input[..cut], false);
            got.extend(decoder.feed(&input[cut..], true));
            assert_eq!(got, whole, "split at {cut}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut decoder = Decoder::new();
        let mut seed = 7u32;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..16)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            decoder.feed(&bytes, seed.is_multiple_of(3));
        }
        assert_eq!(keys(b"\x1b[999999999999;;;x"), []);
    }
}
