use icnet_engine::gpu::{Gpu, GpuOptions};
use icnet_engine::kernels::conv::{self, Act, ConvCall, ConvVariant};
use icnet_engine::plan::{Graph, Plan, Role};
use icnet_engine::weights::ConvWeights;
fn main() {
    let v = ConvVariant::parse(&std::env::args().nth(1).unwrap_or("direct-4x8".into())).unwrap();
    let gpu = Gpu::new_blocking(&GpuOptions::default()).unwrap();
    let (c, h) = (256, 28);
    let cw = ConvWeights { out_ch: c, in_ch: c, k: 3, weight: vec![0.01; c * c * 9], bias: vec![0.0; c] };
    let mut g = Graph::new();
    let x = g.tensor("x", c * h * h, Role::Input);
    let y = g.tensor("y", c * h * h, Role::Output);
    let l = conv::upload(&mut g, &cw);
    conv::push(&mut g, v, &ConvCall::simple(l, 1, h, h, x, y, Act::Relu));
    let plan = Plan::compile(&gpu, g).unwrap();
    let input = vec![0.5f32; c * h * h];
    let inputs = [(x, bytemuck::cast_slice::<f32, u8>(&input))];
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        plan.run(&gpu, &inputs, &[y]).unwrap();
        let s = t0.elapsed().as_secs_f64();
        println!("{} {:.3}s {:.2} GFLOPS", v.label(), s, 0.925 / s);
    }
}
