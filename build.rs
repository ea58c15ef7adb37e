//! Compiles the Slint UI when the `gui` feature is on: `ui/main.slint` with the bundled
//! translations in `translations/` (source strings are Simplified Chinese, `en` translates them)
//! and the debug info the testing backend needs to find elements by accessible label.

fn main() {
    #[cfg(feature = "gui")]
    {
        println!("cargo:rerun-if-changed=ui");
        println!("cargo:rerun-if-changed=translations");
        let config = slint_build::CompilerConfiguration::new()
            .with_style("fluent".into())
            .with_bundled_translations("translations")
            .with_default_translation_context(slint_build::DefaultTranslationContext::None)
            .with_debug_info(true);
        if let Err(e) = slint_build::compile_with_config("ui/main.slint", config) {
            eprintln!("the Slint UI does not compile: {e}");
            std::process::exit(1);
        }
    }
}
