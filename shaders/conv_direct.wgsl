// Convolution (k x k, stride 1, zero padding k/2) as an implicit GEMM,
// register-blocked, with no workgroup memory.
//
// Each invocation computes TN consecutive output pixels x (4*R) output
// channels and keeps them in registers; weights are stored [k*k*cin][cout4]
// as vec4 so one load feeds four output channels. CPU rasterisers (lavapipe,
// SwiftShader) emulate workgroup barriers expensively, so this variant beats
// the shared-memory tiled one there (see ARCHITECTURE.md for the numbers).
//
// Template values: K, TN, R, WGX, WGY, ACT (0 none, 1 relu, 2 sigmoid),
// RESIDUAL_DECL/RESIDUAL_BODY, and the input loader INPUT (plain | concat).

const K: i32 = {{K}};
const PAD: i32 = {{K}} / 2;
const TN: u32 = {{TN}}u;
const R: u32 = {{R}}u;
const ACT: u32 = {{ACT}}u;

struct Params {
    cin: u32, cout: u32, h: u32, w: u32,
    cout4: u32, in_off: u32, in_bs: u32, out_off: u32,
    out_bs: u32, res_off: u32, res_bs: u32, map_bs: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
{{INPUT_DECL}}
{{RESIDUAL_DECL}}

// Adds the residual input (Res blocks) or returns v unchanged.
fn add_residual(v: f32, img: u32, oc: u32, hw: u32, p: u32) -> f32 {
{{RESIDUAL_BODY}}
}

// Input value at channel ci, pixel index pix of image img (pixel known in range).
fn load_x(img: u32, ci: u32, pix: u32) -> f32 {
{{INPUT_BODY}}
}

fn activate(v: f32) -> f32 {
    if (ACT == 1u) { return max(v, 0.0); }
    if (ACT == 2u) { return 1.0 / (1.0 + exp(-v)); }
    return v;
}

@compute @workgroup_size({{WGX}}, {{WGY}}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let hw = P.h * P.w;
    let p0 = gid.x * TN;
    let oc4_0 = gid.y * R;
    let img = gid.z;
    if (p0 >= hw || oc4_0 >= P.cout4) { return; }

    var py: array<i32, TN>;
    var px: array<i32, TN>;
    for (var j = 0u; j < TN; j++) {
        let p = min(p0 + j, hw - 1u);
        py[j] = i32(p / P.w);
        px[j] = i32(p % P.w);
    }
    // Out-of-range channel groups read a valid (clamped) weight and are never written.
    var oc4: array<u32, R>;
    for (var r = 0u; r < R; r++) { oc4[r] = min(oc4_0 + r, P.cout4 - 1u); }

    var acc: array<array<vec4<f32>, R>, TN>;
    let hi = i32(P.h);
    let wi = i32(P.w);
    for (var ci = 0u; ci < P.cin; ci++) {
        for (var ky = 0; ky < K; ky++) {
            for (var kx = 0; kx < K; kx++) {
                var xv: array<f32, TN>;
                for (var j = 0u; j < TN; j++) {
                    let y = py[j] + ky - PAD;
                    let x = px[j] + kx - PAD;
                    if (PAD == 0 || (y >= 0 && y < hi && x >= 0 && x < wi)) {
                        xv[j] = load_x(img, ci, u32(y * wi + x));
                    } else {
                        xv[j] = 0.0;
                    }
                }
                let krow = (ci * u32(K * K) + u32(ky * K + kx)) * P.cout4;
                for (var r = 0u; r < R; r++) {
                    let wv = wt[krow + oc4[r]];
                    for (var j = 0u; j < TN; j++) {
                        acc[j][r] = fma(wv, vec4<f32>(xv[j]), acc[j][r]);
                    }
                }
            }
        }
    }

    for (var r = 0u; r < R; r++) {
        if (oc4_0 + r >= P.cout4) { break; }
        let b = bias[oc4_0 + r];
        for (var j = 0u; j < TN; j++) {
            let p = p0 + j;
            if (p >= hw) { break; }
            let v = acc[j][r] + b;
            for (var l = 0u; l < 4u; l++) {
                let oc = (oc4_0 + r) * 4u + l;
                if (oc >= P.cout) { break; }
                dst[P.out_off + img * P.out_bs + oc * hw + p] = activate(add_residual(v[l], img, oc, hw, p));
            }
        }
    }
}
