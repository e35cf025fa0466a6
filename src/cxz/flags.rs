//! The allow-list of `cflags` a manifest may ask for.
//!
//! A manifest's flags end up on a clang command line run on the user's
//! machine, so only flags that change how C is compiled (not which files are
//! read or written, not which programs run) are accepted, and only when the
//! object they give is the same bytes in any build folder. Anything else is
//! refused with the flag named. docs/cxz.md gives the reason for each.

/// `-f` options a manifest may use, with or without `no-`.
pub const SAFE_F_FLAGS: &[&str] = &[
    "asynchronous-unwind-tables",
    "builtin",
    "common",
    "data-sections",
    "delete-null-pointer-checks",
    "finite-math-only",
    "function-sections",
    "inline-functions",
    "math-errno",
    "omit-frame-pointer",
    "short-enums",
    "signed-char",
    "slp-vectorize",
    "stack-protector",
    "stack-protector-strong",
    "strict-aliasing",
    "strict-overflow",
    "trapv",
    "unroll-loops",
    "unsigned-char",
    "unwind-tables",
    "vectorize",
    "wrapv",
];

/// `-f<name>=<value>` options a manifest may use, with their values.
pub const SAFE_F_VALUES: &[(&str, &[&str])] = &[
    ("fp-contract", &["off", "on", "fast"]),
    ("visibility", &["default", "hidden"]),
];

/// Debug-information flags: the compile maps its scratch folder to `.`
/// (`-fdebug-prefix-map`), so the DWARF names no build folder.
pub const DEBUG_FLAGS: &[&str] = &["-g", "-g0", "-g1", "-g2", "-g3", "-gline-tables-only"];

/// Flags that take the same spelling in every build and need nothing else.
pub const PLAIN_FLAGS: &[&str] = &["-O0", "-O1", "-O2", "-O3", "-Os", "-pedantic", "-pthread"];

/// C language standards accepted in `-std=`.
pub const C_STANDARDS: &[&str] = &[
    "c89", "c90", "c99", "c11", "c17", "c18", "c2x", "c23", "gnu89", "gnu90", "gnu99", "gnu11",
    "gnu17", "gnu18", "gnu2x", "gnu23",
];

/// One-line summary of the allow-list, used in error messages.
pub const ALLOWED_SUMMARY: &str = "allowed: -D<NAME>[=value], -U<NAME>, -std=<c standard>, \
-W<warning> (not -Werror, -Wl,/-Wa,/-Wp,), -O0 -O1 -O2 -O3 -Os, -g -g0 -g1 -g2 -g3 \
-gline-tables-only, -pthread, -pedantic, -fvisibility=default|hidden, \
-ffp-contract=off|on|fast, -f[no-]<option> from the safe list in docs/cxz.md";

/// Why `-Werror` and its kin are refused.
const WERROR_WHY: &str = "it turns warnings into errors, so the library would stop \
building on the next clang that adds a warning; warnings stay warnings (keep -W<warning> \
to see them, and fix them in the C)";

/// Flags the manifest's link needs as well as its compiles: `-pthread`
/// links the thread library (a no-op beside glibc 2.34's merged libc, the
/// `libpthread.so.0` an older one needs).
pub fn link_flags(cflags: &[String]) -> Vec<String> {
    let pthread = cflags.iter().any(|f| f == "-pthread");
    pthread
        .then(|| "-pthread".to_string())
        .into_iter()
        .collect()
}

/// True if `flags` ask for debug information (their last `-g…` flag is not
/// `-g0`). DWARF records each source file's MD5 and every line's column, so
/// such a compile depends on the file's exact bytes, not only on its
/// preprocessed text: a comment edit must compile again.
pub fn wants_debug_info<'a>(flags: impl IntoIterator<Item = &'a String>) -> bool {
    let last = flags.into_iter().filter(|f| f.starts_with("-g")).last();
    last.is_some_and(|f| f != "-g0")
}

/// Checks one flag; `Err` carries the reason it is refused.
pub fn check_cflag(flag: &str) -> Result<(), String> {
    if PLAIN_FLAGS.contains(&flag) || DEBUG_FLAGS.contains(&flag) {
        return Ok(());
    }
    if let Some(rest) = flag.strip_prefix("-D") {
        return check_define(rest);
    }
    if let Some(rest) = flag.strip_prefix("-U") {
        if crate::cxz::paths::is_c_identifier(rest) {
            return Ok(());
        }
        return Err("-U needs a macro name that is a C identifier".into());
    }
    if let Some(std) = flag.strip_prefix("-std=") {
        if C_STANDARDS.contains(&std) {
            return Ok(());
        }
        return Err(format!(
            "unknown C standard '{std}' (known: {})",
            C_STANDARDS.join(", ")
        ));
    }
    if let Some(rest) = flag.strip_prefix("-W") {
        return check_warning(rest);
    }
    if flag == "-pedantic-errors" {
        return Err(WERROR_WHY.into());
    }
    if flag == "-gsplit-dwarf" || flag.starts_with("-gsplit-dwarf=") {
        return Err(
            "it writes a .dwo file beside the object, an output the build does \
not declare or keep; use -g"
                .into(),
        );
    }
    if let Some(rest) = flag.strip_prefix("-f") {
        return check_f(rest);
    }
    Err("flag is not on the allow-list".into())
}

