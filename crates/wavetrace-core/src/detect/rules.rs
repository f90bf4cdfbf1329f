//! Detection: rules (being written).
