//! `proxy_call_foreign_function`: the functions Envoy 1.40 registers, as far as a harness can
//! run them.
//!
//! Measured with the conformance probe (every name called with empty arguments): Envoy
//! answers `clear_route_cache` Ok, `compress` Ok with a zlib stream (8 bytes for empty
//! input), `uncompress` SerializationFailure for input that is not zlib, `declare_property`
//! Ok (empty arguments are a valid, empty `DeclarePropertyArguments`),
//! `set_envoy_filter_state` NotFound (no object factory for the empty key),
//! `expr_create`/`expr_evaluate`/`expr_delete`, `sign` and `verify_signature` BadArgument, and
//! an unknown name NotFound. The harness:
//! - `clear_route_cache`: Ok, recorded as a stream control (`clear_route_cache()`);
//! - `compress` / `uncompress`: real zlib (`miniz_oxide`; the bytes may differ from Envoy's
//!   zlib, both are valid streams of the same data);
//! - `declare_property`: parses the protobuf (malformed → BadArgument), records the name
//!   ([`crate::state::HostState`]`::declared_properties`), Ok; the declared type and span do
//!   not change how `set_property` stores values (not emulated);
//! - `set_envoy_filter_state`: parses the protobuf (malformed → BadArgument), then NotFound:
//!   no filter-state object factory is emulated;
//! - CEL (`expr_*`) and signatures (`sign`, `verify_signature`): not emulated, BadArgument
//!   whatever the arguments (Envoy's answer to empty ones);
//! - any other name: NotFound.

use wasmtime::{Caller, Linker};

use super::{copy_out, hit, link_err, read, read_str, status, HostResult};
use crate::abi::Status;
use crate::counting::Hc;
use crate::state::HostState;

/// Walks a protobuf message's fields (wire format only): `(field number, value bytes)` for
/// length-delimited fields, `None` if the bytes are not a well-formed message.
fn proto_fields(mut b: &[u8]) -> Option<Vec<(u64, Vec<u8>)>> {
    fn varint(b: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&x, rest) = b.split_first()?;
            *b = rest;
            v |= u64::from(x & 0x7f) << shift;
            if x < 0x80 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        match key & 7 {
            0 => {
                varint(&mut b)?;
            }
            1 => b = b.get(8..)?,
            2 => {
                let n = usize::try_from(varint(&mut b)?).ok()?;
                out.push((key >> 3, b.get(..n)?.to_vec()));
                b = &b[n..];
            }
            5 => b = b.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

/// Runs one foreign function: the status and the returned bytes.
fn call(st: &mut HostState, name: &str, args: &[u8]) -> (Status, Vec<u8>) {
    match name {
        "clear_route_cache" => {
            st.stream_controls.push("clear_route_cache()".into());
            (Status::Ok, Vec::new())
        }
        "compress" => (
            Status::Ok,
            miniz_oxide::deflate::compress_to_vec_zlib(args, 6),
        ),
        "uncompress" => {
            match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(args, 64 << 20) {
                Ok(v) => (Status::Ok, v),
                Err(_) => (Status::SerializationFailure, Vec::new()),
            }
        }
        "declare_property" => match proto_fields(args) {
            Some(fields) => {
                let name = fields
                    .iter()
                    .find(|(n, _)| *n == 1)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                st.declared_properties.push(name);
                (Status::Ok, Vec::new())
            }
            None => (Status::BadArgument, Vec::new()),
        },
        "set_envoy_filter_state" => match proto_fields(args) {
            Some(_) => (Status::NotFound, Vec::new()),
            None => (Status::BadArgument, Vec::new()),
        },
        "expr_create" | "expr_evaluate" | "expr_delete" | "sign" | "verify_signature" => {
            (Status::BadArgument, Vec::new())
        }
        _ => (Status::NotFound, Vec::new()),
    }
}

/// Links `proxy_call_foreign_function`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_call_foreign_function",
            |mut c: Caller<'_, HostState>,
             np: i32,
             nl: i32,
             ap: i32,
             al: i32,
             rpp: i32,
             rsp: i32|
             -> HostResult {
                hit(&mut c, Hc::CallForeignFunction);
                let name = match read_str(&mut c, np, nl) {
                    Ok(n) => n,
                    Err(s) => return Ok(s.code()),
                };
                let args = match read(&mut c, ap, al) {
                    Ok(a) => a,
                    Err(s) => return Ok(s.code()),
                };
                let (answer, out) = call(c.data_mut(), &name, &args);
                if answer != Status::Ok {
                    return Ok(answer.code());
                }
                Ok(status(copy_out(&mut c, &out, rpp, rsp)?))
            },
        )
        .map_err(link_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::proto_fields;

    #[test]
    fn protobuf_wire_walk() {
        assert_eq!(proto_fields(b""), Some(vec![]));
        assert_eq!(
            proto_fields(b"\x0a\x03abc\x10\x01"),
            Some(vec![(1, b"abc".to_vec())])
        );
        assert_eq!(proto_fields(b"\x0a\x05ab"), None);
        assert_eq!(proto_fields(b"\x0f"), None);
    }
}
