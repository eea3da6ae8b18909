//! Two-device clock drift correction (placeholder: pass-through, being written).

use crate::error::Error;

/// Placeholder.
pub struct DriftCorrector;

impl DriftCorrector {
    /// Placeholder.
    pub fn new(_rate: u32, _max_input: usize) -> Result<Self, Error> {
        Ok(Self)
    }
    /// Placeholder.
    pub fn max_output(max_input: usize) -> usize {
        max_input * 2 + 64
    }
    /// Placeholder.
    pub fn process(&mut self, input: &[f32], _fill_error_s: f64, out: &mut Vec<f32>) {
        out.extend_from_slice(input);
    }
    /// Placeholder.
    pub fn ratio(&self) -> f64 {
        1.0
    }
}
