//! `proxy_set_tick_period_milliseconds`, `proxy_get_current_time_nanoseconds`.

use wasmtime::{Caller, Linker};

use super::{hit, link_err, status, write_u64, HostResult};
use crate::counting::Hc;
use crate::state::HostState;

/// Links the timer/clock family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_set_tick_period_milliseconds",
            |mut c: Caller<'_, HostState>, period: i32| -> HostResult {
                hit(&mut c, Hc::SetTickPeriod);
                let st = c.data_mut();
                // Envoy keeps one timer per root context; 0 disables it.
                st.tick_period_ms = period as u32;
                st.next_tick_ns = if period == 0 {
                    None
                } else {
                    Some(
                        st.now_ns
                            .saturating_add(u64::from(period as u32) * 1_000_000),
                    )
                };
                Ok(0)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_current_time_nanoseconds",
            |mut c: Caller<'_, HostState>, ptr: i32| -> HostResult {
                hit(&mut c, Hc::GetCurrentTime);
                let now = c.data().now_ns;
                Ok(status(write_u64(&mut c, ptr, now)))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
