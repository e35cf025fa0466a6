//! AFL++ harness: `coex::fuzzing::lang` on every input.
fn main() {
    afl::fuzz!(|data: &[u8]| coex::fuzzing::lang(data));
}
