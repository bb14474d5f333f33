//! The networks, written as graphs of kernels ([`crate::runtime::plan::Graph`]).

pub mod csa;
pub mod icnet;
pub mod spec_keys;
pub mod testweights;
pub mod u2net;
