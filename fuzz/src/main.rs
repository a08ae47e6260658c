//! `cargo run --release -p vigil-fuzz -- [SECONDS] [SEED]`: mutates the corpus
//! (`fuzz/corpus/encoders/`) for SECONDS (default 20), checking every input; an input that
//! breaks an invariant is written to `fuzz/corpus/encoders/crash-<n>` and the run exits 1.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use vigil_fuzz::{check, mutate, Rng};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x5eed_f022);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/encoders");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if corpus.is_empty() {
        corpus.push(b"seed".to_vec());
    }
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut v = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut v);
        }
        v.truncate(1 << 16);
        runs += 1;
        if let Err(why) = check(&v) {
            let path = dir.join(format!("crash-{runs}"));
            let _ = std::fs::write(&path, &v);
            eprintln!("fuzz: {why}; input saved to {}", path.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    println!("fuzz: {runs} inputs in {seconds} s, every invariant held");
    std::process::ExitCode::SUCCESS
}
