//! Hostile archives: every one is built here (zip writer, then byte surgery
//! where the writer refuses), fed to the real `coex cxz verify` and
//! `coex cxz inspect`, and must be rejected with a message naming the entry
//! or key, exit status 1, no panic, and nothing written next to it.

mod cxz_common;

use std::io::{Seek, SeekFrom, Write};

use cxz_common::*;
use proptest::prelude::*;
use zip::CompressionMethod;

fn manifest_case(manifest: &str, expected: &str) {
    assert_rejected(&zip_of(&library_with(manifest)), expected);
}

fn good_manifest_replacing(from: &str, to: &str) -> String {
    assert!(GOOD_MANIFEST.contains(from), "{from}");
    GOOD_MANIFEST.replacen(from, to, 1)
}

// ---- entry names -------------------------------------------------------

#[test]
fn zip_slip_parent_dir() {
    let bytes = zip_of(&good_plus(&[("../evil.coex", b"x")]));
    assert_rejected(&bytes, "entry '../evil.coex': path has a '..' component");
}

#[test]
fn zip_slip_nested_parent_dir() {
    let bytes = zip_of(&good_plus(&[("src/../../evil.c", b"x")]));
    assert_rejected(
        &bytes,
        "entry 'src/../../evil.c': path has a '..' component",
    );
}

#[test]
fn absolute_path() {
    let mut bytes = zip_of(&good_plus(&[("XetcXevil.conf", b"x")]));
    assert_eq!(
        patch_all(&mut bytes, b"XetcXevil.conf", b"/etc/evil.conf"),
        2
    );
    assert_rejected(&bytes, "entry '/etc/evil.conf': path is absolute");
}

#[test]
fn backslash_in_name() {
    let mut bytes = zip_of(&good_plus(&[("src_evil.coex", b"x")]));
    assert_eq!(
        patch_all(&mut bytes, b"src_evil.coex", b"src\\evil.coex"),
        2
    );
    assert_rejected(
        &bytes,
        "entry 'src\\\\evil.coex': path contains a backslash",
    );
}

#[test]
fn nul_in_name() {
    let mut bytes = zip_of(&good_plus(&[("src/aQb.coex", b"x")]));
    assert_eq!(patch_all(&mut bytes, b"src/aQb.coex", b"src/a\0b.coex"), 2);
    assert_rejected(&bytes, "entry 'src/a\\0b.coex': path contains a NUL byte");
}

#[test]
fn symlink_entry() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in library_with(GOOD_MANIFEST) {
        w.start_file(name.as_str(), opts(CompressionMethod::Deflated))
            .unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.add_symlink(
        "ffi/src/passwd.h",
        "/etc/passwd",
        opts(CompressionMethod::Stored),
    )
    .unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_rejected(&bytes, "entry 'ffi/src/passwd.h': is a symbolic link");
}

#[test]
fn duplicate_names() {
    let mut bytes = zip_of(&good_plus(&[
        ("src/dup_a.coex", b"1"),
        ("src/dup_b.coex", b"2"),
    ]));
    assert_eq!(
        patch_all(&mut bytes, b"src/dup_b.coex", b"src/dup_a.coex"),
        2
    );
    assert_rejected(&bytes, "entry 'src/dup_a.coex': appears more than once");
}

#[test]
fn duplicate_names_after_normalisation() {
    let bytes = zip_of(&good_plus(&[("src/./good.coex", b"other")]));
    assert_rejected(
        &bytes,
        "entry 'src/./good.coex': duplicates entry 'src/good.coex'",
    );
}

#[test]
fn non_utf8_name() {
    // Written as UTF-8 'é' (C3 A9), then made invalid UTF-8 (FF FE).
    let mut bytes = zip_of(&good_plus(&[("src/\u{e9}.coex", b"x")]));
    assert_eq!(
        patch_all(
            &mut bytes,
            "src/\u{e9}.coex".as_bytes(),
            b"src/\xff\xfe.coex"
        ),
        2
    );
    assert_rejected(&bytes, "name is not valid UTF-8");
}

#[test]
fn non_utf8_name_without_utf8_flag() {
    let mut bytes = zip_of(&good_plus(&[("src/XY.coex", b"x")]));
    assert_eq!(
        patch_all(&mut bytes, b"src/XY.coex", b"src/\xff\xfe.coex"),
        2
    );
    assert_rejected(&bytes, "name is not valid UTF-8");
}

