//! Saliency-map metrics, computed exactly as PyPI `pysodmetrics` 1.6.2 does,
//! so that scores can be compared with published tables:
//!
//! - S-measure (structure measure, alpha = 0.5): Fan, Cheng, Liu, Li and
//!   Borji, "Structure-measure: A new way to evaluate foreground maps",
//!   ICCV 2017.
//! - E-measure (enhanced-alignment measure): Fan, Gong, Cao, Ren, Cheng and
//!   Borji, "Enhanced-alignment Measure for Binary Foreground Map
//!   Evaluation", IJCAI 2018.
//! - F-measure with beta² = 0.3: Achanta, Hemami, Estrada and Süsstrunk,
//!   "Frequency-tuned salient region detection", CVPR 2009.
//! - MAE (mean absolute error): Perazzi, Krähenbühl, Pritch and Hornung,
//!   "Saliency filters", CVPR 2012.
//!
//! Inputs are 8-bit grey maps. As pysodmetrics' `step(pred, gt)`: the
//! prediction becomes `v / 255` and is then min-max normalised to [0, 1]
//! (left as is when constant); the ground truth is foreground where `v > 128`.
//! E and F are computed for the 256 thresholds `t` (binary map `255 * p >= t`,
//! with `255 * p` truncated to an integer) and also for the adaptive threshold
//! `min(2 * mean(p), 1)`.
//!
//! Over a dataset ([`Metrics`]), S, MAE and the adaptive scores are the mean
//! of the per-image values; the E and F curves are averaged over the images
//! first, and max/mean are taken of the averaged curve.
//!
//! Everything is f64 and follows pysodmetrics' (numpy's) order of operations,
//! summation order included (pairwise, and strided views through numpy's
//! 8192-element buffer, as numpy 2.3 does): S-measure has discontinuous
//! branches (the SSIM of a constant prediction over a constant quadrant is 1
//! only if the variance comes out exactly 0), so a different rounding could
//! change a score by much more than one ulp.
//!
//! pysodmetrics behaviours kept on purpose (they are what published numbers
//! use):
//! - E divides by `N - 1 + eps`, not `N`: a perfect prediction scores
//!   `N / (N - 1)`, above 1, and a 1×1 image about 4.5e15.
//! - An empty ground truth gives F = 0 at every threshold, even for a perfect
//!   (all-black) prediction; its E is the predicted background over `N - 1`.
//! - The adaptive threshold of an all-black prediction is 0, which marks
//!   every pixel foreground.
//! - S-measure is NaN when the ground truth is mixed and the rounded
//!   foreground centroid lies on the last row or column (always for a
//!   one-row or one-column image): one of the four SSIM regions is then
//!   empty and its mean is NaN. A NaN makes the dataset's S NaN too.

use crate::{Error, Result};

/// Number of thresholds of the E and F curves (0..=255).
pub const THRESHOLDS: usize = 256;
/// F-measure's beta² (pysodmetrics calls it `beta`).
pub const BETA2: f64 = 0.3;
/// S-measure's weight of the object score against the region score.
pub const ALPHA: f64 = 0.5;
/// numpy's `np.spacing(1)`, which pysodmetrics adds to denominators.
const EPS: f64 = f64::EPSILON;
/// numpy's pairwise summation: blocks up to this size are summed with 8
/// accumulators.
const PW_BLOCKSIZE: usize = 128;
/// numpy's iterator buffer (elements) used when reducing a strided view.
const NP_BUFSIZE: usize = 8192;

/// One prediction and its ground truth, both 8-bit grey, row-major,
/// `width * height` pixels.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    pub pred: &'a [u8],
    pub gt: &'a [u8],
    pub width: usize,
    pub height: usize,
}

/// The scores of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageScores {
    pub s_measure: f64,
    pub mae: f64,
    /// E-measure at the adaptive threshold `min(2 * mean, 1)`.
    pub adaptive_e: f64,
    /// F-measure at the adaptive threshold `min(2 * mean, 1)`.
    pub adaptive_f: f64,
    /// E-measure at threshold `t` (foreground where `trunc(255 * p) >= t`),
    /// indexed by `t`. (pysodmetrics' curve runs the other way, from 255 down to 0.)
    pub e_curve: [f64; THRESHOLDS],
    /// F-measure at threshold `t`, indexed by `t`.
    pub f_curve: [f64; THRESHOLDS],
}

