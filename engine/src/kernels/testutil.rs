//! Shared by the native kernel tests: one device for the whole test binary.
//! The cases themselves, with their graph runner, data and closeness checks,
//! are in [`super::selftest`].

use std::sync::OnceLock;

use crate::runtime::gpu::{Gpu, GpuOptions};

pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new_blocking(&GpuOptions::default()) {
        Ok(g) => g,
        Err(e) => panic!("kernel tests need a GPU adapter: {e}"),
    })
}
