// Winograd F(2x2, 3x3), output side: one invocation per (2x2 output tile,
// output channel, image) reads the tile's 16 GEMM results
// m[((img * 16 + e) * cout + oc) * tiles + t], computes Y = Aᵀ m A and applies
// the convolution's epilogue (bias, residual before or after the
// activation) to the up to 4 pixels of the tile inside the image.

struct Params {
    cin: u32, cout: u32, h: u32, w: u32,
    cout4: u32, in_off: u32, in_bs: u32, out_off: u32,
    out_bs: u32, res_off: u32, res_bs: u32, map_bs: u32,
    tw: u32, t0: u32, tiles: u32, img0: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> m: array<st>;
@group(0) @binding(2) var<storage, read> bias: array<st>;
@group(0) @binding(3) var<storage, read_write> dst: array<st>;
{{RESIDUAL_DECL}}

fn add_residual(v: f32, img: u32, oc: u32, hw: u32, p: u32) -> f32 {
{{RESIDUAL_BODY}}
}

fn activate(v: f32) -> f32 {
{{ACT_BODY}}
}

fn store(img: u32, oc: u32, y: u32, x: u32, val: f32) {
    if (y >= P.h || x >= P.w) { return; }
    let hw = P.h * P.w;
    let p = y * P.w + x;
    // The epilogue is conv_common's, which reads lane l of a vec4 of sums.
    let b = vec4<f32>(val + f32(bias[oc]));
    let l = 0u;
    dst[P.out_off + img * P.out_bs + oc * hw + p] = st({{EPILOGUE}});
}

// Aᵀ x for one 4-vector: (x0 + x1 + x2, x1 - x2 - x3).
fn at(x: vec4<f32>) -> vec2<f32> {
    return vec2<f32>(x.x + x.y + x.z, x.y - x.z - x.w);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let tl = gid.x;
    if (tl >= P.tiles) { return; }
    let t = P.t0 + tl;
    let oc = gid.y;
    let img = P.img0 + gid.z;
    let plane = P.cout * P.tiles;
    let base = (gid.z * 16u * P.cout + oc) * P.tiles + tl;
    var rows: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        let e = base + 4u * i * plane;
        rows[i] = vec4<f32>(f32(m[e]), f32(m[e + plane]), f32(m[e + 2u * plane]), f32(m[e + 3u * plane]));
    }
    // Aᵀ m (rows), then (Aᵀ m) A (columns).
    let y0 = at(rows[0] + rows[1] + rows[2]);
    let y1 = at(rows[1] - rows[2] - rows[3]);
    let oy = 2u * (t / P.tw);
    let ox = 2u * (t % P.tw);
    store(img, oc, oy, ox, y0.x);
    store(img, oc, oy, ox + 1u, y0.y);
    store(img, oc, oy + 1u, ox, y1.x);
    store(img, oc, oy + 1u, ox + 1u, y1.y);
}
