//! ICNet co-saliency inference on WebGPU.
//!
//! The crate is organised as small modules with one job each:
//! - [`gpu`]: adapter selection and the device with the adapter's real limits.
//! - [`weights`]: loading and checking an ICNet `.safetensors`, BatchNorm folding.
//! - [`testweights`]: the deterministic "scaled" test weights shared with the Python reference.
//! - [`decode`]: image files to pixels: formats, size limits, EXIF orientation.
//! - [`preprocess`] / [`postprocess`]: Pillow- and OpenCV-exact image handling around the network.
//! - [`kernels`]: one module per WGSL compute kernel, each with a CPU reference.
//! - [`plan`]: the fixed execution graph with liveness-planned buffers.
//! - [`network`] / [`csa`]: the two co-saliency models as fixed graphs (trained
//!   ICNet; the training-free model); [`u2net`]: the SISM models (U²-Netp, U²-Net).
//! - [`engine`]: the public entry point that runs a whole photo group.

pub mod decode;
pub mod error;
pub mod gpu;
pub mod metrics;
pub mod postprocess;
pub mod preprocess;
pub mod spec_keys;
pub mod testweights;
pub mod weights;

pub use error::{Error, Result};
pub mod kernels;
pub mod plan;

pub use gpu::{Gpu, GpuOptions};
pub mod csa;
pub mod engine;
pub mod network;
pub mod u2net;

pub use engine::{Engine, EngineOptions, Model, RunOutput, RunRequest};
