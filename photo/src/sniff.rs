//! Format detection from the content (never the file name), and the JPEG completeness check.

use super::DocError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub(crate) fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
        }
    }
}

/// JPEG and PNG are accepted; the common refusals are named.
pub fn sniff(b: &[u8]) -> Result<Format, DocError> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if b.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Ok(Format::Png);
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Err(DocError::Unsupported("gif"));
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        let brand = &b[8..12];
        return Err(DocError::Unsupported(match brand {
            b"avif" | b"avis" => "avif",
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => "heic",
            _ => "iso-bmff",
        }));
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Err(DocError::Unsupported("webp"));
    }
    if b.starts_with(b"BM") {
        return Err(DocError::Unsupported("bmp"));
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return Err(DocError::Unsupported("tiff"));
    }
    Err(DocError::Unsupported("unknown"))
}

/// A JPEG must have an end-of-image marker after its first scan. Entropy-coded data stuffs every
/// 0xFF with 0x00, so `FF D9` there is the real marker; one inside an EXIF thumbnail comes before
/// the first scan and does not count. Decoders happily fill a cut-off image with grey; we refuse it.
pub fn check_jpeg_complete(b: &[u8]) -> Result<(), DocError> {
    let mut i = 2;
    let sos = loop {
        if i + 2 > b.len() {
            return Err(DocError::Truncated);
        }
        if b[i] != 0xFF {
            return Err(DocError::Corrupt("bad JPEG segment".into()));
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xDA {
            break i;
        }
        // An end of image before any scan: whole, but there is no picture in it (damaged, not
        // cut off).
        if marker == 0xD9 {
            return Err(DocError::Corrupt("the JPEG ends before any picture data".into()));
        }
        if (0xD0..=0xD8).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        if i + 4 > b.len() {
            return Err(DocError::Truncated);
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        if len < 2 {
            return Err(DocError::Corrupt("bad JPEG segment length".into()));
        }
        i += 2 + len;
    };
    if b[sos..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(DocError::Truncated)
    }
}
