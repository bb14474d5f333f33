//! `icnet info`: what each adapter offers. The limits that matter for ICNet
//! come first: the largest storage binding and buffer decide how many images
//! go through the network at once (browsers give only 128/256 MiB), the
//! workgroup limits bound the kernels' tile sizes.

use std::process::ExitCode;

use icnet_engine::models::icnet::LARGEST_PER_IMAGE_BYTES;
use icnet_engine::runtime::gpu::{list_adapters, AdapterReport, NO_ADAPTER_HINT};

use crate::text::{mib, out, wrapped_list};

pub fn info() -> Result<ExitCode, String> {
    let adapters = pollster::block_on(list_adapters());
    if adapters.is_empty() {
        return Err(NO_ADAPTER_HINT.to_string());
    }
    for (i, a) in adapters.iter().enumerate() {
        if i > 0 {
            out("");
        }
        describe(i, a);
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(i: usize, a: &AdapterReport) {
    let (info, l) = (&a.info, &a.limits);
    out(&format!("[{i}] {}", info.name));
    out(&format!(
        "    backend {:?}, type {:?}, vendor 0x{:04x}, device 0x{:04x}",
        info.backend, info.device_type, info.vendor, info.device
    ));
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" / ");
    out(&format!(
        "    driver: {}",
        if driver.is_empty() {
            "(not reported)"
        } else {
            &driver
        }
    ));
    let binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
    out(&format!(
        "    max storage binding {:.0} MiB, max buffer {:.0} MiB (up to {} images per chunk)",
        mib(l.max_storage_buffer_binding_size),
        mib(l.max_buffer_size),
        (binding / LARGEST_PER_IMAGE_BYTES).max(1)
    ));
    out(&format!(
        "    uniform binding {} KiB, workgroup storage {} KiB, {} invocations per workgroup (size {}x{}x{}), {} workgroups per dimension",
        l.max_uniform_buffer_binding_size / 1024,
        l.max_compute_workgroup_storage_size / 1024,
        l.max_compute_invocations_per_workgroup,
        l.max_compute_workgroup_size_x,
        l.max_compute_workgroup_size_y,
        l.max_compute_workgroup_size_z,
        l.max_compute_workgroups_per_dimension
    ));
    out(&format!(
        "    {} storage buffers per stage, {} bind groups, storage offset alignment {} B",
        l.max_storage_buffers_per_shader_stage,
        l.max_bind_groups,
        l.min_storage_buffer_offset_alignment
    ));
    let (native, webgpu): (Vec<&str>, Vec<&str>) = a
        .features
        .iter()
        .filter_map(|f| f.as_str())
        .partition(|n| n.starts_with("wgpu-"));
    for line in wrapped_list("    WebGPU features: ", &webgpu)
        .iter()
        .chain(&wrapped_list("    native-only features: ", &native))
    {
        out(line);
    }
}
