//! The axum application of `examples/axum.rs`, shared with its tests (`tests/axum.rs`) and with
//! the same application on tokio (`benches/axum_tokio`), which differ only in how files are read
//! and in what serves the router.
//!
//! Routes:
//! - `GET /`: plain text.
//! - `GET /hello/{name}`: a path parameter.
//! - `GET /api/stats`: JSON, from the shared state (how many greetings were served).
//! - `POST /api/echo`: JSON in, JSON out.
//! - `GET /static/{*path}`: a file under the static directory.

use std::future::Future;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

/// Reads a whole file without blocking the runtime's workers.
pub type ReadFile = fn(PathBuf) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>>;

/// What every handler shares.
pub struct AppState {
    greetings: AtomicU64,
    static_dir: PathBuf,
    read_file: ReadFile,
}

/// The router, serving files from `static_dir` read with `read_file`.
pub fn router(static_dir: PathBuf, read_file: ReadFile) -> Router {
    let state = Arc::new(AppState {
        greetings: AtomicU64::new(0),
        static_dir,
        read_file,
    });
    Router::new()
        .route("/", get(|| async { "Hello, World!" }))
        .route("/hello/{name}", get(hello))
        .route("/api/stats", get(stats))
        .route("/api/echo", post(echo))
        .route("/static/{*path}", get(static_file))
        .with_state(state)
}

async fn hello(State(state): State<Arc<AppState>>, UrlPath(name): UrlPath<String>) -> String {
    state.greetings.fetch_add(1, Ordering::Relaxed);
    format!("Hello, {name}!")
}

#[derive(Serialize, Deserialize)]
pub struct Stats {
    pub greetings: u64,
}

async fn stats(State(state): State<Arc<AppState>>) -> Json<Stats> {
    Json(Stats {
        greetings: state.greetings.load(Ordering::Relaxed),
    })
}

#[derive(Serialize, Deserialize)]
pub struct Message {
    pub text: String,
}

#[derive(Serialize, Deserialize)]
pub struct Echoed {
    pub text: String,
    pub length: usize,
}

async fn echo(Json(message): Json<Message>) -> Json<Echoed> {
    Json(Echoed {
        length: message.text.chars().count(),
        text: message.text,
    })
}

async fn static_file(State(state): State<Arc<AppState>>, UrlPath(path): UrlPath<String>) -> Response {
    // Only plain names below the static directory: no `..`, no absolute paths.
    let relative = Path::new(&path);
    if !relative
        .components()
        .all(|part| matches!(part, Component::Normal(_)))
    {
        return (
            StatusCode::BAD_REQUEST,
            "a static path is names joined by '/', without '..'\n",
        )
            .into_response();
    }
    match (state.read_file)(state.static_dir.join(relative)).await {
        Ok(contents) => ([(header::CONTENT_TYPE, content_type(relative))], contents).into_response(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, format!("no file {path}\n")).into_response()
        }
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read {path}: {error}\n"),
        )
            .into_response(),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        _ => "application/octet-stream",
    }
}
