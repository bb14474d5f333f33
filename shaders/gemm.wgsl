// Batched, strided GEMM for the co-saliency modules:
//   C[b][i][j] = epilogue( sum_k A[b][i][k] * B[b / B_DIV][k][j] )
// with 4x4 register blocking per invocation. Two uses (see network.rs):
//   1. A'[z] = W[:, rank[z, :]] . NF[n]^T   (RSCF folded into the 1x1 weights: A is
//      gathered through the rank permutation on the fly, never materialised)
//   2. X[z]  = bias + CSA[z] * (A'[z] . NF[n])
// Template values: A_LOAD (plain | gather), EPILOGUE (scale and/or bias).

const TM: u32 = 4u;
const TN: u32 = 4u;

struct Params {
    m: u32, n: u32, k: u32, b_div: u32,
    a_off: u32, a_bs: u32, a_is: u32, a_ks: u32,
    b_off: u32, b_bs: u32, b_ks: u32, b_js: u32,
    c_off: u32, c_bs: u32, c_is: u32, sc_bs: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<st>;
@group(0) @binding(2) var<storage, read> bm: array<st>;
@group(0) @binding(3) var<storage, read_write> c: array<st>;
{{EXTRA_DECL}}

// The fused epilogue: optional per-column scale, then optional per-row bias.
fn epilogue(v0: f32, b: u32, i: u32, j: u32) -> f32 {
{{EPILOGUE}}
}

fn load_a(b: u32, i: u32, k: u32) -> f32 {
{{A_LOAD}}
}

@compute @workgroup_size(16, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j0 = gid.x * TN;
    let i0 = gid.y * TM;
    let b = gid.z;
    if (j0 >= P.n || i0 >= P.m) { return; }
    var ii: array<u32, TM>;
    var jj: array<u32, TN>;
    for (var r = 0u; r < TM; r++) { ii[r] = min(i0 + r, P.m - 1u); }
    for (var s = 0u; s < TN; s++) { jj[s] = min(j0 + s, P.n - 1u); }
    let bb = P.b_off + (b / P.b_div) * P.b_bs;
    var acc: array<array<f32, TN>, TM>;
    for (var k = 0u; k < P.k; k++) {
        var av: array<f32, TM>;
        var bv: array<f32, TN>;
        for (var r = 0u; r < TM; r++) { av[r] = load_a(b, ii[r], k); }
        for (var s = 0u; s < TN; s++) { bv[s] = f32(bm[bb + k * P.b_ks + jj[s] * P.b_js]); }
        for (var r = 0u; r < TM; r++) {
            for (var s = 0u; s < TN; s++) { acc[r][s] = fma(av[r], bv[s], acc[r][s]); }
        }
    }
    for (var r = 0u; r < TM; r++) {
        let i = i0 + r;
        if (i >= P.m) { break; }
        for (var s = 0u; s < TN; s++) {
            let j = j0 + s;
            if (j >= P.n) { break; }
            c[P.c_off + b * P.c_bs + i * P.c_is + j] = st(epilogue(acc[r][s], b, i, j));
        }
    }
}
