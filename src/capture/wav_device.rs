//! A WAV file as a `cpal` input device (placeholder, being written).

/// The message of the error a WAV device reports once its file has been delivered.
pub const END_OF_INPUT: &str = "end of input file";

/// Whether `e` is a WAV device's end of input.
pub fn is_end_of_input(e: &cpal::Error) -> bool {
    e.kind() == cpal::ErrorKind::DeviceNotAvailable && e.message() == Some(END_OF_INPUT)
}

/// Placeholder.
#[derive(Debug, Clone, Default)]
pub struct WavDeviceOptions {
    /// Placeholder.
    pub speed: f64,
}

/// Placeholder.
pub fn wav_host(
    _path: &std::path::Path,
    _options: WavDeviceOptions,
) -> Result<cpal::Host, crate::Error> {
    Err(crate::Error::Internal {
        stage: "wav device",
        message: "not yet".into(),
    })
}
