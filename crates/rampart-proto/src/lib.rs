//! The gRPC contract between `rampart-edge` and `rampart-inner`, generated from
//! `proto/rampart/v1/forward.proto`. Contains no logic; see the proto file for the
//! meaning of each field.

#![allow(missing_docs, unreachable_pub, clippy::all)]

/// Version 1 of the contract.
pub mod v1 {
    tonic::include_proto!("rampart.v1");
}
