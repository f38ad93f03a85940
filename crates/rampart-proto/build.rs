//! Compiles the protobuf contract with protox (pure Rust), so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let file = root.join("rampart/v1/forward.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let fds = protox::compile([&file], [&root])?;
    // No `connect` constructors: both tiers bring their own HTTP/2 connections.
    tonic_prost_build::configure()
        .bytes(".")
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}
