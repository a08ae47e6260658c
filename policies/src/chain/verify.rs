//! Checking chained records ([`super`]): `vigil verify`'s logic, any format, many chains
//! interleaved in one or more files.

use super::{checkpoint_mac, hex, key_id, link};

/// One record as read back: its chain fields and the record without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it was (file and line, for findings).
    pub at: String,
    /// The chain fields.
    pub fields: super::Fields,
    /// `kind`, `reason`, `emitted`, `dropped`, `key_id`, `mac` as written.
    pub kind: Option<String>,
    /// A checkpoint's `dropped` text.
    pub dropped: Option<String>,
    /// A checkpoint's `emitted`.
    pub emitted: Option<u64>,
    /// A checkpoint's key id and MAC.
    pub mac: Option<(String, String)>,
    /// The record as emitted without its chain member.
    pub unsealed: String,
}

/// The value of `"k":` in a flat JSON object text (strings without escapes, or numbers).
fn json_field<'a>(obj: &'a str, k: &str) -> Option<&'a str> {
    let pat = format!("\"{k}\":");
    let i = obj.find(&pat)? + pat.len();
    let rest = &obj[i..];
    if let Some(r) = rest.strip_prefix('"') {
        r.find('"').map(|j| &r[..j])
    } else {
        let j = rest.find([',', '}']).unwrap_or(rest.len());
        Some(&rest[..j])
    }
}

/// Reads one line: the record from its first `{` or `CEF:0|` (a log prefix before it, such
/// as Envoy's `wasm log … : `, is skipped); `None` for a line with no chained record.
pub fn parse(at: &str, line: &str) -> Option<Record> {
    let start = match (line.find('{'), line.find("CEF:0|")) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return None,
    };
    let rec = line[start..].trim_end_matches(['\r', '\n']);
    if rec.starts_with("CEF:0|") {
        let i = rec.rfind(" vigilChainId=")?;
        let (unsealed, ext) = rec.split_at(i);
        let get = |k: &str| {
            let pat = format!(" {k}=");
            ext.find(&pat).map(|j| {
                let v = &ext[j + pat.len()..];
                &v[..v.find(' ').unwrap_or(v.len())]
            })
        };
        return Some(Record {
            at: at.to_string(),
            fields: super::Fields {
                id: get("vigilChainId")?.to_string(),
                seq: get("vigilChainSeq")?.parse().ok()?,
                prev: get("vigilChainPrev")?.to_string(),
                hash: get("vigilChainHash")?.to_string(),
                extra: super::Extra::default(),
            },
            kind: get("vigilChainKind").map(String::from),
            dropped: get("vigilChainDropped").map(String::from),
            emitted: get("vigilChainEmitted").and_then(|v| v.parse().ok()),
            mac: get("vigilChainMac").map(|m| {
                (
                    get("vigilChainKeyId").unwrap_or_default().to_string(),
                    m.to_string(),
                )
            }),
            unsealed: unsealed.to_string(),
        });
    }
    let m = rec.rfind("\"chain\":{")?;
    let end = m + rec[m..].find('}')?;
    let obj = &rec[m + 8..=end];
    let (cut_from, _) = if rec[..m].ends_with(',') {
        (m - 1, ())
    } else {
        (m, ())
    };
    let unsealed = format!("{}{}", &rec[..cut_from], &rec[end + 1..]);
    Some(Record {
        at: at.to_string(),
        fields: super::Fields {
            id: json_field(obj, "id")?.to_string(),
            seq: json_field(obj, "seq")?.parse().ok()?,
            prev: json_field(obj, "prev")?.to_string(),
            hash: json_field(obj, "hash")?.to_string(),
            extra: super::Extra::default(),
        },
        kind: json_field(obj, "kind").map(String::from),
        dropped: json_field(obj, "dropped").map(String::from),
        emitted: json_field(obj, "emitted").and_then(|v| v.parse().ok()),
        mac: json_field(obj, "mac").map(|m| {
            (
                json_field(obj, "key_id").unwrap_or_default().to_string(),
                m.to_string(),
            )
        }),
        unsealed,
    })
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn dropped_total(d: &str) -> u64 {
    d.split(',')
        .filter_map(|kv| kv.rsplit_once(':').and_then(|(_, n)| n.parse::<u64>().ok()))
        .sum()
}

