//! Error codes sent to clients, with bilingual human messages, and decode errors.

use serde::{Deserialize, Serialize};

/// Why a request was refused. Sent inside `ServerMessage::Error`; the request changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known message.
    BadMessage,
    /// The frame was larger than [`crate::MAX_MESSAGE_BYTES`].
    MessageTooLarge,
    /// `hello` carried another protocol version.
    UnsupportedVersion,
    /// A message other than `hello` arrived before authentication.
    NotAuthenticated,
    /// The token is malformed, forged or expired.
    InvalidToken,
    /// The account may not send this message (wrong role, not a party of the call, …).
    Forbidden,
    /// Login failed: unknown account or wrong secret.
    BadCredentials,
    /// The service item does not exist.
    UnknownService,
    /// The booth already has an open ticket.
    TicketAlreadyOpen,
    /// The ticket, offer or call does not exist or is not yours.
    NotFound,
    /// The request does not fit the current state (e.g. accepting an expired offer).
    WrongState,
    /// A field is out of range (e.g. an SDP body that is not SDP).
    InvalidField,
    /// The server is shutting down.
    ShuttingDown,
    /// Document uploads: the photo is empty.
    EmptyFile,
    /// The upload is larger than 20 MiB.
    FileTooLarge,
    /// Not a JPEG or PNG (HEIC, AVIF, GIF, text, …).
    UnsupportedFormat,
    /// The JPEG is cut off.
    TruncatedImage,
    /// More than 12,000 px a side or 50 megapixels.
    ImageTooLarge,
    /// The image data is damaged.
    DamagedImage,
    /// The upload is not for a live call of this booth.
    NotInCall,
    /// The document link has expired.
    Expired,
    /// A bug on the server side; the request changed nothing.
    Internal,
    /// Too many messages on this connection; slow down (persistent floods close the connection).
    RateLimited,
    /// Too many failed logins for this account or address; retry after the stated time.
    TooManyAttempts,
    /// The server is at a capacity limit (connections, uploads); retry shortly.
    ServerBusy,
    /// The HTTP method is not allowed on this path.
    MethodNotAllowed,
    /// The request (headers or body) was not received in time.
    RequestTimeout,
}

impl ErrorCode {
    /// The HTTP status a REST answer with this code carries (the one mapping; handlers never
    /// choose a status by hand).
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadMessage | UnsupportedVersion | InvalidField | EmptyFile => 400,
            NotAuthenticated | InvalidToken | BadCredentials => 401,
            Forbidden => 403,
            UnknownService | NotFound => 404,
            MethodNotAllowed => 405,
            RequestTimeout => 408,
            TicketAlreadyOpen | WrongState | NotInCall => 409,
            Expired => 410,
            MessageTooLarge | FileTooLarge => 413,
            UnsupportedFormat => 415,
            TruncatedImage | ImageTooLarge | DamagedImage => 422,
            RateLimited | TooManyAttempts => 429,
            Internal => 500,
            ShuttingDown | ServerBusy => 503,
        }
    }

    /// The standard Simplified Chinese and English texts for this code.
    pub fn messages(self) -> (&'static str, &'static str) {
        use ErrorCode::*;
        match self {
            BadMessage => ("消息格式不正确", "The message is malformed or of an unknown type"),
            MessageTooLarge => ("消息过大", "The message is too large"),
            UnsupportedVersion => {
                ("客户端版本不兼容，请更新", "Unsupported protocol version; please update the client")
            }
            NotAuthenticated => ("请先登录", "Please authenticate first (send hello)"),
            InvalidToken => ("登录已失效，请重新登录", "The token is invalid or expired; please sign in again"),
            Forbidden => ("无权执行此操作", "You are not allowed to do this"),
            BadCredentials => ("账号或密码错误", "Unknown account or wrong secret"),
            UnknownService => ("没有这个服务事项", "Unknown service item"),
            TicketAlreadyOpen => ("您已在排队中", "This booth already has an open ticket"),
            NotFound => ("未找到对应的记录", "No such ticket, offer or call for you"),
            WrongState => ("当前状态下不能执行此操作", "Not possible in the current state"),
            InvalidField => ("内容不符合要求", "A field has an invalid value"),
            ShuttingDown => ("系统维护中，请稍后再试", "The server is shutting down; please retry shortly"),
            EmptyFile => ("照片为空，请重新拍摄", "The photo is empty; please take it again."),
            FileTooLarge => ("照片文件过大（最大 20 MB）", "The photo file is too large (20 MB at most)."),
            UnsupportedFormat => ("只支持 JPEG 或 PNG 照片", "Only JPEG or PNG photos are accepted."),
            TruncatedImage => ("照片不完整，请重新拍摄", "The photo is incomplete; please take it again."),
            ImageTooLarge => (
                "照片尺寸过大（每边最多 12000 像素，共 5000 万像素）",
                "The photo is too large (12,000 px a side, 50 MP at most).",
            ),
            DamagedImage => ("照片已损坏，请重新拍摄", "The photo is damaged; please take it again."),
            NotInCall => ("当前没有进行中的视频办理，无法上传", "There is no live call of yours to upload to."),
            Expired => ("链接已过期", "The link has expired."),
            Internal => ("系统内部错误，请稍后再试", "Internal error; please retry"),
            RateLimited => ("操作过于频繁，请稍后再试", "Too many messages; please slow down"),
            TooManyAttempts => ("登录失败次数过多，请稍后再试", "Too many failed sign-in attempts; please retry later"),
            ServerBusy => ("系统繁忙，请稍后再试", "The server is busy; please retry shortly"),
            MethodNotAllowed => ("不支持此请求方式", "This HTTP method is not allowed here"),
            RequestTimeout => ("请求超时，请重试", "The request was not received in time; please retry"),
        }
    }
}

/// Why an incoming frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
}

impl DecodeError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } => ErrorCode::MessageTooLarge,
            DecodeError::Malformed(_) => ErrorCode::BadMessage,
        }
    }
}
