package broker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// stsStub answers sts:AssumeRole (query protocol) with credentials that
// expire after ttl, and checks the RoleArn and ExternalId.
func stsStub(t *testing.T, ttl time.Duration, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("Action") != "AssumeRole" || r.Form.Get("RoleArn") != "arn:aws:iam::111122223333:role/Partner" ||
			r.Form.Get("ExternalId") != "ext-42" || r.Form.Get("RoleSessionName") != "deskplane-broker" {
			t.Errorf("unexpected AssumeRole form %v", r.Form)
			w.WriteHeader(400)
			return
		}
		n := calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIATEMP%d</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
<Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/Partner/deskplane-broker</Arn><AssumedRoleId>AROA:deskplane-broker</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			n, time.Now().Add(ttl).UTC().Format(time.RFC3339))
	}))
}

func TestAssumeRoleCredentialsRefreshBeforeExpiry(t *testing.T) {
	for _, c := range []struct {
		ttl       time.Duration
		wantCalls int32
	}{
		{time.Hour, 1},       // cached
		{3 * time.Minute, 3}, // inside the 5-minute expiry window: refreshed every time
	} {
		var calls atomic.Int32
		srv := stsStub(t, c.ttl, &calls)
		cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIAPARTNER", "secret", "")}
		p := AssumeRoleCredentials(sts.NewFromConfig(cfg), "arn:aws:iam::111122223333:role/Partner", "ext-42", "deskplane-broker")
		var last aws.Credentials
		for i := 0; i < 3; i++ {
			cr, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			last = cr
		}
		if calls.Load() != c.wantCalls || last.SessionToken != "tok" {
			t.Fatalf("ttl %s: %d AssumeRole calls (want %d), creds %+v", c.ttl, calls.Load(), c.wantCalls, last)
		}
		srv.Close()
	}
}

func TestNewAWSConfigAssumesRole(t *testing.T) {
	var calls atomic.Int32
	srv := stsStub(t, time.Hour, &calls)
	defer srv.Close()
	cfg := &Config{Endpoint: srv.URL, AccessKeyID: "AKIAPARTNER", SecretAccessKey: "secret",
		RoleARN: "arn:aws:iam::111122223333:role/Partner", ExternalID: "ext-42"}
	cfg.applyDefaults()
	ac, err := NewAWSConfig(context.Background(), cfg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := ac.Credentials.Retrieve(context.Background())
	if err != nil || cr.AccessKeyID != "ASIATEMP1" {
		t.Fatalf("credentials %+v, %v", cr, err)
	}
}
