// Correlation maps (ICNet CFM, Sec. 3.3): corr[z, m, :] = normalize_hw(<NF[n, :, p], SIV[2m + b]>)
// for z = 2n + b. One workgroup per (z, m); the map stays in workgroup memory
// for the spatial L2 norm.

const WG: u32 = 256u;
const MAX_HW: u32 = 1024u;

// 2 for ICNet's fore/back pair, 1 for the training-free model's foreground only.
const BRANCHES: u32 = {{BRANCHES}}u;

struct Params { images: u32, channels: u32, hw: u32, _p: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> nf: array<st>;
@group(0) @binding(2) var<storage, read> siv: array<st>;
@group(0) @binding(3) var<storage, read_write> corr: array<st>;

var<workgroup> map: array<f32, MAX_HW>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let m = wid.x;
    let z = wid.y;
    let n = z / BRANCHES;
    let b = z % BRANCHES;
    let sbase = (BRANCHES * m + b) * P.channels;
    var ss = 0.0;
    for (var p = t; p < P.hw; p += WG) {
        var acc = 0.0;
        for (var c = 0u; c < P.channels; c++) {
            acc = fma(f32(nf[(n * P.channels + c) * P.hw + p]), f32(siv[sbase + c]), acc);
        }
        map[p] = acc;
        ss = fma(acc, acc, ss);
    }
    red[t] = ss;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k /= 2u) {
        if (t < k) { red[t] += red[t + k]; }
        workgroupBarrier();
    }
    let inv = 1.0 / max(sqrt(red[0]), 1e-12);
    let obase = (z * P.images + m) * P.hw;
    for (var p = t; p < P.hw; p += WG) {
        corr[obase + p] = st(map[p] * inv);
    }
}
