//! An axum 0.8 app — JSON routes and a WebSocket route — served by `gmp::hyper::serve`,
//! driven by hyper-util's pooled client over `gmp::hyper::Connector` and by a
//! tokio-tungstenite client over a gmp `TcpStream`, and shut down gracefully mid-traffic:
//! the in-flight requests complete, the WebSocket is closed with a Close frame, nothing new
//! is accepted, and `serve` resolves.
//!
//! axum's `WebSocketUpgrade::on_upgrade` calls `tokio::spawn`, so the WebSocket test enters a
//! tokio context on gmp's threads (`support::run_with_tokio_context`; gmp's `tokio-compat`
//! feature does the same). Only the WebSocket's task runs on tokio; the server, the
//! connections and the HTTP handlers run on gmp.

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::future::{select, Either};
use futures_util::{SinkExt, StreamExt};
use gmp::hyper::{serve, Connector, GmpExecutor, GmpTimer, ShutdownSignal};
use gmp::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_tungstenite::tungstenite;

#[path = "support/mod.rs"]
mod support;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Item {
    name: String,
    qty: u32,
}

#[derive(Clone)]
struct AppState {
    /// `/slow` reports that it started here, then waits for a permit.
    started: mpsc::UnboundedSender<()>,
    release: Arc<Semaphore>,
}

fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "ok": true })) }),
        )
        .route(
            "/items",
            post(|Json(mut item): Json<Item>| async move {
                item.qty *= 2;
                (StatusCode::CREATED, Json(item))
            }),
        )
        .route("/slow", get(slow))
        .route("/ws", get(ws))
        .with_state(state)
}

async fn slow(State(state): State<AppState>) -> Json<serde_json::Value> {
    let _ = state.started.send(());
    state.release.acquire().await.unwrap().forget();
    Json(serde_json::json!({ "slow": "done" }))
}

/// Echoes text; on the server's graceful shutdown, says goodbye with a Close frame.
async fn ws(
    upgrade: WebSocketUpgrade,
    Extension(shutdown): Extension<ShutdownSignal>,
) -> impl IntoResponse {
    upgrade.on_upgrade(move |socket| echo_until_shutdown(socket, shutdown))
}

async fn echo_until_shutdown(mut socket: WebSocket, shutdown: ShutdownSignal) {
    let mut triggered = shutdown.triggered();
    loop {
        match select(socket.next(), &mut triggered).await {
            Either::Left((Some(Ok(Message::Text(t))), _)) => {
                if socket.send(Message::Text(t)).await.is_err() {
                    return;
                }
            }
            Either::Left((Some(Ok(_)), _)) => {}
            Either::Left((None | Some(Err(_)), _)) => return,
            Either::Right(((), _)) => {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: 1001, // going away
                        reason: "server shutting down".into(),
                    })))
                    .await;
                return;
            }
        }
    }
}

#[test]
fn axum_json_and_websocket_graceful_shutdown_mid_traffic() {
    support::run_with_tokio_context("axum graceful", async {
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let state = AppState {
            started: started_tx,
            release: release.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = gmp::spawn(
            serve(listener, app(state))
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .grace_period(Duration::from_secs(60))
                .into_future(),
        );

        let client: Client<Connector, Full<Bytes>> = Client::builder(GmpExecutor::new())
            .timer(GmpTimer::new())
            .pool_timer(GmpTimer::new())
            .build(Connector::new());
        let base = format!("http://{addr}");

        // JSON routes.
        let resp = client
            .get(format!("{base}/health").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({ "ok": true })
        );
        let item = Item {
            name: "bolt".into(),
            qty: 21,
        };
        let req = Request::post(format!("{base}/items"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(&item).unwrap())))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let doubled: Item = serde_json::from_slice(&body).unwrap();
        assert_eq!(doubled.qty, 42);

        // A WebSocket over a gmp stream (tokio-tungstenite through gmp's `tokio-io`).
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut ws, resp) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        for i in 0..10 {
            ws.send(tungstenite::Message::text(format!("msg {i}")))
                .await
                .unwrap();
            let echoed = ws.next().await.unwrap().unwrap();
            assert_eq!(echoed.into_text().unwrap().as_str(), format!("msg {i}"));
        }

        // Mid-traffic: 16 requests in flight (on as many pooled connections).
        const IN_FLIGHT: usize = 16;
        let mut slow = Vec::new();
        for _ in 0..IN_FLIGHT {
            let client = client.clone();
            let uri = format!("{base}/slow").parse().unwrap();
            slow.push(gmp::spawn(async move {
                let resp = client.get(uri).await.unwrap();
                let status = resp.status();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                (status, body)
            }));
        }
        for _ in 0..IN_FLIGHT {
            started.recv().await.unwrap();
        }

        stop_tx.send(()).unwrap();

        // The WebSocket is told: a Close frame with "going away", then the end.
        let close = ws.next().await.unwrap().unwrap();
        match close {
            tungstenite::Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1001);
                assert_eq!(frame.reason.as_str(), "server shutting down");
            }
            other => panic!("expected a Close frame, got {other:?}"),
        }
        while let Some(Ok(_)) = ws.next().await {}
        drop(ws);

        // Nothing new is accepted.
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        // The in-flight requests are still being served...
        assert!(!server.is_finished());
        release.add_permits(IN_FLIGHT);
        // ... and complete.
        for s in slow {
            let (status, body) = s.await.unwrap();
            assert_eq!(status, StatusCode::OK);
            assert_eq!(&body[..], br#"{"slow":"done"}"#);
        }
        server.await.unwrap().unwrap();
    });
}

/// axum's routing, extractors and JSON, with a plain `serve` (no graceful shutdown) on a
/// runtime with no tokio context at all: everything but `WebSocketUpgrade` needs none.
#[test]
fn axum_without_any_tokio_context() {
    support::run("axum plain", async {
        let (started, _rx) = mpsc::unbounded_channel();
        let state = AppState {
            started,
            release: Arc::new(Semaphore::new(0)),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        gmp::spawn(serve(listener, app(state)).into_future());

        // HTTP/2 prior knowledge through the same pooled client.
        let client: Client<Connector, Full<Bytes>> = Client::builder(GmpExecutor::new())
            .timer(GmpTimer::new())
            .http2_only(true)
            .build(Connector::new());
        let mut calls = Vec::new();
        for i in 0..50u32 {
            let client = client.clone();
            calls.push(gmp::spawn(async move {
                let item = Item {
                    name: format!("n{i}"),
                    qty: i,
                };
                let req = Request::post(format!("http://{addr}/items"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(serde_json::to_vec(&item).unwrap())))
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                assert_eq!(resp.version(), hyper::Version::HTTP_2);
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                let back: Item = serde_json::from_slice(&body).unwrap();
                assert_eq!(back.qty, i * 2);
            }));
        }
        for c in calls {
            c.await.unwrap();
        }
    });
}