// ---- entry kinds and sizes --------------------------------------------

#[test]
fn encrypted_entry() {
    let mut bytes = zip_of(&good_plus(&[("README", b"secret")]));
    let (local, central) = headers_of(&bytes, b"README");
    bytes[local + 6] |= 1;
    bytes[central + 8] |= 1;
    assert_rejected(&bytes, "entry 'README': is encrypted");
}

#[test]
fn more_than_ten_thousand_entries() {
    let mut files = library_with(GOOD_MANIFEST);
    for i in 0..10_000 {
        files.push((format!("data/{i}.txt"), Vec::new()));
    }
    let bytes = zip_with(&files, CompressionMethod::Stored);
    assert_rejected(
        &bytes,
        "archive: 10003 entries, more than the limit of 10000",
    );
}

fn set_claimed_size(bytes: &mut [u8], name: &[u8], size: u32) {
    let (local, central) = headers_of(bytes, name);
    bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
    bytes[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
}

#[test]
fn zip_bomb_by_claimed_size() {
    let mut bytes = zip_with(
        &good_plus(&[("README", b"hello")]),
        CompressionMethod::Stored,
    );
    set_claimed_size(&mut bytes, b"README", 300 * 1024 * 1024);
    let stderr = assert_rejected(&bytes, "entry 'README': brings the uncompressed total to ");
    assert!(
        stderr.contains("over the limit of 268435456 bytes"),
        "{stderr}"
    );
}

#[test]
fn zip_bomb_by_real_size_with_lying_header() {
    // 257 MiB stored (ratio 1:1) whose header claims 1000 bytes: only the
    // capped read can catch it. Written straight to disk to keep memory low.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.zip");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = zip::ZipWriter::new(file);
    for (name, bytes) in library_with(GOOD_MANIFEST) {
        w.start_file(name.as_str(), opts(CompressionMethod::Stored))
            .unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.start_file("BIG", opts(CompressionMethod::Stored))
        .unwrap();
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..257 {
        w.write_all(&chunk).unwrap();
    }
    let mut file = w.finish().unwrap();
    // Patch the claimed sizes of BIG (local header at a known place, central
    // header found by scanning the tail).
    let len = file.seek(SeekFrom::End(0)).unwrap();
    let tail_start = len.saturating_sub(4096);
    let all = std::fs::read(&path).unwrap();
    let tail = &all[tail_start as usize..];
    let central = (0..tail.len() - 49)
        .find(|&p| &tail[p..p + 4] == b"PK\x01\x02" && &tail[p + 46..p + 49] == b"BIG")
        .expect("central header of BIG");
    let local = u32::from_le_bytes(tail[central + 42..central + 46].try_into().unwrap()) as u64;
    drop(all);
    file.seek(SeekFrom::Start(local + 22)).unwrap();
    file.write_all(&1000u32.to_le_bytes()).unwrap();
    file.seek(SeekFrom::Start(tail_start + central as u64 + 24))
        .unwrap();
    file.write_all(&1000u32.to_le_bytes()).unwrap();
    drop(file);
    let bytes = std::fs::read(&path).unwrap();
    // The ZIP reader refuses data beyond the declared size, and the capped
    // read behind it stops at the 256 MiB budget: the entry is named either way.
    let stderr = assert_rejected(&bytes, "entry 'BIG': ");
    assert!(
        stderr.contains("cannot be decompressed") || stderr.contains("inflates past"),
        "{stderr}"
    );
}

#[test]
fn zip_bomb_by_ratio() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let bytes = zip_of(&good_plus(&[("ffi/src/zeros.h", &zeros)]));
    assert_rejected(&bytes, "exceeds the limit of 200:1 (zip bomb?)");
}

#[test]
fn zip_bomb_by_ratio_with_lying_header() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let mut bytes = zip_of(&good_plus(&[("ZEROS", &zeros)]));
    set_claimed_size(&mut bytes, b"ZEROS", 1000);
    // The ZIP reader refuses data beyond the declared size; the capped read
    // behind it would stop at 200:1 anyway. Either way the entry is named.
    assert_rejected(&bytes, "entry 'ZEROS': cannot be decompressed");
}

