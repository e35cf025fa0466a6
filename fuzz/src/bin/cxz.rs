//! AFL++ harness: `coex::fuzzing::cxz` on every input.
fn main() {
    afl::fuzz!(|data: &[u8]| coex::fuzzing::cxz(data));
}
