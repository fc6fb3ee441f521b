//! S3's errors: the code, message and HTTP status S3 answers with, and its XML body.

use std::fmt;

/// A request the crate refuses, in S3's terms: the gateway answers it with this error and
/// forwards nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// S3's error code, e.g. `InvalidBucketName`.
    pub code: &'static str,
    /// The message (S3's wording where known).
    pub message: String,
    /// The HTTP status S3 answers the code with.
    pub status: u16,
    /// Further elements of the error body after `Message`, in order (S3 adds
    /// `StringToSign`, `CanonicalRequest`, … to `SignatureDoesNotMatch`).
    pub details: Vec<(&'static str, String)>,
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

impl S3Error {
    /// An error with S3's code, message and status.
    pub fn new(code: &'static str, message: impl Into<String>, status: u16) -> S3Error {
        S3Error {
            code,
            message: message.into(),
            status,
            details: Vec::new(),
        }
    }

    /// This error with the element `<name>value</name>` added after the message.
    #[must_use]
    pub fn with_detail(mut self, name: &'static str, value: impl Into<String>) -> S3Error {
        self.details.push((name, value.into()));
        self
    }

    /// `AccessDenied` (403) with S3's message.
    pub fn access_denied() -> S3Error {
        S3Error::new("AccessDenied", "Access Denied", 403)
    }

    /// `InvalidBucketName` (400).
    pub fn invalid_bucket_name() -> S3Error {
        S3Error::new(
            "InvalidBucketName",
            "The specified bucket is not valid.",
            400,
        )
    }

    /// `KeyTooLongError` (400).
    pub fn key_too_long() -> S3Error {
        S3Error::new("KeyTooLongError", "Your key is too long", 400)
    }

    /// `InvalidArgument` (400) with a message.
    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new("InvalidArgument", message, 400)
    }

    /// `InvalidRequest` (400) with a message.
    pub fn invalid_request(message: impl Into<String>) -> S3Error {
        S3Error::new("InvalidRequest", message, 400)
    }

    /// `InvalidURI` (400).
    pub fn invalid_uri() -> S3Error {
        S3Error::new("InvalidURI", "Couldn't parse the specified URI.", 400)
    }

    /// `MalformedXML` (400) with S3's message.
    pub fn malformed_xml() -> S3Error {
        S3Error::new(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        )
    }

    /// `MaxMessageLengthExceeded` (400).
    pub fn too_big() -> S3Error {
        S3Error::new("MaxMessageLengthExceeded", "Your request was too big.", 400)
    }

    /// `InvalidTag` (400) with a message.
    pub fn invalid_tag(message: impl Into<String>) -> S3Error {
        S3Error::new("InvalidTag", message, 400)
    }

    /// `NotImplemented` (501) with S3's message.
    pub fn not_implemented() -> S3Error {
        S3Error::new(
            "NotImplemented",
            "A header or query you provided implies functionality that is not implemented",
            501,
        )
    }

    /// `MethodNotAllowed` (405) with S3's message.
    pub fn method_not_allowed() -> S3Error {
        S3Error::new(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
        )
    }

    /// S3's XML error body:
    /// `<Error><Code/><Message/>[details]<Resource/><RequestId/></Error>` after the XML
    /// declaration. `resource` is the request's path (S3 shows the bucket or key path
    /// there).
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let details: usize = self
            .details
            .iter()
            .map(|(n, v)| 2 * n.len() + v.len() + 5)
            .sum();
        let mut out = String::with_capacity(160 + self.message.len() + resource.len() + details);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        out.push_str("\n<Error><Code>");
        escape_into(&mut out, self.code);
        out.push_str("</Code><Message>");
        escape_into(&mut out, &self.message);
        out.push_str("</Message>");
        for (name, value) in &self.details {
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_into(&mut out, value);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        out.push_str("<Resource>");
        escape_into(&mut out, resource);
        out.push_str("</Resource><RequestId>");
        escape_into(&mut out, request_id);
        out.push_str("</RequestId></Error>");
        out
    }
}

/// Appends `s` as XML character data: `&`, `<`, `>`, `"`, `'` escaped, CR as `&#13;`;
/// characters XML 1.0 cannot carry (other C0 controls, U+FFFE, U+FFFF) become U+FFFD.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_body_escapes_everything() {
        let e = S3Error::invalid_argument("a <b> & 'c'");
        let xml = e.to_xml("/bucket/k&y", "req\u{1}1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code>\
             <Message>a &lt;b&gt; &amp; &apos;c&apos;</Message><Resource>/bucket/k&amp;y</Resource>\
             <RequestId>req\u{FFFD}1</RequestId></Error>"
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "Error");
    }

    #[test]
    fn details_follow_the_message_escaped() {
        let e = S3Error::new("SignatureDoesNotMatch", "m", 403)
            .with_detail("StringToSign", "AWS4-HMAC-SHA256\n<x>")
            .with_detail("CanonicalRequest", "GET\n/a&b");
        let xml = e.to_xml("/b", "r");
        assert!(
            xml.contains(
                "<Message>m</Message><StringToSign>AWS4-HMAC-SHA256\n&lt;x&gt;</StringToSign>\
                 <CanonicalRequest>GET\n/a&amp;b</CanonicalRequest><Resource>/b</Resource>"
            ),
            "{xml}"
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let sts = doc
            .descendants()
            .find(|n| n.has_tag_name("StringToSign"))
            .and_then(|n| n.text());
        assert_eq!(sts, Some("AWS4-HMAC-SHA256\n<x>"));
    }

    #[test]
    fn statuses_are_s3s() {
        assert_eq!(S3Error::access_denied().status, 403);
        assert_eq!(S3Error::not_implemented().status, 501);
        assert_eq!(S3Error::method_not_allowed().status, 405);
        assert_eq!(S3Error::key_too_long().code, "KeyTooLongError");
    }
}
