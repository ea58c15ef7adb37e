//! The reference county back office (`county-backoffice`): receives applications exactly once.

/// Entry point of the `county-backoffice` binary.
pub fn main() -> std::process::ExitCode {
    eprintln!("error: county-backoffice is not built yet");
    std::process::ExitCode::FAILURE
}
