use icnet_engine::engine::{Engine, EngineOptions, RunRequest};
use icnet_engine::gpu::{Gpu, GpuOptions};
use icnet_engine::kernels::conv::ConvVariant;
fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1);
    let v = std::env::args().nth(2).and_then(|s| ConvVariant::parse(&s));
    let gpu = Gpu::new_blocking(&GpuOptions::default()).unwrap();
    let w = icnet_engine::testweights::scaled_weights(0).unwrap();
    let t = std::time::Instant::now();
    let mut e = Engine::new(gpu, w, EngineOptions { variant: v, memory_budget: None }).unwrap();
    eprintln!("tune {:?} {:.2}s", e.tuning, t.elapsed().as_secs_f64());
    let info = e.plan_info(n).unwrap();
    eprintln!("{info:?}");
    let imgs = vec![0.1f32; n * 3 * 224 * 224];
    let s = vec![0.5f32; n * 224 * 224];
    let out = e.run_tensors(&imgs, &s, &RunRequest { profile: true, ..Default::default() }).unwrap();
    for t in &out.timings {
        eprintln!("{:12} {:8.3}s {:8.2} GFLOP {:6.2} GFLOPS ({} dispatches)", t.name, t.seconds, t.flops / 1e9, t.flops / 1e9 / t.seconds, t.dispatches);
    }
}