/// Checks every chain among `records` (in the order they were read); one finding per
/// problem, each naming the chain, the sequence number and the class. `key`: the
/// checkpoint key, to check MACs.
pub fn verify(records: &[Record], key: Option<&[u8]>) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    for r in records {
        if !ids.contains(&r.fields.id.as_str()) {
            ids.push(&r.fields.id);
        }
    }
    let mut unkeyed = false;
    for id in ids {
        let chain: Vec<&Record> = records.iter().filter(|r| r.fields.id == id).collect();
        let mut prev: Option<&Record> = None;
        let (mut gaps, mut dropped_at_cp) = (0u64, 0u64);
        let mut last_checkpoint: Option<usize> = None;
        for (i, r) in chain.iter().enumerate() {
            let f = &r.fields;
            let recomputed = unhex(&f.prev).map(|p| hex(&link(&p, r.unsealed.as_bytes())));
            if recomputed.as_deref() != Some(f.hash.as_str()) {
                out.push(format!(
                    "chain {id} seq {}: edited record ({})",
                    f.seq, r.at
                ));
            }
            match prev {
                None => {
                    if f.seq != 0 || r.kind.as_deref() != Some("genesis") {
                        out.push(format!(
                            "chain {id} seq {}: no genesis record: records before seq {} are missing, or the chain was spliced in ({})",
                            f.seq, f.seq, r.at
                        ));
                    }
                }
                Some(p) => {
                    let pf = &p.fields;
                    if f.seq <= pf.seq {
                        out.push(format!(
                            "chain {id} seq {}: reordered (after seq {}) ({})",
                            f.seq, pf.seq, r.at
                        ));
                    } else if f.seq > pf.seq + 1 {
                        gaps += f.seq - pf.seq - 1;
                        out.push(format!(
                            "chain {id} seq {}: {} record(s) deleted after seq {} ({})",
                            f.seq,
                            f.seq - pf.seq - 1,
                            pf.seq,
                            r.at
                        ));
                    } else if f.prev != pf.hash {
                        out.push(format!(
                            "chain {id} seq {}: does not follow seq {} (its prev is not that record's hash: a record from elsewhere, or an edit) ({})",
                            f.seq, pf.seq, r.at
                        ));
                    }
                }
            }
            if r.kind.as_deref() == Some("checkpoint") {
                let total = r.dropped.as_deref().map_or(0, dropped_total);
                if gaps > 0 {
                    let explained = total.saturating_sub(dropped_at_cp) >= gaps;
                    out.push(format!(
                        "chain {id} seq {}: {gaps} missing record(s) {} by the checkpoint's drop counts ({})",
                        f.seq,
                        if explained { "explained" } else { "NOT explained" },
                        r.at
                    ));
                }
                gaps = 0;
                dropped_at_cp = total;
                if r.emitted != Some(f.seq + 1) {
                    out.push(format!(
                        "chain {id} seq {}: checkpoint counts {:?} records, the chain has {} ({})",
                        f.seq,
                        r.emitted,
                        f.seq + 1,
                        r.at
                    ));
                }
                match (key, &r.mac) {
                    (Some(k), Some((kid, mac))) => {
                        let want = checkpoint_mac(
                            k,
                            id,
                            f.seq,
                            &f.hash,
                            r.emitted.unwrap_or(0),
                            r.dropped.as_deref().unwrap_or(""),
                        );
                        if *kid != key_id(k) {
                            out.push(format!(
                                "chain {id} seq {}: re-sealed with another key (key id {kid}, expected {}) ({})",
                                f.seq,
                                key_id(k),
                                r.at
                            ));
                        } else if *mac != want {
                            out.push(format!(
                                "chain {id} seq {}: checkpoint MAC does not match: the chain was rewritten and re-chained ({})",
                                f.seq, r.at
                            ));
                        }
                    }
                    (Some(_), None) => out.push(format!(
                        "chain {id} seq {}: checkpoint without a MAC while a key is given ({})",
                        f.seq, r.at
                    )),
                    (None, _) => unkeyed = true,
                }
                last_checkpoint = Some(i);
            }
            prev = Some(r);
        }
        let tail = match last_checkpoint {
            Some(i) => chain.len() - i - 1,
            None => chain.len(),
        };
        if tail > 0 {
            out.push(format!(
                "chain {id} seq {}: {tail} record(s) after the last checkpoint: a truncated tail cannot be ruled out",
                chain.last().map_or(0, |r| r.fields.seq)
            ));
        }
    }
    if key.is_none() && (unkeyed || !records.is_empty()) {
        out.insert(
            0,
            "warning: no key given: the trail is not tamper-evident against a rewriter (anyone can recompute the hashes)".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::chain::{Chain, Extra};
    use crate::policy::Format;

    const REC: &str = r#"{"event":{"action":"authn_login_fail"},"vigil":{"rule":"login"}}"#;

    /// A chain of a genesis, `n` events and a checkpoint counting `dropped`, with the
    /// records at `skip` never written (as a sink that could not write them).
    fn chain(n: usize, skip: &[usize], dropped: &str, key: Option<&[u8]>) -> Vec<Record> {
        let mut c = Chain::new("00000000000000aa".into());
        let mut lines = vec![c.append(
            Format::Ecs,
            REC,
            Extra {
                kind: Some("genesis"),
                reason: Some("start"),
                ..Extra::default()
            },
        )];
        for i in 0..n {
            let l = c.append(Format::Ecs, REC, Extra::default());
            if !skip.contains(&i) {
                lines.push(l);
            }
        }
        lines.push(c.checkpoint(Format::Ecs, REC, dropped.into(), key, 0));
        lines.iter().map(|l| parse("t", l).unwrap()).collect()
    }

    #[test]
    fn a_gap_counted_as_dropped_is_explained_one_that_is_not_is_named() {
        let f = verify(&chain(5, &[2], "host_refused:1", Some(b"k")), Some(b"k"));
        assert!(
            f.iter()
                .any(|x| x.contains("1 missing record(s) explained")),
            "{f:?}"
        );
        let f = verify(&chain(5, &[2], "", Some(b"k")), Some(b"k"));
        assert!(f.iter().any(|x| x.contains("NOT explained")), "{f:?}");
    }

    #[test]
    fn every_format_seals_and_reads_back() {
        for (format, rec) in [
            (Format::Ecs, REC.to_string()),
            (Format::Owasp, REC.to_string()),
            (
                Format::Ocsf,
                r#"{"class_uid":3002,"unmapped":{"vigil":{"rule":"login"}}}"#.to_string(),
            ),
            (
                Format::Cef,
                "CEF:0|Vigil|Vigil|0.1.0|a|a|3|rt=1 cs1=x\\=y".to_string(),
            ),
        ] {
            let mut c = Chain::new("00000000000000bb".into());
            let sealed = c.append(format, &rec, Extra::default());
            let r = parse("t", &format!("wasm log vigil vigil: {sealed}")).unwrap();
            assert_eq!(r.unsealed, rec, "{format:?}: {sealed}");
            assert_eq!(r.fields.seq, 0);
        }
    }
}
