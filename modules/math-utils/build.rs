//! Compiles the C library in `hugemem/` with the `cc` crate and, with the `bindgen` feature,
//! regenerates its bindings into `OUT_DIR/bindings.rs` (never into `src/`).

use std::env;
use std::path::PathBuf;

/// The C sources Cargo builds; a change to any of them reruns this script.
const SOURCES: &[&str] = &["hugemem/math_utils.c", "hugemem/math_utils.h"];

/// Warnings as in `hugemem/Makefile`, all of them errors.
const WARNINGS: &[&str] = &[
    "-Wpedantic",
    "-Wshadow",
    "-Wconversion",
    "-Wsign-conversion",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }

    let mut build = cc::Build::new();
    build
        .file("hugemem/math_utils.c")
        .include("hugemem")
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true);
    for flag in WARNINGS {
        build.flag_if_supported(flag);
    }
    build.compile("math_utils");

    // log2() lives in libm on Unix.
    if env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("unix") {
        println!("cargo:rustc-link-lib=m");
    }

    // For crates that link to math_utils: DEP_MATH_UTILS_INCLUDE.
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by Cargo"));
    println!("cargo:include={}", manifest_dir.join("hugemem").display());

    #[cfg(feature = "bindgen")]
    generate_bindings();
}

/// Writes `OUT_DIR/bindings.rs`: bindgen's output for `hugemem/math_utils.h`, untouched.
///
/// `tests/bindings.rs` compares it with the committed `src/bindings.rs`, so every option here
/// shapes the committed file: change one, then run `BLESS=1 cargo test -p math-utils --features
/// bindgen`.
#[cfg(feature = "bindgen")]
fn generate_bindings() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by Cargo"));
    let bindings = bindgen::Builder::default()
        .header("hugemem/math_utils.h")
        // The workspace's minimum Rust version, so the committed file builds there.
        .rust_target(bindgen::RustTarget::stable(80, 0).expect("a Rust version bindgen knows"))
        .allowlist_function("mu_.*")
        .allowlist_type("mu_.*")
        .allowlist_var("MU_.*")
        // MU_* status codes are compared with the functions' `int` results.
        .default_macro_constant_type(bindgen::MacroTypeVariation::Signed)
        .generate()
        .expect("bindgen could not generate bindings for hugemem/math_utils.h");
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("could not write OUT_DIR/bindings.rs");
}
