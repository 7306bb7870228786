//! The problems found in a config, each under the key path it concerns.

use super::env;
use std::fmt;

/// Every problem found in a config, each with the key path it concerns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    /// Records a problem; only the first for each key is kept, since later
    /// ones are usually its consequences (an unset variable, then "too short";
    /// an unreadable `secret_file`, then a missing `secret`).
    pub fn push(&mut self, path: &str, message: impl Into<String>) {
        let reported = |known: &str| known == path || known.strip_suffix("_file") == Some(path);
        if !self.0.iter().any(|(known, _)| reported(known)) {
            self.0.push((path.to_owned(), message.into()));
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    /// Adds `(from DOORMAN_X)` to each problem with a key a variable set.
    pub(super) fn naming_variables(mut self, applied: &env::Applied) -> Problems {
        if applied.is_empty() {
            return self;
        }
        for (path, message) in &mut self.0 {
            if let Some(variable) = applied.variable_for(path) {
                message.push_str(&format!(" (from {variable})"));
            }
        }
        self
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (path, message)) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{path}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl crate::report::Report for Problems {
    fn report(&mut self, path: &str, message: String) {
        self.push(path, message);
    }
}
