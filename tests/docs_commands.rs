//! The commands the documentation shows work as shown. Every `coex …`
//! command line of README.md and docs/*.md — in a fenced shell block (or a
//! block without a language) and in an inline code span — is read:
//!
//! - every subcommand it names exists (`coex SUB --help` succeeds);
//! - every flag it shows is one that subcommand's `--help` lists;
//! - curated sequences run for real, command line by command line as the
//!   docs spell them: the library-authoring walkthrough, the README's
//!   program, library and `coex pkg` blocks, the `coex cxz` examples with
//!   their output, the quick start's example programs.
//!
//! A failure names the doc file and line of the command that no longer
//! works. Real binary, real clang.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// One `coex …` command line found in a doc.
#[derive(Clone, Debug)]
struct DocCommand {
    /// `README.md` or `docs/cxz.md`, and the 1-based line.
    file: String,
    line: usize,
    /// The command as written, comment and prompt removed.
    text: String,
    /// From a fenced block (true) or an inline code span (false).
    in_block: bool,
}

impl DocCommand {
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The words after `coex`, up to a pipe, redirection or `;`.
    fn args(&self) -> Vec<String> {
        self.text
            .split_whitespace()
            .skip(1)
            .take_while(|w| !matches!(*w, "|" | "||" | "&&" | ";" | ">" | "2>" | "<" | "#"))
            .map(str::to_string)
            .collect()
    }
}

/// A fenced block: its opening line, language and lines (with numbers).
struct Block {
    line: usize,
    info: String,
    lines: Vec<(usize, String)>,
}

/// A Markdown file read into fenced blocks, headings and inline commands.
struct Doc {
    name: String,
    lines: Vec<String>,
    blocks: Vec<Block>,
}

/// Languages of fenced blocks that hold shell command lines.
const SHELL_BLOCKS: &[&str] = &["", "sh", "bash", "shell", "console", "text"];

