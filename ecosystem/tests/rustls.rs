//! tokio-rustls over gmp streams (gmp's `tokio-io` feature): a TLS server and client on
//! gmp `TcpStream`s with a self-signed certificate from `rcgen` (ring as the crypto
//! provider): a 1 MiB echo in both directions, and HTTPS with hyper on both ends.

use std::sync::Arc;

use gmp::hyper::GmpExecutor;
use gmp::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[path = "support/mod.rs"]
mod support;

/// A server and a client config that trust one self-signed certificate for "localhost".
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    // ring, not aws-lc-rs (rustls' default): no cmake/C toolchain build on CI. rustls
    // deprecates ring's provider for lacking post-quantum key exchange, which a loopback
    // test does not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der: CertificateDer<'static> = cert.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());

    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let mut roots = RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[test]
fn tls_echo_over_gmp_streams() {
    support::run("tls echo", async {
        let (server_cfg, client_cfg) = configs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(server_cfg);
        let server = gmp::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = tls.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                tls.write_all(&buf[..n]).await.unwrap();
            }
            tls.shutdown().await.unwrap();
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let connector = TlsConnector::from(client_cfg);
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let (mut rd, mut wr) = tokio::io::split(tls);
        let data: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
        let sent = data.clone();
        let writer = gmp::spawn(async move {
            wr.write_all(&sent).await.unwrap();
            wr.shutdown().await.unwrap(); // close_notify, then FIN
        });
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert!(
            back == data,
            "echo differs ({} of {} bytes)",
            back.len(),
            data.len()
        );
        server.await.unwrap();
    });
}

#[test]
fn https_with_hyper_over_tokio_rustls() {
    support::run("https", async {
        let (server_cfg, client_cfg) = configs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(server_cfg);
        gmp::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                gmp::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    let svc =
                        hyper::service::service_fn(move |req: Request<Incoming>| async move {
                            let body = format!("{:?} {}", req.version(), req.uri().path());
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from(body),
                            )))
                        });
                    let io = TokioIo::new(tls);
                    let _ = if h2 {
                        hyper::server::conn::http2::Builder::new(GmpExecutor::new())
                            .serve_connection(io, svc)
                            .await
                    } else {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .await
                    };
                });
            }
        });

        for (alpn, want) in [
            (&b"http/1.1"[..], "HTTP/1.1 /tls"),
            (&b"h2"[..], "HTTP/2.0 /tls"),
        ] {
            let mut cfg = (*client_cfg).clone();
            cfg.alpn_protocols = vec![alpn.to_vec()];
            let tcp = TcpStream::connect(addr).await.unwrap();
            let tls = TlsConnector::from(Arc::new(cfg))
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .unwrap();
            let io = TokioIo::new(tls);
            let req = Request::get("https://localhost/tls")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let resp = if alpn == b"h2" {
                let (mut send, conn) =
                    hyper::client::conn::http2::handshake(GmpExecutor::new(), io)
                        .await
                        .unwrap();
                gmp::spawn(conn);
                send.send_request(req).await.unwrap()
            } else {
                let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                gmp::spawn(conn);
                send.send_request(req).await.unwrap()
            };
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(String::from_utf8_lossy(&body), want);
        }
    });
}
