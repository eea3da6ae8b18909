//! Capture-side units under the allocation guard (STYLE.md point 3).

use assert_no_alloc::assert_no_alloc;
use callpulse::capture::drift::DriftCorrector;

#[test]
fn drift_corrector_does_not_allocate() {
    let rate = 16_000;
    let max_input = 160; // 10 ms callbacks
    let mut corrector = DriftCorrector::new(rate, max_input).unwrap();
    let mut out = Vec::with_capacity(DriftCorrector::max_output(max_input));
    let input: Vec<f32> = (0..max_input)
        .map(|n| (n as f32 * 0.05).sin() * 0.5)
        .collect();
    let mut fill: i64 = 0;
    let mut produced = 0usize;
    assert_no_alloc(|| {
        // A minute of callbacks of varying size from a clock 200 ppm fast, with the fill
        // error fed back: the ratio changes all the time.
        for period in 0..6000usize {
            let n = max_input - (period % 3);
            out.clear();
            corrector.process(&input[..n], fill as f64 / f64::from(rate), &mut out);
            produced += out.len();
            fill += out.len() as i64 - (max_input as i64 - 1);
            if period % 5000 == 0 {
                fill += 1; // 200 ppm
            }
        }
    });
    assert!(produced > 900_000, "{produced} frames out");
    assert_eq!(corrector.dropped_frames(), 0);
    assert!(corrector.ratio() != 1.0);
}
