//! tonic 0.14 on gmp: a unary and a server-streaming gRPC service, served as tonic `Routes`
//! by `gmp::hyper::serve`, called through a tonic `Channel` built with
//! `Endpoint::executor(GmpExecutor).connect_with_connector(gmp::hyper::Connector)`, with
//! deadlines.
//!
//! The messages are `prost` derives and the service is written by hand — what
//! `tonic-prost-build` would generate for `service Echo { rpc Unary(EchoRequest) returns
//! (EchoReply); rpc Stream(EchoRequest) returns (stream EchoReply); }` — so CI needs no
//! `protoc` and no build script.
//!
//! Deadlines: a gmp deadline (`gmp::time::timeout` around the call) needs no tokio context;
//! dropping the call resets the HTTP/2 stream and the server's handler is dropped. tonic's
//! own `Request::set_timeout` arms a `tokio::time::sleep` inside the channel, so it needs a
//! tokio context (gmp's `tokio-compat`, here `support::run_with_tokio_context`).

use std::convert::Infallible;
use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::stream::{self, Stream};
use gmp::hyper::{serve, Connector, GmpExecutor};
use gmp::net::TcpListener;
use http::uri::PathAndQuery;
use hyper::body::Bytes;
use tokio::sync::mpsc;
use tonic::codegen::BoxFuture;
use tonic::server::{NamedService, ServerStreamingService, UnaryService};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

#[path = "support/mod.rs"]
mod support;

#[derive(Clone, PartialEq, prost::Message)]
struct EchoRequest {
    #[prost(string, tag = "1")]
    message: String,
    /// Stream: how many replies before the stream stalls (0: never stall).
    #[prost(uint32, tag = "2")]
    count: u32,
    /// Stream: stall after `count` replies instead of ending.
    #[prost(bool, tag = "3")]
    stall: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EchoReply {
    #[prost(string, tag = "1")]
    message: String,
    #[prost(uint32, tag = "2")]
    seq: u32,
    /// The `grpc-timeout` the server saw, if any.
    #[prost(string, tag = "3")]
    grpc_timeout: String,
}

/// The server: `/test.Echo/Unary` and `/test.Echo/Stream`.
#[derive(Clone)]
struct Echo {
    /// Told when a streaming handler's stream is dropped (finished or cancelled).
    dropped: mpsc::UnboundedSender<()>,
}

impl NamedService for Echo {
    const NAME: &'static str = "test.Echo";
}

struct UnarySvc;

impl UnaryService<EchoRequest> for UnarySvc {
    type Response = EchoReply;
    type Future = BoxFuture<Response<EchoReply>, Status>;

