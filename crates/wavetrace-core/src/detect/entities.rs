//! Detection: entities (being written).
