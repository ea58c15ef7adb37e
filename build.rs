//! Compiles the Slint UI when the `gui` feature is on.

fn main() {
    #[cfg(feature = "gui")]
    {
        let config = slint_build::CompilerConfiguration::new().with_style("fluent".into());
        slint_build::compile_with_config("ui/main.slint", config).expect("Slint UI compiles");
    }
}
