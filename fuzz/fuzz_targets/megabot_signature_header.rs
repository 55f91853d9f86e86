#![no_main]

libfuzzer_sys::fuzz_target!(
    |data: &[u8]| megabot_webhook_benches::fuzz::megabot_signature_header(data)
);
