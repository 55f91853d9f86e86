#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| megabot_webhook_benches::fuzz::dead_letter_record(data));
