//! One error type for the whole engine. Every message is one plain sentence
//! that a user can act on; callers print it as is.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// No usable GPU adapter (or none matching the user's choice).
    #[error("{0}")]
    NoAdapter(String),
    /// The device could not be created or was lost.
    #[error("{0}")]
    Device(String),
    /// The weights file is unreadable, corrupt or does not match ICNet.
    #[error("{0}")]
    Weights(String),
    /// An input image or saliency map could not be used.
    #[error("{0}")]
    Image(String),
    /// A request the engine cannot serve (e.g. a group too large for the adapter).
    #[error("{0}")]
    Unsupported(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
}

pub type Result<T> = std::result::Result<T, Error>;
