//! Detection: links (being written).
