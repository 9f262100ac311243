//! Why a photo was refused, with the texts the booth shows.

/// A refused upload. Every variant is the uploader's problem except `Internal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("empty upload")]
    Empty,
    #[error("upload of {size} bytes exceeds {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("unsupported format: {0}")]
    Unsupported(&'static str),
    #[error("the JPEG is truncated")]
    Truncated,
    #[error("image of {width}×{height} exceeds the size limits")]
    Dimensions { width: u32, height: u32 },
    #[error("the image needs more memory than allowed")]
    MemoryLimit,
    #[error("the image is damaged: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl DocError {
    pub(crate) fn from_image(e: image::ImageError) -> Self {
        match e {
            image::ImageError::Limits(l) => match l.kind() {
                image::error::LimitErrorKind::DimensionError => DocError::Dimensions { width: 0, height: 0 },
                _ => DocError::MemoryLimit,
            },
            image::ImageError::Unsupported(_) => DocError::Unsupported("unsupported variant"),
            other => DocError::Corrupt(other.to_string()),
        }
    }

    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            DocError::Empty => "empty_file",
            DocError::TooLarge { .. } => "file_too_large",
            DocError::Unsupported(_) => "unsupported_format",
            DocError::Truncated => "truncated_image",
            DocError::Dimensions { .. } => "image_too_large",
            DocError::MemoryLimit => "image_too_large",
            DocError::Corrupt(_) => "damaged_image",
            DocError::Internal(_) => "internal",
        }
    }

    /// What the booth shows: Chinese first, then English.
    pub fn messages(&self) -> (&'static str, &'static str) {
        match self {
            DocError::Empty => ("照片为空，请重新拍摄", "The photo is empty; please take it again."),
            DocError::TooLarge { .. } => ("照片文件过大（最大 20 MB）", "The photo file is too large (20 MB at most)."),
            DocError::Unsupported(_) => ("只支持 JPEG 或 PNG 照片", "Only JPEG or PNG photos are accepted."),
            DocError::Truncated => ("照片不完整，请重新拍摄", "The photo is incomplete; please take it again."),
            DocError::Dimensions { .. } | DocError::MemoryLimit => (
                "照片尺寸过大（每边最多 12000 像素，共 5000 万像素）",
                "The photo is too large (12,000 px a side, 50 MP at most).",
            ),
            DocError::Corrupt(_) => ("照片已损坏，请重新拍摄", "The photo is damaged; please take it again."),
            DocError::Internal(_) => ("系统处理照片时出错，请重试", "The photo could not be processed; please retry."),
        }
    }
}
