//! `task for` end to end: results in input order, real parallelism on the
//! runtime's thread pool, parent variables seen as copies, direct task calls.

mod backend_common;

use std::time::{Duration, Instant};

use backend_common::*;
use coex::codegen::ir::*;

#[test]
fn task_for_yields_in_input_order() {
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let k = f.local("k", Type::Int);
    let spin = f.local("spin", Type::Int);
    let results = f.local("results", list_ty(Type::Int));
    let r = f.local("r", Type::Int);
    // earlier items do more work, so they tend to finish last
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(40)),
        body: vec![
            assign(spin, int(0)),
            Stmt::ForRange {
                var: k,
                start: int(0),
                end: bin(BinOp::Mul, sub(int(40), f.get(x)), int(20000)),
                body: vec![assign(spin, add(f.get(spin), int(1)))],
            },
            Stmt::Yield(bin(BinOp::Mul, f.get(x), f.get(x))),
            // two yields per iteration stay together, in order
            Stmt::Yield(neg(f.get(x))),
        ],
        result: Some(results),
    });
    f.push(print(len(f.get(results))));
    f.push(Stmt::ForList {
        var: r,
        list: f.get(results),
        body: vec![print(f.get(r))],
    });
    let mut p = ProgB::default();
    let main = p.add(f.finish("main", FuncKind::Func));
    let built = build(&p.finish(main), &[]);
    let mut expected = String::from("80\n");
    for x in 0..40i64 {
        expected.push_str(&format!("{}\n{}\n", x * x, -x));
    }
    for threads in ["1", "4"] {
        let out = run(&built, &[("COEX_THREADS", threads)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), expected, "COEX_THREADS={threads}");
    }
}

/// Eight iterations each sleep 300 ms in libc's usleep: on 4 threads that
/// takes about 2 rounds, on 1 thread 8 rounds.
#[test]
fn task_for_runs_iterations_in_parallel() {
    let mut p = ProgB::default();
    p.program.externs.push(Extern {
        name: "usleep".into(),
        params: vec![Type::Int],
        ret: Type::Int,
        ffi: None,
    });
    let mut f = FnB::new();
    let x = f.local("x", Type::Int);
    let out_l = f.local("out", list_ty(Type::Int));
    f.push(Stmt::TaskFor {
        var: x,
        items: range(int(0), int(8)),
        body: vec![
            expr_stmt(call_extern(ExternId(0), vec![int(300_000)], Type::Int)),
            Stmt::Yield(f.get(x)),
        ],
        result: Some(out_l),
    });
    f.push(print(len(f.get(out_l))));
    let main = p.add(f.finish("main", FuncKind::Func));
    let built = build(&p.finish(main), &[]);

    let timed = |threads: &str| {
        let t = Instant::now();
        let out = run(&built, &[("COEX_THREADS", threads)]);
        assert_eq!(stdout(&out), "8\n", "{}", stderr(&out));
        t.elapsed()
    };
    let parallel = timed("4");
    let serial = timed("1");
    assert!(
        serial >= Duration::from_millis(2400),
        "serial took {serial:?}"
    );
    assert!(
        parallel < Duration::from_millis(1500),
        "parallel took {parallel:?}"
    );
}

#[test]
fn tasks_see_parent_variables_as_copies() {
    let mut f = FnB::new();
    let base = f.local("base", Type::Int);
    let xs = f.local("xs", list_ty(Type::Int));
    let name = f.local("name", Type::Str);
    let item = f.local("item", Type::Int);
    let res = f.local("res", list_ty(Type::Int));
    f.push(assign(base, int(100)));
    f.push(assign(xs, list(Type::Int, vec![int(1), int(2), int(3)])));
    f.push(assign(name, string("parent")));
    f.push(Stmt::TaskFor {
        var: item,
        items: f.get(xs),
        body: vec![
            expr_stmt(f.append(xs, f.get(item))),
            assign(base, add(f.get(base), f.get(item))),
            assign(name, string("task")),
            Stmt::Yield(add(f.get(base), len(f.get(xs)))),
        ],
        result: Some(res),
    });
    f.push(print(f.get(base)));
    f.push(print(len(f.get(xs))));
    f.push(print(f.get(name)));
    f.push(Stmt::ForList {
        var: item,
        list: f.get(res),
        body: vec![print(f.get(item))],
    });
    let out = run_main(f);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // each task: base 100 + item, xs has 4 elements
    assert_eq!(stdout(&out), "100\n3\nparent\n105\n106\n107\n");
}

