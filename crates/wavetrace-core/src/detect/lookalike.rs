//! Detection: lookalike (being written).