/// Dataset scores, see [`Metrics::scores`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub images: usize,
    pub s_measure: f64,
    pub max_e: f64,
    pub mean_e: f64,
    pub adaptive_e: f64,
    pub max_f: f64,
    pub mean_f: f64,
    pub adaptive_f: f64,
    pub mae: f64,
}

impl Scores {
    /// The names of the scores, as in `icnet eval --json`.
    pub const NAMES: [&'static str; 8] = [
        "s_measure",
        "max_e",
        "mean_e",
        "adaptive_e",
        "max_f",
        "mean_f",
        "adaptive_f",
        "mae",
    ];

    /// The score called `name` (one of [`Scores::NAMES`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "s_measure" => self.s_measure,
            "max_e" => self.max_e,
            "mean_e" => self.mean_e,
            "adaptive_e" => self.adaptive_e,
            "max_f" => self.max_f,
            "mean_f" => self.mean_f,
            "adaptive_f" => self.adaptive_f,
            "mae" => self.mae,
            _ => return None,
        })
    }
}

/// Accumulates images of one dataset (or group) in the order they are added.
#[derive(Clone, Debug)]
pub struct Metrics {
    s: Vec<f64>,
    mae: Vec<f64>,
    adaptive_e: Vec<f64>,
    adaptive_f: Vec<f64>,
    /// Column sums of the curves, added image by image (numpy's axis-0 sum).
    e_sum: [f64; THRESHOLDS],
    f_sum: [f64; THRESHOLDS],
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            s: Vec::new(),
            mae: Vec::new(),
            adaptive_e: Vec::new(),
            adaptive_f: Vec::new(),
            e_sum: [0.0; THRESHOLDS],
            f_sum: [0.0; THRESHOLDS],
        }
    }
}

impl Metrics {
    /// Scores one image and adds it. Sizes that do not match are an error
    /// (nothing is resized, as in pysodmetrics), and nothing is added.
    pub fn add(&mut self, pred: &[u8], gt: &[u8], width: usize, height: usize) -> Result<()> {
        let scores = ImageScores::compute(Sample {
            pred,
            gt,
            width,
            height,
        })?;
        self.push(&scores);
        Ok(())
    }

    /// Adds an image scored before (to pool one image into several groups).
    pub fn push(&mut self, image: &ImageScores) {
        self.s.push(image.s_measure);
        self.mae.push(image.mae);
        self.adaptive_e.push(image.adaptive_e);
        self.adaptive_f.push(image.adaptive_f);
        for t in 0..THRESHOLDS {
            self.e_sum[t] += image.e_curve[t];
            self.f_sum[t] += image.f_curve[t];
        }
    }

    /// Number of images added.
    pub fn len(&self) -> usize {
        self.s.len()
    }

    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// The dataset's scores; `None` without images (pysodmetrics gives NaN).
    pub fn scores(&self) -> Option<Scores> {
        if self.is_empty() {
            return None;
        }
        let n = self.len() as f64;
        let mean = |v: &[f64]| np_sum(v) / n;
        let e_curve: Vec<f64> = self.e_sum.iter().map(|s| s / n).collect();
        let f_curve: Vec<f64> = self.f_sum.iter().map(|s| s / n).collect();
        Some(Scores {
            images: self.len(),
            s_measure: mean(&self.s),
            max_e: np_max(&e_curve),
            mean_e: np_sum(&e_curve) / THRESHOLDS as f64,
            adaptive_e: mean(&self.adaptive_e),
            max_f: np_max(&f_curve),
            mean_f: np_sum(&f_curve) / THRESHOLDS as f64,
            adaptive_f: mean(&self.adaptive_f),
            mae: mean(&self.mae),
        })
    }
}

