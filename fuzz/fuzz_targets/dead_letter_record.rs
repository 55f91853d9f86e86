#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| megabot_webhook_test_support::fuzz::dead_letter_record(data));
