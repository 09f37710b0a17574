//! etcd's v2 errors: numeric codes, messages, causes and HTTP statuses, as
//! etcd's `v2error` package writes them.

use serde::Serialize;

/// An etcd v2 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Code {
    KeyNotFound = 100,
    TestFailed = 101,
    NotFile = 102,
    NotDir = 104,
    NodeExist = 105,
    RootReadOnly = 107,
    DirNotEmpty = 108,
    Unauthorized = 110,
    PrevValueRequired = 201,
    TtlNaN = 202,
    IndexNaN = 203,
    InvalidField = 209,
    InvalidForm = 210,
    RefreshValue = 211,
    RefreshTtlRequired = 212,
    RaftInternal = 300,
    LeaderElect = 301,
    EventIndexCleared = 401,
}

impl Code {
    /// etcd's message for the code.
    pub fn message(self) -> &'static str {
        match self {
            Code::KeyNotFound => "Key not found",
            Code::TestFailed => "Compare failed",
            Code::NotFile => "Not a file",
            Code::NotDir => "Not a directory",
            Code::NodeExist => "Key already exists",
            Code::RootReadOnly => "Root is read only",
            Code::DirNotEmpty => "Directory not empty",
            Code::Unauthorized => "The request requires user authentication",
            Code::PrevValueRequired => "PrevValue is Required in POST form",
            Code::TtlNaN => "The given TTL in POST form is not a number",
            Code::IndexNaN => "The given index in POST form is not a number",
            Code::InvalidField => "Invalid field",
            Code::InvalidForm => "Invalid POST form",
            Code::RefreshValue => "Value provided on refresh",
            Code::RefreshTtlRequired => "A TTL must be provided on refresh",
            Code::RaftInternal => "Raft Internal Error",
            Code::LeaderElect => "During Leader Election",
            Code::EventIndexCleared => "The event in requested index is outdated and cleared",
        }
    }

    /// The HTTP status etcd answers the code with.
    pub fn http_status(self) -> u16 {
        match self {
            Code::KeyNotFound => 404,
            Code::NotFile | Code::DirNotEmpty => 403,
            Code::Unauthorized => 401,
            Code::TestFailed | Code::NodeExist => 412,
            Code::RaftInternal | Code::LeaderElect => 500,
            _ => 400,
        }
    }

    /// The code with number `n`.
    pub fn from_number(n: u32) -> Option<Code> {
        ALL.iter().copied().find(|c| *c as u32 == n)
    }
}

const ALL: &[Code] = &[
    Code::KeyNotFound,
    Code::TestFailed,
    Code::NotFile,
    Code::NotDir,
    Code::NodeExist,
    Code::RootReadOnly,
    Code::DirNotEmpty,
    Code::Unauthorized,
    Code::PrevValueRequired,
    Code::TtlNaN,
    Code::IndexNaN,
    Code::InvalidField,
    Code::InvalidForm,
    Code::RefreshValue,
    Code::RefreshTtlRequired,
    Code::RaftInternal,
    Code::LeaderElect,
    Code::EventIndexCleared,
];

/// An etcd v2 error, as its JSON body (`errorCode`, `message`, `cause`, `index`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({})", self.code.message(), self.cause)]
pub struct V2Error {
    /// The code.
    pub code: Code,
    /// What it is about (a path, a comparison), etcd's wording.
    pub cause: String,
    /// The store's index when it happened.
    pub index: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error_code: u32,
    message: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cause: &'a str,
    index: u64,
}

impl V2Error {
    /// An error with `cause` at store index `index`.
    pub fn new(code: Code, cause: impl Into<String>, index: u64) -> Self {
        V2Error { code, cause: cause.into(), index }
    }

    /// The JSON body etcd writes, with its trailing newline.
    pub fn to_json(&self) -> String {
        let body =
            Body { error_code: self.code as u32, message: self.code.message(), cause: &self.cause, index: self.index };
        let mut out = serde_json::to_string(&body).expect("an error serializes");
        out.push('\n');
        out
    }
}
