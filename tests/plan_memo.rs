//! `coex plan X.cxz` uses the compiler identity a build remembered (read
//! only): after a build, planning runs no clang process at all; with no
//! memo it computes the identity and still writes no cache. The compiler is
//! a wrapper (`--cc`) that logs every invocation.

#[path = "support/isolated.rs"]
mod isolated;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use isolated::isolated_coex;

fn coex(root: &Path, cache: &str, args: &[&str]) -> std::process::Output {
    isolated_coex(root, &root.join(cache), &root.join("home"))
        .env("TMPDIR", root.join("tmp"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_warm_plan_runs_no_clang_and_a_cold_one_writes_no_cache() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fs::create_dir_all(root.join("tmp")).unwrap();
    let lib = root.join("lib");
    fs::create_dir_all(lib.join("src")).unwrap();
    fs::create_dir_all(lib.join("ffi/src")).unwrap();
    fs::write(
        lib.join("manifest.toml"),
        "[library]\nname = \"probe\"\nversion = \"1.0.0\"\n\n[ffi.u]\nsource = [\"a.c\"]\n\n\
         [[ffi.u.symbols]]\nname = \"probe_value\"\nreturns = \"int\"\n",
    )
    .unwrap();
    fs::write(
        lib.join("src/probe.coex"),
        "extern probe_value() -> int\n~\n",
    )
    .unwrap();
    fs::write(
        lib.join("ffi/src/a.c"),
        "long probe_value(void) { return 7; }\n",
    )
    .unwrap();
    ok(&coex(
        root,
        "cache",
        &["cxz", "pack", "lib", "-o", "probe.cxz"],
    ));

    let real = std::process::Command::new("sh")
        .args(["-c", "command -v clang"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let log = root.join("clang.log");
    // In a folder of its own: the driver's folder is watched too.
    fs::create_dir_all(root.join("bin")).unwrap();
    let cc = root.join("bin/clang");
    fs::write(
        &cc,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {real} \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&cc, fs::Permissions::from_mode(0o755)).unwrap();
    // Files changed in the last 2 s are not remembered by metadata.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let cc = cc.to_str().unwrap();

    ok(&coex(
        root,
        "cache",
        &["cxz", "build", "probe.cxz", "-o", "out", "--cc", cc],
    ));
    assert!(fs::read_to_string(&log).unwrap().contains("-c"));
    fs::write(&log, "").unwrap();
    let warm = coex(root, "cache", &["plan", "probe.cxz", "--json", "--cc", cc]);
    ok(&warm);
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "",
        "a warm plan ran clang"
    );

    // No memo: the identity is computed (clang runs) and nothing is stored.
    let cold = coex(root, "cold", &["plan", "probe.cxz", "--json", "--cc", cc]);
    ok(&cold);
    assert_ne!(fs::read_to_string(&log).unwrap(), "");
    assert!(!root.join("cold").exists());
    assert_eq!(warm.stdout, cold.stdout, "the same plan either way");
}
