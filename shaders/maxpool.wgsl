// 2x2 max-pool, stride 2, no padding. The output size comes from the host:
// floor(h/2) (VGG16; all ICNet sizes are even) or ceil(h/2) (U²-Netp's
// ceil_mode), where the last window hangs over the edge and is clipped.
// One invocation per output element of every (image, channel) plane.

struct Params { planes: u32, h: u32, w: u32, oh: u32, ow: u32, src_off: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<st>;
@group(0) @binding(2) var<storage, read_write> dst: array<st>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * 65535u * 256u;
    if (i >= P.planes * P.oh * P.ow) { return; }
    let plane = i / (P.oh * P.ow);
    let r = i % (P.oh * P.ow);
    let y = 2u * (r / P.ow);
    let x = 2u * (r % P.ow);
    let y1 = min(y + 1u, P.h - 1u);
    let x1 = min(x + 1u, P.w - 1u);
    let base = P.src_off + plane * P.h * P.w;
    let top = max(f32(src[base + y * P.w + x]), f32(src[base + y * P.w + x1]));
    let bot = max(f32(src[base + y1 * P.w + x]), f32(src[base + y1 * P.w + x1]));
    dst[i] = st(max(top, bot));
}
