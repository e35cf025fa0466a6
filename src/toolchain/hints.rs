//! Install hints for system dependencies, so a missing header or pkg-config
//! package ends with the command that fixes it rather than a compiler dump.

/// How to install one development package on common systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallHint {
    /// What the package is called in prose (`OpenSSL`).
    pub label: &'static str,
    /// Debian/Ubuntu package.
    pub debian: &'static str,
    /// Homebrew formula.
    pub brew: &'static str,
    /// Fedora package.
    pub fedora: &'static str,
}

struct Known {
    hint: InstallHint,
    /// Header paths (exact) or directory prefixes ending in `/`.
    headers: &'static [&'static str],
    /// pkg-config names.
    pkgs: &'static [&'static str],
}

const fn h(
    label: &'static str,
    debian: &'static str,
    brew: &'static str,
    fedora: &'static str,
) -> InstallHint {
    InstallHint {
        label,
        debian,
        brew,
        fedora,
    }
}

const KNOWN: &[Known] = &[
    Known {
        hint: h("OpenSSL", "libssl-dev", "openssl", "openssl-devel"),
        headers: &["openssl/"],
        pkgs: &["openssl", "libssl", "libcrypto"],
    },
    Known {
        hint: h("zlib", "zlib1g-dev", "zlib", "zlib-devel"),
        headers: &["zlib.h", "zconf.h"],
        pkgs: &["zlib"],
    },
    Known {
        hint: h("SQLite", "libsqlite3-dev", "sqlite", "sqlite-devel"),
        headers: &["sqlite3.h", "sqlite3ext.h"],
        pkgs: &["sqlite3"],
    },
    Known {
        hint: h("libcurl", "libcurl4-openssl-dev", "curl", "libcurl-devel"),
        headers: &["curl/"],
        pkgs: &["libcurl"],
    },
    Known {
        hint: h("libpng", "libpng-dev", "libpng", "libpng-devel"),
        headers: &["png.h", "pngconf.h", "libpng16/"],
        pkgs: &["libpng", "libpng16"],
    },
    Known {
        hint: h("libxml2", "libxml2-dev", "libxml2", "libxml2-devel"),
        headers: &["libxml/", "libxml2/"],
        pkgs: &["libxml-2.0"],
    },
    Known {
        hint: h("readline", "libreadline-dev", "readline", "readline-devel"),
        headers: &["readline/"],
        pkgs: &["readline"],
    },
    Known {
        hint: h("ncurses", "libncurses-dev", "ncurses", "ncurses-devel"),
        headers: &["ncurses.h", "curses.h", "term.h", "ncursesw/"],
        pkgs: &["ncurses", "ncursesw", "tinfo", "form", "menu", "panel"],
    },
    Known {
        hint: h("PCRE2", "libpcre2-dev", "pcre2", "pcre2-devel"),
        headers: &["pcre2.h", "pcre2posix.h"],
        pkgs: &["libpcre2-8", "libpcre2-16", "libpcre2-32", "libpcre2-posix"],
    },
    Known {
        hint: h("libffi", "libffi-dev", "libffi", "libffi-devel"),
        headers: &["ffi.h", "ffitarget.h"],
        pkgs: &["libffi"],
    },
    Known {
        hint: h("libyaml", "libyaml-dev", "libyaml", "libyaml-devel"),
        headers: &["yaml.h"],
        pkgs: &["yaml-0.1"],
    },
    Known {
        hint: h("Expat", "libexpat1-dev", "expat", "expat-devel"),
        headers: &["expat.h"],
        pkgs: &["expat"],
    },
    Known {
        hint: h("libjpeg", "libjpeg-dev", "jpeg", "libjpeg-turbo-devel"),
        headers: &["jpeglib.h"],
        pkgs: &["libjpeg"],
    },
    Known {
        hint: h("GMP", "libgmp-dev", "gmp", "gmp-devel"),
        headers: &["gmp.h"],
        pkgs: &["gmp"],
    },
    Known {
        hint: h("bzip2", "libbz2-dev", "bzip2", "bzip2-devel"),
        headers: &["bzlib.h"],
        pkgs: &["bzip2"],
    },
    Known {
        hint: h("liblzma", "liblzma-dev", "xz", "xz-devel"),
        headers: &["lzma.h"],
        pkgs: &["liblzma"],
    },
    Known {
        hint: h("Zstandard", "libzstd-dev", "zstd", "libzstd-devel"),
        headers: &["zstd.h"],
        pkgs: &["libzstd"],
    },
    Known {
        hint: h("libsodium", "libsodium-dev", "libsodium", "libsodium-devel"),
        headers: &["sodium.h"],
        pkgs: &["libsodium"],
    },
    Known {
        hint: h("libuuid", "uuid-dev", "ossp-uuid", "libuuid-devel"),
        headers: &["uuid/uuid.h"],
        pkgs: &["uuid"],
    },
    Known {
        hint: h("Boehm GC", "libgc-dev", "bdw-gc", "gc-devel"),
        headers: &["gc.h", "gc/"],
        pkgs: &["bdw-gc"],
    },
];

