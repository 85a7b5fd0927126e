//! Embeds every `shaders/*.wgsl` file into the binary, so no shader is read from disk at run
//! time. Generates `$OUT_DIR/shader_table.rs`: a sorted table of (name, source) pairs, where the
//! name is the file stem (`dense_forward.wgsl` -> `"dense_forward"`).

use std::{env, fs, path::Path};

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
    let mut table = String::from("pub(crate) static SHADER_TABLE: &[(&str, &str)] = &[\n");
    for name in &names {
        println!("cargo:rerun-if-changed=shaders/{name}.wgsl");
        table.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            format!("{root}/shaders/{name}.wgsl")
        ));
    }
    table.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("shader_table.rs");
    fs::write(out, table).expect("cannot write the shader table");
}
