// Shared by the s3 targets (included with `include!`): the input's fields, the endpoints,
// and the request read and mapped as the gateway does.

const METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE"];

/// The input after its first byte, split on NUL bytes.
fn s3_fields(rest: &[u8]) -> Vec<&[u8]> {
    rest.split(|b| *b == 0).collect()
}

/// Field `i` as text (empty when absent or not UTF-8).
fn s3_text<'a>(fields: &[&'a [u8]], i: usize) -> &'a str {
    fields
        .get(i)
        .and_then(|f| std::str::from_utf8(f).ok())
        .unwrap_or("")
}

/// `S3Request::parse` with the endpoints `s3.local` and `localhost`; a refusal must render
/// as S3's XML error body.
fn s3_parse(req: &HttpRequest<'_>) -> Option<S3Request> {
    let endpoints = Endpoints::new(["s3.local", "localhost"]).expect("fixed endpoints");
    match S3Request::parse(req, &endpoints) {
        Ok(p) => Some(p),
        Err(e) => {
            assert!(e.to_xml(req.path, "fuzz").ends_with("</Error>"));
            None
        }
    }
}

/// Header authentication with an unsigned payload; the resource account and signature age
/// unknown.
const S3_AUTH: RequestAuth<'static> = RequestAuth {
    auth_type: AuthType::Header,
    content_sha256: Some("UNSIGNED-PAYLOAD"),
    resource_account: None,
    signature_age_ms: None,
};
