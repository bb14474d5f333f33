//! The device and the planner: what every model and kernel runs on.

pub mod gpu;
pub mod plan;
