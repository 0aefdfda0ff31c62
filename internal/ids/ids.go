// Package ids generates the random identifiers deskplane hands out: hex
// digit strings (EC2-style resource ids, grant ids, node and session ids),
// RFC 4122 version 4 UUIDs (KMS key ids, CloudTrail event ids, request
// ids) and strings over a caller's alphabet (WorkSpaces ids, IAM access
// key ids).
//
// Every generator but RequestID reads crypto/rand, which never fails on
// the platforms Go supports (since Go 1.24 it crashes the program rather
// than return an error), so none of them returns an error. RequestID reads
// the runtime's per-thread ChaCha8 generator (math/rand/v2), seeded from
// the operating system: a request id names a call in logs, answers and
// audit events, and is no secret.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	mrand "math/rand/v2"
)

// Base36 is the alphabet of WorkSpaces ids: digits, then lowercase letters.
const Base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// Hex returns n random lowercase hexadecimal digits, such as the 17 digits
// of an EC2 id (ami-0123456789abcdef0).
func Hex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// UUID returns a random (version 4, RFC 4122 variant) UUID in its
// lowercase 8-4-4-4-12 form.
func UUID() string {
	var b [16]byte
	rand.Read(b[:])
	return formatUUID(&b)
}

// RequestID returns a random (version 4, RFC 4122 variant) UUID in its
// lowercase 8-4-4-4-12 form, as UUID does, for a request id: its 122
// random bits come from math/rand/v2's top-level generator (the runtime's
// ChaCha8 per thread, seeded from the operating system), not from
// crypto/rand, which costs a system call per id. Ids that must not be
// guessed (tokens, keys, secrets) use the other generators.
func RequestID() string {
	var s [36]byte
	PutRequestID(&s)
	return string(s[:])
}

// PutRequestID writes a new request id, as RequestID makes, into dst.
func PutRequestID(dst *[36]byte) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], mrand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], mrand.Uint64())
	putUUID(dst, &b)
}

// formatUUID returns the UUID form of b (see putUUID).
func formatUUID(b *[16]byte) string {
	// Written into one array and copied out once: a request id and an
	// event id are made per API call.
	var s [36]byte
	putUUID(&s, b)
	return string(s[:])
}

// putUUID sets b's version (4) and variant (RFC 4122) bits and writes its
// lowercase 8-4-4-4-12 form into s.
func putUUID(s *[36]byte, b *[16]byte) {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const digits = "0123456789abcdef"
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	for i, at := range uuidPairs {
		c := b[i]
		s[at], s[at+1] = digits[c>>4], digits[c&15]
	}
}

// uuidPairs are where a UUID's 16 digit pairs start in its text.
var uuidPairs = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// FromAlphabet returns n random characters of alphabet, which must be
// ASCII and at most 256 characters long. Each character is a random byte
// reduced modulo len(alphabet), so an alphabet whose length does not
// divide 256 favours its first characters slightly: the ids are names, not
// keys.
func FromAlphabet(alphabet string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
