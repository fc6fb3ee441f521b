//! Helpers of the hand-rolled benchmarks (`cargo bench` targets with `harness = false`):
//! a timing loop, the iteration count from the command line, form encoding, and an
//! HTTP/1.1 response read off a keep-alive connection.

use std::hint::black_box;
use std::io::BufRead;
use std::time::Instant;

/// Runs `f` `n / 10` times to warm up, then `n` times, prints `name` with the mean time per
/// call in µs, and returns it.
pub fn time<T>(name: &str, n: u32, mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..n / 10 {
        black_box(f());
    }
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1));
    println!("{name:<52} {us:>8.2} µs");
    us
}

/// The first command-line argument that is not a flag (cargo bench passes `--bench`),
/// parsed as an iteration count, or `default`.
pub fn iterations(default: u32) -> u32 {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// `application/x-www-form-urlencoded` value encoding: every byte but the unreserved ones
/// as `%XX`.
pub fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Reads one HTTP/1.1 response with a `Content-Length` body off `r`; returns its status
/// code (as written) and body.
pub fn read_response(r: &mut impl BufRead) -> (String, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_keeps_unreserved_only() {
        assert_eq!(form_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(form_encode("a b/+é"), "a%20b%2F%2B%C3%A9");
    }

    #[test]
    fn reads_a_response_and_leaves_the_next() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nhiHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut r = std::io::BufReader::new(&raw[..]);
        assert_eq!(read_response(&mut r), ("200".to_owned(), b"hi".to_vec()));
        assert_eq!(read_response(&mut r), ("404".to_owned(), Vec::new()));
    }
}
