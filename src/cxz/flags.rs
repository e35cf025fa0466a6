//! The allow-list of `cflags` a manifest may ask for.
//!
//! A manifest's flags end up on a clang command line run on the user's
//! machine, so only flags that change how C is compiled (not which files are
//! read or written, not which programs run) are accepted. Anything else is
//! refused with the flag named.

/// `-f` options a manifest may use, with or without `no-`.
pub const SAFE_F_FLAGS: &[&str] = &[
    "asynchronous-unwind-tables",
    "builtin",
    "common",
    "delete-null-pointer-checks",
    "finite-math-only",
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

/// C language standards accepted in `-std=`.
pub const C_STANDARDS: &[&str] = &[
    "c89", "c90", "c99", "c11", "c17", "c18", "c2x", "c23", "gnu89", "gnu90", "gnu99", "gnu11",
    "gnu17", "gnu18", "gnu2x", "gnu23",
];

/// One-line summary of the allow-list, used in error messages.
pub const ALLOWED_SUMMARY: &str = "allowed: -D<NAME>[=value], -U<NAME>, -std=<c standard>, \
-W<warning> (not -Wl,/-Wa,/-Wp,), -O0 -O1 -O2 -O3 -Os, -f[no-]<option> from the safe list in docs/cxz.md";

/// Checks one flag; `Err` carries the reason it is refused.
pub fn check_cflag(flag: &str) -> Result<(), String> {
    if let Some(rest) = flag.strip_prefix("-D") {
        let name = rest.split('=').next().unwrap_or("");
        if !crate::cxz::paths::is_c_identifier(name) {
            return Err("-D needs a macro name that is a C identifier, e.g. -DNDEBUG".into());
        }
        if rest.contains(['\0', '\n', '\r']) {
            return Err("macro value contains a control character".into());
        }
        return Ok(());
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
        let plain = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+'));
        if plain && !matches!(rest, "l" | "a" | "p") {
            return Ok(());
        }
        return Err(
            "only warning options are allowed after -W (-Wl, -Wa, -Wp pass options to other tools)"
                .into(),
        );
    }
    if matches!(flag, "-O0" | "-O1" | "-O2" | "-O3" | "-Os") {
        return Ok(());
    }
    if let Some(rest) = flag.strip_prefix("-f") {
        let name = rest.strip_prefix("no-").unwrap_or(rest);
        if SAFE_F_FLAGS.contains(&name) {
            return Ok(());
        }
        return Err("this -f option is not on the safe list".into());
    }
    Err("flag is not on the allow-list".into())
}

#[cfg(test)]
mod tests {
    use super::check_cflag;

    #[test]
    fn accepts_the_allow_list() {
        for f in [
            "-DNDEBUG",
            "-DVERSION=\"1.0\"",
            "-UFOO",
            "-std=c99",
            "-Wall",
            "-Wno-unused-parameter",
            "-Werror=format",
            "-O2",
            "-Os",
            "-fwrapv",
            "-fno-strict-aliasing",
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
        ] {
            assert!(check_cflag(f).is_err(), "{f}");
        }
    }
}
