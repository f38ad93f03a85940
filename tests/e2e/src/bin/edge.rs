//! The edge tier, built for the end-to-end tests.

fn main() -> anyhow::Result<std::process::ExitCode> {
    rampart_edge::cli::run(&clap::Parser::parse())
}
