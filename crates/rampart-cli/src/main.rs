//! Thin entry point; everything lives in the library.

fn main() -> anyhow::Result<std::process::ExitCode> {
    rampart_cli::main()
}
