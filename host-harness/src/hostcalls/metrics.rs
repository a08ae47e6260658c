//! Custom metrics with Envoy semantics: ids carry the type in their low 2 bits (step 4, from
//! 4 + type); every definition gets a new id, and ids of one name share its stat; stats are
//! process-wide (shared by VMs).

use wasmtime::{Caller, Linker};

use super::{hit, link_err, read_str, status, write_u32, write_u64, HostResult};
use crate::abi::{MetricType, Status};
use crate::counting::Hc;
use crate::shared::MetricValue;
use crate::state::HostState;

/// Counts a metric call by metric name (when counting is on and the id is known).
fn count(c: &mut Caller<'_, HostState>, h: Hc, id: i32) {
    hit(c, h);
    let HostState {
        metric_ids,
        counters,
        ..
    } = c.data_mut();
    if !counters.enabled {
        return;
    }
    if let Some((_, name)) = metric_ids.get(&(id as u32)) {
        counters.detail(h, |k| k.extend_from_slice(name.as_bytes()));
    }
}

/// Links the metrics family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_define_metric",
            |mut c: Caller<'_, HostState>, ty: i32, np: i32, nl: i32, idp: i32| -> HostResult {
                hit(&mut c, Hc::DefineMetric);
                let Some(kind) = MetricType::from_u32(ty as u32) else {
                    return Ok(Status::BadArgument.code());
                };
                let name = match read_str(&mut c, np, nl) {
                    Ok(n) => n,
                    Err(s) => return Ok(s.code()),
                };
                // Every definition gets a new id (Envoy 1.40, verified with the conformance
                // probe: the same name twice gives two ids for one stat); ids count up by 4
                // per type from 4 + type, the type in the low 2 bits.
                let st = c.data_mut();
                let slot = kind as usize;
                let id = st.next_metric_id[slot];
                st.next_metric_id[slot] = id.wrapping_add(4);
                st.metric_ids.insert(id, (kind, name.clone()));
                st.shared.define_metric(kind, &name);
                Ok(status(write_u32(&mut c, idp, id)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_increment_metric",
            |mut c: Caller<'_, HostState>, id: i32, offset: i64| -> HostResult {
                count(&mut c, Hc::IncrementMetric, id);
                let st = c.data();
                let Some((kind, name)) = st.metric_ids.get(&(id as u32)) else {
                    return Ok(match MetricType::from_u32(id as u32 & 3) {
                        Some(MetricType::Histogram) | None => Status::BadArgument.code(),
                        _ => Status::NotFound.code(),
                    });
                };
                let r = match kind {
                    MetricType::Counter if offset <= 0 => Err(Status::BadArgument),
                    MetricType::Histogram => Err(Status::BadArgument),
                    _ => st
                        .shared
                        .with_metric(name, |m| match m {
                            MetricValue::Counter(v) => *v = v.wrapping_add(offset as u64),
                            MetricValue::Gauge(v) => *v = v.wrapping_add(offset),
                            MetricValue::Histogram(_) => {}
                        })
                        .ok_or(Status::NotFound),
                };
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_record_metric",
            |mut c: Caller<'_, HostState>, id: i32, value: i64| -> HostResult {
                count(&mut c, Hc::RecordMetric, id);
                let st = c.data();
                let Some((_, name)) = st.metric_ids.get(&(id as u32)) else {
                    return Ok(Status::NotFound.code());
                };
                let r = st
                    .shared
                    .with_metric(name, |m| match m {
                        // Envoy: counter add(value), gauge set(value), histogram record.
                        MetricValue::Counter(v) => *v = v.wrapping_add(value as u64),
                        MetricValue::Gauge(v) => *v = value,
                        MetricValue::Histogram(h) => h.push(value as u64),
                    })
                    .ok_or(Status::NotFound);
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_metric",
            |mut c: Caller<'_, HostState>, id: i32, rp: i32| -> HostResult {
                count(&mut c, Hc::GetMetric, id);
                let st = c.data();
                let Some((_, name)) = st.metric_ids.get(&(id as u32)) else {
                    return Ok(Status::NotFound.code());
                };
                let v = st.shared.with_metric(name, |m| match m {
                    MetricValue::Counter(v) => Ok(*v),
                    MetricValue::Gauge(v) => Ok(*v as u64),
                    // Envoy cannot read a histogram back.
                    MetricValue::Histogram(_) => Err(Status::BadArgument),
                });
                match v {
                    Some(Ok(v)) => Ok(status(write_u64(&mut c, rp, v))),
                    Some(Err(s)) => Ok(s.code()),
                    None => Ok(Status::NotFound.code()),
                }
            },
        )
        .map_err(link_err)?;
    Ok(())
}
