//! Where a keystore password comes from: `--password-file`, then `METAMESH_PASSWORD`, then an
//! interactive prompt on the terminal.

use std::{io::IsTerminal as _, path::Path};

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

/// The password source flags shared by every command that unlocks or stores a key.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PasswordArgs {
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<std::path::PathBuf>,
}

impl PasswordArgs {
    /// Gets a password; `confirm` asks twice when prompting (for new keys).
    pub fn read(&self, purpose: &str, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
        if let Some(path) = &self.password_file {
            return from_file(path);
        }
        if let Ok(pw) = std::env::var("METAMESH_PASSWORD") {
            return Ok(Zeroizing::new(pw));
        }
        if !std::io::stdin().is_terminal() {
            bail!("no password given: use --password-file FILE or set METAMESH_PASSWORD");
        }
        let first = Zeroizing::new(
            rpassword::prompt_password(format!("Password for {purpose}: "))
                .context("reading the password")?,
        );
        if confirm {
            let again = Zeroizing::new(
                rpassword::prompt_password("Repeat password: ").context("reading the password")?,
            );
            if *first != *again {
                bail!("the two passwords differ");
            }
        }
        Ok(first)
    }
}

fn from_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading password file {}", path.display()))?,
    );
    let line = text.lines().next().unwrap_or_default();
    Ok(Zeroizing::new(line.to_owned()))
}