#[test]
fn direct_task_call_and_nested_task_for() {
    let mut p = ProgB::default();
    // task sum_squares(n: int) -> int: results = task for i in range(0, n) yield i*i; sum them
    let mut t = FnB::new().returns(Type::Int);
    let n = t.param("n", Type::Int);
    let i = t.local("i", Type::Int);
    let sq = t.local("sq", list_ty(Type::Int));
    let acc = t.local("acc", Type::Int);
    t.push(Stmt::TaskFor {
        var: i,
        items: range(int(0), t.get(n)),
        body: vec![Stmt::Yield(bin(BinOp::Mul, t.get(i), t.get(i)))],
        result: Some(sq),
    });
    t.push(assign(acc, int(0)));
    t.push(Stmt::ForList {
        var: i,
        list: t.get(sq),
        body: vec![assign(acc, add(t.get(acc), t.get(i)))],
    });
    t.push(ret(t.get(acc)));
    let task = p.add(t.finish("sum_squares", FuncKind::Task));

    let mut f = FnB::new();
    let k = f.local("k", Type::Int);
    let out_l = f.local("out", list_ty(Type::Int));
    f.push(print(call(task, vec![int(10)], Type::Int)));
    f.push(Stmt::TaskFor {
        var: k,
        items: list(Type::Int, vec![int(3), int(5)]),
        body: vec![Stmt::Yield(call(task, vec![f.get(k)], Type::Int))],
        result: Some(out_l),
    });
    f.push(print(index(f.get(out_l), int(0))));
    f.push(print(index(f.get(out_l), int(1))));
    let main = p.add(f.finish("main", FuncKind::Func));
    let out = run(&build(&p.finish(main), &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ss = |n: i64| (0..n).map(|i| i * i).sum::<i64>();
    assert_eq!(stdout(&out), format!("{}\n{}\n{}\n", ss(10), ss(3), ss(5)));
}

/// Parallel tasks allocating heavily while the collector runs: every task's
/// live strings and lists must survive collections triggered by the others.
#[test]
fn gc_keeps_live_data_of_parallel_tasks() {
    let mut f = FnB::new();
    let t = f.local("t", Type::Int);
    let i = f.local("i", Type::Int);
    let keep = f.local("keep", list_ty(Type::Str));
    let s = f.local("s", Type::Str);
    let total = f.local("total", Type::Int);
    let res = f.local("res", list_ty(Type::Int));
    f.push(Stmt::TaskFor {
        var: t,
        items: range(int(0), int(12)),
        body: vec![
            assign(keep, list(Type::Str, vec![])),
            Stmt::ForRange {
                var: i,
                start: int(0),
                end: int(100_000),
                body: vec![
                    assign(
                        s,
                        add(to_string(f.get(t)), add(string(":"), to_string(f.get(i)))),
                    ),
                    // keep every 10th string alive, drop the rest
                    Stmt::If {
                        cond: bin(BinOp::Eq, bin(BinOp::Mod, f.get(i), int(10)), int(0)),
                        then_body: vec![expr_stmt(f.append(keep, f.get(s)))],
                        else_body: vec![],
                    },
                ],
            },
            assign(total, int(0)),
            Stmt::ForList {
                var: s,
                list: f.get(keep),
                body: vec![assign(total, add(f.get(total), len(f.get(s))))],
            },
            Stmt::Yield(f.get(total)),
            Stmt::Yield(len(index(f.get(keep), int(9999)))),
        ],
        result: Some(res),
    });
    f.push(Stmt::ForList {
        var: i,
        list: f.get(res),
        body: vec![print(f.get(i))],
    });
    let out = run_main_env(f, &[("COEX_THREADS", "4")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut expected = String::new();
    for t in 0..12i64 {
        let total: usize = (0..100_000i64)
            .filter(|i| i % 10 == 0)
            .map(|i| format!("{t}:{i}").len())
            .sum();
        expected.push_str(&format!("{total}\n{}\n", format!("{t}:99990").len()));
    }
    assert_eq!(stdout(&out), expected);
}
