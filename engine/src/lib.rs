//! ICNet co-saliency inference on WebGPU.
//!
//! Four layers, each a folder, each module with one job:
//! - [`runtime`]: the device ([`runtime::gpu`]: adapter, real limits,
//!   pipeline cache) and the planner ([`runtime::plan`]: a fixed graph of
//!   dispatches with liveness-planned buffers, one encoder per run).
//! - [`kernels`]: one module per WGSL compute kernel and its variants, each
//!   with a CPU reference and conformance cases.
//! - [`models`]: the networks as graphs of kernels: ICNet ([`models::icnet`]),
//!   the training-free model ([`models::csa`]), the saliency models
//!   ([`models::u2net`]), and ICNet's test weights and state-dict keys.
//! - [`io`]: what crosses the boundary: weights files, image decoding, and the
//!   Pillow- and OpenCV-exact pre- and post-processing around the network.
//!
//! [`engine`] is the public entry point that runs a whole photo group;
//! [`metrics`] scores maps against masks (`icnet eval`).

pub mod engine;
pub mod error;
pub mod io;
pub mod kernels;
pub mod metrics;
pub mod models;
pub mod runtime;

pub use engine::{Engine, EngineOptions, Model, RunOutput, RunRequest};
pub use error::{Error, Result};
pub use runtime::gpu::{Gpu, GpuOptions};
pub use runtime::plan::Precision;