impl Doc {
    fn read(name: &str) -> Doc {
        let text = fs::read_to_string(repo().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut blocks = Vec::new();
        let mut open: Option<(String, Block)> = None;
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            let fence: String = t.chars().take_while(|c| *c == '`' || *c == '~').collect();
            let is_fence =
                fence.len() >= 3 && fence.chars().all(|c| c == fence.chars().next().unwrap());
            match &mut open {
                Some((f, b)) => {
                    if is_fence
                        && fence.len() >= f.len()
                        && fence.starts_with(&f[..1])
                        && t[fence.len()..].trim().is_empty()
                    {
                        let (_, b) = open.take().unwrap();
                        blocks.push(b);
                    } else {
                        b.lines.push((i + 1, l.clone()));
                    }
                }
                None if is_fence => {
                    let info = t[fence.len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    open = Some((
                        fence,
                        Block {
                            line: i + 1,
                            info,
                            lines: Vec::new(),
                        },
                    ));
                }
                None => {}
            }
        }
        assert!(open.is_none(), "{name}: a fenced block is never closed");
        Doc {
            name: name.to_string(),
            lines,
            blocks,
        }
    }

    /// `coex …` lines of the shell blocks (a `$ ` prompt and a trailing
    /// `# comment` removed).
    fn block_commands(&self) -> Vec<DocCommand> {
        let mut out = Vec::new();
        for b in &self.blocks {
            if !SHELL_BLOCKS.contains(&b.info.as_str()) {
                continue;
            }
            for (n, l) in &b.lines {
                if let Some(text) = command_of_line(l) {
                    out.push(DocCommand {
                        file: self.name.clone(),
                        line: *n,
                        text,
                        in_block: true,
                    });
                }
            }
        }
        out
    }

    /// `coex …` inline code spans outside fenced blocks. A span may run over
    /// a line break, never over a blank line (CommonMark).
    fn inline_commands(&self) -> Vec<DocCommand> {
        // The text outside blocks, block lines blanked out (so their
        // backticks pair with nothing), with each line's start offset.
        let mut in_block = vec![false; self.lines.len()];
        for b in &self.blocks {
            // Opening fence, content, closing fence (0-based).
            let last = (b.line + b.lines.len()).min(self.lines.len() - 1);
            for flag in &mut in_block[b.line - 1..=last] {
                *flag = true;
            }
        }
        let mut text = String::new();
        let mut starts = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            starts.push(text.len());
            if !in_block[i] {
                text.push_str(l);
            }
            text.push('\n');
        }
        let line_of = |off: usize| starts.partition_point(|s| *s <= off);
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'`' {
                i += 1;
                continue;
            }
            let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
            let body_start = i + run;
            // The next run of exactly `run` backticks closes the span.
            let mut j = body_start;
            let mut close = None;
            while j < bytes.len() {
                if bytes[j] == b'`' {
                    let r = bytes[j..].iter().take_while(|b| **b == b'`').count();
                    if r == run {
                        close = Some(j);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(c) if !text[body_start..c].contains("\n\n") => {
                    let body = text[body_start..c].replace('\n', " ");
                    let body = body.trim();
                    if body == "coex" || body.starts_with("coex ") {
                        out.push(DocCommand {
                            file: self.name.clone(),
                            line: line_of(i),
                            text: body.to_string(),
                            in_block: false,
                        });
                    }
                    i = c + run;
                }
                _ => i = body_start,
            }
        }
        out
    }

    /// The first fenced block with language `info` after the heading that
    /// contains `heading`.
    fn block_after(&self, heading: &str, info: &str) -> &Block {
        let h = self
            .lines
            .iter()
            .position(|l| l.starts_with('#') && l.contains(heading))
            .unwrap_or_else(|| panic!("{}: no heading containing {heading:?}", self.name));
        self.blocks
            .iter()
            .find(|b| b.line > h && b.info == info)
            .unwrap_or_else(|| panic!("{}: no ```{info} block after {heading:?}", self.name))
    }

    /// The `coex` commands of the first shell block after `heading`.
    fn commands_after(&self, heading: &str, info: &str) -> Vec<DocCommand> {
        let b = self.block_after(heading, info);
        let cmds: Vec<DocCommand> = b
            .lines
            .iter()
            .filter_map(|(n, l)| {
                Some(DocCommand {
                    file: self.name.clone(),
                    line: *n,
                    text: command_of_line(l)?,
                    in_block: true,
                })
            })
            .collect();
        assert!(
            !cmds.is_empty(),
            "{}:{}: no coex command in the block",
            self.name,
            b.line
        );
        cmds
    }

    /// The inline command written exactly `text`.
    fn inline(&self, text: &str) -> DocCommand {
        self.inline_commands()
            .into_iter()
            .find(|c| c.text == text)
            .unwrap_or_else(|| panic!("{}: no inline `{text}`", self.name))
    }
}

/// `coex …` of one line of a shell block: prompt and comment removed.
fn command_of_line(l: &str) -> Option<String> {
    let t = l.trim_start();
    let t = t.strip_prefix("$ ").unwrap_or(t);
    if !(t == "coex" || t.starts_with("coex ")) {
        return None;
    }
    let t = match t.find(" #") {
        Some(c) => &t[..c],
        None => t,
    };
    Some(t.trim_end().to_string())
}

/// README.md and every docs/*.md, by name.
fn docs() -> Vec<Doc> {
    let mut names = vec!["README.md".to_string()];
    let mut more: Vec<String> = fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    more.sort();
    names.extend(more);
    names.iter().map(|n| Doc::read(n)).collect()
}

/// A word that stands for something to fill in: `FILE`, `<x>`, `…`,
/// `bash|zsh|fish`, `[-L DIR]`.
fn is_placeholder(w: &str) -> bool {
    w.contains('…')
        || w.contains("...")
        || w.starts_with('<')
        || w.starts_with('[')
        || w.contains('|')
        || {
            // `FILE`, `OUT.cxz`, `ARCHIVE_PATH=FILE`: capitals before any dot.
            let stem = w.split(['.', '=']).next().unwrap_or("");
            stem.len() > 1
                && stem.chars().any(|c| c.is_ascii_uppercase())
                && stem
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }
}

/// The flag a documented word shows: `[--json]` → `--json`,
/// `--remote-upload=false` → `--remote-upload`, `-j2` → `-j`; `None` for
/// a word that is not a flag (`-` alone, `--`).
fn flag_of(w: &str) -> Option<String> {
    let w = w.trim_start_matches('[');
    let w = w.trim_end_matches([']', ',', ')', '…', '.']);
    if !w.starts_with('-') || w == "-" || w == "--" {
        return None;
    }
    let w = w.split('=').next().unwrap();
    if !w.starts_with("--") && w.len() > 2 {
        return Some(w[..2].to_string());
    }
    Some(w.to_string())
}

/// `coex … --help`, memoized: `None` when it fails.
struct Help {
    cache: HashMap<Vec<String>, Option<String>>,
}

impl Help {
    fn of(&mut self, path: &[String]) -> Option<String> {
        self.cache
            .entry(path.to_vec())
            .or_insert_with(|| {
                let o = std::process::Command::new(assert_cmd::cargo::cargo_bin("coex"))
                    .args(path)
                    .arg("--help")
                    .env("NO_COLOR", "1")
                    .output()
                    .expect("run coex --help");
                o.status.success().then(|| text(&o.stdout))
            })
            .clone()
    }

