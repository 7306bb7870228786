//! Files built into the binary, by name: the templates and the messages.

/// `&[(name, contents)]`: each file `$dir` + name + `$tail`, read at build
/// time (the path relative to the file that names it, as `include_str!`).
macro_rules! embedded {
    ($dir:literal, $tail:literal: $($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!($dir, $name, $tail)))),+]
    };
}
pub(crate) use embedded;
