//! MIGRATING.md's service after the move to gmp: 5 lines differ from `migrate_before.rs`
//! (`diff ecosystem/examples/migrate_{before,after}.rs`).
//! `UPSTREAM=http://… cargo run -p gmp-ecosystem --example migrate_after`

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone)]
struct AppState {
    http: reqwest::Client,
    upstream: String,
}

#[derive(Deserialize)]
struct Config {
    greeting: String,
}

#[derive(Serialize)]
struct Report {
    greeting: String,
    upstream_status: u16,
    upstream_bytes: usize,
}

type Failure = (StatusCode, String);

fn internal(e: impl std::fmt::Display) -> Failure {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn bad_gateway(e: impl std::fmt::Display) -> Failure {
    (StatusCode::BAD_GATEWAY, e.to_string())
}

async fn report(State(state): State<AppState>) -> Result<Json<Report>, Failure> {
    let raw = gmp::fs::read_to_string("config.json")
        .await
        .map_err(internal)?;
    let config: Config = serde_json::from_str(&raw).map_err(internal)?;
    let res = (state.http.get(&state.upstream))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .map_err(bad_gateway)?;
    let upstream_status = res.status().as_u16();
    let body = res.bytes().await.map_err(bad_gateway)?;
    let (greeting, upstream_bytes) = (config.greeting, body.len());
    Ok(Json(Report {
        greeting,
        upstream_status,
        upstream_bytes,
    }))
}

async fn shutdown_signal() {
    gmp::signal::ctrl_c().await.expect("Ctrl-C handler");
    println!("shutting down");
}

#[gmp::main(tokio_compat = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let upstream = std::env::var("UPSTREAM").unwrap_or("http://127.0.0.1:9000/status".into());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let app = Router::new()
        .route("/report", get(report))
        .route("/health", get(|| async { "ok" }))
        .with_state(AppState { http, upstream });
    let listener = gmp::net::TcpListener::bind("127.0.0.1:8080").await?;
    gmp::hyper::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