// ---- whole file --------------------------------------------------------

#[test]
fn not_a_zip() {
    assert_rejected(
        b"#!/bin/sh\necho this is not a zip\n",
        "error: Invalid .cxz file: lib.cxz is not a ZIP archive",
    );
}

#[test]
fn empty_file() {
    let stderr = assert_rejected(
        b"",
        "error: Invalid .cxz file: lib.cxz is not a ZIP archive",
    );
    assert!(stderr.contains("The file is empty."), "{stderr}");
}

#[test]
fn missing_manifest() {
    let files: Vec<(String, Vec<u8>)> = library_with(GOOD_MANIFEST)
        .into_iter()
        .filter(|(n, _)| n != "manifest.toml")
        .collect();
    assert_rejected(
        &zip_of(&files),
        "archive: missing manifest.toml at the archive root",
    );
}

#[test]
fn manifest_over_one_mib() {
    let mut manifest = GOOD_MANIFEST.to_string();
    manifest.push('#');
    manifest.push_str(&"x".repeat(1024 * 1024));
    manifest.push('\n');
    let bytes = zip_with(&library_with(&manifest), CompressionMethod::Stored);
    assert_rejected(
        &bytes,
        &format!(
            "entry 'manifest.toml': is {} bytes, more than the limit of 1048576 bytes",
            manifest.len()
        ),
    );
}

// ---- manifest ----------------------------------------------------------

#[test]
fn bad_toml() {
    manifest_case("[library\nname = \"x\"\n", "manifest.toml: invalid TOML");
}

#[test]
fn unknown_key_in_unit() {
    manifest_case(
        &good_manifest_replacing("headers = [\".\"]", "headers = [\".\"]\nsourse = [\"a.c\"]"),
        "manifest.toml [ffi.unit]: unknown key 'sourse' (known keys: allow_imports, cflags, headers, pkg_config, source, symbols, system_headers, system_libs)",
    );
}

#[test]
fn unknown_key_in_library() {
    manifest_case(
        &good_manifest_replacing("license = \"MIT\"", "licence = \"MIT\""),
        "manifest.toml [library]: unknown key 'licence' (known keys: authors, description, license, name, source, version)",
    );
}

#[test]
fn unknown_top_level_table() {
    manifest_case(
        &format!("{GOOD_MANIFEST}\n[dependencies]\nx = 1\n"),
        "manifest.toml: unknown key 'dependencies' (known keys: ffi, library)",
    );
}

#[test]
fn unknown_key_in_symbol() {
    manifest_case(
        &good_manifest_replacing("returns = \"int\"", "returns = \"int\"\nreturn = \"int\""),
        "manifest.toml [[ffi.unit.symbols]] #1: unknown key 'return'",
    );
}

#[test]
fn missing_name() {
    manifest_case(
        &good_manifest_replacing("name = \"good\"\n", ""),
        "manifest.toml [library]: missing required key 'name'",
    );
}

#[test]
fn missing_version() {
    manifest_case(
        &good_manifest_replacing("version = \"1.0.0\"\n", ""),
        "manifest.toml [library]: missing required key 'version'",
    );
}

#[test]
fn version_not_semver() {
    manifest_case(
        &good_manifest_replacing("version = \"1.0.0\"", "version = \"1.0\""),
        "manifest.toml [library]: version '1.0' is not a semantic version",
    );
}

#[test]
fn bad_library_name() {
    manifest_case(
        &good_manifest_replacing("name = \"good\"", "name = \"Bad-Name\""),
        "manifest.toml [library]: library name 'Bad-Name' is invalid",
    );
}

#[test]
fn library_name_too_long() {
    let long = "a".repeat(65);
    manifest_case(
        &good_manifest_replacing("name = \"good\"", &format!("name = \"{long}\"")),
        &format!("library name '{long}' is invalid"),
    );
}

#[test]
fn bad_unit_name() {
    manifest_case(
        &GOOD_MANIFEST
            .replace("[ffi.unit]", "[ffi.\"9lives\"]")
            .replace("[[ffi.unit.symbols]]", "[[ffi.\"9lives\".symbols]]"),
        "manifest.toml [ffi.9lives]: FFI unit name '9lives' is invalid",
    );
}

