//! AFL++ harness: `coex::fuzzing::wire` on every input.
fn main() {
    afl::fuzz!(|data: &[u8]| coex::fuzzing::wire(data));
}
