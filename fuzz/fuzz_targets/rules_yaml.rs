//! Any rules.yaml text: loading never panics, and a file that loads has
//! what the schema promises (channels that rules name exist).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use syncwatch::config::load_str;

fuzz_target!(|text: &str| {
    let env = |name: &str| (name == "SET").then(|| "value".to_owned());
    match load_str(text, Path::new("fuzz.yaml"), &env) {
        Ok(config) => {
            for rule in &config.rules {
                for channel in &rule.notify {
                    assert!(config.channels.contains_key(channel), "rule names a missing channel");
                }
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            let _ = errors.to_string();
        }
    }
});
