// Package hostile holds deskplane's whole-server hostile-input suite (its
// tests are the package). For every operation of every service in the
// server's operation tables, it sends requests shaped by botocore's model
// of the operation with hostile values in them (malformed ARNs, empty and
// huge strings, control characters, NUL bytes, odd unicode, unknown ids of
// the right prefix, extreme numbers and timestamps, huge lists and maps,
// deeply nested JSON, binary blobs), signed with SigV4 by the admin and by
// an IAM user with no policy, to a real server process. It holds that the
// process never dies, that no answer is a 5xx, that every refusal carries
// an error code the model allows for the operation, and that the user with
// no policy changes nothing in the store (but the KMS keys whose key
// policy allows every principal, which AWS lets anyone change).
//
// See docs/reliability.md for the flags and how to replay a failure.
package hostile
