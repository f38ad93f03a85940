//! Thin entry point; everything lives in the library.

// glibc malloc took ~10 % of a tier's CPU per request under load; mimalloc's
// thread-local free lists make the small per-request allocations cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    rampart_edge::cli::run(&clap::Parser::parse())
}
