package cloudtrail_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// A malformed ARN in a request, from an allowed or a denied caller, is the
// model's validation error (4xx) and never reaches the audit trail's
// formatting: the server goes on answering, and the call is audited.
func TestMalformedARNDoesNotCrashTheServer(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	const bad = "arn:aws::::aaaaaaaaaaaaaaaa"
	for _, who := range []struct {
		name string
		cfg  aws.Config
	}{{"admin", s.Admin()}, {"denied app", s.Config(appKey, appSecret)}} {
		_, err := iam.NewFromConfig(who.cfg).GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(bad)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
			t.Fatalf("%s: GetPolicy(%s) = %v, want ValidationError", who.name, bad, err)
		}
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
			t.Fatalf("%s: GetPolicy status = %v, want 400", who.name, err)
		}
	}
	// LookupEvents flushes the trail: the writer has formatted the events.
	ct := cloudtrail.NewFromConfig(s.Admin())
	evs := lookup(t, ct, cttypes.LookupAttributeKeyEventName, "GetPolicy")
	if len(evs) != 2 {
		t.Fatalf("GetPolicy events = %d, want 2", len(evs))
	}
	for _, e := range evs {
		r := parse(t, e)
		if r.ErrorCode != "ValidationError" || len(r.Resources) != 0 {
			t.Errorf("event: error %q, resources %+v", r.ErrorCode, r.Resources)
		}
	}
	if _, err := sts.NewFromConfig(s.Admin()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the server stopped answering: %v", err)
	}
	if _, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatalf("the server stopped answering: %v", err)
	}
}
