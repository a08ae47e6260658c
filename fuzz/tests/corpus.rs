//! Replays the fuzz corpus (`fuzz/corpus/encoders/`): every input, the same checks.
#![allow(clippy::panic)]

#[test]
fn the_corpus_passes_every_check() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/encoders");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let v = std::fs::read(e.path()).unwrap_or_default();
        if let Err(why) = vigil_fuzz::check(&v) {
            panic!("{}: {why}", e.path().display());
        }
        n += 1;
    }
    assert!(n > 5, "corpus too small: {n}");
}
