//! Fuzz entry points: each takes arbitrary bytes and drives one untrusted
//! input path of coex, which must answer with an error, never a panic or a
//! hang. The AFL++ harnesses in `fuzz/` call these, and so does
//! `tests/fuzz_corpus.rs`, which replays the seed corpora and every crash
//! ever found as a plain test (see "Fuzzing" in the README).

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;

use crate::exec::digest::sha256_hex;
use crate::exec::remote::signing::ResultSigner;
use crate::exec::remote::transport::WireResult;
use crate::exec::remote::wire::{from_wire, to_wire};
use crate::exec::{ActionResult, Digest};

/// The names of the targets, as `./dev fuzz TARGET` and `fuzz/corpus/` know them.
pub const TARGETS: [&str; 4] = ["cxz", "manifest", "lang", "wire"];

/// Runs target `name` on `data` (unknown names do nothing).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "cxz" => cxz(data),
        "manifest" => manifest(data),
        "lang" => lang(data),
        "wire" => wire(data),
        _ => {}
    }
}

/// A `.cxz` archive from bytes: the ZIP layout, the entries, the manifest.
pub fn cxz(data: &[u8]) {
    if let Err(e) = crate::cxz::CxzArchive::from_bytes(data, "fuzz.cxz") {
        let _ = e.to_string();
    }
}

/// A `manifest.toml` text (with one C source and one Coex module present,
/// so that globs and source lists have something to match).
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files: BTreeMap<String, Vec<u8>> = [
        ("manifest.toml".to_string(), data.to_vec()),
        (
            "src/lib.coex".to_string(),
            b"formula f() -> int\n    return 1\n~\n".to_vec(),
        ),
        (
            "ffi/src/a.c".to_string(),
            b"int a(void) { return 1; }\n".to_vec(),
        ),
        ("ffi/src/a.h".to_string(), b"int a(void);\n".to_vec()),
    ]
    .into_iter()
    .collect();
    if let Err(problems) = crate::cxz::Manifest::parse(text, &files) {
        for p in problems {
            let _ = p.to_string();
        }
    }
}

/// Coex source text through the lexer, parser and checker, and both
/// renderings of the diagnostics.
pub fn lang(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let resolver = crate::lang::DirLibraryResolver::default();
    let (program, diags) = crate::lang::check_source("fuzz.coex", text, &resolver);
    let _ = crate::lang::render_text(&program.sources, &diags);
    let _ = crate::lang::render_json(&program.sources, &diags);
}

/// A remote cache's ActionResult bytes (REAPI protobuf, as an HTTP cache
/// returns them) decoded and checked as coex does, without and with a
/// signature verifier.
pub fn wire(data: &[u8]) {
    let Ok(result) = WireResult::decode(data) else {
        return;
    };
    let _ = from_wire(WIRE_KEY, &result, None);
    let _ = from_wire(WIRE_KEY, &result, Some(&signer().verifier()));
}

/// The action key of the `wire` target's results.
const WIRE_KEY: &[u8] = b"fuzz action key";

/// The fixed key that signs the `wire` seeds.
fn signer() -> ResultSigner {
    ResultSigner::from_hex(&"5a".repeat(32)).expect("a valid fixed key")
}

/// Seed inputs of every target, from the repository at `repo`: archives
/// packed from `examples/libs/`, the manifests and `.coex` files of the
/// examples and tests, and a few encoded ActionResults.
pub fn seeds(repo: &Path) -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut out: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    let mut coex_files = Vec::new();
    let mut manifests = Vec::new();
    for dir in ["examples", "tests/lang"] {
        collect(&repo.join(dir), &mut coex_files, &mut manifests);
    }
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let mut archives = Vec::new();
    for lib in ["counter", "posix_regex", "textkit", "zlib"] {
        let to = scratch.path().join(format!("{lib}.cxz"));
        if crate::cxz::pack_dir(&repo.join("examples/libs").join(lib), &to).is_ok() {
            archives.extend(std::fs::read(&to));
        }
    }
    out.insert("cxz", archives);
    out.insert("manifest", manifests);
    out.insert("lang", coex_files);
    out.insert("wire", wire_seeds());
    out
}

/// Every `.coex` file and `manifest.toml` under `dir` (small ones only).
fn collect(dir: &Path, coex: &mut Vec<Vec<u8>>, manifests: &mut Vec<Vec<u8>>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = read.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            collect(&path, coex, manifests);
        } else if name.ends_with(".coex") || name == "manifest.toml" {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if bytes.len() <= 16 * 1024 {
                if name == "manifest.toml" {
                    manifests.push(bytes);
                } else {
                    coex.push(bytes);
                }
            }
        }
    }
}

/// Encoded ActionResults: unsigned and signed, with and without inline bytes.
fn wire_seeds() -> Vec<Vec<u8>> {
    let blobs: Vec<&[u8]> = vec![b"int main(void) { return 0; }\n", b"", b"warning: x\n"];
    let digests: Vec<Digest> = blobs.iter().map(|b| Digest::of(b)).collect();
    let result = ActionResult {
        outputs: [("out/a.o".to_string(), digests[0].clone())]
            .into_iter()
            .collect(),
        exit_code: 0,
        stdout: digests[1].clone(),
        stderr: digests[2].clone(),
    };
    let bytes_of = |d: &Digest| {
        let i = digests.iter().position(|x| x == d)?;
        Some(blobs[i].to_vec())
    };
    let sha = |d: &Digest| bytes_of(d).map(|b| sha256_hex(&b)).unwrap_or_default();
    let none = |_: &Digest| None;
    let signer = signer();
    let mut out = Vec::new();
    for (small, signed) in [(false, false), (true, false), (false, true), (true, true)] {
        let small: &dyn Fn(&Digest) -> Option<Vec<u8>> = if small { &bytes_of } else { &none };
        let w = to_wire(WIRE_KEY, &result, &sha, small, signed.then_some(&signer));
        out.push(w.encode_to_vec());
    }
    out
}
