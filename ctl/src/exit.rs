//! etcdctl's exit codes, and failing the way it does: `Error: <message>` on stderr.

/// Success.
pub const SUCCESS: i32 = 0;
/// A request failed.
pub const ERROR: i32 = 1;
/// No connection could be made.
pub const BAD_CONNECTION: i32 = 2;
/// Bad input (txn, watch).
pub const INVALID_INPUT: i32 = 3;
/// A valid flag with an unsupported value.
pub const BAD_FEATURE: i32 = 4;
/// Interrupted.
pub const INTERRUPTED: i32 = 5;
/// Bad arguments.
pub const BAD_ARGS: i32 = 128;

/// Why a command failed, and the exit code that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// The exit code.
    pub code: i32,
    /// The message after `Error: `.
    pub message: String,
}

impl Fail {
    /// A failure with `code`.
    pub fn new(code: i32, message: impl Into<String>) -> Fail {
        Fail { code, message: message.into() }
    }

    /// A failed request (exit code 1).
    pub fn error(message: impl Into<String>) -> Fail {
        Fail::new(ERROR, message)
    }

    /// Bad arguments (exit code 128).
    pub fn bad_args(message: impl Into<String>) -> Fail {
        Fail::new(BAD_ARGS, message)
    }

    /// An unsupported flag value (exit code 4).
    pub fn bad_feature(message: impl Into<String>) -> Fail {
        Fail::new(BAD_FEATURE, message)
    }

    /// Bad input (exit code 3).
    pub fn invalid_input(message: impl Into<String>) -> Fail {
        Fail::new(INVALID_INPUT, message)
    }
}

impl From<cairn_client::Error> for Fail {
    fn from(error: cairn_client::Error) -> Fail {
        Fail::error(error.to_string())
    }
}

impl From<tonic::Status> for Fail {
    fn from(status: tonic::Status) -> Fail {
        Fail::error(cairn_client::status_text(&status))
    }
}

/// Prints `Error: <message>` on stderr and returns the exit code.
pub fn report(fail: &Fail) -> i32 {
    eprintln!("Error: {}", fail.message);
    fail.code
}
