use super::*;

/// The subjects' texts of a line that must analyse without problems.
fn subjects(line: &str) -> Vec<String> {
    let analysis = analyze(line);
    assert_eq!(analysis.problems, [], "{line:?}");
    analysis.subjects.iter().map(Subject::text).collect()
}

fn problem(line: &str) -> Unanalysable {
    let analysis = analyze(line);
    match analysis.problems.first() {
        Some(problem) => problem.clone(),
        None => panic!("{line:?} analysed: {:?}", analysis.subjects),
    }
}

#[test]
fn words_lose_their_quotes_and_escapes() {
    assert_eq!(subjects("git  status\t--short"), ["git status --short"]);
    assert_eq!(subjects("'r'm \"-rf\" r\\m"), ["rm -rf rm"]);
    assert_eq!(subjects("echo 'a \"b\" $c'"), ["echo a \"b\" $c"]);
    assert_eq!(
        subjects("echo \"a \\\"b\\\" \\$c \\x\""),
        ["echo a \"b\" $c \\x"]
    );
    assert_eq!(subjects("echo '' \"\" x"), ["echo   x"]);
    assert_eq!(subjects("echo a\\\nb"), ["echo ab"]);
    assert_eq!(subjects("echo $'no escapes'"), ["echo no escapes"]);
    assert_eq!(subjects("echo $\"locale\""), ["echo locale"]);
    assert_eq!(subjects("echo a$"), ["echo a$"]);
    assert_eq!(subjects("echo trailing\\"), ["echo trailing\\"]);
}

#[test]
fn expansions_and_globs_are_unknown_pieces() {
    let analysis = analyze("ls $HOME/*.rs \"${X}y\" $1 {a,b} [ab] '*'");
    let pieces = analysis.subjects[0].pieces();
    assert_eq!(
        pieces,
        [
            Piece::Text("ls ".into()),
            Piece::Unknown("$HOME".into()),
            Piece::Text("/".into()),
            Piece::Unknown("*".into()),
            Piece::Text(".rs ".into()),
            Piece::Unknown("${X}".into()),
            Piece::Text("y ".into()),
            Piece::Unknown("$1".into()),
            Piece::Text(" ".into()),
            Piece::Unknown("{a,b}".into()),
            Piece::Text(" ".into()),
            Piece::Unknown("[ab]".into()),
            Piece::Text(" *".into()),
        ]
    );
    assert!(!analysis.subjects[0].is_known());
    // A lone `[` or `{` is not a glob or brace expansion.
    assert_eq!(subjects("[ -f x ]"), ["[ -f x ]"]);
    assert_eq!(subjects("echo { } a.b"), ["echo { } a.b"]);
}

#[test]
fn every_operator_ends_a_command() {
    assert_eq!(
        subjects("a; b && c || d | e |& f & g\nh"),
        ["a", "b", "c", "d", "e", "f", "g", "h"]
    );
    assert_eq!(subjects("a;b&&c||d|e"), ["a", "b", "c", "d", "e"]);
    assert_eq!(subjects("echo a # b; c\nd"), ["echo a", "d"]);
    assert_eq!(subjects("echo a#b"), ["echo a#b"]);
}

#[test]
fn groups_and_compound_commands_hold_commands() {
    assert_eq!(subjects("(a; (b))"), ["a", "b"]);
    assert_eq!(subjects("{ a; { b; }; }"), ["a", "b"]);
    assert_eq!(
        subjects("if a; then b; elif c; then d; else e; fi"),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        subjects("while a; do b; done; until c; do d; done"),
        ["a", "b", "c", "d"]
    );
    assert_eq!(subjects("for x in $(a) b; do c $x; done"), ["a", "c $x"]);
    assert_eq!(subjects("for ((i=0; i<3; i++)); do a; done"), ["a"]);
    assert_eq!(subjects("select x in a b; do c; done"), ["c"]);
    assert_eq!(
        subjects("case $(a) in x|y) b;; (z) c;& *) d;;& esac"),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        subjects("f() { a; }; function g { b; }; function h() (c)"),
        ["a", "b", "c"]
    );
    assert_eq!(subjects("[[ -n $(a) && x < y ]]; (( i++ ))"), ["a"]);
    assert_eq!(subjects("! a | time -p b"), ["a", "b"]);
    assert_eq!(subjects("echo if then fi done"), ["echo if then fi done"]);
}

