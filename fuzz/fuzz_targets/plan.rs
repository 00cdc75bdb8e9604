//! libFuzzer entry point for `loa_fuzzing::plan`: the work and its checks live there.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| loa_fuzzing::plan(data));
