use icnet_engine::kernels::conv::{self, Act, ConvInput, ConvVariant, Residual};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let v = ConvVariant::parse(&a[1]).unwrap();
    let k: usize = a[2].parse().unwrap();
    let inp = ConvInput::Plain {
        t: icnet_engine::plan::TensorId(0),
        off: 0,
        bs: 0,
    };
    print!(
        "{}",
        conv::kernel(v, k, 1, &inp, Residual::None, Act::Relu).source()
    );
}