/// The install hint for the package that ships header `header`, if known.
pub fn for_header(header: &str) -> Option<InstallHint> {
    KNOWN
        .iter()
        .find(|k| {
            k.headers.iter().any(|p| {
                if p.ends_with('/') {
                    header.starts_with(p)
                } else {
                    header == *p
                }
            })
        })
        .map(|k| k.hint)
}

/// The install hint for pkg-config package `name`, if known.
pub fn for_pkg_config(name: &str) -> Option<InstallHint> {
    KNOWN
        .iter()
        .find(|k| k.pkgs.contains(&name))
        .map(|k| k.hint)
}

/// The hint for the C compiler itself.
pub const CLANG: InstallHint = h("clang", "clang", "llvm", "clang");

/// The hint for the pkg-config tool.
pub const PKG_CONFIG: InstallHint = h(
    "pkg-config",
    "pkg-config",
    "pkg-config",
    "pkgconf-pkg-config",
);

/// Renders a known hint in the §5 layout.
pub fn render(hint: &InstallHint) -> String {
    format!(
        "Install the {} development package:\n  Ubuntu/Debian: sudo apt install {}\n  macOS:         brew install {}\n  Fedora:        sudo dnf install {}",
        hint.label, hint.debian, hint.brew, hint.fedora
    )
}

/// Renders the hint for a header we have no table entry for.
pub fn render_generic_header(header: &str) -> String {
    format!(
        "Install the development package that provides {header}:\n  Ubuntu/Debian: apt-file search {header}   (then: sudo apt install <package>)\n  macOS:         brew search <library name>\n  Fedora:        dnf provides '*/{header}'"
    )
}

/// Renders the hint for a pkg-config package we have no table entry for.
pub fn render_generic_pkg(name: &str) -> String {
    format!(
        "Install the development package that provides {name}.pc:\n  Ubuntu/Debian: apt-file search {name}.pc   (then: sudo apt install <package>)\n  macOS:         brew search {name}\n  Fedora:        dnf provides 'pkgconfig({name})'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_hint_matches_the_contract_text() {
        let hint = for_header("openssl/ssl.h").map(|h| render(&h));
        assert_eq!(
            hint.as_deref(),
            Some(
                "Install the OpenSSL development package:\n  Ubuntu/Debian: sudo apt install libssl-dev\n  macOS:         brew install openssl\n  Fedora:        sudo dnf install openssl-devel"
            )
        );
    }

    #[test]
    fn common_packages_are_known() {
        for hd in [
            "zlib.h",
            "sqlite3.h",
            "curl/curl.h",
            "png.h",
            "libxml/parser.h",
            "readline/readline.h",
            "ncurses.h",
            "pcre2.h",
            "ffi.h",
        ] {
            assert!(for_header(hd).is_some(), "{hd}");
        }
        for p in [
            "zlib",
            "openssl",
            "sqlite3",
            "libcurl",
            "libpng",
            "libxml-2.0",
            "readline",
            "ncurses",
            "libpcre2-8",
            "libffi",
        ] {
            assert!(for_pkg_config(p).is_some(), "{p}");
        }
        assert!(for_header("nosuch/thing.h").is_none());
    }
}
