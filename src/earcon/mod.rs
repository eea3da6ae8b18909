//! Headset earcons (placeholder, being written).