    fn call(&mut self, req: Request<EchoRequest>) -> Self::Future {
        Box::pin(async move {
            let grpc_timeout = req
                .metadata()
                .get("grpc-timeout")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let msg = req.into_inner();
            if msg.stall {
                std::future::pending::<()>().await;
            }
            Ok(Response::new(EchoReply {
                message: msg.message,
                seq: 0,
                grpc_timeout,
            }))
        })
    }
}

struct StreamSvc(mpsc::UnboundedSender<()>);

/// Sends a message when dropped.
struct DropFlag(mpsc::UnboundedSender<()>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

impl ServerStreamingService<EchoRequest> for StreamSvc {
    type Response = EchoReply;
    type ResponseStream = ReplyStream;
    type Future = BoxFuture<Response<ReplyStream>, Status>;

    fn call(&mut self, req: Request<EchoRequest>) -> Self::Future {
        let flag = DropFlag(self.0.clone());
        Box::pin(async move {
            let msg = req.into_inner();
            let (count, stall) = (msg.count, msg.stall);
            let replies = stream::unfold((0u32, flag), move |(seq, flag)| {
                let message = msg.message.clone();
                async move {
                    if seq == count {
                        if stall {
                            std::future::pending::<()>().await;
                        }
                        return None;
                    }
                    // Each reply waits on a gmp timer: the stream is driven on gmp.
                    gmp::time::sleep(Duration::from_millis(1)).await;
                    let reply = EchoReply {
                        message,
                        seq,
                        grpc_timeout: String::new(),
                    };
                    Some((Ok(reply), (seq + 1, flag)))
                }
            });
            Ok(Response::new(Box::pin(replies) as ReplyStream))
        })
    }
}

impl<B> tower_service::Service<http::Request<B>> for Echo
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let dropped = self.dropped.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
            Ok(match req.uri().path() {
                "/test.Echo/Unary" => grpc.unary(UnarySvc, req).await,
                "/test.Echo/Stream" => grpc.server_streaming(StreamSvc(dropped), req).await,
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// Serve `Echo` as tonic `Routes` with `gmp::hyper::serve`; returns a connected channel.
async fn start() -> (Channel, mpsc::UnboundedReceiver<()>) {
    let (dropped, dropped_rx) = mpsc::unbounded_channel();
    let routes = tonic::service::Routes::new(Echo { dropped });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    gmp::spawn(serve(listener, routes).into_future());
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .executor(GmpExecutor::new())
        .connect_with_connector(Connector::new())
        .await
        .unwrap();
    (channel, dropped_rx)
}

async fn unary(
    grpc: &mut tonic::client::Grpc<Channel>,
    req: Request<EchoRequest>,
) -> Result<EchoReply, Status> {
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_static("/test.Echo/Unary");
    Ok(grpc
        .unary(req, path, ProstCodec::default())
        .await?
        .into_inner())
}

async fn stream_all(
    grpc: &mut tonic::client::Grpc<Channel>,
    req: EchoRequest,
) -> Result<Vec<EchoReply>, Status> {
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_static("/test.Echo/Stream");
    let mut replies = grpc
        .server_streaming(Request::new(req), path, ProstCodec::default())
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(r) = replies.message().await? {
        out.push(r);
    }
    Ok(out)
}

fn echo(message: &str, count: u32, stall: bool) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        count,
        stall,
    }
}

#[test]
fn tonic_unary_and_server_streaming_with_gmp_deadlines() {
    support::run("tonic", async {
        let (channel, mut dropped) = start().await;
        let mut grpc = tonic::client::Grpc::new(channel.clone());

        // Unary, well within its deadline.
        let deadline = Duration::from_secs(10);
        let reply = gmp::time::timeout(
            deadline,
            unary(&mut grpc, Request::new(echo("hi", 0, false))),
        )
        .await
        .expect("within the deadline")
        .unwrap();
        assert_eq!(reply.message, "hi");

        // Concurrent calls share the one HTTP/2 connection.
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                gmp::spawn(async move {
                    let msg = format!("m{i}");
                    let reply = unary(&mut grpc, Request::new(echo(&msg, 0, false)))
                        .await
                        .unwrap();
                    assert_eq!(reply.message, msg);
                })
            })
            .collect();
        for c in calls {
            c.await.unwrap();
        }

        // Server streaming: 5 replies in order, then the end.
        let replies = gmp::time::timeout(deadline, stream_all(&mut grpc, echo("s", 5, false)))
            .await
            .expect("within the deadline")
            .unwrap();
        assert_eq!(
            replies.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        dropped.recv().await.unwrap(); // the finished stream was dropped

        // A stream that stalls after 2 replies, under a 200 ms deadline: the call ends with
        // the deadline, and cancelling it reaches the server (its stream is dropped).
        let start = Instant::now();
        let late = gmp::time::timeout(
            Duration::from_millis(200),
            stream_all(&mut grpc, echo("s", 2, true)),
        )
        .await;
        assert!(late.is_err(), "the stalled stream ended: {late:?}");
        assert!(start.elapsed() >= Duration::from_millis(200));
        dropped.recv().await.unwrap();

        // The channel still works afterwards.
        let reply = unary(&mut grpc, Request::new(echo("after", 0, false)))
            .await
            .unwrap();
        assert_eq!(reply.message, "after");
    });
}

/// tonic's own deadline, `Request::set_timeout`: sent as `grpc-timeout` (the server sees it)
/// and enforced by the channel with `tokio::time`, hence the tokio context.
#[test]
fn tonic_set_timeout_deadline_with_a_tokio_context() {
    support::run_with_tokio_context("tonic set_timeout", async {
        let (channel, _dropped) = start().await;
        let mut grpc = tonic::client::Grpc::new(channel);

        let mut req = Request::new(echo("hi", 0, false));
        req.set_timeout(Duration::from_secs(10));
        let reply = unary(&mut grpc, req).await.unwrap();
        assert_eq!(
            reply.grpc_timeout, "10000000u",
            "the server saw the deadline"
        );

        let mut req = Request::new(echo("stall", 0, true));
        req.set_timeout(Duration::from_millis(150));
        let start = Instant::now();
        let status = unary(&mut grpc, req).await.unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert!(
            matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
            "{status:?}"
        );
    });
}
