//! U²-Netp (Qin et al., 2020), the single-image saliency model that gives
//! ICNet its SISMs, as a second fixed plan on the same kernels.

pub mod layers;
