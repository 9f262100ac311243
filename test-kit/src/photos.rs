//! Synthetic photos for tests and benchmarks: a photo-like pattern (smooth gradients, texture and
//! noise, so it compresses like a camera picture) with an EXIF block that carries an orientation
//! and a GPS position, built byte by byte so no external tool is needed.

/// A photo-like RGB pattern. The top half leans red and the bottom half blue, so a test can tell
/// which way is up after rotation.
pub fn pattern(w: u32, h: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity((w * h * 3) as usize);
    let mut seed = 0x1234_5678u32;
    for y in 0..h {
        for x in 0..w {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed & 15) as i32 - 8;
            let fx = x as f32 / w as f32;
            let fy = y as f32 / h as f32;
            let wave = ((fx * 37.0).sin() * (fy * 23.0).cos() * 30.0) as i32;
            let top = y < h / 2;
            let (r, g, b) = if top { (200, 90 + (fx * 60.0) as i32, 60) } else { (50, 80 + (fy * 50.0) as i32, 190) };
            buf.push((r + wave + noise).clamp(0, 255) as u8);
            buf.push((g + wave / 2 + noise).clamp(0, 255) as u8);
            buf.push((b - wave + noise).clamp(0, 255) as u8);
        }
    }
    buf
}

/// A baseline JPEG of the pattern, quality 90, 4:2:0, with no metadata.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![];
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.encode(&pattern(w, h), w as u16, h as u16, jpeg_encoder::ColorType::Rgb).expect("encoding a pattern works");
    out
}

/// An EXIF APP1 segment with `Orientation` and, optionally, a GPS latitude (the thing that must
/// never reach a clerk).
pub fn exif_segment(orientation: u16, gps: bool) -> Vec<u8> {
    let mut t = vec![b'I', b'I', 0x2A, 0x00, 8, 0, 0, 0]; // little-endian TIFF header, IFD0 at 8
    let entries: u16 = if gps { 2 } else { 1 };
    let ifd0_len = 2 + 12 * entries as u32 + 4;
    let gps_ifd = 8 + ifd0_len;
    t.extend_from_slice(&entries.to_le_bytes());
    // Orientation: SHORT, 1 value, stored inline.
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&(orientation as u32).to_le_bytes());
    if gps {
        t.extend_from_slice(&0x8825u16.to_le_bytes()); // GPSInfo IFD pointer
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&gps_ifd.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    if gps {
        let data = gps_ifd + 2 + 12 * 2 + 4;
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&0x0001u16.to_le_bytes()); // GPSLatitudeRef "N"
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&2u32.to_le_bytes());
        t.extend_from_slice(&[b'N', 0, 0, 0]);
        t.extend_from_slice(&0x0002u16.to_le_bytes()); // GPSLatitude: 3 rationals
        t.extend_from_slice(&5u16.to_le_bytes());
        t.extend_from_slice(&3u32.to_le_bytes());
        t.extend_from_slice(&data.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        for (num, den) in [(37u32, 1u32), (44, 1), (3021, 100)] {
            t.extend_from_slice(&num.to_le_bytes());
            t.extend_from_slice(&den.to_le_bytes());
        }
    }
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((2 + 6 + t.len()) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&t);
    seg
}

/// A camera-like photo: the pattern as JPEG with EXIF (orientation, optional GPS) after SOI.
pub fn camera_photo(w: u32, h: u32, orientation: u16, gps: bool) -> Vec<u8> {
    let plain = jpeg(w, h);
    let mut out = plain[..2].to_vec();
    out.extend(exif_segment(orientation, gps));
    out.extend_from_slice(&plain[2..]);
    out
}

/// A real PNG whose IHDR claims `w`×`h` (CRC fixed), with the tiny original image data.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = vec![];
    image::GrayImage::new(8, 8).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A real JPEG whose SOF0 claims `w`×`h`.
pub fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut j = jpeg(16, 16);
    let sof = j.windows(2).position(|m| m == [0xFF, 0xC0]).expect("baseline SOF0");
    j[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    j[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    j
}