/// `-D<rest>`.
fn check_define(rest: &str) -> Result<(), String> {
    let name = rest.split('=').next().unwrap_or("");
    if !crate::cxz::paths::is_c_identifier(name) {
        return Err("-D needs a macro name that is a C identifier, e.g. -DNDEBUG".into());
    }
    if rest.contains(['\0', '\n', '\r']) {
        return Err("macro value contains a control character".into());
    }
    Ok(())
}

/// `-W<rest>`: warning options only, never one that makes warnings errors
/// or that would switch off coex's own `-Werror=date-time`.
fn check_warning(rest: &str) -> Result<(), String> {
    let plain = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+'));
    if !plain || matches!(rest, "l" | "a" | "p") {
        return Err(
            "only warning options are allowed after -W (-Wl, -Wa, -Wp pass options to other tools)"
                .into(),
        );
    }
    if rest.starts_with("error") {
        return Err(WERROR_WHY.into());
    }
    if matches!(rest, "no-date-time" | "no-error=date-time") {
        return Err("coex keeps __DATE__, __TIME__ and __TIMESTAMP__ an error \
(-Werror=date-time): they would make two builds of the same sources differ"
            .into());
    }
    Ok(())
}

/// `-f<rest>`: the safe list, with or without `no-`, and the valued options.
fn check_f(rest: &str) -> Result<(), String> {
    if let Some((name, value)) = rest.split_once('=') {
        let Some((_, values)) = SAFE_F_VALUES.iter().find(|(n, _)| *n == name) else {
            return Err("this -f option is not on the safe list".into());
        };
        if values.contains(&value) {
            return Ok(());
        }
        return Err(format!("-f{name}= takes one of: {}", values.join(", ")));
    }
    let name = rest.strip_prefix("no-").unwrap_or(rest);
    if SAFE_F_FLAGS.contains(&name) {
        return Ok(());
    }
    Err("this -f option is not on the safe list".into())
}

#[cfg(test)]
mod tests {
    use super::{check_cflag, link_flags, wants_debug_info, ALLOWED_SUMMARY};

    #[test]
    fn accepts_the_allow_list() {
        for f in [
            "-DNDEBUG",
            "-DVERSION=\"1.0\"",
            "-UFOO",
            "-std=c99",
            "-Wall",
            "-Wno-unused-parameter",
            "-Wno-error=format",
            "-Wno-everything",
            "-O2",
            "-Os",
            "-fwrapv",
            "-fno-strict-aliasing",
            "-fvisibility=hidden",
            "-fvisibility=default",
            "-pthread",
            "-pedantic",
            "-g",
            "-g0",
            "-g3",
            "-gline-tables-only",
            "-ffunction-sections",
            "-fno-data-sections",
            "-ffp-contract=off",
            "-ffp-contract=on",
            "-ffp-contract=fast",
        ] {
            assert_eq!(check_cflag(f), Ok(()), "{f}");
        }
    }

    #[test]
    fn refuses_dangerous_flags() {
        for f in [
            "-fplugin=x.so",
            "-Xclang",
            "@file",
            "-I/usr/include",
            "-o",
            "-B/tmp",
            "--sysroot=/",
            "-Wl,-rpath,/x",
            "-Wa,--defsym",
            "-Wp,-MD,/tmp/x",
            "-std=rust",
            "-D",
            "-O9",
            "-include",
            "",
            "-fvisibility=protected",
            "-fvisibility",
            "-ffp-contract=maybe",
            "-fprofile-use=/tmp/x",
            "-g4",
            "-ggdb",
            "-fno-visibility",
            "-gsplit-dwarf",
            "-gsplit-dwarf=split",
            "-Wno-date-time",
            "-Wno-error=date-time",
        ] {
            assert!(check_cflag(f).is_err(), "{f}");
        }
    }

    #[test]
    fn werror_is_refused_with_the_reason() {
        for f in [
            "-Werror",
            "-Werror=format",
            "-Werror-implicit-function-declaration",
            "-pedantic-errors",
        ] {
            let why = check_cflag(f).expect_err(f);
            assert!(why.contains("next clang"), "{f}: {why}");
            assert!(why.contains("warnings stay warnings"), "{f}: {why}");
        }
        assert!(ALLOWED_SUMMARY.contains("not -Werror"));
    }

    #[test]
    fn the_last_g_flag_decides_debug_info() {
        let on = |v: &[&str]| {
            let flags: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            wants_debug_info(&flags)
        };
        assert!(on(&["-O3", "-g"]));
        assert!(on(&["-gline-tables-only"]));
        assert!(on(&["-g0", "-g2"]));
        assert!(!on(&["-g", "-g0"]));
        assert!(!on(&["-O2", "-DG=1"]));
    }

    #[test]
    fn only_pthread_reaches_the_link() {
        let flags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(link_flags(&flags(&["-g", "-pthread", "-O3"])), ["-pthread"]);
        assert!(link_flags(&flags(&["-g", "-fvisibility=hidden"])).is_empty());
    }
}