impl ImageScores {
    /// Scores one prediction against its ground truth.
    pub fn compute(sample: Sample) -> Result<ImageScores> {
        let Sample {
            pred,
            gt,
            width,
            height,
        } = sample;
        let n = width
            .checked_mul(height)
            .ok_or_else(|| Error::Image(format!("The size {width}x{height} is too large.")))?;
        if n == 0 {
            return Err(Error::Image(format!(
                "The image has no pixels ({width}x{height})."
            )));
        }
        if pred.len() != n || gt.len() != n {
            return Err(Error::Image(format!(
                "The prediction has {} pixels and the ground truth {}, but {width}x{height} needs {n}.",
                pred.len(),
                gt.len()
            )));
        }
        let p = normalize(pred);
        let g: Vec<bool> = gt.iter().map(|&v| v > 128).collect();
        let fg = g.iter().filter(|&&x| x).count();

        let mae = np_sum(
            &p.iter()
                .zip(&g)
                .map(|(&x, &y)| (x - f64::from(u8::from(y))).abs())
                .collect::<Vec<_>>(),
        ) / n as f64;

        // Histograms of trunc(255 p) over the foreground and the background;
        // suffix sums give the pixel counts at or above each threshold.
        let mut fg_hist = [0usize; THRESHOLDS];
        let mut bg_hist = [0usize; THRESHOLDS];
        for (&x, &y) in p.iter().zip(&g) {
            let q = (x * 255.0) as u8 as usize;
            if y {
                fg_hist[q] += 1;
            } else {
                bg_hist[q] += 1;
            }
        }
        let mut e_curve = [0.0; THRESHOLDS];
        let mut f_curve = [0.0; THRESHOLDS];
        let (mut tp, mut fp) = (0, 0);
        for t in (0..THRESHOLDS).rev() {
            tp += fg_hist[t];
            fp += bg_hist[t];
            e_curve[t] = e_measure(tp, fp, fg, n);
            f_curve[t] = f_measure(tp, fp, fg);
        }

        let threshold = (2.0 * (np_sum(&p) / n as f64)).min(1.0);
        let (mut tp, mut fp) = (0, 0);
        for (&x, &y) in p.iter().zip(&g) {
            if x >= threshold {
                if y {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
        }
        let adaptive_e = e_measure(tp, fp, fg, n);
        let adaptive_f = adaptive_f_measure(tp, fp, fg);

        let s_measure = s_measure(&p, &g, fg, width, height);
        Ok(ImageScores {
            s_measure,
            mae,
            adaptive_e,
            adaptive_f,
            e_curve,
            f_curve,
        })
    }
}

/// `pred / 255`, then min-max normalised unless constant (MATLAB's
/// `mapminmax(im2double(pred))`, as pysodmetrics' `prepare_data`).
fn normalize(pred: &[u8]) -> Vec<f64> {
    let p: Vec<f64> = pred.iter().map(|&v| f64::from(v) / 255.0).collect();
    let lo = f64::from(*pred.iter().min().unwrap_or(&0)) / 255.0;
    let hi = f64::from(*pred.iter().max().unwrap_or(&0)) / 255.0;
    if hi == lo {
        return p;
    }
    p.iter().map(|&x| (x - lo) / (hi - lo)).collect()
}

/// E-measure of one binarised prediction from its counts: `tp` foreground
/// pixels predicted foreground, `fp` background pixels predicted foreground,
/// `fg` foreground pixels of `n` in all.
fn e_measure(tp: usize, fp: usize, fg: usize, n: usize) -> f64 {
    let pred_fg = tp + fp;
    let pred_bg = n - pred_fg;
    let sum = if fg == 0 {
        pred_bg as f64
    } else if fg == n {
        pred_fg as f64
    } else {
        let fn_ = fg - tp;
        let tn = pred_bg - fn_;
        let mean_pred = pred_fg as f64 / n as f64;
        let mean_gt = fg as f64 / n as f64;
        let (pred_fg_v, pred_bg_v) = (1.0 - mean_pred, 0.0 - mean_pred);
        let (gt_fg_v, gt_bg_v) = (1.0 - mean_gt, 0.0 - mean_gt);
        // The enhanced alignment matrix takes one value per (pred, gt) pair
        // of classes, so its sum is a weighted sum of four values.
        let enhanced = |a: f64, b: f64| {
            let align = 2.0 * (a * b) / (a * a + b * b + EPS);
            (align + 1.0) * (align + 1.0) / 4.0
        };
        enhanced(pred_fg_v, gt_fg_v) * tp as f64
            + enhanced(pred_fg_v, gt_bg_v) * fp as f64
            + enhanced(pred_bg_v, gt_fg_v) * fn_ as f64
            + enhanced(pred_bg_v, gt_bg_v) * tn as f64
    };
    sum / ((n - 1) as f64 + EPS)
}

/// F-measure of one curve threshold; an empty ground truth counts as one
/// foreground pixel in the recall (so F = 0), an empty prediction as one
/// predicted pixel in the precision.
fn f_measure(tp: usize, fp: usize, fg: usize) -> f64 {
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / fg.max(1) as f64;
    let numerator = (1.0 + BETA2) * precision * recall;
    let denominator = if numerator == 0.0 {
        1.0
    } else {
        BETA2 * precision + recall
    };
    numerator / denominator
}

/// F-measure at the adaptive threshold (pysodmetrics computes it with its own
/// formula, which differs from [`f_measure`] only in the zero cases).
fn adaptive_f_measure(tp: usize, fp: usize, fg: usize) -> f64 {
    if tp == 0 {
        return 0.0;
    }
    let precision = tp as f64 / (tp + fp) as f64;
    let recall = tp as f64 / fg as f64;
    (1.0 + BETA2) * precision * recall / (BETA2 * precision + recall)
}

/// S-measure: `ALPHA * object + (1 - ALPHA) * region`, clamped at 0; for a
/// ground truth that is all background `1 - mean(p)`, all foreground `mean(p)`.
fn s_measure(p: &[f64], g: &[bool], fg: usize, width: usize, height: usize) -> f64 {
    let n = p.len();
    if fg == 0 {
        return 1.0 - np_sum(p) / n as f64;
    }
    if fg == n {
        return np_sum(p) / n as f64;
    }
    let object = object_score(p, g, fg) * ALPHA;
    let region = region_score(p, g, fg, width, height) * (1.0 - ALPHA);
    let s = object + region;
    if s.is_nan() {
        s
    } else {
        s.max(0.0)
    }
}

/// Object-aware similarity: foreground and background scored separately by
/// their mean and standard deviation, weighted by the foreground ratio.
fn object_score(p: &[f64], g: &[bool], fg: usize) -> f64 {
    let gt_mean = fg as f64 / p.len() as f64;
    let fore: Vec<f64> = p
        .iter()
        .zip(g)
        .filter(|(_, &y)| y)
        .map(|(&x, _)| x)
        .collect();
    let back: Vec<f64> = p
        .iter()
        .zip(g)
        .filter(|(_, &y)| !y)
        .map(|(&x, _)| 1.0 - x)
        .collect();
    s_object(&fore) * gt_mean + s_object(&back) * (1.0 - gt_mean)
}

fn s_object(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = np_sum(x) / n;
    // numpy's std(ddof=1); pysodmetrics uses 0 for a single pixel.
    let std = if x.len() > 1 {
        let sq: Vec<f64> = x.iter().map(|&v| (v - mean) * (v - mean)).collect();
        (np_sum(&sq) / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    2.0 * mean / (mean * mean + 1.0 + std + EPS)
}

/// Region-aware similarity: the image is cut into four quadrants at the
/// (rounded) foreground centroid, each scored by SSIM and weighted by area.
fn region_score(p: &[f64], g: &[bool], fg: usize, w: usize, h: usize) -> f64 {
    let (mut sum_y, mut sum_x) = (0u64, 0u64);
    for (i, _) in g.iter().enumerate().filter(|(_, &y)| y) {
        sum_y += (i / w) as u64;
        sum_x += (i % w) as u64;
    }
    // numpy rounds half to even; the +1 is pysodmetrics' MATLAB-style
    // inclusive end of the top-left quadrant.
    let cy = (sum_y as f64 / fg as f64).round_ties_even() as usize + 1;
    let cx = (sum_x as f64 / fg as f64).round_ties_even() as usize + 1;
    let area = (h * w) as f64;
    let w_lt = (cx * cy) as f64 / area;
    let w_rt = (cy * (w - cx)) as f64 / area;
    let w_lb = ((h - cy) * cx) as f64 / area;
    let w_rb = 1.0 - w_lt - w_rt - w_lb;
    let view = |r0, r1, c0, c1| View {
        width: w,
        rows: r0..r1,
        cols: c0..c1,
    };
    ssim(p, g, view(0, cy, 0, cx)) * w_lt
        + ssim(p, g, view(0, cy, cx, w)) * w_rt
        + ssim(p, g, view(cy, h, 0, cx)) * w_lb
        + ssim(p, g, view(cy, h, cx, w)) * w_rb
}

/// A rectangle of a row-major image.
struct View {
    width: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
}

impl View {
    fn len(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    /// Indices in row-major order.
    fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows
            .clone()
            .flat_map(move |r| self.cols.clone().map(move |c| r * self.width + c))
    }

    /// `np.sum` of a slice `a[r0:r1, c0:c1]` of a C-contiguous array. numpy
    /// sums a contiguous slice pairwise in one go, but a strided one through
    /// its iterator buffer: whole rows, as many as fit in 8192 elements (at
    /// least one), each bufferful summed pairwise and added to the total.
    fn np_sum(&self, a: &[f64]) -> f64 {
        let cols = self.cols.len();
        if cols == self.width || self.rows.len() == 1 {
            let start = self.rows.start * self.width + self.cols.start;
            return np_sum(&a[start..start + self.len()]);
        }
        let rows_per_buffer = (NP_BUFSIZE / cols).max(1);
        let mut total = 0.0;
        let mut buffer = Vec::with_capacity(rows_per_buffer * cols);
        for first in self.rows.clone().step_by(rows_per_buffer) {
            buffer.clear();
            for r in first..(first + rows_per_buffer).min(self.rows.end) {
                let start = r * self.width + self.cols.start;
                buffer.extend_from_slice(&a[start..start + cols]);
            }
            total += np_sum(&buffer);
        }
        total
    }
}

/// pysodmetrics' SSIM of one quadrant (unbiased variances, no constants
/// except eps). An empty quadrant has a NaN mean in numpy, so it gives NaN.
fn ssim(p: &[f64], g: &[bool], v: View) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let x = v.np_sum(p) / n as f64;
    let y = v.indices().filter(|&i| g[i]).count() as f64 / n as f64;
    let dx: Vec<f64> = v.indices().map(|i| p[i] - x).collect();
    let dy: Vec<f64> = v.indices().map(|i| f64::from(u8::from(g[i])) - y).collect();
    let denominator = (n - 1) as f64 + EPS;
    let sigma_x = np_sum(&dx.iter().map(|d| d * d).collect::<Vec<_>>()) / denominator;
    let sigma_y = np_sum(&dy.iter().map(|d| d * d).collect::<Vec<_>>()) / denominator;
    let sigma_xy =
        np_sum(&dx.iter().zip(&dy).map(|(a, b)| a * b).collect::<Vec<_>>()) / denominator;
    let alpha = 4.0 * x * y * sigma_xy;
    let beta = (x * x + y * y) * (sigma_x + sigma_y);
    if alpha != 0.0 {
        alpha / (beta + EPS)
    } else if beta == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// numpy's float64 sum of a contiguous array: pairwise, splitting at a
/// multiple of 8 until at most 128 elements, which are summed with 8
/// interleaved accumulators (fewer than 8: one after the other).
fn np_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut s = 0.0;
        for &x in a {
            s += x;
        }
        s
    } else if n <= PW_BLOCKSIZE {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            s += x;
        }
        s
    } else {
        let half = n / 2;
        let half = half - half % 8;
        np_sum(&a[..half]) + np_sum(&a[half..])
    }
}

/// `np.max` of a curve (NaN if any value is NaN).
fn np_max(a: &[f64]) -> f64 {
    a.iter().fold(f64::NEG_INFINITY, |m, &x| {
        if x.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(x)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(pred: &[u8], gt: &[u8], w: usize, h: usize) -> ImageScores {
        ImageScores::compute(Sample {
            pred,
            gt,
            width: w,
            height: h,
        })
        .unwrap()
    }

    /// 4x4 with a 2x2 foreground square in the top-left corner.
    const GT: [u8; 16] = [
        255, 255, 0, 0, //
        255, 255, 0, 0, //
        0, 0, 0, 0, //
        0, 0, 0, 0,
    ];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn perfect_prediction() {
        let s = scores(&GT, &GT, 4, 4);
        assert_eq!(s.mae, 0.0);
        // Object score: fore and back both 2/(1+1+eps); centroid (0.5, 0.5)
        // rounds to (0, 0), so the top-left quadrant is the single pixel
        // (0,0) (SSIM 1: alpha = beta = 0); the others are SSIM-perfect or constant.
        assert!(close(s.s_measure, 1.0), "{}", s.s_measure);
        // Every threshold 1..=255 reproduces the mask: E = 16/15, F = 1.
        assert!(close(s.e_curve[255], 16.0 / 15.0));
        assert!(close(s.f_curve[255], 1.0));
        // Threshold 0 marks everything foreground: precision 4/16, recall 1.
        let p = 0.25;
        assert!(close(s.f_curve[0], 1.3 * p / (0.3 * p + 1.0)));
        assert!(close(s.adaptive_f, 1.0));
        assert!(close(s.adaptive_e, 16.0 / 15.0));
    }

    #[test]
    fn inverse_prediction() {
        let inv: Vec<u8> = GT.iter().map(|v| 255 - v).collect();
        let s = scores(&inv, &GT, 4, 4);
        assert_eq!(s.mae, 1.0);
        assert_eq!(s.s_measure, 0.0);
        // Above threshold 0 the prediction is exactly the background: F = 0
        // and each pixel's alignment is -1, so E = 0.
        assert_eq!(s.f_curve[1], 0.0);
        assert!(s.e_curve[1].abs() < 1e-12);
        assert_eq!(s.adaptive_f, 0.0);
    }

    #[test]
    fn constant_prediction_is_not_normalised() {
        let pred = [51u8; 16]; // 0.2
        let s = scores(&pred, &GT, 4, 4);
        assert!(close(s.mae, (4.0 * 0.8 + 12.0 * 0.2) / 16.0));
        // trunc(255 * 0.2) = 51: thresholds up to 51 mark everything.
        assert_eq!(s.f_curve[51], s.f_curve[0]);
        assert_eq!(s.f_curve[52], 0.0);
        // Adaptive threshold 0.4 > 0.2: nothing is foreground.
        assert_eq!(s.adaptive_f, 0.0);
        // Threshold 0 marks everything foreground: the demeaned prediction is
        // 0 everywhere, so every pixel's enhanced alignment is (0 + 1)² / 4.
        let e = 16.0 * 0.25 / 15.0;
        assert!(close(s.e_curve[0], e));
    }

    #[test]
    fn empty_ground_truth() {
        let gt = [0u8; 6];
        let perfect = scores(&[0; 6], &gt, 3, 2);
        assert_eq!(perfect.s_measure, 1.0);
        assert_eq!(perfect.mae, 0.0);
        // pysodmetrics: F is 0 without foreground, E counts the predicted
        // background over N - 1, and the adaptive threshold 0 marks everything.
        assert!(perfect.f_curve.iter().all(|&f| f == 0.0));
        assert!(close(perfect.e_curve[1], 6.0 / 5.0));
        assert!(close(perfect.e_curve[0], 0.0));
        assert_eq!(perfect.adaptive_e, 0.0);
        let bright = scores(&[0, 0, 0, 255, 255, 255], &gt, 3, 2);
        assert!(close(bright.s_measure, 0.5));
        assert!(close(bright.mae, 0.5));
    }

    #[test]
    fn full_ground_truth() {
        let s = scores(&[0, 255, 255, 255], &[255; 4], 2, 2);
        assert!(close(s.s_measure, 0.75));
        assert!(close(s.e_curve[255], 3.0 / 3.0));
        assert!(close(s.f_curve[255], 1.3 * 0.75 / (0.3 + 0.75)));
    }

    #[test]
    fn centroid_on_last_row_gives_nan() {
        // Foreground only in the last row: the lower quadrants are empty.
        let gt = [0, 0, 0, 0, 255, 0];
        let s = scores(&[1, 2, 3, 4, 5, 6], &gt, 3, 2);
        assert!(s.s_measure.is_nan());
        let one_row = scores(&[9, 8, 7], &[0, 255, 0], 3, 1);
        assert!(one_row.s_measure.is_nan());
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let r = ImageScores::compute(Sample {
            pred: &[0; 6],
            gt: &[0; 4],
            width: 2,
            height: 2,
        });
        assert!(matches!(r, Err(Error::Image(_))));
        let mut m = Metrics::default();
        assert!(m.add(&[], &[], 0, 3).is_err());
        assert!(m.is_empty());
        assert!(m.scores().is_none());
    }

    #[test]
    fn dataset_averages_curves_before_max() {
        let mut m = Metrics::default();
        let a = scores(&GT, &GT, 4, 4);
        let inv: Vec<u8> = GT.iter().map(|v| 255 - v).collect();
        let b = scores(&inv, &GT, 4, 4);
        m.push(&a);
        m.add(&inv, &GT, 4, 4).unwrap();
        let s = m.scores().unwrap();
        assert_eq!(s.images, 2);
        assert!(close(s.mae, 0.5));
        let best = (0..THRESHOLDS)
            .map(|t| (a.f_curve[t] + b.f_curve[t]) / 2.0)
            .fold(f64::MIN, f64::max);
        assert!(close(s.max_f, best));
        assert!(s.max_f < (a.f_curve[255] + b.f_curve[0]) / 2.0);
    }

    #[test]
    fn pairwise_sum_matches_numpy_order() {
        // np.sum(np.full(10, 0.1)) == 1.0; adding one by one gives 0.9999999999999999.
        assert_eq!(np_sum(&[0.1; 10]), 1.0);
        assert_ne!([0.1f64; 10].iter().sum::<f64>(), 1.0);
        let big: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(np_sum(&big), 499500.0);
    }
}
