//! Detection: content (being written).
