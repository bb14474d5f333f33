//! The side-by-side picture of one photo: photo | SISM | co-saliency map |
//! overlay, each at the photo's size with a white gap, as one PNG. People
//! judge maps faster by looking than by reading numbers.

use image::{Rgb, RgbImage};

/// Gap between panels, in pixels.
const GAP: u32 = 6;

/// `rgb` (HWC), `sism` and `map` (8-bit grey), all `width x height`.
pub fn side_by_side(rgb: &[u8], sism: &[u8], map: &[u8], width: u32, height: u32) -> RgbImage {
    let (w, h) = (width, height);
    let mut out = RgbImage::from_pixel(4 * w + 3 * GAP, h, Rgb([255, 255, 255]));
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) as usize;
            let px = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
            out.put_pixel(x, y, Rgb(px));
            out.put_pixel(w + GAP + x, y, Rgb([sism[i]; 3]));
            out.put_pixel(2 * (w + GAP) + x, y, Rgb([map[i]; 3]));
            out.put_pixel(3 * (w + GAP) + x, y, Rgb(overlay(px, map[i])));
        }
    }
    out
}

/// The photo where the map is high, darkened and desaturated elsewhere,
/// with a warm tint on the found object so its outline reads at a glance.
fn overlay(px: [u8; 3], m: u8) -> [u8; 3] {
    let a = f32::from(m) / 255.0;
    let grey = (f32::from(px[0]) + f32::from(px[1]) + f32::from(px[2])) / 3.0;
    let tint = [255.0, 80.0, 40.0];
    let mut o = [0u8; 3];
    for c in 0..3 {
        let bg = 0.35 * grey;
        let fg = 0.8 * f32::from(px[c]) + 0.2 * tint[c];
        o[c] = (bg + a * (fg - bg)).round().clamp(0.0, 255.0) as u8;
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_are_placed_side_by_side() {
        let rgb = vec![10u8, 20, 30, 40, 50, 60];
        let pic = side_by_side(&rgb, &[0, 255], &[255, 0], 2, 1);
        assert_eq!(pic.dimensions(), (8 + 3 * GAP, 1));
        assert_eq!(pic.get_pixel(1, 0).0, [40, 50, 60]);
        assert_eq!(pic.get_pixel(2 + GAP + 1, 0).0, [255; 3]);
        assert_eq!(pic.get_pixel(2 * (2 + GAP), 0).0, [255; 3]);
        // Where the map is 0 the overlay is the darkened grey photo.
        assert_eq!(pic.get_pixel(3 * (2 + GAP) + 1, 0).0, [18; 3]);
    }
}
