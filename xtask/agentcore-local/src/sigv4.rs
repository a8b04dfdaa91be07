//! SigV4 checks of control-plane requests: the credential scope names our key and the right service,
//! and the signature verifies, as AWS checks before anything else.

use bytes::Bytes;
use hyper::HeaderMap;
use sha2::{Digest, Sha256};

use super::plane::ApiError;
use super::uri::parse_query;
use super::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

const MAX_SKEW_MS: i64 = 15 * 60 * 1000;

fn denied(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(403, code, message)
}

/// Checks the Authorization header of a request signed with SigV4 for `service` in `region`.
pub(crate) fn check(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
    region: &str,
    service: &str,
) -> Result<(), ApiError> {
    let Some(authorization) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(denied(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: sign requests with SigV4 (any AWS SDK or the AWS CLI does)",
        ));
    };
    let Some(fields) = authorization.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(denied(
            "IncompleteSignatureException",
            "Authorization header must use the AWS4-HMAC-SHA256 algorithm (SigV4)",
        ));
    };
    let field = |name: &str| {
        fields.split(',').map(str::trim).find_map(|part| part.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (field("Credential"), field("SignedHeaders"), field("Signature"))
    else {
        return Err(denied(
            "IncompleteSignatureException",
            "Authorization header requires Credential, SignedHeaders and Signature",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, scope_region, scope_service, terminator] = scope.as_slice() else {
        return Err(denied(
            "IncompleteSignatureException",
            "Credential must be <access key>/<date>/<region>/<service>/aws4_request",
        ));
    };
    if *key != ACCESS_KEY_ID {
        return Err(denied(
            "UnrecognizedClientException",
            format!(
                "The security token included in the request is invalid: the local stack accepts only access key {ACCESS_KEY_ID} (see `cargo xtask local up`)"
            ),
        ));
    }
    if *scope_service != service {
        return Err(denied(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to correct service: '{service}' (the request was signed for '{scope_service}')"
            ),
        ));
    }
    if *scope_region != region {
        return Err(denied(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to a valid region: '{region}' (the request was signed for '{scope_region}')"
            ),
        ));
    }
    if *terminator != "aws4_request" {
        return Err(denied("IncompleteSignatureException", "Credential scope must end with aws4_request"));
    }
    let Some(amz_date) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else {
        return Err(denied("IncompleteSignatureException", "the signed request has no X-Amz-Date header"));
    };
    if !amz_date.starts_with(date) {
        return Err(denied("InvalidSignatureException", "Credential date does not match X-Amz-Date"));
    }
    let Some(signed_at) = super::store::parse_amz_date(amz_date) else {
        return Err(denied(
            "IncompleteSignatureException",
            format!("X-Amz-Date {amz_date} is not a date like 20250101T120000Z"),
        ));
    };
    // AWS refuses signatures more than 15 minutes away from its clock (replay protection).
    if (super::store::now_ms() - signed_at).abs() > MAX_SKEW_MS {
        return Err(denied(
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date} is more than 15 minutes away from the server's time; check the system clock"
            ),
        ));
    }

    if let Some(declared) = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok())
        && declared != "UNSIGNED-PAYLOAD"
        && declared != hex::encode(Sha256::digest(body))
    {
        return Err(denied(
            "InvalidSignatureException",
            "The provided x-amz-content-sha256 header does not match what was computed from the body",
        ));
    }
    let canonical = canonical_request(method, path, query, headers, signed_headers, body);
    if signature_of(&canonical, amz_date, region, service) != signature {
        return Err(denied(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(())
}

fn signature_of(canonical: &str, amz_date: &str, region: &str, service: &str) -> String {
    let date = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let mut signing_key = hmac(format!("AWS4{SECRET_ACCESS_KEY}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        signing_key = hmac(&signing_key, part.as_bytes());
    }
    hex::encode(hmac(&signing_key, string_to_sign.as_bytes()))
}

/// `X-Amz-Date` and `Authorization` values that sign a request with the stack's credentials, for
/// clients that build raw HTTP requests (the model conformance test). Signs `host` and `x-amz-date`.
pub fn sign(
    method: &str,
    path: &str,
    query: &str,
    host: &str,
    body: &[u8],
    region: &str,
    service: &str,
) -> (String, String) {
    let stamp = super::store::rfc3339(super::store::now_ms());
    let amz_date: String = stamp[..19].chars().filter(|c| *c != '-' && *c != ':').collect::<String>() + "Z";
    let mut headers = HeaderMap::new();
    headers.insert("host", host.parse().expect("a host header value"));
    headers.insert("x-amz-date", amz_date.parse().expect("a date header value"));
    let canonical = canonical_request(method, path, query, &headers, "host;x-amz-date", &Bytes::copy_from_slice(body));
    let signature = signature_of(&canonical, &amz_date, region, service);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{}/{region}/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}",
        &amz_date[..8]
    );
    (amz_date, authorization)
}

/// The SigV4 canonical request of a non-S3 service (the path is encoded twice, as the SDKs sign it).
fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    signed_headers: &str,
    body: &Bytes,
) -> String {
    let uri = if path.is_empty() { "/".to_owned() } else { encode(path, false) };
    let mut pairs: Vec<(String, String)> =
        parse_query(query).into_iter().map(|(key, value)| (encode(&key, true), encode(&value, true))).collect();
    pairs.sort();
    let query: Vec<String> = pairs.into_iter().map(|(key, value)| format!("{key}={value}")).collect();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    // A declared payload hash is what was signed; `check` makes sure it is the body's.
    let payload = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    format!("{method}\n{uri}\n{}\n{canonical_headers}\n{signed_headers}\n{payload}", query.join("&"))
}

/// SigV4 URI encoding: everything but unreserved characters (and `/` in paths) as `%XX`.
fn encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) || (byte == b'/' && !encode_slash) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&inner_pad).chain_update(data).finalize();
    Sha256::new().chain_update(&outer_pad).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(encode("/runtimes/a%20b/", false), "/runtimes/a%2520b/");
        assert_eq!(encode("a=b c", true), "a%3Db%20c");
    }
}
