//! A WAV file as a `cpal` input device (placeholder, being written).
