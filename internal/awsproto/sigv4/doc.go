// Package sigv4 verifies AWS Signature Version 4 requests (Authorization
// header and presigned query string) as sent by the AWS CLI/botocore,
// aws-sdk-go-v2 and the JavaScript SDK v3.
//
// For a request signed with an Authorization header, the expected signature
// is computed from a canonical request written into a reused buffer exactly
// as aws-sdk-go-v2's own v4 signer (github.com/aws/aws-sdk-go-v2/aws/signer/v4)
// writes it for the request rebuilt from the incoming one, with the day's
// signing key cached per (access key id, secret, date, region, service), and
// compared in constant time. The SDK signer is the reference: a test and a
// fuzz target hold the two to the same signature (or the same refusal) over
// random requests. Presigned URLs are still verified by re-signing with the
// SDK signer (one signer per access key id and secret, so its key cache is
// hit).
//
// Rules enforced (strict reading of the SigV4 specification):
//   - only AWS4-HMAC-SHA256; SignedHeaders must be lowercase, sorted, unique
//     and contain "host" (and "x-amz-date" for header authentication);
//   - X-Amz-Date is required (the Date header alone is not accepted) and its
//     day must equal the credential scope's date;
//   - X-Amz-Date must be within MaxSkew (15 minutes) of the server clock;
//     a presigned URL is valid for X-Amz-Expires seconds (1..604800, default
//     DefaultPresignExpires when absent) and not before X-Amz-Date - MaxSkew;
//   - the payload hash is X-Amz-Content-Sha256 when present (it must equal
//     the body's SHA-256 unless it is UNSIGNED-PAYLOAD), else the body's
//     SHA-256.
//
// Known limitation: the SDK signer only signs Content-Length when it is
// greater than zero, so a request that lists content-length in SignedHeaders
// with the value 0 cannot be verified and is rejected as a mismatch. None of
// the supported clients does that (they omit the header for empty bodies).
//
// Region is not checked against anything: callers route on Result.Service and
// may validate Result.Region themselves.
package sigv4
