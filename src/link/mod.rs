//! Interface kinds that need more than rtnetlink to create or use.

pub mod tap;
