//! `cargo xtask`: the entry point; all logic lives in the library.

fn main() -> std::process::ExitCode {
    xtask::cli::main()
}
