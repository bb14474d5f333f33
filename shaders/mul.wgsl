// dst[i] = a[i] * b[i] * scale: the training-free model's final map,
// SISM x mean of the co-salient attention maps.

struct Params { n: u32, scale: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<st>;
@group(0) @binding(2) var<storage, read> b: array<st>;
@group(0) @binding(3) var<storage, read_write> dst: array<st>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * 65535u * 256u;
    if (i >= P.n) { return; }
    dst[i] = st(f32(a[i]) * f32(b[i]) * P.scale);
}
