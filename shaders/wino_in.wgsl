// Winograd F(2x2, 3x3), input side: one invocation per (2x2 output tile,
// input channel, image) loads the tile's 4x4 input patch (zero outside the
// image, as the convolution's padding) and writes V = Bᵀ d B, the 16 values
// the GEMM step multiplies by the transformed weights:
// v[((img * 16 + e) * cin + ci) * tiles + t], e = 4 * row + column of V.
// A pass covers the tile range [t0, t0 + tiles) so that v fits one binding.

struct Params {
    cin: u32, cout: u32, h: u32, w: u32,
    cout4: u32, in_off: u32, in_bs: u32, out_off: u32,
    out_bs: u32, res_off: u32, res_bs: u32, map_bs: u32,
    tw: u32, t0: u32, tiles: u32, img0: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> v: array<st>;
{{INPUT_DECL}}

// Input value at channel ci, pixel index pix of image img (pixel in range).
fn load_x(img: u32, ci: u32, pix: u32) -> f32 {
{{INPUT_BODY}}
}

// Row r of the patch (input rows y0 + r, columns x0 .. x0 + 3), zero outside.
fn patch_row(img: u32, ci: u32, yy: i32, x0: i32) -> vec4<f32> {
    let hi = i32(P.h);
    let wi = i32(P.w);
    let yc = clamp(yy, 0, hi - 1);
    let row_ok = yy >= 0 && yy < hi;
    var out = vec4<f32>(0.0);
    for (var c = 0; c < 4; c++) {
        let xx = x0 + c;
        let val = load_x(img, ci, u32(yc * wi + clamp(xx, 0, wi - 1)));
        out[c] = select(0.0, val, row_ok && xx >= 0 && xx < wi);
    }
    return out;
}

// Bᵀ x for one 4-vector: (x0 - x2, x1 + x2, x2 - x1, x1 - x3).
fn bt(x: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(x.x - x.z, x.y + x.z, x.z - x.y, x.y - x.w);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let tl = gid.x;
    if (tl >= P.tiles) { return; }
    let t = P.t0 + tl;
    let ci = gid.y;
    let img = P.img0 + gid.z;
    let y0 = 2 * i32(t / P.tw) - 1;
    let x0 = 2 * i32(t % P.tw) - 1;
    let d0 = patch_row(img, ci, y0, x0);
    let d1 = patch_row(img, ci, y0 + 1, x0);
    let d2 = patch_row(img, ci, y0 + 2, x0);
    let d3 = patch_row(img, ci, y0 + 3, x0);
    // Bᵀ d (rows), then (Bᵀ d) B (columns, i.e. bt on each row).
    let r0 = bt(d0 - d2);
    let r1 = bt(d1 + d2);
    let r2 = bt(d2 - d1);
    let r3 = bt(d1 - d3);
    let plane = P.cin * P.tiles;
    let base = (gid.z * 16u * P.cin + ci) * P.tiles + tl;
    for (var j = 0u; j < 4u; j++) {
        v[base + j * plane] = st(r0[j]);
        v[base + (4u + j) * plane] = st(r1[j]);
        v[base + (8u + j) * plane] = st(r2[j]);
        v[base + (12u + j) * plane] = st(r3[j]);
    }
}
