//! A VP8 decoder over the system's libvpx (`vpx_codec_vp8_dx`), through a small hand-written FFI
//! matching libvpx 1.x's ABI (decoder ABI version 12: `vpx/vpx_decoder.h`, `vpx/vpx_image.h`).
//!
//! Each decoded picture is reported by its size and the mean of its luma plane, which proves
//! real picture content (a black or missing picture would not pass a test on it).

use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr};
use std::ptr;

/// `VPX_DECODER_ABI_VERSION` = 3 + `VPX_CODEC_ABI_VERSION` (4 + `VPX_IMAGE_ABI_VERSION` (5)).
const VPX_DECODER_ABI_VERSION: c_int = 12;
/// Larger than one encoded frame may be, to refuse absurd input before it reaches libvpx.
const MAX_FRAME_BYTES: usize = 4 << 20;

#[repr(C)]
struct VpxCodecCtx {
    name: *const c_char,
    iface: *const c_void,
    err: c_int,
    err_detail: *const c_char,
    init_flags: c_long,
    config: *const c_void,
    private: *mut c_void,
}

#[repr(C)]
struct VpxImage {
    fmt: c_int,
    cs: c_int,
    range: c_int,
    w: c_uint,
    h: c_uint,
    bit_depth: c_uint,
    d_w: c_uint,
    d_h: c_uint,
    r_w: c_uint,
    r_h: c_uint,
    x_chroma_shift: c_uint,
    y_chroma_shift: c_uint,
    planes: [*mut u8; 4],
    stride: [c_int; 4],
    bps: c_int,
    user_priv: *mut c_void,
    img_data: *mut u8,
    img_data_owner: c_int,
    self_allocd: c_int,
    fb_priv: *mut c_void,
}

extern "C" {
    fn vpx_codec_vp8_dx() -> *const c_void;
    fn vpx_codec_dec_init_ver(
        ctx: *mut VpxCodecCtx,
        iface: *const c_void,
        cfg: *const c_void,
        flags: c_long,
        ver: c_int,
    ) -> c_int;
    fn vpx_codec_decode(
        ctx: *mut VpxCodecCtx,
        data: *const u8,
        data_sz: c_uint,
        user_priv: *mut c_void,
        deadline: c_long,
    ) -> c_int;
    fn vpx_codec_get_frame(ctx: *mut VpxCodecCtx, iter: *mut *const c_void) -> *const VpxImage;
    fn vpx_codec_destroy(ctx: *mut VpxCodecCtx) -> c_int;
    fn vpx_codec_err_to_string(err: c_int) -> *const c_char;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Vp8Error {
    #[error("libvpx could not start a VP8 decoder: {0}")]
    Init(String),
    #[error("VP8 frame did not decode: {0}")]
    Decode(String),
    #[error("VP8 frame of {0} bytes is larger than any real one")]
    TooLarge(usize),
}

/// What a decoded picture looked like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    /// Mean of the luma (Y) plane, 0–255.
    pub luma_mean: f64,
}

/// One libvpx VP8 decoding context.
pub struct Decoder {
    ctx: Box<VpxCodecCtx>,
}

// The context is owned by one `Decoder` and only used through `&mut self`: moving it to another
// thread is fine (libvpx keeps no thread affinity); sharing is prevented by the borrow rules.
unsafe impl Send for Decoder {}

fn err_string(code: c_int) -> String {
    // SAFETY: libvpx returns a static NUL-terminated string for every code.
    unsafe { CStr::from_ptr(vpx_codec_err_to_string(code)) }.to_string_lossy().into_owned()
}

impl Decoder {
    pub fn new() -> Result<Self, Vp8Error> {
        let mut ctx = Box::new(VpxCodecCtx {
            name: ptr::null(),
            iface: ptr::null(),
            err: 0,
            err_detail: ptr::null(),
            init_flags: 0,
            config: ptr::null(),
            private: ptr::null_mut(),
        });
        // SAFETY: `ctx` is a valid, writable context struct of libvpx's layout; a null config
        // selects the defaults.
        let rc =
            unsafe { vpx_codec_dec_init_ver(&mut *ctx, vpx_codec_vp8_dx(), ptr::null(), 0, VPX_DECODER_ABI_VERSION) };
        if rc != 0 {
            return Err(Vp8Error::Init(err_string(rc)));
        }
        Ok(Self { ctx })
    }

    /// Decodes one whole frame; returns the picture it produced (libvpx may produce none).
    pub fn decode(&mut self, frame: &[u8]) -> Result<Option<DecodedFrame>, Vp8Error> {
        if frame.len() > MAX_FRAME_BYTES {
            return Err(Vp8Error::TooLarge(frame.len()));
        }
        // SAFETY: the pointer and length describe `frame`, which outlives the call.
        let rc = unsafe { vpx_codec_decode(&mut *self.ctx, frame.as_ptr(), frame.len() as c_uint, ptr::null_mut(), 0) };
        if rc != 0 {
            return Err(Vp8Error::Decode(err_string(rc)));
        }
        let mut iter: *const c_void = ptr::null();
        let mut last = None;
        loop {
            // SAFETY: the image returned is valid until the next decode call on this context.
            let img = unsafe { vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if img.is_null() {
                break;
            }
            last = Some(describe(unsafe { &*img }));
        }
        Ok(last)
    }
}

/// Size and mean luma of a decoded 8-bit picture.
fn describe(img: &VpxImage) -> DecodedFrame {
    let (w, h) = (img.d_w as usize, img.d_h as usize);
    let stride = img.stride[0] as usize;
    let mut sum = 0u64;
    for row in 0..h {
        // SAFETY: libvpx's Y plane has `d_h` rows of at least `d_w` bytes, `stride` apart.
        let line = unsafe { std::slice::from_raw_parts(img.planes[0].add(row * stride), w) };
        sum += line.iter().map(|&p| p as u64).sum::<u64>();
    }
    let pixels = (w * h).max(1) as f64;
    DecodedFrame { width: img.d_w, height: img.d_h, luma_mean: sum as f64 / pixels }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` and is destroyed once.
        unsafe {
            vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut d = Decoder::new().unwrap();
        assert!(matches!(d.decode(&[0xff; 64]), Err(Vp8Error::Decode(_))));
        assert!(matches!(d.decode(&vec![0u8; MAX_FRAME_BYTES + 1]), Err(Vp8Error::TooLarge(_))));
    }
}
