//! The inner tier, built for the end-to-end tests.

fn main() -> anyhow::Result<std::process::ExitCode> {
    rampart_inner::cli::run(&clap::Parser::parse())
}
