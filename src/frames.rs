//! Cutting a party's stream into overlapping analysis frames at a fixed hop.
//!
//! Frame `i` is centred at `(i + 0.5) · hop` samples: its *hop* is samples `[i·hop, (i+1)·hop)`
//! and its *window* the [`FrameGeometry::window`] samples centred on the hop, so the window
//! looks `margin` samples back and ahead. Before the start of the stream the window holds
//! zeros; at the end, [`Framer::finish`] pads with zeros so that every complete hop of real
//! samples gets its frame (`floor(samples / hop)` frames in all). A frame is emitted as soon as
//! its look-ahead is in: the framer's delay is `margin` samples.
//!
//! The framer owns one buffer of `window` samples allocated in [`Framer::new`]; pushing
//! samples never allocates.

use crate::config::FrameGeometry;

/// One analysis frame, borrowed from the framer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Frame index from the start of the stream.
    pub index: u64,
    /// Centre time in seconds from the start of the stream.
    pub t: f64,
    /// The whole analysis window (`geometry.window` samples), centred on the hop.
    pub window: &'a [f32],
    /// The hop (`geometry.hop` samples) at the centre of the window.
    pub hop: &'a [f32],
    /// Samples were lost (a gap in the input) somewhere in this frame's hop.
    pub gap: bool,
}

/// Cuts a stream into [`Frame`]s.
#[derive(Debug, Clone)]
pub struct Framer {
    geometry: FrameGeometry,
    buf: Vec<f32>,
    fill: usize,
    next_index: u64,
    /// Real (non-padding) samples received.
    received: u64,
    /// Gap flags per pending hop: bit k set means hop `next_index + k` contains a gap.
    gap_bits: u64,
}

impl Framer {
    /// A framer for `geometry`; the first window starts with `margin` zeros of look-back.
    pub fn new(geometry: FrameGeometry) -> Self {
        Self {
            geometry,
            buf: vec![0.0; geometry.window],
            fill: geometry.margin(),
            next_index: 0,
            received: 0,
            gap_bits: 0,
        }
    }

    /// The geometry this framer cuts.
    pub fn geometry(&self) -> FrameGeometry {
        self.geometry
    }

    /// Real samples received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Marks a gap (lost samples) just before the next sample pushed.
    pub fn mark_gap(&mut self) {
        let hop = self.geometry.hop as u64;
        let hop_of_next = self.received / hop;
        let k = hop_of_next.saturating_sub(self.next_index);
        if k < 64 {
            self.gap_bits |= 1 << k;
        }
    }

    /// Appends samples, calling `f` for each frame that becomes complete.
    pub fn push(&mut self, mut samples: &[f32], mut f: impl FnMut(Frame<'_>)) {
        self.received += samples.len() as u64;
        while !samples.is_empty() {
            let take = (self.buf.len() - self.fill).min(samples.len());
            self.buf[self.fill..self.fill + take].copy_from_slice(&samples[..take]);
            self.fill += take;
            samples = &samples[take..];
            if self.fill == self.buf.len() {
                self.emit(&mut f);
            }
        }
    }

    /// Pads the end with zeros so that every complete hop of real samples gets its frame.
    pub fn finish(&mut self, mut f: impl FnMut(Frame<'_>)) {
        let total = self.received / self.geometry.hop as u64;
        while self.next_index < total {
            self.buf[self.fill..].fill(0.0);
            self.fill = self.buf.len();
            self.emit(&mut f);
        }
    }

    fn emit(&mut self, f: &mut impl FnMut(Frame<'_>)) {
        let g = self.geometry;
        let margin = g.margin();
        f(Frame {
            index: self.next_index,
            t: g.frame_time(self.next_index),
            window: &self.buf,
            hop: &self.buf[margin..margin + g.hop],
            gap: self.gap_bits & 1 != 0,
        });
        self.gap_bits >>= 1;
        self.next_index += 1;
        self.buf.copy_within(g.hop.., 0);
        self.fill -= g.hop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry() -> FrameGeometry {
        FrameGeometry {
            rate: 8000,
            hop: 80,
            window: 320,
        }
    }

    #[test]
    fn frames_are_centred_and_counted_by_complete_hops() {
        let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let mut framer = Framer::new(geometry());
        let mut frames = Vec::new();
        framer.push(&x, |fr| {
            frames.push((fr.index, fr.t, fr.window.to_vec(), fr.hop.to_vec()))
        });
        framer.finish(|fr| frames.push((fr.index, fr.t, fr.window.to_vec(), fr.hop.to_vec())));
        assert_eq!(frames.len(), 1000 / 80);
        let (i, t, w, h) = &frames[3];
        assert_eq!(*i, 3);
        assert!((t - 0.035).abs() < 1e-12);
        assert_eq!(h[0], 240.0);
        assert_eq!(w[0], 240.0 - 120.0);
        assert_eq!(frames[0].2[0], 0.0); // look-back before the start is zeros
        assert_eq!(frames[0].2[120], 0.0); // ... and sample 0 sits right after it
        assert_eq!(frames[0].2[121], 1.0);
        let last = frames.last().unwrap();
        assert_eq!(*last.2.last().unwrap(), 0.0); // look-ahead past the end is zero padding
    }

    #[test]
    fn block_size_does_not_matter() {
        let x: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.37).sin()).collect();
        let collect = |block: usize| {
            let mut framer = Framer::new(geometry());
            let mut out = Vec::new();
            for c in x.chunks(block) {
                framer.push(c, |fr| out.extend_from_slice(fr.window));
            }
            framer.finish(|fr| out.extend_from_slice(fr.window));
            out
        };
        let a = collect(1);
        for b in [64, 441, 480, 1024] {
            assert_eq!(a, collect(b));
        }
    }

    #[test]
    fn gaps_mark_the_hop_they_fall_in() {
        let mut framer = Framer::new(geometry());
        let mut gaps = Vec::new();
        framer.push(&[0.0; 200], |fr| gaps.push(fr.gap));
        framer.mark_gap(); // falls in hop 2 (samples 160..240)
        framer.push(&[0.0; 600], |fr| gaps.push(fr.gap));
        framer.finish(|fr| gaps.push(fr.gap));
        let flagged: Vec<usize> = gaps
            .iter()
            .enumerate()
            .filter(|(_, g)| **g)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(flagged, vec![2]);
    }
}