#[test]
fn substitutions_are_parsed_wherever_they_appear() {
    assert_eq!(
        subjects("echo $(a) `b` \"$(c)\" \"`d`\""),
        ["a", "b", "c", "d", "echo $(a) `b` $(c) `d`"]
    );
    assert_eq!(subjects("x=$(a) y=`b` c"), ["a", "b", "c"]);
    assert_eq!(subjects("cat <(a) >(b)"), ["a", "b", "cat <(a) >(b)"]);
    assert_eq!(
        subjects("echo $(a $(b))"),
        ["b", "a $(b)", "echo $(a $(b))"]
    );
    assert_eq!(
        subjects("echo `a \\`b\\``"),
        ["b", "a `b`", "echo `a \\`b\\``"]
    );
    assert_eq!(
        subjects("echo $((1 + 2)) $(( (3) ))"),
        ["echo $((1 + 2)) $(( (3) ))"]
    );
    assert_eq!(subjects("cat < $(a) > /dev/null"), ["a", "cat"]);
    assert_eq!(subjects("echo $( (a) )"), ["a", "echo $( (a) )"]);
}

#[test]
fn wrappers_are_checked_with_the_command_they_run() {
    assert_eq!(
        subjects("sudo -u root -- rm x"),
        ["sudo -u root -- rm x", "rm x"]
    );
    assert_eq!(
        subjects("env -i -- A=1 B=2 rm x"),
        ["env -i -- A=1 B=2 rm x", "rm x"]
    );
    assert_eq!(subjects("env -S'rm x'"), ["env -Srm x", "rm x"]);
    assert_eq!(subjects("A=1 rm x"), ["rm x"]);
    assert_eq!(
        subjects("nice -n5 nohup rm x"),
        ["nice -n5 nohup rm x", "nohup rm x", "rm x"]
    );
    assert_eq!(
        subjects("timeout --signal KILL 5 rm x"),
        ["timeout --signal KILL 5 rm x", "rm x"]
    );
    assert_eq!(subjects("xargs -n1 rm"), ["xargs -n1 rm", "rm ..."]);
    assert_eq!(subjects("command -v rm"), ["command -v rm"]);
    assert_eq!(subjects("sudo -e /etc/hosts"), ["sudo -e /etc/hosts"]);
    assert_eq!(subjects("/bin/rm x"), ["/bin/rm x", "rm x"]);
    assert_eq!(
        subjects("find . -name x -exec rm {} \\; -execdir ls {} +"),
        [
            "find . -name x -exec rm {} ; -execdir ls {} +",
            "rm {}",
            "ls {}"
        ]
    );
    assert_eq!(subjects("sh -c 'a; b' x"), ["sh -c a; b x", "a", "b"]);
    assert_eq!(
        subjects("bash -o errexit -ec 'a'"),
        ["bash -o errexit -ec a", "a"]
    );
    assert_eq!(subjects("bash script.sh"), ["bash script.sh"]);
    assert_eq!(subjects("su - bob -c a"), ["su - bob -c a", "a"]);
    assert_eq!(
        subjects("trap 'a' EXIT; trap - EXIT"),
        ["trap a EXIT", "a", "trap - EXIT"]
    );
}

#[test]
fn redirections_to_files_are_writes() {
    let analysis = analyze(
        "a > 1 >> 2 &> 3 &>> 4 >| 5 2> 6 <> 7 >& f8 2>&1 >&- 3>&2- > /dev/null 2>/dev/fd/2 < in <<< word",
    );
    assert_eq!(analysis.problems, []);
    assert_eq!(analysis.writes, ["1", "2", "3", "4", "5", "6", "7", "f8"]);
    assert_eq!(analysis.subjects[0].text(), "a");
    assert_eq!(analyze("> \"a b\" echo").writes, ["a b"]);
    assert_eq!(analyze("echo 2 >x").subjects[0].text(), "echo 2");
    assert_eq!(analyze("echo 2>x").subjects[0].text(), "echo");
}

