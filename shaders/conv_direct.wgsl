// Convolution (k x k, stride 1, dilation d, zero padding d*(k/2)) as an implicit GEMM,
// register-blocked, with no workgroup memory.
//
// Each invocation computes TN output pixels (strided by the workgroup width,
// so neighbouring invocations read neighbouring pixels) x 4*R output channels.
// The body is generated fully unrolled by kernels/conv.rs: accumulators,
// tap offsets and border masks are plain named registers, because CPU
// rasterisers (lavapipe, SwiftShader) spill dynamically indexed arrays to
// memory. Borders are handled by clamped addresses and a select, computed once
// per invocation outside the channel loop, so the inner loop has no branches.
// The dilation is a uniform: dilated layers share their 3x3 pipeline.
// Weights are stored [k*k*cin][cout4] as vec4: one load feeds 4 channels.

const WGX: u32 = {{WGX}}u;

{{COMMON}}

@compute @workgroup_size({{WGX}}, {{WGY}}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>{{LANE}}) {
    let hw = P.h * P.w;
    let hi = i32(P.h);
    let wi = i32(P.w);
    let p0 = wid.x * (WGX * {{TN}}u) + lid.x;
    let oc4_0 = wid.y * {{R}}u;
    let img = wid.z;
{{BODY}}
}