#[test]
fn source_with_parent_dir() {
    manifest_case(
        &good_manifest_replacing("source = [\"a.c\"]", "source = [\"../x.c\"]"),
        "manifest.toml [ffi.unit]: source: path '../x.c' has a '..' component",
    );
}

#[test]
fn source_absolute() {
    manifest_case(
        &good_manifest_replacing("source = [\"a.c\"]", "source = [\"/etc/passwd\"]"),
        "manifest.toml [ffi.unit]: source: path '/etc/passwd' is absolute",
    );
}

#[test]
fn library_module_outside_src() {
    manifest_case(
        &good_manifest_replacing("source = [\"good.coex\"]", "source = [\"../x.coex\"]"),
        "manifest.toml [library]: source: path '../x.coex' has a '..' component",
    );
}

#[test]
fn source_looking_like_a_flag() {
    manifest_case(
        &good_manifest_replacing("source = [\"a.c\"]", "source = [\"-fplugin=x.so\"]"),
        "manifest.toml [ffi.unit]: source: path '-fplugin=x.so' starts with '-'",
    );
}

#[test]
fn source_glob_matching_nothing() {
    manifest_case(
        &good_manifest_replacing("source = [\"a.c\"]", "source = [\"a.c\", \"rx/*.c\"]"),
        "manifest.toml [ffi.unit]: source: glob 'rx/*.c' matches no file under ffi/src/",
    );
}

#[test]
fn coex_module_missing() {
    manifest_case(
        &good_manifest_replacing("source = [\"good.coex\"]", "source = [\"good.coex\", \"gone.coex\"]"),
        "manifest.toml [library]: source: module 'gone.coex' not found in the archive (expected src/gone.coex)",
    );
}

#[test]
fn headers_absolute() {
    manifest_case(
        &good_manifest_replacing("headers = [\".\"]", "headers = [\"/usr/include\"]"),
        "manifest.toml [ffi.unit]: headers: path '/usr/include' is absolute",
    );
}

#[test]
fn cflags_plugin() {
    manifest_case(
        &good_manifest_replacing(
            "headers = [\".\"]",
            "headers = [\".\"]\ncflags = [\"-O2\", \"-fplugin=evil.so\"]",
        ),
        "manifest.toml [ffi.unit]: cflags: flag '-fplugin=evil.so' is not allowed",
    );
}

#[test]
fn cflags_xclang() {
    manifest_case(
        &good_manifest_replacing(
            "headers = [\".\"]",
            "headers = [\".\"]\ncflags = [\"-Xclang\", \"-load\"]",
        ),
        "manifest.toml [ffi.unit]: cflags: flag '-Xclang' is not allowed",
    );
}

#[test]
fn cflags_response_file() {
    manifest_case(
        &good_manifest_replacing(
            "headers = [\".\"]",
            "headers = [\".\"]\ncflags = [\"@file\"]",
        ),
        "manifest.toml [ffi.unit]: cflags: flag '@file' is not allowed",
    );
}

#[test]
fn cflags_linker_passthrough() {
    manifest_case(
        &good_manifest_replacing(
            "headers = [\".\"]",
            "headers = [\".\"]\ncflags = [\"-Wl,-rpath,/tmp\"]",
        ),
        "manifest.toml [ffi.unit]: cflags: flag '-Wl,-rpath,/tmp' is not allowed",
    );
}

#[test]
fn system_libs_with_linker_flag() {
    manifest_case(
        &good_manifest_replacing(
            "headers = [\".\"]",
            "headers = [\".\"]\nsystem_libs = [\"-Wl,evil\"]",
        ),
        "manifest.toml [ffi.unit]: system_libs: '-Wl,evil' is not a valid name",
    );
}

#[test]
fn pkg_config_with_option() {
    manifest_case(
        &good_manifest_replacing(
            "headers = [\".\"]",
            "headers = [\".\"]\npkg_config = [\"--define-variable=prefix=/tmp\"]",
        ),
        "manifest.toml [ffi.unit]: pkg_config: '--define-variable=prefix=/tmp' is not a valid name",
    );
}

#[test]
fn system_section_unknown_key() {
    manifest_case(
        &format!("{GOOD_MANIFEST}\n[ffi.system]\nlibraries = [\"m\"]\n"),
        "manifest.toml [ffi.system]: unknown key 'libraries' (known keys: headers, libs, pkg_config)",
    );
}

