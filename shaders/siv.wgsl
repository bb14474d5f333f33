// Single-image vectors (ICNet Sec. 3.2): SIV[z] = normalize(mean_hw(NF[n] * S[z])).
// z = 2n + b interleaves the foreground (b = 0) and background (b = 1) branches
// of one co-saliency module, so both share every later kernel.
// One workgroup per z; the spatial mean follows PyTorch's order (mean over W,
// then over H).

const WG: u32 = 256u;
// 2 for ICNet's fore/back pair, 1 for the training-free model's foreground only.
const BRANCHES: u32 = {{BRANCHES}}u;
const MAX_C: u32 = 512u;

struct Params { branches: u32, channels: u32, h: u32, w: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> nf: array<st>;
@group(0) @binding(2) var<storage, read> s: array<st>;
@group(0) @binding(3) var<storage, read_write> siv: array<st>;

var<workgroup> vals: array<f32, MAX_C>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let z = wid.x;
    let n = z / BRANCHES;
    let hw = P.h * P.w;
    var ss = 0.0;
    for (var c = t; c < P.channels; c += WG) {
        var acc = 0.0;
        for (var y = 0u; y < P.h; y++) {
            var row = 0.0;
            for (var x = 0u; x < P.w; x++) {
                let p = y * P.w + x;
                row += f32(nf[(n * P.channels + c) * hw + p]) * f32(s[z * hw + p]);
            }
            acc += row / f32(P.w);
        }
        let v = acc / f32(P.h);
        vals[c] = v;
        ss = fma(v, v, ss);
    }
    red[t] = ss;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k /= 2u) {
        if (t < k) { red[t] += red[t + k]; }
        workgroupBarrier();
    }
    let inv = 1.0 / max(sqrt(red[0]), 1e-12);
    for (var c = t; c < P.channels; c += WG) {
        siv[z * P.channels + c] = st(vals[c] * inv);
    }
}
