//! The agent view in the terminal (placeholder, being written).