#[test]
fn what_cannot_be_judged_is_a_problem() {
    assert_eq!(problem("echo 'a"), Unanalysable::UnclosedQuote('\''));
    assert_eq!(problem("echo \"a"), Unanalysable::UnclosedQuote('"'));
    assert_eq!(problem("echo `a"), Unanalysable::UnclosedQuote('`'));
    assert_eq!(problem("echo $(a"), Unanalysable::Unbalanced('('));
    assert_eq!(problem("(a"), Unanalysable::Unbalanced('('));
    assert_eq!(problem("a)"), Unanalysable::Syntax(")".into()));
    assert_eq!(problem("echo ${a"), Unanalysable::Unbalanced('{'));
    assert_eq!(problem("cat <<EOF\nx\nEOF"), Unanalysable::HereDocument);
    assert_eq!(
        problem("echo ${a:-$(b)}"),
        Unanalysable::HiddenSubstitution("${")
    );
    assert_eq!(
        problem("echo $(( $(b) ))"),
        Unanalysable::HiddenSubstitution("((")
    );
    assert_eq!(problem("ls\r"), Unanalysable::ControlCharacter('\r'));
    assert_eq!(problem("$X y"), Unanalysable::UnknownName("$X".into()));
    assert_eq!(problem("r* y"), Unanalysable::UnknownName("r*".into()));
    assert_eq!(problem("eval a"), Unanalysable::HiddenCode("eval".into()));
    assert_eq!(problem(". a"), Unanalysable::HiddenCode(".".into()));
    assert_eq!(
        problem("a | bash"),
        Unanalysable::ReadsCommands("bash".into())
    );
    assert_eq!(problem("su bob"), Unanalysable::ReadsCommands("su".into()));
    assert_eq!(
        problem("sh -c \"$X\""),
        Unanalysable::UnknownScript("\"$X\"".into())
    );
    assert_eq!(
        problem("a=(1 2)"),
        Unanalysable::Syntax("an array assignment".into())
    );
    assert_eq!(
        problem("case x in"),
        Unanalysable::Syntax("case without esac".into())
    );
    assert_eq!(
        problem("ls >"),
        Unanalysable::Syntax("`>` without a target".into())
    );
    // What is known is still checked next to the problem.
    let analysis = analyze("rm x; eval y");
    assert_eq!(analysis.subjects[0].text(), "rm x");
}

#[test]
fn nesting_is_capped_not_overflowed() {
    let deep = "$(".repeat(10_000) + &")".repeat(10_000);
    assert_eq!(problem(&deep), Unanalysable::TooDeep);
    let deep = "( ".repeat(10_000) + &")".repeat(10_000);
    assert_eq!(problem(&deep), Unanalysable::TooDeep);
    let deep = "sudo ".repeat(10_000) + "ls";
    assert_eq!(problem(&deep), Unanalysable::TooDeep);
    // `watch` re-parses its words as a script: one level per `watch`.
    let deep = "watch ".repeat(100) + "rm x";
    assert_eq!(problem(&deep), Unanalysable::TooDeep);
    let braces = "{ ".repeat(10_000);
    assert_eq!(analyze(&braces).subjects, []);
}

/// A tiny xorshift generator: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_and_mutated_lines_never_panic() {
    const ATOMS: &[&str] = &[
        " ", "\t", "\n", ";", ";;", "&", "&&", "|", "||", "|&", "(", ")", "((", "))", "{", "}",
        "$(", "`", "'", "\"", "\\", "$", "${", "$'", "<", ">", ">>", "<<", "<<<", "2>&1", "<(",
        ">(", "#", "*", "?", "[", "]", ",", "=", "rm", "x", "sh", "-c", "sudo", "-u", "env",
        "find", "-exec", "xargs", "if", "then", "fi", "case", "in", "esac", "for", "do", "done",
        "[[", "]]", "!", "time", "eval", "é", "\r", "\0", "function", "trap", "su", "--",
    ];
    let seeds = [
        "ls && rm -rf x",
        "sh -c 'bash -c \"rm x\"'",
        "for f in $(ls); do rm \"$f\"; done > out",
        "find . -exec rm {} \\; | xargs -I{} sudo -u root env A=1 nice -n 5 rm {}",
        "case $x in a|b) echo `date`;; esac",
    ];
    let rules = {
        let mut rules = crate::permission::Rules::new();
        rules.add("bash", "*", crate::permission::Action::Allow);
        rules.add("bash", "rm *", crate::permission::Action::Deny);
        rules.add("bash", "git push*", crate::permission::Action::Ask);
        rules
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let line: String = if round % 2 == 0 {
            (0..rng.below(30))
                .map(|_| ATOMS[rng.below(ATOMS.len())])
                .collect()
        } else {
            let mut chars: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
            for _ in 0..=rng.below(4) {
                let at = rng.below(chars.len() + 1);
                match rng.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => {
                        let atom = ATOMS[rng.below(ATOMS.len())];
                        for (k, c) in atom.chars().enumerate() {
                            chars.insert(at + k, c);
                        }
                    }
                }
            }
            chars.into_iter().collect()
        };
        let analysis = analyze(&line);
        let evaluation = rules.evaluate("bash", &line);
        // Whatever the line, something is decided; a known `rm ...` command always denies.
        let runs_rm = analysis
            .subjects
            .iter()
            .any(|s| s.is_known() && s.text().starts_with("rm "));
        if runs_rm {
            assert_eq!(
                evaluation.action,
                crate::permission::Action::Deny,
                "{line:?}"
            );
        }
    }
}
