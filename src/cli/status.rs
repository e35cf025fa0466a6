//! Status output on stderr, in the manner of cargo: a right-aligned word
//! (coloured on terminals) and the rest of the line. `-q` keeps only
//! errors and warnings, `-v` lists every action. A closed pipe is ignored.

use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::time::Instant;

use crate::exec::{BuildReport, Satisfied};

/// When to colour the status words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On terminals, unless NO_COLOR is set
    #[default]
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// Flags every command takes: how much status to print, and in colour or not.
#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    /// List every action (ran, cached, remote), not only those that ran
    #[arg(short = 'v', long = "verbose", global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print nothing but errors and warnings
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,
    /// Colour the status words: auto (on terminals, unless NO_COLOR is set), always, never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t, global = true)]
    pub color: ColorChoice,
}

/// How much status output a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

const GREEN: &str = "\x1b[1;32m";
const CYAN: &str = "\x1b[1;36m";
const YELLOW: &str = "\x1b[1;33m";
const RED: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

/// The status printer of one command run.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub verbosity: Verbosity,
    pub color: bool,
    started: Instant,
}

impl Status {
    /// From the flags, the environment (`NO_COLOR`) and whether stderr is a terminal.
    pub fn new(args: &StatusArgs) -> Status {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        let verbosity = if args.quiet {
            Verbosity::Quiet
        } else if args.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        Status {
            verbosity,
            color,
            started: Instant::now(),
        }
    }

    /// The same printer, quiet unless `-v` was given (`coex run`).
    pub fn quiet_unless_verbose(self) -> Status {
        let verbosity = match self.verbosity {
            Verbosity::Verbose => Verbosity::Verbose,
            _ => Verbosity::Quiet,
        };
        Status { verbosity, ..self }
    }

    fn paint(&self, code: &str, word: &str) -> String {
        if self.color {
            format!("{code}{word}{RESET}")
        } else {
            word.to_string()
        }
    }

    /// `   Compiling rest` on stderr unless quiet.
    pub fn line(&self, word: &str, rest: &str) {
        self.styled(GREEN, word, rest);
    }

    /// A line shown only with `-v`.
    pub fn detail(&self, word: &str, rest: &str) {
        if self.verbosity == Verbosity::Verbose {
            self.styled(GREEN, word, rest);
        }
    }

    fn styled(&self, code: &str, word: &str, rest: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let pad = " ".repeat(12usize.saturating_sub(word.len()));
        let word = self.paint(code, word);
        let _ = writeln!(std::io::stderr(), "{pad}{word} {rest}");
    }

    /// Text printed whatever the verbosity (errors, warnings), with a
    /// leading `error`/`warning` word of each line coloured.
    pub fn message(&self, text: &str) {
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            out.push_str(&self.colour_lead(line));
        }
        let _ = write!(std::io::stderr(), "{out}");
    }

    fn colour_lead(&self, line: &str) -> String {
        for (word, code) in [("error", RED), ("Error", RED), ("warning", YELLOW)] {
            if let Some(rest) = line.strip_prefix(word) {
                if self.color && (rest.starts_with(':') || rest.starts_with('[')) {
                    return format!("{code}{word}{RESET}{rest}");
                }
            }
        }
        line.to_string()
    }

    /// One line per action that ran (every action with `-v`), then the
    /// `Finished` line naming `what` with the time and the counts.
    pub fn report(&self, report: &BuildReport, what: &str) {
        for (id, o) in &report.actions {
            match o.satisfied {
                Satisfied::Ran => self.line(verb(id), id),
                Satisfied::Cached if self.verbosity == Verbosity::Verbose => {
                    self.styled(CYAN, "Cached", id);
                }
                Satisfied::Remote if self.verbosity == Verbosity::Verbose => {
                    self.styled(CYAN, "Remote", id);
                }
                Satisfied::Preprocessed if self.verbosity == Verbosity::Verbose => {
                    self.styled(CYAN, "Cached", &format!("{id} (preprocessed)"));
                }
                _ => {}
            }
        }
        let secs = self.started.elapsed().as_secs_f64();
        let mut rest = format!("{what} in {secs:.2}s ({})", report.summary());
        if let Some(remote) = report.remote_line() {
            rest.push_str(&format!(" ({remote})"));
        }
        self.line("Finished", &rest);
    }
}

/// The word shown for an action that ran, from its kind (`compile:…`).
pub fn verb(id: &str) -> &'static str {
    match id.split(':').next().unwrap_or("") {
        "compile" | "runtime" => "Compiling",
        "link" => "Linking",
        "codegen" => "Generating",
        _ => "Running",
    }
}

/// Writes to stdout, ignoring a closed pipe (and any other write error).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Like [`outln!`] without the newline.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// Writes to stderr, ignoring a closed pipe.
macro_rules! errout {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}
