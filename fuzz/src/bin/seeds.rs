//! Writes the seed corpus of every target (`coex::fuzzing::seeds`, plus the
//! regression inputs of `fuzz/regressions/`) under the folder given.
use std::path::Path;

fn main() {
    let out = std::env::args().nth(1).expect("usage: seeds OUT_DIR");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (target, inputs) in coex::fuzzing::seeds(&repo) {
        let dir = Path::new(&out).join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus folder");
        for (i, bytes) in inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), bytes).expect("write a seed");
        }
        let regressions = repo.join("fuzz/regressions").join(target);
        for entry in std::fs::read_dir(regressions)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                std::fs::copy(entry.path(), dir.join(format!("regression-{name}")))
                    .expect("copy a regression input");
            }
        }
        println!("{target}: {} seeds in {}", inputs.len(), dir.display());
    }
}
