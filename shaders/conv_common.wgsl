// Shared by conv_direct.wgsl and conv_tiled.wgsl (spliced in by kernels/conv.rs):
// parameters, bindings, the input loader, and the fused epilogue.

struct Params {
    cin: u32, cout: u32, h: u32, w: u32,
    cout4: u32, in_off: u32, in_bs: u32, out_off: u32,
    out_bs: u32, res_off: u32, res_bs: u32, map_bs: u32,
    // Kernel size (the tiled kernel's loop; the direct body is generated per
    // size), tap spacing and zero padding (dil * (k / 2)): uniforms, so that
    // dilated layers share a pipeline.
    k: u32, dil: u32, pad: u32, _unused: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> wt: array<vec4<st>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<st>>;
@group(0) @binding(3) var<storage, read_write> dst: array<st>;
{{INPUT_DECL}}
{{RESIDUAL_DECL}}

// Input value at channel ci, pixel index pix of image img (pixel in range).
fn load_x(img: u32, ci: u32, pix: u32) -> f32 {
{{INPUT_BODY}}
}

// Adds the residual input (Res blocks) or returns v unchanged.
fn add_residual(v: f32, img: u32, oc: u32, hw: u32, p: u32) -> f32 {
{{RESIDUAL_BODY}}
}

fn activate(v: f32) -> f32 {
{{ACT_BODY}}
}

// Epilogue for output channels 4*oc4 .. 4*oc4+3 at pixel p: bias, then the
// residual before or after the activation (ICNet's Res / U²-Netp's RSU); anything outside the tensor is skipped.
fn store(img: u32, oc4: u32, p: u32, v: vec4<f32>) {
    let hw = P.h * P.w;
    if (p >= hw || oc4 >= P.cout4) { return; }
    let b = v + vec4<f32>(bias[oc4]);
    for (var l = 0u; l < 4u; l++) {
        let oc = oc4 * 4u + l;
        if (oc < P.cout) {
            dst[P.out_off + img * P.out_bs + oc * hw + p] = st({{EPILOGUE}});
        }
    }
}
