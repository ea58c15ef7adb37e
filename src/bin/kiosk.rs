//! The `kiosk` binary: the terminal's app and the technician's commands.

fn main() -> std::process::ExitCode {
    village_kiosk::cli::main()
}
