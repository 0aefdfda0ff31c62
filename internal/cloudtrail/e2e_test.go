package cloudtrail_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/testserver"
)

const (
	appKey    = "AKIAAPPUSEREXAMPLE01"
	appSecret = "appSecretEXAMPLEKEYappSecretEXAMPLEKEY00"
)

func start(t *testing.T, opts ...testserver.Option) *testserver.Server {
	t.Helper()
	cfg := config.Default()
	min := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}}}
	cfg.Accounts[0].Users = append(cfg.Accounts[0].Users, config.User{Name: "app", AccessKeys: []config.AccessKey{{ID: appKey, Secret: appSecret}}, Policies: map[string]any{"Minimal": min}})
	b, _ := json.Marshal(cfg)
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return testserver.Start(t, append([]testserver.Option{testserver.ConfigFile(p)}, opts...)...)
}

type record struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AWSRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress"`
	ErrorCode          string         `json:"errorCode"`
	ErrorMessage       string         `json:"errorMessage"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements"`
	RequestID          string         `json:"requestID"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
	Resources          []struct {
		ARN, AccountID, Type string
	} `json:"resources"`
}

func parse(t *testing.T, e cttypes.Event) record {
	t.Helper()
	var r record
	if err := json.Unmarshal([]byte(*e.CloudTrailEvent), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func lookup(t *testing.T, c *cloudtrail.Client, key cttypes.LookupAttributeKey, val string) []cttypes.Event {
	t.Helper()
	out, err := c.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: &val}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Events
}

func TestEventsForAllowedAndDeniedCalls(t *testing.T) {
	dir := t.TempDir()
	s := start(t, testserver.DataDir(dir))
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	app := kms.NewFromConfig(s.Config(appKey, appSecret))
	ct := cloudtrail.NewFromConfig(s.Admin())
	key, err := admin.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("audited")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("very-secret-plaintext"), EncryptionContext: map[string]string{"purpose": "audit"}}); err != nil {
		t.Fatal(err)
	}
	_, err = app.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("want AccessDenied, got %v", err)
	}

	evs := lookup(t, ct, cttypes.LookupAttributeKeyEventName, "Encrypt")
	if len(evs) != 2 {
		t.Fatalf("want 2 Encrypt events, got %d", len(evs))
	}
	denied, allowed := parse(t, evs[0]), parse(t, evs[1]) // newest first
	if denied.ErrorCode != "AccessDeniedException" || denied.UserIdentity.Type != "IAMUser" || denied.UserIdentity.UserName != "app" ||
		denied.UserIdentity.AccessKeyID != appKey || *evs[0].Username != "app" {
		t.Fatalf("denied event: %+v", denied)
	}
	if allowed.ErrorCode != "" || allowed.UserIdentity.UserName != "admin" || allowed.UserIdentity.ARN != "arn:aws:iam::"+config.CustomerAccount+":user/admin" ||
		!strings.HasPrefix(allowed.UserIdentity.PrincipalID, "AIDA") || allowed.UserIdentity.AccountID != config.CustomerAccount {
		t.Fatalf("allowed event identity: %+v", allowed.UserIdentity)
	}
	if allowed.EventSource != "kms.amazonaws.com" || allowed.AWSRegion != "us-east-1" || allowed.EventType != "AwsApiCall" || !allowed.ReadOnly ||
		!allowed.ManagementEvent || allowed.EventCategory != "Management" || allowed.RecipientAccountID != config.CustomerAccount ||
		allowed.EventVersion != "1.08" || allowed.RequestID == "" || allowed.EventID == "" || allowed.SourceIPAddress != "127.0.0.1" {
		t.Fatalf("allowed event fields: %+v", allowed)
	}
	ecp, _ := allowed.RequestParameters["encryptionContext"].(map[string]any)
	if ecp["purpose"] != "audit" || allowed.RequestParameters["keyId"] != *key.KeyMetadata.KeyId {
		t.Fatalf("requestParameters: %v", allowed.RequestParameters)
	}
	if _, ok := allowed.RequestParameters["plaintext"]; ok || strings.Contains(*evs[1].CloudTrailEvent, "very-secret") {
		t.Fatal("plaintext logged")
	}
	if allowed.ResponseElements != nil {
		t.Fatalf("read-only call has responseElements: %v", allowed.ResponseElements)
	}
	if len(allowed.Resources) != 1 || allowed.Resources[0].ARN != *key.KeyMetadata.Arn || allowed.Resources[0].Type != "AWS::KMS::Key" {
		t.Fatalf("resources: %+v", allowed.Resources)
	}
	ck := parse(t, lookup(t, ct, cttypes.LookupAttributeKeyEventName, "CreateKey")[0])
	if ck.ReadOnly || ck.ResponseElements == nil {
		t.Fatalf("CreateKey record: %+v", ck)
	}
	// Filters.
	if n := len(lookup(t, ct, cttypes.LookupAttributeKeyUsername, "app")); n != 1 {
		t.Fatalf("Username=app: %d", n)
	}
	if n := len(lookup(t, ct, cttypes.LookupAttributeKeyAccessKeyId, appKey)); n != 1 {
		t.Fatalf("AccessKeyId: %d", n)
	}
	if n := len(lookup(t, ct, cttypes.LookupAttributeKeyResourceName, *key.KeyMetadata.Arn)); n != 3 {
		t.Fatalf("ResourceName: %d", n)
	}
	if n := len(lookup(t, ct, cttypes.LookupAttributeKeyResourceType, "AWS::KMS::Key")); n != 3 {
		t.Fatalf("ResourceType: %d", n)
	}
	if n := len(lookup(t, ct, cttypes.LookupAttributeKeyEventSource, "kms.amazonaws.com")); n != 3 {
		t.Fatalf("EventSource: %d", n)
	}
	if n := len(lookup(t, ct, cttypes.LookupAttributeKeyReadOnly, "false")); n != 1 {
		t.Fatalf("ReadOnly=false: %d", n)
	}
	if got := lookup(t, ct, cttypes.LookupAttributeKeyEventId, allowed.EventID); len(got) != 1 || *got[0].EventId != allowed.EventID {
		t.Fatalf("EventId lookup: %v", got)
	}
	// The JSON-lines file holds the same records.
	b, err := os.ReadFile(filepath.Join(dir, "cloudtrail", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), allowed.EventID) || strings.Count(string(b), "\n") < 3 {
		t.Fatalf("events.jsonl: %s", b)
	}
	// Other regions see nothing.
	ct2 := cloudtrail.NewFromConfig(s.Admin("us-west-2"))
	out, err := ct2.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: "EventSource", AttributeValue: aws.String("kms.amazonaws.com")}}})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("us-west-2: %v %d", err, len(out.Events))
	}
}

func TestLookupPaginationTimeRangeAndErrors(t *testing.T) {
	s := start(t, testserver.VirtualClock())
	ctx := context.Background()
	admin := kms.NewFromConfig(s.Admin())
	ct := cloudtrail.NewFromConfig(s.Admin())
	for i := 0; i < 7; i++ {
		if _, err := admin.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Advance(2 * time.Hour)
	mid := time.Now().Add(90 * time.Minute) // between the two groups on the virtual clock
	for i := 0; i < 3; i++ {
		if _, err := admin.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatal(err)
		}
	}
	attr := []cttypes.LookupAttribute{{AttributeKey: "EventName", AttributeValue: aws.String("ListKeys")}}
	var all []cttypes.Event
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{LookupAttributes: attr, MaxResults: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.Events...)
	}
	if len(all) != 10 || pages != 4 {
		t.Fatalf("paginated %d events in %d pages", len(all), pages)
	}
	for i := 1; i < len(all); i++ {
		if all[i].EventTime.After(*all[i-1].EventTime) {
			t.Fatal("events not newest first")
		}
	}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[*e.EventId] {
			t.Fatal("duplicate event across pages")
		}
		seen[*e.EventId] = true
	}
	recent, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: attr, StartTime: &mid})
	if err != nil || len(recent.Events) != 3 {
		t.Fatalf("StartTime: %v %d", err, len(recent.Events))
	}
	old, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: attr, EndTime: &mid})
	if err != nil || len(old.Events) != 7 {
		t.Fatalf("EndTime: %v %d", err, len(old.Events))
	}
	wantErr := func(in *cloudtrail.LookupEventsInput, code string) {
		t.Helper()
		_, err := ct.LookupEvents(ctx, in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Fatalf("want %s, got %v", code, err)
		}
	}
	later := mid.Add(time.Hour)
	wantErr(&cloudtrail.LookupEventsInput{StartTime: &later, EndTime: &mid}, "InvalidTimeRangeException")
	wantErr(&cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException")
	wantErr(&cloudtrail.LookupEventsInput{LookupAttributes: append(attr, attr...)}, "InvalidLookupAttributesException")
	first, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: attr, MaxResults: aws.Int32(2)})
	if err != nil || first.NextToken == nil {
		t.Fatal(err)
	}
	wantErr(&cloudtrail.LookupEventsInput{LookupAttributes: attr, MaxResults: aws.Int32(3), NextToken: first.NextToken}, "InvalidNextTokenException")
}
