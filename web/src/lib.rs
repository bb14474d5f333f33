//! The browser demo's wasm module: the engine (`icnet-engine`, the same
//! kernels and graphs as the `icnet` command) driven from a web page through
//! WebGPU.
//!
//! [`core`] holds the work and is plain, portable Rust (tested natively);
//! `wasm` (wasm32 only) is the JavaScript API of wasm-bindgen: `Session`;
//! `selftest` (wasm32 only) is `kernel_selftest`, the engine's kernel
//! conformance cases on the browser's adapter (the page `selftest.html`).

pub mod core;

#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(target_arch = "wasm32")]
mod selftest;
