// 2x2 max-pool, stride 2, no padding (all ICNet sizes are even, so floor = exact).
// One invocation per output element of every (image, channel) plane.

struct Params { planes: u32, h: u32, w: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let oh = P.h / 2u;
    let ow = P.w / 2u;
    let i = gid.x + gid.y * 65535u * 256u;
    if (i >= P.planes * oh * ow) { return; }
    let plane = i / (oh * ow);
    let r = i % (oh * ow);
    let y = 2u * (r / ow);
    let x = 2u * (r % ow);
    let base = plane * P.h * P.w + y * P.w + x;
    dst[i] = max(max(src[base], src[base + 1u]), max(src[base + P.w], src[base + P.w + 1u]));
}
