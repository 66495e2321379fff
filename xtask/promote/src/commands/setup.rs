//! `cargo xtask setup [--check]`.

use anyhow::Result;

use crate::cli::{GlobalArgs, SetupArgs};
use crate::errors::exit;
use crate::toolchain::{Toolchain, setup};
use crate::ui;

pub fn run(global: &GlobalArgs, args: &SetupArgs) -> Result<u8> {
    let config = super::load_config(global)?;
    if args.check {
        let toolchain = Toolchain::load(&config)?;
        let rows = setup::check(&config, &toolchain)?;
        let mut all_ok = true;
        for row in &rows {
            all_ok &= row.ok;
            println!(
                "{:<4} {:<11} want {:<28} found {}",
                if row.ok { "ok" } else { "MISS" },
                row.what,
                row.wanted,
                row.found
            );
        }
        if !all_ok {
            println!("\nrun `cargo xtask setup` to install what is missing");
            return Ok(exit::GATE_FAILED);
        }
        return Ok(exit::OK);
    }
    let installed = setup::install(&config)?;
    let toolchain = Toolchain::load(&config)?;
    let versions: Vec<String> = config
        .tools
        .packages()
        .iter()
        .map(|(name, _)| format!("{name} {}", toolchain.venv_version(name).unwrap_or("?")))
        .collect();
    if installed.is_empty() {
        ui::status(
            "Fresh",
            format!("{} ({})", toolchain.venv.display(), versions.join(", ")),
        );
    } else {
        ui::status(
            "Installed",
            format!("{} ({})", toolchain.venv.display(), versions.join(", ")),
        );
    }
    Ok(exit::OK)
}
