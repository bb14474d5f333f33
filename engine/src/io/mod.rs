//! What crosses the engine's boundary: weights files, image files, and the
//! exact pre- and post-processing around the network.

pub mod decode;
pub mod postprocess;
pub mod preprocess;
pub mod weights;
