//! Routers driven in-process, HTTP/1.1 over loopback with a real client (hyper), and XML
//! answers read with a real parser.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt as _;

pub use axum::body::Body;
pub use bytes::Bytes;
pub use http_body_util::Full;

/// A whole answer: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The value of header `name` (case-insensitive), when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as UTF-8 text (panics when it is not).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the body is UTF-8")
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The text of the one XML element named `tag` in the body (see [`xml_text`]).
    pub fn xml(&self, tag: &str) -> String {
        xml_text(self.text(), tag)
    }

    async fn read(
        response: http::Response<impl http_body::Body<Data = Bytes, Error = impl std::fmt::Debug>>,
    ) -> Reply {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("read the body").to_bytes();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }
}

/// Sends `request` to `router` in-process (no socket) and reads the whole answer.
pub async fn oneshot(router: axum::Router, request: http::Request<Body>) -> Reply {
    let response = router
        .oneshot(request)
        .await
        .expect("routers are infallible");
    Reply::read(response).await
}

/// Runs `task` on a tokio runtime (two worker threads) of a thread of its own, for servers
/// that outlive the test starting them (a fixture shared by the tests of a binary).
pub fn spawn_runtime(task: impl std::future::Future<Output = ()> + Send + 'static) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(task);
    });
}

/// Serves `router` on an ephemeral port of 127.0.0.1 for the rest of the runtime's life;
/// its `http://` URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port on 127.0.0.1");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Sends `request` (an absolute `http://` URI) over a new connection, bounded to 20 s.
pub async fn send(request: http::Request<Full<Bytes>>) -> Reply {
    try_send(request).await.unwrap()
}

/// [`send`], with a failure to connect or to get an answer within 20 s as an error.
pub async fn try_send(request: http::Request<Full<Bytes>>) -> Result<Reply, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let response = tokio::time::timeout(Duration::from_secs(20), client.request(request))
        .await
        .map_err(|_| "no answer within 20 s".to_owned())?
        .map_err(|e| format!("request failed: {e:?}"))?;
    Ok(Reply::read(response).await)
}

/// Sends `request` (origin-form URI, with a `host` header) as HTTP/1.1 over `io`, an
/// established connection such as a TLS stream, and reads the whole answer.
pub async fn exchange<IO>(io: IO, request: http::Request<Full<Bytes>>) -> Result<Reply, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    Ok(Reply::read(response).await)
}

/// `GET url` over loopback (see [`send`]).
pub async fn get(url: &str) -> Reply {
    try_get(url).await.unwrap()
}

/// `GET url` over loopback; a failure to connect is an error (see [`try_send`]).
pub async fn try_get(url: &str) -> Result<Reply, String> {
    try_send(http::Request::get(url).body(Full::default()).unwrap()).await
}

/// `POST url` with `content_type` and `body` over loopback (see [`send`]).
pub async fn post(url: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .unwrap();
    send(request).await
}

/// The text of the one element named `tag` (local name, any namespace) in the XML document
/// `xml`; empty when the element is empty. Panics when the document is not well-formed or
/// holds no or several such elements.
pub fn xml_text(xml: &str, tag: &str) -> String {
    let doc = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{xml}"));
    let mut found = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == tag);
    let node = found
        .next()
        .unwrap_or_else(|| panic!("no <{tag}> in:\n{xml}"));
    assert!(found.next().is_none(), "several <{tag}> in:\n{xml}");
    node.text().unwrap_or_default().to_owned()
}

/// The root element's name and namespace of the XML document `xml`.
pub fn xml_root(xml: &str) -> (String, Option<String>) {
    let doc = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{xml}"));
    let root = doc.root_element();
    (
        root.tag_name().name().to_owned(),
        root.tag_name().namespace().map(str::to_owned),
    )
}
