//! The request bodies the mapping reads: `DeleteObjects`' `<Delete>` and
//! `PutObjectTagging`'s `<Tagging>`, parsed with `roxmltree`, bounded, and strict: no
//! DTD (so no entities but XML's five and character references), no attributes, no
//! namespace but S3's (or none), no element the schema does not have, no element given
//! more times than the schema allows, no text split by comments. Anything else is
//! `MalformedXML`: a document two parsers could read differently is never authorized.

use roxmltree::{Document, Node, NodeType, ParsingOptions};

use crate::address::check_key;
use crate::error::S3Error;
use crate::tagging::{self, Tags};

/// Largest `DeleteObjects` body read: 1000 keys of 1024 bytes, XML-escaped, fit.
pub const MAX_DELETE_BODY: usize = 8 * 1024 * 1024;
/// S3's limit on the keys of one `DeleteObjects`.
pub const MAX_DELETE_KEYS: usize = 1000;
/// Largest `PutObjectTagging` body read (10 tags of 128 + 256 characters, escaped, fit).
pub const MAX_TAGGING_BODY: usize = 64 * 1024;
/// Most XML nodes built for any body.
const MAX_NODES: u32 = 64 * 1024;
/// S3's XML namespace.
pub(crate) const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// One object of a `DeleteObjects` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeleteEntry {
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
}

fn parse(body: &[u8], limit: usize) -> Result<Document<'_>, S3Error> {
    if body.len() > limit {
        return Err(S3Error::too_big());
    }
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml())?;
    if text.to_ascii_lowercase().contains("<!doctype") {
        return Err(S3Error::malformed_xml());
    }
    check_declaration(text)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    Document::parse_with_options(text, options).map_err(|_| S3Error::malformed_xml())
}

/// An XML declaration may name no encoding but UTF-8: the body was read as UTF-8.
fn check_declaration(text: &str) -> Result<(), S3Error> {
    let t = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if let Some(rest) = t.strip_prefix("<?xml") {
        let decl = rest.split_once("?>").map_or(rest, |(d, _)| d);
        if let Some((_, enc)) = decl.split_once("encoding") {
            let enc = enc.to_ascii_lowercase();
            if !enc.contains("utf-8") {
                return Err(S3Error::malformed_xml());
            }
        }
    }
    Ok(())
}

/// An element of S3's schema: the local name, S3's namespace or none, no attributes.
fn is(node: Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace().is_none_or(|ns| ns == S3_NS)
        && node.attributes().len() == 0
}

/// The child elements; between them only whitespace and comments.
fn elements<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, S3Error> {
    let mut out = Vec::new();
    for c in node.children() {
        match c.node_type() {
            NodeType::Element => out.push(c),
            NodeType::Comment => {}
            NodeType::Text if c.text().is_some_and(|t| t.trim().is_empty()) => {}
            _ => return Err(S3Error::malformed_xml()),
        }
    }
    Ok(out)
}

/// The text of a leaf element: no child elements, comments or processing instructions
/// (one text node, CDATA merged into it), or empty.
fn text<'a>(node: Node<'a, '_>) -> Result<&'a str, S3Error> {
    let mut children = node.children();
    let first = children.next();
    if children.next().is_some() {
        return Err(S3Error::malformed_xml());
    }
    match first {
        None => Ok(""),
        Some(c) if c.is_text() => c.text().ok_or_else(S3Error::malformed_xml),
        Some(_) => Err(S3Error::malformed_xml()),
    }
}

/// Reads `<Delete><Quiet/>?<Object><Key/><VersionId/>?<ETag/>?<LastModifiedTime/>?
/// <Size/>?</Object>{1,1000}</Delete>`. Every key passes the key checks of the path; an
/// empty `VersionId` is refused.
pub(crate) fn parse_delete(body: &[u8]) -> Result<Vec<DeleteEntry>, S3Error> {
    let doc = parse(body, MAX_DELETE_BODY)?;
    let root = doc.root_element();
    if !is(root, "Delete") {
        return Err(S3Error::malformed_xml());
    }
    let mut quiet = false;
    let mut out = Vec::new();
    for el in elements(root)? {
        if is(el, "Quiet") {
            if quiet {
                return Err(S3Error::malformed_xml());
            }
            quiet = true;
            if !matches!(text(el)?, "true" | "false") {
                return Err(S3Error::malformed_xml());
            }
        } else if is(el, "Object") {
            if out.len() >= MAX_DELETE_KEYS {
                return Err(S3Error::malformed_xml());
            }
            out.push(delete_entry(el)?);
        } else {
            return Err(S3Error::malformed_xml());
        }
    }
    if out.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    Ok(out)
}

