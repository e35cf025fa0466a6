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

/// A small deterministic generator (xorshift64*), so a failure of the
/// mutation run below is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One AFL-style havoc step on `data`: a bit flip, an interesting byte, a
/// deleted, duplicated or overwritten run, a cut, or a splice of `other`.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: [u8; 9] = [0, 1, 0x7f, 0x80, 0xff, b'\n', b'~', b'"', b'='];
    let len = data.len();
    match rng.below(7) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if len > 1 => {
            let at = rng.below(len);
            let n = rng.below((len - at).min(64)) + 1;
            data.drain(at..at + n);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = (rng.below(64) + 1).min(len - at);
            let chunk = data[at..at + n].to_vec();
            let to = rng.below(len);
            data.splice(to..to, chunk);
        }
        4 if len > 0 => data.truncate(rng.below(len)),
        5 if !other.is_empty() => {
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        _ => {
            let at = rng.below(len + 1);
            let n = rng.below(8) + 1;
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
    }
}

/// What CI runs of the fuzzing itself: a short, deterministic havoc run of
/// every target over its seeds (no coverage feedback; the AFL++ campaigns
/// of `./dev fuzz` have that). `COEX_FUZZ_SMOKE_ITERS` sets the inputs per
/// target (default 1500). A panicking input is written under
/// `target/fuzz-smoke/` and named, ready for `fuzz/regressions/TARGET/`.
#[test]
fn a_short_havoc_run_of_every_target_finds_no_panic() {
    let iters: usize = std::env::var("COEX_FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let seeds = seeds(Path::new(env!("CARGO_MANIFEST_DIR")));
    for (t, target) in TARGETS.iter().enumerate() {
        let inputs = &seeds[target];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
        for i in 0..iters {
            let mut data = inputs[rng.below(inputs.len())].clone();
            let other = &inputs[rng.below(inputs.len())];
            for _ in 0..=rng.below(8) {
                mutate(&mut rng, &mut data, other);
            }
            let outcome = std::panic::catch_unwind(|| run(target, &data));
            if let Err(panic) = outcome {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-smoke");
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(format!("{target}-{i}"));
                std::fs::write(&file, &data).unwrap();
                eprintln!("{target}: input {i} panicked; saved as {}", file.display());
                std::panic::resume_unwind(panic);
            }
        }
    }
}
