//! A TLS listener for Envoy runs ([`crate::envoy::Options::tls`]): test certificates made
//! with openssl (a CA, the server's for `vigil.test`, a client's for `CN=alice,O=Vigil` with
//! a URI and a DNS SAN), a second listener with Vigil's filter chain behind a
//! `DownstreamTlsContext` (client certificates optional, checked against the CA), and a
//! client (`tests/tls-client.py`, Python's `ssl`) that sends raw request bytes.

use anyhow::{anyhow, ensure, Context as _, Result};
use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::envoy::workspace_root;
use crate::http::HttpResponse;

/// Makes the certificates in `dir` (EC P-256 keys: fast).
pub fn make_certs(dir: &Path) -> Result<()> {
    let run = |args: &[&str]| -> Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .context("running openssl")?;
        ensure!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let with = |head: &[&'static str], tail: &[&'static str]| -> Vec<&'static str> {
        head.iter()
            .chain(key.iter())
            .chain(tail.iter())
            .copied()
            .collect()
    };
    run(&with(
        &["req", "-x509"],
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Vigil Test CA",
        ],
    ))?;
    for (name, subj, san) in [
        ("server", "/CN=vigil.test", "DNS:vigil.test"),
        (
            "client",
            "/O=Vigil/CN=alice",
            "URI:spiffe://vigil.test/alice,DNS:alice.vigil.test",
        ),
    ] {
        let (k, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        fs::write(dir.join(&ext), format!("subjectAltName={san}\n"))?;
        let req = [
            "req".to_string(),
            "-keyout".into(),
            k,
            "-out".into(),
            csr.clone(),
            "-subj".into(),
            subj.into(),
        ];
        let mut args: Vec<&str> = vec![req[0].as_str()];
        args.extend(key);
        args.extend(req[1..].iter().map(String::as_str));
        run(&args)?;
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ])?;
    }
    Ok(())
}

/// `config` with a copy of Vigil's listener on `port` behind TLS (certificates in `dir`).
pub fn with_tls_listener(config: &str, dir: &Path, port: u16) -> Result<String> {
    let start = config
        .find("  - name: vigil_listener\n")
        .ok_or_else(|| anyhow!("no vigil_listener in the configuration"))?;
    let rest = &config[start + 1..];
    let end = start
        + 1
        + [rest.find("\n  - name: "), rest.find("\n  clusters:")]
            .into_iter()
            .flatten()
            .min()
            .ok_or_else(|| anyhow!("no end to vigil_listener"))?
        + 1;
    let block = &config[start..end];
    let d = dir.display();
    let socket = format!(
        r#"    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificates:
            - certificate_chain: {{ filename: "{d}/server.crt" }}
              private_key: {{ filename: "{d}/server.key" }}
            validation_context:
              trusted_ca: {{ filename: "{d}/ca.crt" }}
      filters:
"#
    );
    let anchor = "    filter_chains:\n    - filters:\n";
    ensure!(block.contains(anchor), "no filter chain in vigil_listener");
    let tls = block
        .replacen("name: vigil_listener", "name: vigil_tls", 1)
        .replacen("port_value: 0 }", &format!("port_value: {port} }}"), 1)
        .replacen(anchor, &socket, 1);
    Ok(format!("{}{tls}{}", &config[..end], &config[end..]))
}

/// Sends `bytes` over TLS (SNI `vigil.test`, the test CA trusted), with the client
/// certificate when `client_cert`; reads the response to the end.
pub fn send_tls(
    addr: SocketAddr,
    dir: &Path,
    bytes: &[u8],
    client_cert: bool,
) -> Result<HttpResponse> {
    let script = workspace_root().join("tests/tls-client.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .args([
            addr.ip().to_string(),
            addr.port().to_string(),
            "vigil.test".into(),
        ])
        .arg(dir.join("ca.crt"));
    if client_cert {
        cmd.arg(dir.join("client.crt")).arg(dir.join("client.key"));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tests/tls-client.py")?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin"))?
        .write_all(bytes)?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "tls-client.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::http::parse_response(&out.stdout)
}
