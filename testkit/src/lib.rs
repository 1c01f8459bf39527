//! What patchwire's privileged tests (tests/) and benchmarks (benches/) both use, in a crate of
//! its own so neither reaches into the other's files: a dev-dependency of patchwire only.

pub mod containers;
pub mod ovs;
