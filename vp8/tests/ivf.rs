//! Decodes the bundled test pattern (VP8 in IVF, made by media/assets/make-samples.sh) with
//! libvpx, directly and through RTP packetization, and checks every picture's size and content.

use xiaowu_vp8::{Decoder, Receiver};

/// (width, height, frames) of an IVF file.
fn ivf(bytes: &[u8]) -> (u32, u32, Vec<&[u8]>) {
    assert_eq!(&bytes[0..4], b"DKIF");
    assert_eq!(&bytes[8..12], b"VP80");
    let w = u16::from_le_bytes([bytes[12], bytes[13]]) as u32;
    let h = u16::from_le_bytes([bytes[14], bytes[15]]) as u32;
    let mut frames = Vec::new();
    let mut at = u16::from_le_bytes([bytes[6], bytes[7]]) as usize;
    while at + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        frames.push(&bytes[at + 12..at + 12 + len]);
        at += 12 + len;
    }
    (w, h, frames)
}

const PATTERN: &[u8] = include_bytes!("../../media/assets/test-pattern.ivf");

#[test]
fn every_frame_of_the_test_pattern_decodes_to_a_real_picture() {
    let (w, h, frames) = ivf(PATTERN);
    assert!(frames.len() > 30);
    let mut d = Decoder::new().unwrap();
    for (i, f) in frames.iter().enumerate() {
        let pic = d.decode(f).unwrap().unwrap_or_else(|| panic!("frame {i} gave no picture"));
        assert_eq!((pic.width, pic.height), (w, h));
        // The test pattern is colour bars: neither black nor white on average.
        assert!((40.0..220.0).contains(&pic.luma_mean), "frame {i}: mean luma {}", pic.luma_mean);
    }
}

#[test]
fn frames_split_into_rtp_packets_decode_the_same() {
    let (w, h, frames) = ivf(PATTERN);
    let mut rx = Receiver::new().unwrap();
    let mut seq = 0u16;
    let mut decoded = 0;
    for (i, f) in frames.iter().enumerate() {
        // 1-byte descriptor; S on the first packet of each frame; 1,000-byte fragments.
        let chunks: Vec<&[u8]> = f.chunks(1000).collect();
        for (j, chunk) in chunks.iter().enumerate() {
            let mut payload = vec![if j == 0 { 0x10 } else { 0x00 }];
            payload.extend_from_slice(chunk);
            let last = j + 1 == chunks.len();
            for pic in rx.push(seq, i as u32 * 3000, last, &payload, std::time::Instant::now()) {
                assert_eq!((pic.width, pic.height), (w, h));
                decoded += 1;
            }
            seq = seq.wrapping_add(1);
        }
    }
    assert_eq!(decoded, frames.len());
    assert_eq!((rx.errors, rx.frames_lost()), (0, 0));
}
