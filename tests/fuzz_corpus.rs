//! The fuzz targets as plain tests (what CI runs of the fuzzing, see
//! "Fuzzing" in the README): every seed of `coex::fuzzing::seeds` and every
//! input under `fuzz/regressions/TARGET/` (the crashes fuzzing found, each
//! fixed) goes through its target, which must not panic; the seeds that are
//! valid inputs must still be accepted, so the corpora stay meaningful.

use std::path::Path;

use coex::fuzzing::{run, seeds, TARGETS};

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seeds_and_regressions_run_through_every_target() {
    let seeds = seeds(Path::new(env!("CARGO_MANIFEST_DIR")));
    for target in TARGETS {
        let inputs = &seeds[target];
        assert!(inputs.len() >= 4, "{target}: only {} seeds", inputs.len());
        for input in inputs {
            run(target, input);
        }
        for (name, input) in regressions(target) {
            eprintln!("{target}: replaying {name}");
            run(target, &input);
        }
    }
}

#[test]
fn seed_archives_and_results_are_valid_inputs() {
    let seeds = seeds(Path::new(env!("CARGO_MANIFEST_DIR")));
    for bytes in &seeds["cxz"] {
        coex::cxz::CxzArchive::from_bytes(bytes, "seed.cxz").expect("a valid seed archive");
    }
    assert_eq!(seeds["cxz"].len(), 4);
    assert_eq!(seeds["wire"].len(), 4);
}
