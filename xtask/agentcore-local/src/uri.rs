//! Percent-decoding of request URIs: the path labels the control plane routes on and the query
//! strings both routing and SigV4 read.

/// Decodes `%XX` escapes (and nothing else: `+` stays `+` in paths).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) =
                (bytes.get(index + 1).and_then(|b| hex_digit(*b)), bytes.get(index + 2).and_then(|b| hex_digit(*b)))
        {
            out.push(high * 16 + low);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

/// Query parameters, percent-decoded (the SDKs send a space as `%20`, so `+` is kept as is).
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(
            parse_query("maxResults=5&nextToken=a%3Db"),
            [("maxResults".into(), "5".into()), ("nextToken".into(), "a=b".into())]
        );
    }
}
