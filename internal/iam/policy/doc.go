// Package policy implements the AWS IAM JSON policy language: parsing and
// validation (ParseKind, errors are *MalformedError, mapped by callers to
// MalformedPolicyDocument), single-policy evaluation (Policy.Evaluate) and
// the cross-policy-type evaluation logic (Authorize) used by the HTTP
// pipeline, KMS key policies, STS AssumeRole trust policies and
// SimulatePrincipalPolicy.
//
// Documents are compiled at parse time (lower-cased action globs, split ARN
// patterns, parsed numbers, dates, CIDRs and base64 values), so evaluation
// does not allocate in the common case.
//
// # Supported language
//
// Version 2012-10-17 and 2008-10-17 (or no Version: variables are literal);
// Statement as an object or array; Sid, Effect, Action/NotAction,
// Resource/NotResource, Principal/NotPrincipal ("*", AWS, Service,
// Federated, CanonicalUser) and Condition with every operator of
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
// the IfExists suffix and the ForAllValues:/ForAnyValue: qualifiers; policy
// variables with defaults and the ${*}, ${?}, ${$} escapes.
//
// # Deliberate strict choices
//
// Where AWS documentation is silent, ambiguous or unverified, this package
// picks the strict reading:
//
//   - Resource/NotResource ARN matching is case-sensitive (not stated by
//     AWS). The first five ARN parts are matched separately (a wildcard cannot
//     cross ':'); the resource part may be spanned by '*' including '/' and
//     ':'. The same applies to the Arn* condition operators.
//   - Resource entries must be "*" or an ARN; the service part cannot hold
//     wildcards; policy variables are only allowed after the fifth colon.
//   - Bool does not take policy variables (the AWS pages disagree).
//   - Principal ARNs cannot contain wildcards other than a lone "*".
//   - Id is refused in identity and session policies; Sid must be
//     alphanumeric except in resource policies (KMS Sids contain spaces);
//     Sids must be unique; JSON objects must not repeat keys; element
//     names, Effect values and operator names are case-sensitive; only the
//     documented characters (tab, LF, CR, U+0020-U+00FF) are accepted.
//   - Trust policies must not contain Resource/NotResource and may only
//     use sts: actions.
//   - Null cannot be combined with IfExists or a set qualifier; condition
//     value lists must not be empty; numbers must be plain decimals.
//   - A context key present with zero values is treated as missing (AWS's
//     "null data set").
//   - IfExists combined with ForAllValues/ForAnyValue does not change the
//     set operator's result on a missing key (per the iam-simulate truth
//     tables; not stated by AWS).
//   - A policy variable whose key is missing (and has no default) or is
//     multivalued makes that value match nothing: positive operators are
//     false, negated ones true; a Resource entry matches nothing; in
//     NotResource an unresolved variable fails closed (an Allow statement
//     does not apply, a Deny statement does).
//   - Unparsable request values (a non-number for Numeric*, a bad IP, ...)
//     match no policy value.
//   - A resource policy grant through "*" or NotPrincipal is treated like a
//     grant to the role behind a session: it stays limited by the
//     permissions boundary and session policies.
//   - Session policies only apply when Set.IsSession is true.
package policy
