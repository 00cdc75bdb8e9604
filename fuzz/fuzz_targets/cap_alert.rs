//! libFuzzer entry point for `loa_fuzzing::cap_alert`: the work and its checks live there.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| loa_fuzzing::cap_alert(data));
