//! Memory: the Boehm GC reclaims temporaries. Ten million temporary strings
//! in a loop must keep the peak RSS (VmHWM, reported by the runtime when
//! COEX_RT_PEAK_RSS=1) under 100 MB.

mod backend_common;

use backend_common::*;
use coex::codegen::ir::*;

#[test]
fn ten_million_temporary_strings_stay_under_100_mb() {
    let mut f = FnB::new();
    let i = f.local("i", Type::Int);
    let s = f.local("s", Type::Str);
    let total = f.local("total", Type::Int);
    f.push(assign(total, int(0)));
    f.push(Stmt::ForRange {
        var: i,
        start: int(0),
        end: int(10_000_000),
        body: vec![
            assign(s, add(to_string(f.get(i)), string("-temporary"))),
            assign(total, add(f.get(total), len(f.get(s)))),
        ],
    });
    f.push(print(f.get(total)));
    let mut p = ProgB::default();
    let main = p.add(f.finish("main", FuncKind::Func));
    let built = build(&p.finish(main), &[]);
    let peak_kb = |env: &[(&str, &str)]| {
        let out = run(&built, env);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        let kb: u64 = err
            .lines()
            .find_map(|l| l.strip_prefix("coex-rt: peak-rss-kb "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak report in {err:?}"));
        (out, kb)
    };
    // Control: with collection disabled the same program goes far over the
    // limit, so the measurement below is real.
    let (_, uncollected) = peak_kb(&[("COEX_RT_PEAK_RSS", "1"), ("GC_DONT_GC", "1")]);
    assert!(
        uncollected > 100 * 1024,
        "uncollected peak {uncollected} kB"
    );
    let (out, kb) = peak_kb(&[("COEX_RT_PEAK_RSS", "1")]);
    let expected: i64 = (0..10_000_000i64)
        .map(|i| i.to_string().len() as i64 + 10)
        .sum();
    assert_eq!(stdout(&out), format!("{expected}\n"));
    // 10M strings of ~24 bytes would be ~300 MB without collection.
    assert!(kb < 100 * 1024, "peak RSS {kb} kB");
    eprintln!("peak RSS: {kb} kB (without collection: {uncollected} kB)");
}
