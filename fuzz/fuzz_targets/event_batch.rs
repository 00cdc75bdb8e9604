//! libFuzzer entry point for `loa_fuzzing::event_batch`: the work and its checks live there.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| loa_fuzzing::event_batch(data));
