//! The visible watermark on the clerk's copy: "仅供<事项名称>办理使用 <日期>", tiled faintly across
//! the image and once, solid, on a band at the bottom. Drawn with the bundled Noto Sans CJK SC subset
//! (SIL Open Font License; `photo/assets/fonts/`).

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

static FONT: &[u8] = include_bytes!("../assets/fonts/NotoSansSC-Bold-subset.otf");

#[derive(Debug, Clone)]
pub struct Watermark {
    pub text: String,
}

/// An alpha mask of rendered text.
struct Mask {
    w: u32,
    h: u32,
    alpha: Vec<u8>,
}

impl Watermark {
    /// "仅供<service>办理使用 <date>".
    pub fn for_service(service_name: &str, date: &str) -> Self {
        Self { text: format!("仅供{service_name}办理使用 {date}") }
    }

    fn render(&self, px: f32) -> Mask {
        let font = FontRef::try_from_slice(FONT).expect("the bundled font parses (tested)");
        let scale = PxScale::from(px);
        let scaled = font.as_scaled(scale);
        let width: f32 = self.text.chars().map(|c| scaled.h_advance(font.glyph_id(c))).sum();
        let (w, h) = ((width.ceil() as u32).max(1), ((scaled.ascent() - scaled.descent()).ceil() as u32).max(1));
        let mut alpha = vec![0u8; (w * h) as usize];
        let mut x = 0.0;
        for c in self.text.chars() {
            let id = font.glyph_id(c);
            let glyph = id.with_scale_and_position(scale, point(x, scaled.ascent()));
            x += scaled.h_advance(id);
            if let Some(outlined) = font.outline_glyph(glyph) {
                let b = outlined.px_bounds();
                outlined.draw(|gx, gy, cov| {
                    let (px, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        let a = &mut alpha[(py as u32 * w + px as u32) as usize];
                        *a = (*a).max((cov * 255.0) as u8);
                    }
                });
            }
        }
        Mask { w, h, alpha }
    }

    /// Stamps the watermark onto an RGB image in place.
    pub fn stamp(&self, img: &mut image::RgbImage) {
        let (iw, ih) = img.dimensions();
        let short = iw.min(ih) as f32;
        // Faint tiles: white at 30 % over the whole picture, rows staggered.
        let tile = self.render((short / 22.0).clamp(12.0, 64.0));
        let (step_x, step_y) = (tile.w + tile.w / 2, tile.h * 4);
        let mut row = 0;
        let mut y = tile.h as i64;
        while y < ih as i64 {
            let mut x = if row % 2 == 0 { 0 } else { -(step_x as i64) / 2 };
            while x < iw as i64 {
                blend(img, &tile, x, y, [255, 255, 255], 0.30);
                x += step_x as i64;
            }
            y += step_y as i64;
            row += 1;
        }
        // Solid line on a dark band at the bottom.
        let line = self.render((short / 18.0).clamp(14.0, 80.0));
        let band = line.h + line.h / 2;
        let top = ih.saturating_sub(band);
        for yy in top..ih {
            for xx in 0..iw {
                let p = img.get_pixel_mut(xx, yy);
                for c in 0..3 {
                    p[c] = (p[c] as u16 * 2 / 5) as u8;
                }
            }
        }
        let x = (iw as i64 - line.w as i64).max(0) / 2;
        blend(img, &line, x, (top + line.h / 4) as i64, [255, 255, 255], 1.0);
    }
}

fn blend(img: &mut image::RgbImage, mask: &Mask, ox: i64, oy: i64, color: [u8; 3], opacity: f32) {
    let (iw, ih) = img.dimensions();
    for my in 0..mask.h {
        let y = oy + my as i64;
        if y < 0 || y >= ih as i64 {
            continue;
        }
        for mx in 0..mask.w {
            let x = ox + mx as i64;
            if x < 0 || x >= iw as i64 {
                continue;
            }
            let a = mask.alpha[(my * mask.w + mx) as usize] as f32 / 255.0 * opacity;
            if a <= 0.0 {
                continue;
            }
            let p = img.get_pixel_mut(x as u32, y as u32);
            for c in 0..3 {
                p[c] = (p[c] as f32 * (1.0 - a) + color[c] as f32 * a) as u8;
            }
        }
    }
}
