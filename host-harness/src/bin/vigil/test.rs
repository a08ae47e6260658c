//! `vigil test`: case files (traffic with `expect` lists) run through the plugin, each in a
//! fresh harness; every failing case is shown with what differs, then `N passed, M failed`.

use std::io::Write as _;

use anyhow::{anyhow, Context as _};
use vigil_harness::expect;
use vigil_harness::AccessLogger;

use crate::{label, print_diagnostics, setup, sink_keys, Common, Failure};

/// Runs every case file; `Ok(true)` when every case passed.
pub fn run(common: &Common, files: &[String], sink: Option<&str>) -> Result<bool, Failure> {
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in files {
        let c = Common {
            traffic: file.clone(),
            ..common.clone()
        };
        let keys = sink_keys(&c, sink)?;
        let access_log = !keys.is_empty();
        let (mut h, xs) = setup(&c, 1, |o| {
            o.access_loggers = keys.into_iter().map(AccessLogger::filter_state).collect();
        })?;
        if xs.iter().all(|x| x.expect.is_none()) {
            return Err(Failure(
                2,
                anyhow!("{file}: no exchange has an `expect` list: nothing to test"),
            ));
        }
        for x in &xs {
            let o = h.run(x).map_err(|e| anyhow!(e))?;
            print_diagnostics(&o.logs);
            if let Some(f) = &o.vm_failed {
                return Err(anyhow!("{file}: {}: the plugin VM failed: {f}", label(x)).into());
            }
            let Some(want) = &x.expect else { continue };
            let events: Vec<String> = if access_log {
                o.access_log
                    .iter()
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .collect()
            } else {
                o.events.clone()
            };
            match expect::check(want, &events) {
                Ok(()) => passed += 1,
                Err(report) => {
                    failed += 1;
                    writeln!(out, "FAIL {file}: {}", label(x)).context("cannot write stdout")?;
                    for l in report {
                        writeln!(out, "  {l}").context("cannot write stdout")?;
                    }
                }
            }
        }
        for vm in h.vms_mut() {
            vm.take_logs();
        }
    }
    writeln!(out, "{passed} passed, {failed} failed").context("cannot write stdout")?;
    Ok(failed == 0)
}
