//! The Python that tests hand work to (pyarrow reads Parquet exports; chDB replays queries on a current
//! ClickHouse): `$VIGIL_PYTHON`, else the venv scripts/test.sh makes in `target/pyarrow-venv`.

use std::path::PathBuf;

/// A Python that can import `module`; panics with how to get one.
pub fn with_module(module: &str) -> PathBuf {
    let candidates = [
        std::env::var_os("VIGIL_PYTHON").map(PathBuf::from),
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyarrow-venv/bin/python")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| {
            std::process::Command::new(p)
                .args(["-c", &format!("import {module}")])
                .status()
                .is_ok_and(|s| s.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "a Python with `{module}` is needed: run scripts/test.sh, or `python3 -m venv target/pyarrow-venv && \
                 target/pyarrow-venv/bin/pip install pyarrow chdb-core==26.9.0`, or set VIGIL_PYTHON"
            )
        })
}
