//! Interface matters that need more than rtnetlink: taps (/dev/net/tun) and offloads (ethtool).

pub mod ethtool;
pub mod tap;
