// Convolution (k x k, stride 1, zero padding k/2) as an implicit GEMM,
// register-blocked, with no workgroup memory.
//
// Each invocation computes TN output pixels (strided by the workgroup width,
// so neighbouring invocations read neighbouring pixels) x 4*R output channels.
// The body is generated fully unrolled by kernels/conv.rs: accumulators,
// tap offsets and border masks are plain named registers, because CPU
// rasterisers (lavapipe, SwiftShader) spill dynamically indexed arrays to
// memory. Borders are handled by clamped addresses and a select, computed once
// per invocation outside the channel loop, so the inner loop has no branches.
// Weights are stored [k*k*cin][cout4] as vec4: one load feeds 4 channels.

const WGX: u32 = {{WGX}}u;

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

// Input value at channel ci, pixel index pix of image img (pixel in range).
fn load_x(img: u32, ci: u32, pix: u32) -> f32 {
{{INPUT_BODY}}
}

fn activate(v: f32) -> f32 {
{{ACT_BODY}}
}

fn store(img: u32, oc4: u32, p: u32, v: vec4<f32>) {
    let hw = P.h * P.w;
    if (p >= hw || oc4 >= P.cout4) { return; }
    let b = v + bias[oc4];
    for (var l = 0u; l < 4u; l++) {
        let oc = oc4 * 4u + l;
        if (oc < P.cout) {
            dst[P.out_off + img * P.out_bs + oc * hw + p] = activate(add_residual(b[l], img, oc, hw, p));
        }
    }
}

@compute @workgroup_size({{WGX}}, {{WGY}}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let hw = P.h * P.w;
    let hi = i32(P.h);
    let wi = i32(P.w);
    let p0 = wid.x * (WGX * {{TN}}u) + lid.x;
    let oc4_0 = wid.y * {{R}}u;
    let img = wid.z;
{{BODY}}
}
