//! Colours: what each kind of text looks like, in a dark or a light theme, or with no
//! colour at all when `NO_COLOR` is set (bold, dim and reverse video still show).
//!
//! Layout code names a [`Role`]; only the theme turns it into a [`Style`], so the render
//! function and its snapshots stay independent of the palette.

/// A terminal colour: the terminal's default or one of the 256 indexed colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// The terminal's own foreground or background.
    #[default]
    Default,
    /// An xterm-256 palette index.
    Indexed(u8),
}

/// How one cell is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Foreground.
    pub fg: Color,
    /// Background.
    pub bg: Color,
    /// Bold.
    pub bold: bool,
    /// Dim (faint).
    pub dim: bool,
    /// Italic.
    pub italic: bool,
    /// Underlined.
    pub underline: bool,
    /// Reverse video (how selections show without colour).
    pub reverse: bool,
}

/// What a piece of text is; the theme decides how it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Ordinary text.
    Text,
    /// Secondary text: hints, durations, reasoning.
    Dim,
    /// The user's messages.
    User,
    /// A markdown heading.
    Heading,
    /// `**strong**`.
    Strong,
    /// `*emphasis*`.
    Emphasis,
    /// `inline code`.
    Code,
    /// A fenced code block's text.
    CodeBlock,
    /// A keyword inside a code block.
    Keyword,
    /// A string literal inside a code block.
    StringLit,
    /// A comment inside a code block.
    Comment,
    /// A link.
    Link,
    /// A quote's bar and text.
    Quote,
    /// A list bullet or number.
    Bullet,
    /// A finished tool card's mark.
    ToolOk,
    /// A failed tool card's mark.
    ToolFailed,
    /// A pending or running tool card's mark.
    ToolRunning,
    /// A diff's added line.
    DiffAdd,
    /// A diff's removed line.
    DiffDel,
    /// A diff's `@@` line.
    DiffHunk,
    /// An error line.
    Error,
    /// The status bar.
    Status,
    /// A dialog's body.
    Dialog,
    /// A dialog's title.
    DialogTitle,
    /// The selected row of a list.
    Selected,
    /// The input box's border.
    Border,
}

/// Which palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// Light text on a dark terminal.
    Dark,
    /// Dark text on a light terminal.
    Light,
    /// No colours (`NO_COLOR`): attributes only.
    Plain,
}

impl Theme {
    /// `NO_COLOR` wins; then `CM_THEME=light|dark`; then `COLORFGBG` (a light
    /// background ends in 7 or 15); dark otherwise.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Theme {
        if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Theme::Plain;
        }
        match var("CM_THEME").as_deref() {
            Some("light") => return Theme::Light,
            Some("dark") => return Theme::Dark,
            _ => {}
        }
        match var("COLORFGBG")
            .as_deref()
            .and_then(|v| v.rsplit(';').next())
        {
            Some("7" | "15") => Theme::Light,
            _ => Theme::Dark,
        }
    }

    /// The style of `role`.
    pub fn style(self, role: Role) -> Style {
        let plain = Style::default();
        let fg = |c: u8| Style {
            fg: Color::Indexed(c),
            ..plain
        };
        let dark = self == Theme::Dark;
        let pick = |d: u8, l: u8| if dark { d } else { l };
        if self == Theme::Plain {
            return match role {
                Role::Dim | Role::Comment => Style { dim: true, ..plain },
                Role::Heading | Role::Strong | Role::DialogTitle | Role::User | Role::Error => {
                    Style {
                        bold: true,
                        ..plain
                    }
                }
                Role::Emphasis => Style {
                    italic: true,
                    ..plain
                },
                Role::Link => Style {
                    underline: true,
                    ..plain
                },
                Role::Selected | Role::Status => Style {
                    reverse: true,
                    ..plain
                },
                _ => plain,
            };
        }
        let code_bg = Color::Indexed(pick(236, 254));
        match role {
            Role::Text | Role::Dialog => plain,
            Role::Dim => Style { dim: true, ..plain },
            Role::User => Style {
                bold: true,
                ..fg(pick(117, 25))
            },
            Role::Heading => Style {
                bold: true,
                ..fg(pick(215, 130))
            },
            Role::Strong => Style {
                bold: true,
                ..plain
            },
            Role::Emphasis => Style {
                italic: true,
                ..plain
            },
            Role::Code => fg(pick(180, 94)),
            Role::CodeBlock => Style {
                bg: code_bg,
                ..plain
            },
            Role::Keyword => Style {
                bg: code_bg,
                ..fg(pick(176, 90))
            },
            Role::StringLit => Style {
                bg: code_bg,
                ..fg(pick(114, 28))
            },
            Role::Comment => Style {
                bg: code_bg,
                ..fg(pick(244, 242))
            },
            Role::Link => Style {
                underline: true,
                ..fg(pick(75, 26))
            },
            Role::Quote => fg(pick(248, 240)),
            Role::Bullet => fg(pick(215, 130)),
            Role::ToolOk => fg(pick(114, 28)),
            Role::ToolFailed | Role::Error => Style {
                bold: true,
                ..fg(pick(203, 160))
            },
            Role::ToolRunning => fg(pick(221, 136)),
            Role::DiffAdd => fg(pick(114, 28)),
            Role::DiffDel => fg(pick(203, 160)),
            Role::DiffHunk => fg(pick(75, 26)),
            Role::Status => Style {
                bg: Color::Indexed(pick(237, 253)),
                ..fg(pick(252, 235))
            },
            Role::DialogTitle => Style {
                bold: true,
                ..fg(pick(221, 130))
            },
            Role::Selected => Style {
                bg: Color::Indexed(pick(24, 153)),
                ..plain
            },
            Role::Border => fg(pick(240, 248)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_and_keeps_only_attributes() {
        let env = |name: &str| match name {
            "NO_COLOR" => Some("1".to_string()),
            "CM_THEME" => Some("light".to_string()),
            _ => None,
        };
        let theme = Theme::from_env(&env);
        assert_eq!(theme, Theme::Plain);
        for role in [Role::Keyword, Role::DiffAdd, Role::Status, Role::CodeBlock] {
            let style = theme.style(role);
            assert_eq!((style.fg, style.bg), (Color::Default, Color::Default));
        }
        assert!(theme.style(Role::Selected).reverse);
    }

    #[test]
    fn the_theme_follows_cm_theme_then_colorfgbg() {
        let light_bg = |name: &str| (name == "COLORFGBG").then(|| "0;15".to_string());
        assert_eq!(Theme::from_env(&light_bg), Theme::Light);
        let chosen = |name: &str| (name == "CM_THEME").then(|| "dark".to_string());
        assert_eq!(Theme::from_env(&chosen), Theme::Dark);
        assert_eq!(Theme::from_env(&|_: &str| None), Theme::Dark);
        assert_ne!(
            Theme::Dark.style(Role::Heading),
            Theme::Light.style(Role::Heading)
        );
    }
}
