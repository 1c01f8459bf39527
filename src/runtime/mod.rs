//! Container runtimes: podman and docker, found on the host and driven through their own
//! command-line clients with JSON output, as tools of their ecosystems do (kind drives docker
//! and podman this way, podman-compose drives podman). patchwire never runs a container
//! itself: the runtime creates, starts, inspects, execs and removes; patchwire wires the
//! network namespace the runtime made.
//!
//! This room sits below `lab` (which maps a lab file's container nodes onto [`ContainerSpec`])
//! and above `netns` (a running container's namespace is registered under /run/netns by name).

pub mod spec;

pub use spec::{ContainerSpec, NetworkSpec};