    fn has_subcommands(&mut self, path: &[String]) -> bool {
        self.of(path).is_some_and(|h| h.contains("\nCommands:\n"))
    }
}

/// Whether `help` lists `flag` as a word of its own.
fn lists_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before = help[..i].chars().next_back();
        let after = help[i + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// Checks one documented command against the CLI: its subcommands exist,
/// its flags are listed by that subcommand's help. `Ok(false)`: a
/// placeholder stands where a subcommand belongs (`coex tool …`).
fn check_against_cli(c: &DocCommand, help: &mut Help) -> Result<bool, String> {
    let args = c.args();
    let mut path: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() && help.has_subcommands(&path) {
        let w = &args[i];
        if w.starts_with('-') {
            break;
        }
        if is_placeholder(w) {
            return Ok(false);
        }
        let mut next = path.clone();
        next.push(w.clone());
        if help.of(&next).is_none() {
            return Err(format!(
                "{}: `{}`: `coex {}` is not a subcommand (`coex {} --help` fails)",
                c.at(),
                c.text,
                next.join(" "),
                next.join(" ")
            ));
        }
        path = next;
        i += 1;
    }
    let h = help.of(&path).expect("checked above");
    for w in &args[i..] {
        if w == "--" {
            break; // the program's own arguments follow
        }
        let Some(flag) = flag_of(w) else { continue };
        if !lists_flag(&h, &flag) {
            return Err(format!(
                "{}: `{}`: flag {flag} is not accepted by `coex {}` (not in its --help)",
                c.at(),
                c.text,
                path.join(" ")
            ));
        }
    }
    Ok(true)
}

#[test]
fn every_documented_subcommand_and_flag_exists() {
    let mut help = Help {
        cache: HashMap::new(),
    };
    let mut problems = Vec::new();
    let (mut checked, mut blocks) = (0, 0);
    for doc in docs() {
        let mut cmds = doc.block_commands();
        cmds.extend(doc.inline_commands());
        for c in cmds {
            match check_against_cli(&c, &mut help) {
                Ok(true) => {
                    checked += 1;
                    blocks += usize::from(c.in_block);
                }
                Ok(false) => eprintln!(
                    "not checked (a placeholder names the subcommand): {}: {}",
                    c.at(),
                    c.text
                ),
                Err(e) => problems.push(e),
            }
        }
    }
    // The examples `coex --help` prints are documentation too.
    let top = help.of(&[]).expect("coex --help");
    let examples = top
        .split("Examples:\n")
        .nth(1)
        .expect("coex --help: no Examples section");
    for (k, l) in examples.lines().enumerate() {
        let Some(cmd) = command_of_line(l) else {
            continue;
        };
        // Examples are `coex …` followed by two or more spaces and a note.
        let cmd = cmd.split("  ").next().unwrap().to_string();
        let c = DocCommand {
            file: "coex --help, Examples".into(),
            line: k + 1,
            text: cmd,
            in_block: true,
        };
        match check_against_cli(&c, &mut help) {
            Ok(_) => checked += 1,
            Err(e) => problems.push(e),
        }
    }
    assert!(
        problems.is_empty(),
        "documented commands the CLI refuses:\n{}",
        problems.join("\n")
    );
    // The extraction found what is there (README and docs hold dozens).
    eprintln!("{checked} documented commands checked, {blocks} of them in blocks");
    assert!(
        checked > 80 && blocks > 20,
        "only {checked} commands ({blocks} in blocks) found"
    );
}

#[test]
fn the_checker_finds_a_wrong_subcommand_or_flag() {
    let mut help = Help {
        cache: HashMap::new(),
    };
    let doc = |text: &str| DocCommand {
        file: "x.md".into(),
        line: 7,
        text: text.into(),
        in_block: true,
    };
    assert_eq!(
        check_against_cli(&doc("coex cxz pack DIR -o OUT.cxz"), &mut help),
        Ok(true)
    );
    assert_eq!(
        check_against_cli(&doc("coex tool … --cc PATH"), &mut help),
        Ok(false)
    );
    assert_eq!(
        check_against_cli(&doc("coex --version"), &mut help),
        Ok(true)
    );
    assert_eq!(
        check_against_cli(&doc("coex cxz build -j1 -v"), &mut help),
        Ok(true)
    );
    let e = check_against_cli(&doc("coex cxz unpack a.cxz"), &mut help).unwrap_err();
    assert!(
        e.starts_with("x.md:7: ") && e.contains("`coex cxz unpack` is not a subcommand"),
        "{e}"
    );
    let e = check_against_cli(&doc("coex build app.coex [--jobz N]"), &mut help).unwrap_err();
    assert!(
        e.contains("flag --jobz is not accepted by `coex build`"),
        "{e}"
    );
    let e = check_against_cli(&doc("coex pkg list --remote-cache=x"), &mut help).unwrap_err();
    assert!(e.contains("--remote-cache"), "{e}");
}

#[test]
fn inline_spans_and_blocks_are_read_as_markdown() {
    let d = Doc {
        name: "t.md".into(),
        lines: [
            "a `coex",
            "build x` b ``coex `q` y`` `not",
            "",
            "still open. `coex run a.coex -- x`",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        blocks: Vec::new(),
    };
    let got: Vec<(usize, String)> = d
        .inline_commands()
        .into_iter()
        .map(|c| (c.line, c.text))
        .collect();
    assert_eq!(
        got,
        [
            (1, "coex build x".to_string()),
            (2, "coex `q` y".into()),
            (4, "coex run a.coex -- x".into())
        ]
    );
    assert_eq!(
        command_of_line("  $ coex cxz verify a.cxz   # ok"),
        Some("coex cxz verify a.cxz".into())
    );
    assert_eq!(command_of_line("coexist"), None);
    assert_eq!(flag_of("[--json]"), Some("--json".into()));
    assert_eq!(
        flag_of("--remote-upload=false"),
        Some("--remote-upload".into())
    );
    assert_eq!(flag_of("-j2"), Some("-j".into()));
    assert_eq!(flag_of("-"), None);
    assert!(is_placeholder("FILE.cxz") && is_placeholder("…") && is_placeholder("NAME"));
    assert!(!is_placeholder("build") && !is_placeholder("app.coex") && !is_placeholder("-L"));
}

// ---- Running documented sequences ----

/// Runs documented commands in one folder with one cache; collects the
/// failures (doc file:line, the command, what went wrong).
struct Runner {
    env: Env,
    problems: Vec<String>,
}

impl Runner {
    /// Runs `c` in `cwd` as written; `Some(output)` when it succeeded.
    fn run(&mut self, c: &DocCommand, cwd: &Path) -> Option<std::process::Output> {
        let args = c.args();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = self.env.coex_in(cwd, &argv);
        if o.status.success() {
            Some(o)
        } else {
            self.problems.push(format!(
                "{}: `{}` failed ({}) in {}:\n{}{}",
                c.at(),
                c.text,
                o.status,
                cwd.display(),
                text(&o.stdout),
                text(&o.stderr)
            ));
            None
        }
    }

    fn expect(&mut self, c: &DocCommand, ok: bool, what: &str) {
        if !ok {
            self.problems
                .push(format!("{}: after `{}`: {what}", c.at(), c.text));
        }
    }
}

/// Copies `examples/*.coex` and `examples/libs/` into `dst/examples/`.
fn copy_examples(dst: &Path) {
    fn copy_tree(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                copy_tree(&p, &to.join(e.file_name()));
            } else {
                fs::copy(&p, to.join(e.file_name())).unwrap();
            }
        }
    }
    let ex = repo().join("examples");
    fs::create_dir_all(dst.join("examples")).unwrap();
    for e in fs::read_dir(&ex).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "coex") {
            fs::copy(&p, dst.join("examples").join(p.file_name().unwrap())).unwrap();
        }
    }
    copy_tree(&ex.join("libs"), &dst.join("examples/libs"));
}

