//! The `rampart` command, built for the end-to-end tests.

fn main() -> anyhow::Result<std::process::ExitCode> {
    rampart_cli::main()
}
