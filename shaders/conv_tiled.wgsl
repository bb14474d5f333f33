// Convolution (k x k, stride 1, dilation DIL, zero padding PAD = DIL*(k/2), all uniforms) as an implicit GEMM tiled
// through workgroup memory: a 64-channel x 64-pixel output tile per workgroup
// of 16x16 invocations, K staged 16 rows at a time, 4 channels (one vec4) x 4
// pixels per invocation. The classic layout for discrete GPUs, where staging
// through shared memory saves global bandwidth; CPU adapters prefer
// conv_direct.wgsl. Same bindings, parameters and epilogue (conv_common.wgsl).

const BK: u32 = 16u;

{{COMMON}}

var<workgroup> As: array<vec4<f32>, 256>;  // [BK][16] vec4 = 16 x 64 channels
var<workgroup> Bs: array<f32, 1024>;       // [BK][64] pixels

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
    let hw = P.h * P.w;
    let hi = i32(P.h);
    let wi = i32(P.w);
    let p_base = wid.x * 64u;
    let oc4_base = wid.y * 16u;
    let img = wid.z;
    let K = i32(P.k);
    let DIL = i32(P.dil);
    let PAD = i32(P.pad);
    let ktot = P.cin * u32(K * K);

    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < ktot; k0 += BK) {
        {
            let kk = tid / 16u;
            let c4 = oc4_base + tid % 16u;
            var v = vec4<f32>(0.0);
            if (k0 + kk < ktot && c4 < P.cout4) { v = vec4<f32>(wt[(k0 + kk) * P.cout4 + c4]); }
            As[tid] = v;
        }
        for (var e = 0u; e < 4u; e++) {
            let idx = tid + 256u * e;
            let kk = idx / 64u;
            let p = p_base + idx % 64u;
            let k = k0 + kk;
            var v = 0.0;
            if (k < ktot && p < hw) {
                let ci = k / u32(K * K);
                let rem = i32(k % u32(K * K));
                let y = i32(p / P.w) + (rem / K) * DIL - PAD;
                let x = i32(p % P.w) + (rem % K) * DIL - PAD;
                if (y >= 0 && y < hi && x >= 0 && x < wi) { v = load_x(img, ci, u32(y * wi + x)); }
            }
            Bs[idx] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let wv = As[kk * 16u + lid.y];
            for (var j = 0u; j < 4u; j++) {
                acc[j] = fma(wv, vec4<f32>(Bs[kk * 64u + lid.x + 16u * j]), acc[j]);
            }
        }
        workgroupBarrier();
    }

    for (var j = 0u; j < 4u; j++) {
        store(img, oc4_base + lid.y, p_base + lid.x + 16u * j, acc[j]);
    }
}
