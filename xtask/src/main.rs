//! This repository's cargo xtask: the whole program is the `xtask-promote` library.

fn main() -> std::process::ExitCode {
    xtask_promote::main()
}
