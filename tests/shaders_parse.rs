//! Every shader compiled into the binary goes through naga's WGSL parser and validator on the
//! CPU, so a broken shader fails `cargo test` even on a machine with no GPU.

use sgan_gpu::gpu::{shader_names, shader_source};

#[test]
fn every_shader_parses_and_validates() {
    let mut failures = Vec::new();
    let mut count = 0;
    for name in shader_names() {
        count += 1;
        let source = shader_source(name).unwrap();
        let module = match naga::front::wgsl::parse_str(&source) {
            Ok(module) => module,
            Err(e) => {
                failures.push(format!("{name}: {}", e.emit_to_string(&source)));
                continue;
            }
        };
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        if let Err(e) = validator.validate(&module) {
            failures.push(format!("{name}: {}", e.emit_to_string(&source)));
        }
        if !module.entry_points.iter().any(|entry| entry.name == name) {
            failures.push(format!("{name}: no entry point named like the file"));
        }
    }
    assert!(
        count >= 2,
        "only {count} shaders found: is the shader table empty?"
    );
    assert!(
        failures.is_empty(),
        "shaders that fail naga:\n{}",
        failures.join("\n\n")
    );
}
