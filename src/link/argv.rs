//! The pure argv builders of the three
//! kinds of program actions: compiling one runtime C file, combining the
//! runtime objects into one, and the final link. No I/O here; every path
//! is relative to the action's scratch directory, so no absolute path
//! reaches an output.

pub use crate::embedded_c::{RUNTIME_HEADERS, RUNTIME_SOURCES, SHIM_ABI_HEADER};

/// System libraries every Coex executable links (Boehm GC, dlopen, threads, libm).
pub const RUNTIME_LIBS: &[&str] = &["-lgc", "-ldl", "-lpthread", "-lm"];

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Argv to compile one runtime C file to an object: `-O2 -fPIC`, the header
/// found through `include_dir`, and the working directory mapped to `.` in
/// debug info so objects do not depend on where they were built.
pub fn runtime_compile_argv(
    cc: &str,
    source: &str,
    output: &str,
    include_dir: &str,
) -> Vec<String> {
    strings(&[
        cc,
        "-O2",
        "-fPIC",
        "-std=gnu11",
        "-Wall",
        "-ffile-prefix-map=.=.",
        "-fdebug-prefix-map=.=.",
        "-I",
        include_dir,
        "-c",
        source,
        "-o",
        output,
    ])
}

/// Argv combining the runtime objects into one relocatable object
/// (`cc -r`): every program links exactly this one runtime file, whichever
/// build system made it.
pub fn runtime_combine_argv(cc: &str, output: &str, objects: &[String]) -> Vec<String> {
    let mut v = strings(&[cc, "-r", "-nostdlib", "-o", output]);
    v.extend(objects.iter().cloned());
    v
}

/// The final link argv: the program object, the runtime object, then the
/// unit embedding (`units.s`, absent without units), then the runtime's
/// libraries. `--build-id=none` keeps the executable reproducible; unit
/// images carry their own system libraries (DT_NEEDED), so none are added.
pub fn final_link_argv(
    cc: &str,
    output: &str,
    program_object: &str,
    runtime_object: &str,
    units_asm: Option<&str>,
) -> Vec<String> {
    let mut v = strings(&[cc, "-o", output, program_object, runtime_object]);
    v.extend(units_asm.map(str::to_string));
    v.push("-Wl,--build-id=none".into());
    v.extend(RUNTIME_LIBS.iter().map(|s| s.to_string()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_argv_orders_objects_then_libraries() {
        let argv = final_link_argv("cc", "app", "prog.o", "coex_rt.o", Some("units.s"));
        assert_eq!(
            argv,
            [
                "cc",
                "-o",
                "app",
                "prog.o",
                "coex_rt.o",
                "units.s",
                "-Wl,--build-id=none",
                "-lgc",
                "-ldl",
                "-lpthread",
                "-lm",
            ]
        );
        let argv = final_link_argv("cc", "app", "prog.o", "coex_rt.o", None);
        assert!(!argv.iter().any(|a| a == "units.s"));
    }

    #[test]
    fn combine_argv_lists_the_objects_in_order() {
        let objects = vec!["rt/a.o".to_string(), "rt/b.o".to_string()];
        assert_eq!(
            runtime_combine_argv("cc", "coex_rt.o", &objects),
            [
                "cc",
                "-r",
                "-nostdlib",
                "-o",
                "coex_rt.o",
                "rt/a.o",
                "rt/b.o"
            ]
        );
    }

    #[test]
    fn runtime_sources_are_sorted_and_complete() {
        let names: Vec<&str> = RUNTIME_SOURCES.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/runtime"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".c"))
            .count();
        assert_eq!(on_disk, names.len());
    }
}
