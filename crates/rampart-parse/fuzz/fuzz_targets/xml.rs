#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_parse::{XmlLimits, xml};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = xml::parse(data, &XmlLimits::default()) {
        for l in &p.leaves {
            let _ = p.location(l.path);
        }
    }
});
