// Stable descending sort of each branch's CSA keys, as ranks (the inverse
// permutation): rank[p] = #{q : key[q] > key[p]} + #{q < p : key[q] == key[p]}.
// Ties go to the lower flat index, a convention as good as PyTorch's
// unspecified one (SPEC 9). Counting is O(HW^2) = 615k compares per Co4 map,
// trivially parallel and exact, and needs no workgroup memory or barriers.

struct Params { branches: u32, hw: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> key: array<st>;
@group(0) @binding(2) var<storage, read_write> rank: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p = gid.x;
    let z = gid.y;
    if (p >= P.hw || z >= P.branches) { return; }
    let base = z * P.hw;
    let kp = f32(key[base + p]);
    var r = 0u;
    for (var q = 0u; q < P.hw; q++) {
        let kq = f32(key[base + q]);
        r += select(0u, 1u, kq > kp || (kq == kp && q < p));
    }
    rank[base + p] = r;
}
