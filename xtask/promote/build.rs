//! Builds the file-access observer (`observer/trace.c`) into a shared object that
//! `engine::trace` embeds: every tool runs with it preloaded, so the cache sees what the tool's
//! whole process tree read. The cc crate picks the C compiler (as it does for tree-sitter); the
//! object is linked as a shared library, which cc's own `compile` does not make.

use std::path::PathBuf;

// A build script reads what cargo gives it; the program's rule (read the environment
// through edge_env) is for the program.
#[allow(clippy::disallowed_methods)]
fn main() {
    let source = "observer/trace.c";
    println!("cargo:rerun-if-changed={source}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let out = out_dir.join("libxtask_trace.so");
    let compiler = cc::Build::new()
        .opt_level(2)
        .debug(false)
        .warnings(false)
        .get_compiler();
    let status = compiler
        .to_command()
        .args([
            "-shared",
            "-fPIC",
            "-Wall",
            "-Wno-nonnull-compare",
            "-fvisibility=default",
            "-o",
        ])
        .arg(&out)
        .arg(source)
        .arg("-ldl")
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "failed to build the file-access observer ({source}, {status}): install a C compiler and libc headers (Debian: apt-get install gcc libc6-dev)"
        ),
        Err(e) => panic!(
            "failed to start the C compiler for {source}: {e}; install one (Debian: apt-get install gcc libc6-dev)"
        ),
    }
}
