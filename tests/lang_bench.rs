//! Throughput of `coex check`: generates a 50,000-line program and times
//! the real binary on it. Ignored by default; run with
//! `cargo test --test lang_bench -- --ignored --nocapture`
//! (add `--release` for the figure that matters, or point
//! `COEX_BENCH_BIN` at a release build of `coex`, e.g.
//! `COEX_BENCH_BIN=target/release/coex`).

use assert_cmd::Command;
use std::fmt::Write;
use std::time::Instant;

/// A program of about `lines` lines using most of Core: records with
/// methods, formulas, loops, lists, `task for`, `select`, `within`.
fn generate(lines: usize) -> String {
    let mut src = String::from("extern abs(x: int) -> int\n~\n\n");
    let mut n = 0;
    while src.lines().count() < lines {
        let _ = write!(
            src,
            "type Rec{n}:
    a: int
    b: float

    func sum() -> float
        return self.a * 1.0 + self.b
    ~
~

formula step{n}(x: int, y: int) -> int
    return x < y ? (x + y) * 2 % 7 : x - y / 3
~

func work{n}(count: int) -> int
    total = 0
    xs: [int] = []
    for i in 0..count
        if i % 2 == 0 and not (i == 4)
            total += step{n}(i, count)
        else if i > 10
            xs.append(abs(i))
        else
            total -= 1
        ~
    ~
    r = Rec{n}(a: total, b: 2.5)
    doubled = task for v in xs
        yield v * 2
    ~
    select
        case q = abs(total):
            total += q
        ~
        case ResourceExhausted:
            print(\"busy\")
        ~
    ~
    within 10 * time.millisecond
        total += len(doubled)
    else
        print(\"timed out\")
    ~
    print(r.sum().to_string() + \" done\")
    return total
~

"
        );
        n += 1;
    }
    src.push_str("func main() -> int\n    return work0(10)\n~\n");
    src
}

#[test]
#[ignore = "benchmark: run explicitly"]
fn check_throughput_50k_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = generate(50_000);
    let lines = src.lines().count();
    std::fs::write(dir.path().join("big.coex"), &src).expect("write");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut cmd = match std::env::var_os("COEX_BENCH_BIN") {
            Some(bin) => Command::new(std::fs::canonicalize(bin).expect("COEX_BENCH_BIN")),
            None => Command::cargo_bin("coex").expect("coex binary"),
        };
        let start = Instant::now();
        cmd.current_dir(dir.path())
            .args(["check", "big.coex"])
            .assert()
            .success();
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "coex check: {lines} lines in {best:.3} s = {:.0} lines/second",
        lines as f64 / best
    );
}
