//! AFL++ harness: `coex::fuzzing::manifest` on every input.
fn main() {
    afl::fuzz!(|data: &[u8]| coex::fuzzing::manifest(data));
}