fn delete_entry(object: Node<'_, '_>) -> Result<DeleteEntry, S3Error> {
    let mut key = None;
    let mut version = None;
    let mut seen_other: Vec<&str> = Vec::new();
    for el in elements(object)? {
        if is(el, "Key") {
            if key.replace(text(el)?).is_some() {
                return Err(S3Error::malformed_xml());
            }
        } else if is(el, "VersionId") {
            if version.replace(text(el)?).is_some() {
                return Err(S3Error::malformed_xml());
            }
        } else if let Some(n) = ["ETag", "LastModifiedTime", "Size"]
            .into_iter()
            .find(|n| is(el, n))
        {
            if seen_other.contains(&n) {
                return Err(S3Error::malformed_xml());
            }
            seen_other.push(n);
        } else {
            return Err(S3Error::malformed_xml());
        }
    }
    let key = key.ok_or_else(S3Error::malformed_xml)?;
    check_key(key)?;
    if version == Some("") {
        return Err(S3Error::invalid_argument(
            "Version id cannot be the empty string",
        ));
    }
    Ok(DeleteEntry {
        key: key.to_owned(),
        version_id: version.map(str::to_owned),
    })
}

/// Reads `<Tagging><TagSet><Tag><Key/><Value/></Tag>*</TagSet></Tagging>` and checks the
/// tag set as S3 does.
pub(crate) fn parse_tagging(body: &[u8]) -> Result<Tags, S3Error> {
    let doc = parse(body, MAX_TAGGING_BODY)?;
    let root = doc.root_element();
    if !is(root, "Tagging") {
        return Err(S3Error::malformed_xml());
    }
    let [set] = elements(root)?[..] else {
        return Err(S3Error::malformed_xml());
    };
    if !is(set, "TagSet") {
        return Err(S3Error::malformed_xml());
    }
    let mut tags = Vec::new();
    for tag in elements(set)? {
        if !is(tag, "Tag") || tags.len() > tagging::MAX_TAGS {
            return Err(if tags.len() > tagging::MAX_TAGS {
                S3Error::new("BadRequest", "Object tags cannot be greater than 10", 400)
            } else {
                S3Error::malformed_xml()
            });
        }
        let [k, v] = elements(tag)?[..] else {
            return Err(S3Error::malformed_xml());
        };
        if !is(k, "Key") || !is(v, "Value") {
            return Err(S3Error::malformed_xml());
        }
        tags.push((text(k)?.to_owned(), text(v)?.to_owned()));
    }
    tagging::check(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_bodies() {
        let body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="{S3_NS}"><Quiet>true</Quiet>
              <Object><Key>a&amp;b</Key></Object>
              <!-- c --><Object><Key><![CDATA[c<d]]></Key><VersionId>v1</VersionId><ETag>"e"</ETag></Object>
            </Delete>"#
        );
        let e = parse_delete(body.as_bytes()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].key, "a&b");
        assert_eq!(e[1].key, "c<d");
        assert_eq!(e[1].version_id.as_deref(), Some("v1"));
    }

    #[test]
    fn delete_refusals() {
        for bad in [
            "<Delete/>",
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            "<Delete><Object><Key>a<!--x-->b</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key><Bogus/></Object></Delete>",
            "<Delete><Object Key=\"x\"><Key>a</Key></Object></Delete>",
            "<d:Delete xmlns:d=\"urn:x\"><d:Object><d:Key>a</d:Key></d:Object></d:Delete>",
            "<!DOCTYPE Delete><Delete><Object><Key>a</Key></Object></Delete>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Delete><Object><Key>a</Key></Object></Delete>",
            "<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>",
            "<Delete>text<Object><Key>a</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key><VersionId></VersionId></Object></Delete>",
            "<Delete><Object><Key>a/../b</Key></Object></Delete>",
            "<Delete><Object><Key>&ent;</Key></Object></Delete>",
        ] {
            assert!(parse_delete(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixed_s3_namespace_is_s3s() {
        let body = format!(
            r#"<s3:Delete xmlns:s3="{S3_NS}"><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>"#
        );
        assert_eq!(parse_delete(body.as_bytes()).unwrap()[0].key, "k");
    }

    #[test]
    fn tagging_bodies() {
        let body = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>\
                    <Tag><Key>b</Key><Value></Value></Tag></TagSet></Tagging>";
        assert_eq!(
            parse_tagging(body.as_bytes()).unwrap(),
            Tags::Known(vec![("a".into(), "1".into()), ("b".into(), String::new())])
        );
        let dup = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>\
                   <Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>";
        assert_eq!(
            parse_tagging(dup.as_bytes()).unwrap_err().code,
            "InvalidTag"
        );
        let no_value = "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>";
        assert!(parse_tagging(no_value.as_bytes()).is_err());
    }
}
