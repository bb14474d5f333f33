// Channel-wise L2 normalisation, F.normalize(x, dim=1, eps=1e-12):
// y[c,p] = x[c,p] / max(||x[:,p]||, 1e-12). One invocation per pixel.

struct Params { images: u32, channels: u32, hw: u32, in_off: u32, in_bs: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<st>;
@group(0) @binding(2) var<storage, read_write> dst: array<st>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p = gid.x;
    let img = gid.y;
    if (p >= P.hw || img >= P.images) { return; }
    let base = P.in_off + img * P.in_bs + p;
    var ss = 0.0;
    for (var c = 0u; c < P.channels; c++) {
        let v = f32(src[base + c * P.hw]);
        ss = fma(v, v, ss);
    }
    let inv = 1.0 / max(sqrt(ss), 1e-12);
    let obase = img * P.channels * P.hw + p;
    for (var c = 0u; c < P.channels; c++) {
        dst[obase + c * P.hw] = st(f32(src[base + c * P.hw]) * inv);
    }
}
