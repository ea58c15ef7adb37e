//! The `county-backoffice` binary: the reference county back office.

fn main() -> std::process::ExitCode {
    village_kiosk::backoffice::main()
}
