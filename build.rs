//! Embeds every `shaders/*.wgsl` file into the binary, so no shader is read from disk at run
//! time. Generates `$OUT_DIR/shader_table.rs`: a sorted table of (name, source) pairs, where the
//! name is the file stem (`dense_forward.wgsl` -> `"dense_forward"`).
//!
//! A shader that declares its element type on a line of its own, `alias Value = f32;`, also
//! gets a four-wide variant `NAME_vec4`: the same source with `Value = vec4<f32>` and its entry
//! point renamed to match. Each invocation then moves four consecutive values, so the variant
//! needs a length (or channel count) divisible by four; CPU drivers, which load storage buffers
//! lane by lane, do a quarter of the loads. The variants are written to `$OUT_DIR`.

use std::{env, fs, path::Path};

/// The line that marks a shader written over a `Value` type, and what the variant puts there.
const SCALAR_VALUE: &str = "alias Value = f32;";
const VECTOR_VALUE: &str = "alias Value = vec4<f32>;";

fn main() {
    let dir = Path::new("shaders");
    println!("cargo:rerun-if-changed=shaders");
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("shaders/ folder is missing")
        .map(|entry| entry.expect("unreadable entry in shaders/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wgsl"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();

    let root = env::var("CARGO_MANIFEST_DIR").unwrap();
    let out_dir = env::var("OUT_DIR").unwrap();
    // (name, path of the source to embed)
    let mut entries = Vec::new();
    for name in &names {
        println!("cargo:rerun-if-changed=shaders/{name}.wgsl");
        let path = format!("{root}/shaders/{name}.wgsl");
        let source = fs::read_to_string(&path).expect("unreadable shader");
        if source.lines().any(|line| line.trim() == SCALAR_VALUE) {
            let variant = format!("{name}_vec4");
            let generated = source
                .replace(SCALAR_VALUE, VECTOR_VALUE)
                .replace(&format!("fn {name}("), &format!("fn {variant}("));
            let variant_path = format!("{out_dir}/{variant}.wgsl");
            fs::write(&variant_path, generated).expect("cannot write a shader variant");
            entries.push((variant, variant_path));
        }
        entries.push((name.clone(), path));
    }
    entries.sort();

    let mut table = String::from("pub(crate) static SHADER_TABLE: &[(&str, &str)] = &[\n");
    for (name, path) in &entries {
        table.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    table.push_str("];\n");
    let out = Path::new(&out_dir).join("shader_table.rs");
    fs::write(out, table).expect("cannot write the shader table");
}
