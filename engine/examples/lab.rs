// scratch: time one WGSL compute kernel. args: wgsl groups(x,y,z) iters flops params(csv) buf-sizes(csv floats)...
use icnet_engine::gpu::{Gpu, GpuOptions};
use std::time::Instant;
use wgpu::util::DeviceExt;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let src = std::fs::read_to_string(&a[1]).unwrap();
    let g: Vec<u32> = a[2].split(',').map(|s| s.parse().unwrap()).collect();
    let iters: u32 = a[3].parse().unwrap();
    let flops: f64 = a[4].parse().unwrap();
    let params: Vec<u32> = a[5].split(',').map(|s| s.parse().unwrap()).collect();
    let sizes: Vec<(bool, usize)> = a[6]
        .split(',')
        .map(|s| match s.strip_prefix('u') {
            Some(r) => (true, r.parse().unwrap()),
            None => (false, s.parse().unwrap()),
        })
        .collect();
    let gpu = Gpu::new_blocking(&GpuOptions::default()).unwrap();
    let d = &gpu.device;
    let t0 = Instant::now();
    let m = d.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let p = d.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &m,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let ub = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&params),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let mut bufs = vec![];
    let mut seed = 1u32;
    for &(uni, n) in &sizes {
        let v: Vec<f32> = (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                (seed >> 9) as f32 / 8388608.0 - 0.5
            })
            .collect();
        bufs.push(d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&v),
            usage: if uni {
                wgpu::BufferUsages::UNIFORM
            } else {
                wgpu::BufferUsages::STORAGE
            },
        }));
    }
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: ub.as_entire_binding(),
    }];
    for (i, b) in bufs.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: i as u32 + 1,
            resource: b.as_entire_binding(),
        });
    }
    let bg = d.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &p.get_bind_group_layout(0),
        entries: &entries,
    });
    let run = |n: u32| {
        let mut e = d.create_command_encoder(&Default::default());
        {
            let mut c = e.begin_compute_pass(&Default::default());
            c.set_pipeline(&p);
            c.set_bind_group(0, &bg, &[]);
            for _ in 0..n {
                c.dispatch_workgroups(g[0], g[1], g[2]);
            }
        }
        gpu.queue.submit([e.finish()]);
        d.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    };
    run(1);
    let c = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    run(iters);
    let dt = t1.elapsed().as_secs_f64() / iters as f64;
    println!(
        "{}: compile+first {:.2}s, {:.2} ms/dispatch, {:.2} GFLOPS",
        a[1],
        c,
        dt * 1e3,
        flops / dt / 1e9
    );
}
