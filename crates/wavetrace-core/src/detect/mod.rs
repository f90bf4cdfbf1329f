//! Stage 5: detection. A record in, signals and a verdict out.
//!
//! Under construction: the submodules are filled one by one.

pub mod content;
pub mod entities;
pub mod links;
pub mod lookalike;
pub mod rules;