#[test]
fn symbol_type_not_at_the_boundary() {
    manifest_case(
        &good_manifest_replacing("returns = \"int\"", "params = [\"pointer\"]\nreturns = \"int\""),
        "manifest.toml [[ffi.unit.symbols]] 'coex_good_get': params: 'pointer' is not a boundary type",
    );
}

#[test]
fn symbol_declared_twice() {
    manifest_case(
        &format!("{GOOD_MANIFEST}\n[[ffi.unit.symbols]]\nname = \"coex_good_get\"\n"),
        "symbol 'coex_good_get' is already declared in [ffi.unit]",
    );
}

#[test]
fn symbol_name_not_an_identifier() {
    manifest_case(
        &good_manifest_replacing("name = \"coex_good_get\"", "name = \"coex good; rm -rf\""),
        "must be a C identifier",
    );
}

#[test]
fn verify_reports_every_problem() {
    let manifest = good_manifest_replacing(
        "headers = [\".\"]",
        "headers = [\".\"]\ncflags = [\"-Xclang\"]\nsourse = []",
    );
    let mut files = library_with(&manifest);
    files.push(("../escape.txt".into(), b"x".to_vec()));
    let stderr = assert_rejected(&zip_of(&files), "3 problems");
    for part in [
        "entry '../escape.txt'",
        "cflags: flag '-Xclang'",
        "unknown key 'sourse'",
    ] {
        assert!(stderr.contains(part), "{part} missing in:\n{stderr}");
    }
}

// ---- fuzzing the reader ------------------------------------------------

fn valid_archive() -> Vec<u8> {
    zip_of(&library_with(GOOD_MANIFEST))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_archives_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = valid_archive();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = coex::cxz::CxzArchive::from_bytes(&bytes, "fuzz.cxz");
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = coex::cxz::CxzArchive::from_bytes(&bytes, "fuzz.cxz");
    }

    #[test]
    fn zip_tail_grafted_onto_random_bytes_never_panics(
        prefix in proptest::collection::vec(any::<u8>(), 0..512),
        keep in 22usize..200,
    ) {
        let valid = valid_archive();
        let mut bytes = prefix;
        bytes.extend_from_slice(&valid[valid.len().saturating_sub(keep)..]);
        let _ = coex::cxz::CxzArchive::from_bytes(&bytes, "fuzz.cxz");
    }
}

// ---- resource exhaustion through the manifest ---------------------------

#[test]
fn deeply_nested_toml_is_an_error_not_a_crash() {
    let manifest = format!(
        "{GOOD_MANIFEST}\nx = {}{}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let bytes = zip_with(&library_with(&manifest), CompressionMethod::Stored);
    let stderr = assert_rejected(&bytes, "manifest.toml: invalid TOML at line ");
    assert!(
        stderr.len() < 2_000,
        "error text quotes the huge line: {} bytes",
        stderr.len()
    );
}

#[test]
fn backtracking_glob_is_stopped() {
    let long_name = format!("ffi/src/{}.c", "a".repeat(20_000));
    // `*` then many literals: every extension of the star re-matches them all.
    let pattern = format!("*{}b*.c", "a".repeat(1000));
    let manifest = good_manifest_replacing(
        "source = [\"a.c\"]",
        &format!("source = [\"a.c\", \"{pattern}\", \"{pattern}\", \"{pattern}\"]"),
    );
    let mut files = library_with(&manifest);
    for i in 0..20 {
        files.push((format!("{long_name}{i}"), Vec::new()));
    }
    let started = std::time::Instant::now();
    assert_rejected(&zip_of(&files), "is too expensive to expand");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn path_component_too_long() {
    let name = format!("ffi/src/{}.h", "n".repeat(300));
    let bytes = zip_of(&good_plus(&[(name.as_str(), b"x")]));
    assert_rejected(&bytes, &format!("entry '{name}': path is too long"));
}

#[test]
fn file_used_as_a_folder() {
    let bytes = zip_of(&good_plus(&[("ffi/src/a.c/inner.h", b"x")]));
    assert_rejected(
        &bytes,
        "entry 'ffi/src/a.c': is a file but 'ffi/src/a.c/inner.h' uses it as a folder",
    );
}
