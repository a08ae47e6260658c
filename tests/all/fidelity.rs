//! The harness's fidelity table (`host-harness/src/fidelity.rs`) cannot drift: every test a
//! row cites exists, and the README shows the table as the code has it (`BLESS=1` rewrites
//! the README's copy, between its `fidelity:begin` and `fidelity:end` markers).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vigil_harness::fidelity::{markdown, Evidence, ROWS};
use vigil_tests::envoy::workspace_root;

const BEGIN: &str = "<!-- fidelity:begin (generated from host-harness/src/fidelity.rs; BLESS=1 cargo test fidelity) -->\n";
const END: &str = "<!-- fidelity:end -->";

#[test]
fn every_test_a_fidelity_row_cites_exists() {
    for row in ROWS {
        if let Evidence::Test(t) = row.evidence {
            let (file, func) = t.split_once("::").unwrap();
            let src =
                std::fs::read_to_string(workspace_root().join(format!("tests/all/{file}.rs")))
                    .unwrap_or_else(|e| panic!("{:?} cites {t}: {e}", row.imports));
            assert!(
                src.contains(&format!("fn {func}(")),
                "{:?} cites {t}, which does not exist",
                row.imports
            );
        }
    }
}

#[test]
fn the_readme_shows_the_fidelity_table_as_the_code_has_it() {
    let path = workspace_root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README: no fidelity:begin marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("README: no fidelity:end marker");
    let want = markdown();
    if readme[start..end] == want {
        return;
    }
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(
            &path,
            format!("{}{want}{}", &readme[..start], &readme[end..]),
        )
        .unwrap();
        return;
    }
    panic!("the README's fidelity table is stale: run BLESS=1 cargo test fidelity");
}