/// The example programs, by name (`examples/*.coex`).
fn example_programs() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(repo().join("examples"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".coex").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

fn doc(name: &str) -> Doc {
    Doc::read(name)
}

#[test]
fn the_library_authoring_walkthrough_runs() {
    let mut r = Runner {
        env: Env::new(),
        problems: Vec::new(),
    };
    let root = r.env.path().join("work");
    let guide = doc("docs/library-authoring.md");
    // §1's layout, with §2's manifest and §3's module as written, and the
    // C function they declare.
    let lib = root.join("mylib");
    fs::create_dir_all(lib.join("src")).unwrap();
    fs::create_dir_all(lib.join("ffi/src")).unwrap();
    let manifest = guide.block_after("2. The manifest", "toml");
    let manifest: Vec<&str> = manifest.lines.iter().map(|(_, l)| l.as_str()).collect();
    fs::write(lib.join("manifest.toml"), manifest.join("\n")).unwrap();
    let module = guide.block_after("3. Externs", "coex");
    let module: Vec<&str> = module.lines.iter().map(|(_, l)| l.as_str()).collect();
    fs::write(lib.join("src/mylib.coex"), module.join("\n") + "\n").unwrap();
    fs::write(
        lib.join("ffi/src/mylib.h"),
        "#include <stdint.h>\nint64_t mylib_add(int64_t a, int64_t b);\n",
    )
    .unwrap();
    fs::write(
        lib.join("ffi/src/mylib.c"),
        "#include \"mylib.h\"\nint64_t mylib_add(int64_t a, int64_t b) { return a + b; }\n",
    )
    .unwrap();
    fs::write(
        root.join("app.coex"),
        "import \"mylib\"\n\nfunc main() -> int\n    print(add(40, 2))\n    return 0\n~\n",
    )
    .unwrap();
    // §6, line by line.
    let steps = guide.commands_after("6. Packing and verifying", "sh");
    for c in &steps {
        let Some(o) = r.run(c, &root) else { continue };
        let args = c.args();
        match (args[0].as_str(), args[1].as_str()) {
            ("cxz", "pack") => r.expect(c, root.join("mylib.cxz").is_file(), "no mylib.cxz"),
            ("cxz", "verify") => {
                let out = text(&o.stdout);
                r.expect(
                    c,
                    out.starts_with("ok: mylib 0.1.0 (1 module, 1 FFI unit, 1 symbol)"),
                    &out,
                )
            }
            ("cxz", "inspect") => {
                let out = text(&o.stdout);
                r.expect(
                    c,
                    out.contains("mylib_add"),
                    &format!("no symbol in:\n{out}"),
                )
            }
            ("cxz", "build") => r.expect(
                c,
                root.join("target-coex/mylib/libcore.so").is_file(),
                "no libcore.so",
            ),
            ("run", _) => r.expect(c, text(&o.stdout) == "42\n", &text(&o.stdout)),
            _ => {}
        }
    }
    let ran: Vec<String> = steps.iter().map(|c| c.args()[..2].join(" ")).collect();
    for want in [
        "cxz pack",
        "cxz verify",
        "cxz inspect",
        "cxz build",
        "run app.coex",
    ] {
        assert!(
            ran.contains(&want.to_string()),
            "§6 no longer shows `coex {want}`: {ran:?}"
        );
    }
    assert!(r.problems.is_empty(), "{}", r.problems.join("\n\n"));
}

#[test]
fn the_readme_blocks_and_the_quick_start_run() {
    let mut r = Runner {
        env: Env::new(),
        problems: Vec::new(),
    };
    let readme = doc("README.md");
    let root = r.env.path().join("work");
    copy_examples(&root);

    // The quick start: `./dev demo` packs examples/libs/* into
    // examples/lib/ and builds each program it names; then `coex run
    // examples/regex_demo.coex` works from the repository root.
    let demo = readme
        .lines
        .iter()
        .position(|l| l.starts_with("`./dev demo` packs"))
        .expect("README: the paragraph on ./dev demo");
    let para = readme.lines[demo..demo + 4].join(" ");
    for p in example_programs() {
        assert!(
            para.contains(&format!("`{p}`")),
            "README.md:{}: ./dev demo does not name examples/{p}.coex",
            demo + 1
        );
    }
    fs::create_dir_all(root.join("examples/lib")).unwrap();
    for l in ["counter", "posix_regex", "textkit", "zlib"] {
        let out = format!("examples/lib/{l}.cxz");
        let o = r.env.coex_in(
            &root,
            &["cxz", "pack", &format!("examples/libs/{l}"), "-o", &out],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    for c in [
        readme.inline("coex run examples/regex_demo.coex"),
        readme.inline("coex run examples/hello.coex"),
    ] {
        if let Some(o) = r.run(&c, &root) {
            r.expect(&c, !o.stdout.is_empty(), "the program printed nothing");
        }
    }
    for p in example_programs() {
        let c = DocCommand {
            file: "README.md".into(),
            line: demo + 1,
            text: format!("coex run examples/{p}.coex"),
            in_block: false,
        };
        r.run(&c, &root);
    }
    let arch = doc("docs/architecture.md");
    for c in arch.commands_after("Seeing it", "sh") {
        if let Some(o) = r.run(&c, &root) {
            r.expect(
                &c,
                text(&o.stdout).contains("link:"),
                "no link action in the plan",
            );
        }
    }

    // "Building programs": a program that prints its arguments.
    let prog = root.join("prog");
    fs::create_dir_all(prog.join("libs")).unwrap();
    fs::write(
        prog.join("app.coex"),
        "func main() -> int\n    i = 0\n    while i < arg_count()\n        print(arg(i))\n        i += 1\n    ~\n    return 0\n~\n",
    )
    .unwrap();
    for c in readme.commands_after("Building programs", "") {
        let Some(o) = r.run(&c, &prog) else { continue };
        let args = c.args();
        match args[0].as_str() {
            "build" if args.iter().any(|a| a == "-o") => {
                r.expect(&c, prog.join("out/app").is_file(), "no out/app")
            }
            "build" => r.expect(&c, prog.join("app").is_file(), "no ./app"),
            "run" => r.expect(&c, text(&o.stdout) == "arg1\narg2\n", &text(&o.stdout)),
            "plan" => r.expect(&c, text(&o.stdout).contains("link:"), "no link action"),
            _ => {}
        }
    }

    // "Building libraries", from a folder holding examples/libs.
    for c in readme.commands_after("Building libraries", "") {
        let Some(o) = r.run(&c, &root) else { continue };
        let args = c.args();
        match (args[0].as_str(), args.get(1).map(String::as_str)) {
            ("cxz", Some("pack")) => r.expect(&c, root.join("zlib.cxz").is_file(), "no zlib.cxz"),
            ("cxz", Some("build")) if args.iter().any(|a| a == "-o") => r.expect(
                &c,
                root.join("out/libzwrap.so").is_file(),
                "no out/libzwrap.so",
            ),
            ("cxz", Some("build")) => r.expect(
                &c,
                root.join("target-coex/zlib/libzwrap.so").is_file(),
                "no target-coex/zlib/libzwrap.so",
            ),
            ("plan", _) => {
                let ok = serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok();
                r.expect(&c, ok, "the plan is not JSON")
            }
            _ => {}
        }
    }

    // "Libraries: install and lock", in a project of its own; the archive
    // at the path the README shows. The URL line needs a server: skipped.
    let proj = root.join("proj");
    fs::create_dir_all(proj.join("path/to")).unwrap();
    fs::copy(root.join("zlib.cxz"), proj.join("path/to/zlib.cxz")).unwrap_or_default();
    fs::write(
        proj.join("app.coex"),
        "func main() -> int\n    print(\"ok\")\n    return 0\n~\n",
    )
    .unwrap();
    for c in readme.commands_after("Libraries: install and lock", "") {
        if c.text.contains("://") {
            continue;
        }
        let Some(o) = r.run(&c, &proj) else { continue };
        let args = c.args();
        match (args[0].as_str(), args.get(1).map(String::as_str)) {
            ("pkg", Some("install")) => r.expect(
                &c,
                proj.join("lib/zlib.cxz").is_file() && proj.join("coex.lock").is_file(),
                "no lib/zlib.cxz and coex.lock",
            ),
            ("pkg", Some("list")) => {
                r.expect(&c, text(&o.stdout).contains("zlib"), &text(&o.stdout))
            }
            ("pkg", Some("remove")) => r.expect(
                &c,
                !proj.join("lib/zlib.cxz").exists(),
                "lib/zlib.cxz is still there",
            ),
            _ => {}
        }
    }

    // Completions, the manual page, the version.
    for shell in ["bash", "zsh", "fish"] {
        let mut c = readme.inline("coex completions bash|zsh|fish");
        c.text = format!("coex completions {shell}");
        if let Some(o) = r.run(&c, &root) {
            r.expect(&c, !o.stdout.is_empty(), "empty script");
        }
    }
    for c in [readme.inline("coex man"), readme.inline("coex --version")] {
        if let Some(o) = r.run(&c, &root) {
            r.expect(&c, !o.stdout.is_empty(), "printed nothing");
        }
    }
    assert!(r.problems.is_empty(), "{}", r.problems.join("\n\n"));
}

#[test]
fn the_cxz_examples_print_what_the_page_shows() {
    let mut r = Runner {
        env: Env::new(),
        problems: Vec::new(),
    };
    let root = r.env.path().join("work");
    copy_examples(&root);
    let page = doc("docs/cxz.md");
    let block = page.block_after("## Commands", "");
    // `$ coex …` lines followed by the output the page shows (up to `…`).
    let mut ran = 0;
    for (k, (n, l)) in block.lines.iter().enumerate() {
        let Some(cmd) = command_of_line(l) else {
            continue;
        };
        let c = DocCommand {
            file: page.name.clone(),
            line: *n,
            text: cmd,
            in_block: true,
        };
        if c.text.contains("evil.cxz") {
            continue; // a hostile archive, built by tests/cxz_hostile.rs
        }
        ran += 1;
        let Some(o) = r.run(&c, &root) else { continue };
        let shown = block
            .lines
            .get(k + 1)
            .map(|(_, l)| l.as_str())
            .unwrap_or("");
        let shown = shown.split('…').next().unwrap();
        let got = format!("{}{}", text(&o.stdout), text(&o.stderr));
        r.expect(
            &c,
            got.starts_with(shown),
            &format!("the page shows {shown:?}…, coex printed {got:?}"),
        );
    }
    let at = format!("{}:{}", page.name, block.line);
    assert!(ran >= 2, "{at}: the pack and verify examples are gone");
    assert!(r.problems.is_empty(), "{}", r.problems.join("\n\n"));
}
