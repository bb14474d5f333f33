// Co-salient attention (ICNet CFM, Sec. 3.3) for one branch z = 2n + b:
//   w = softmax_m( sum_k <corr[z,m,:], corr[z,k,:]> )   (= <corr[z,m,:], sum_k corr[z,k,:]>)
//   raw[p] = sum_m corr[z,m,p] * w[m];  csa = (raw - min) / (max - min + 1e-12)
// One workgroup per z; group sizes up to MAX_N images.

const WG: u32 = 256u;
const MAX_HW: u32 = 1024u;
const MAX_N: u32 = 1024u;

struct Params { images: u32, hw: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> corr: array<st>;
@group(0) @binding(2) var<storage, read_write> csa: array<st>;

var<workgroup> tot: array<f32, MAX_HW>;
var<workgroup> w: array<f32, MAX_N>;
var<workgroup> lo: array<f32, WG>;
var<workgroup> hi: array<f32, WG>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let z = wid.x;
    let base = z * P.images * P.hw;
    for (var p = t; p < P.hw; p += WG) {
        var acc = 0.0;
        for (var k = 0u; k < P.images; k++) { acc += f32(corr[base + k * P.hw + p]); }
        tot[p] = acc;
    }
    workgroupBarrier();
    for (var m = t; m < P.images; m += WG) {
        var acc = 0.0;
        for (var p = 0u; p < P.hw; p++) { acc = fma(f32(corr[base + m * P.hw + p]), tot[p], acc); }
        w[m] = acc;
    }
    workgroupBarrier();
    if (t == 0u) {
        var mx = w[0];
        for (var m = 1u; m < P.images; m++) { mx = max(mx, w[m]); }
        var sum = 0.0;
        for (var m = 0u; m < P.images; m++) { let e = exp(w[m] - mx); w[m] = e; sum += e; }
        for (var m = 0u; m < P.images; m++) { w[m] = w[m] / sum; }
    }
    workgroupBarrier();
    var l = 3.4e38;
    var h = -3.4e38;
    for (var p = t; p < P.hw; p += WG) {
        var acc = 0.0;
        for (var m = 0u; m < P.images; m++) { acc = fma(f32(corr[base + m * P.hw + p]), w[m], acc); }
        tot[p] = acc;
        l = min(l, acc);
        h = max(h, acc);
    }
    lo[t] = l;
    hi[t] = h;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k /= 2u) {
        if (t < k) { lo[t] = min(lo[t], lo[t + k]); hi[t] = max(hi[t], hi[t + k]); }
        workgroupBarrier();
    }
    let mn = lo[0];
    let den = hi[0] - mn + 1e-12;
    for (var p = t; p < P.hw; p += WG) {
        csa[z * P.hw + p] = st((tot[p] - mn) / den);
    }
}
