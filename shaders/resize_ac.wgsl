// Bilinear resize, exactly PyTorch's CPU kernel (upsample_bilinear2d).
// align_corners=True: src = scale * i with scale = (in-1)/(out-1);
// HALF_PIXEL (align_corners=False): src = max(scale * (i + 0.5) - 0.5, 0) with
// scale = in/out. The scale is computed on the host in f32 (a shader division
// is not correctly rounded), i0 = floor,
// i1 = i0 + (i0 < in-1), lambda clamped to [0,1]. No antialiasing, also when
// downsampling 224 -> 7 (point sampling, as ICNet does).
//
// Planes are addressed as (image, channel) with batch strides so a resize can
// read from or write into a slice of a bigger tensor (a chunk of the group, or
// the even/odd fore/back interleave of the co-saliency modules).
// ONE_MINUS reads 1 - x (ICNet computes 1 - SISM at 224 before resizing);
// ADD_BASE writes base + resize(x) (the merge of two co-saliency levels).

const ONE_MINUS: bool = {{ONE_MINUS}};
const HALF_PIXEL: bool = {{HALF_PIXEL}};

fn source(scale: f32, i: u32) -> f32 {
    if (HALF_PIXEL) { return max(scale * (f32(i) + 0.5) - 0.5, 0.0); }
    return scale * f32(i);
}

struct Params {
    planes: u32, channels: u32, in_h: u32, in_w: u32,
    out_h: u32, out_w: u32, in_off: u32, in_bs: u32,
    out_off: u32, out_bs: u32, scale_h: f32, scale_w: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<st>;
@group(0) @binding(2) var<storage, read_write> dst: array<st>;
{{BASE_DECL}}

// base + v for a merge, else v.
fn add_base(v: f32, idx: u32) -> f32 {
{{BASE_BODY}}
}

fn px(base: u32, y: u32, x: u32) -> f32 {
    let v = f32(src[base + y * P.in_w + x]);
    if (ONE_MINUS) { return 1.0 - v; }
    return v;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let ohw = P.out_h * P.out_w;
    let i = gid.x + gid.y * 65535u * 256u;
    if (i >= P.planes * ohw) { return; }
    let plane = i / ohw;
    let r = i % ohw;
    let oy = r / P.out_w;
    let ox = r % P.out_w;
    let img = plane / P.channels;
    let ch = plane % P.channels;

    let sy = source(P.scale_h, oy);
    let y0 = u32(floor(sy));
    let y1 = select(y0, y0 + 1u, y0 < P.in_h - 1u);
    let ly1 = clamp(sy - f32(y0), 0.0, 1.0);
    let ly0 = 1.0 - ly1;
    let sx = source(P.scale_w, ox);
    let x0 = u32(floor(sx));
    let x1 = select(x0, x0 + 1u, x0 < P.in_w - 1u);
    let lx1 = clamp(sx - f32(x0), 0.0, 1.0);
    let lx0 = 1.0 - lx1;

    let base = P.in_off + img * P.in_bs + ch * P.in_h * P.in_w;
    let top = px(base, y0, x0) * lx0 + px(base, y0, x1) * lx1;
    let bot = px(base, y1, x0) * lx0 + px(base, y1, x1) * lx1;
    let v = top * ly0 + bot * ly1;
    let o = P.out_off + img * P.out_bs + ch * ohw + r;
    dst[o] = st(add_base(v, plane * ohw + r));
}
