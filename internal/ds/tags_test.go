package ds_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice"
	"github.com/aws/aws-sdk-go-v2/service/directoryservice/types"

	"github.com/deskplane/deskplane/internal/testserver"
)

// TestTagsAndDomainControllers adds, lists and removes a directory's tags
// and lists its domain controllers, through the SDK.
func TestTagsAndDomainControllers(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	c := directoryservice.NewFromConfig(s.Admin())
	d := seeded(t, c)
	id := d.DirectoryId

	if _, err := c.AddTagsToResource(ctx, &directoryservice.AddTagsToResourceInput{ResourceId: id,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("euc")}, {Key: aws.String("env"), Value: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, &directoryservice.ListTagsForResourceInput{ResourceId: id, Limit: aws.Int32(1)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "env" || tags.NextToken == nil {
		t.Fatalf("first page of tags: %+v, %v", tags, err)
	}
	tags, err = c.ListTagsForResource(ctx, &directoryservice.ListTagsForResourceInput{ResourceId: id, NextToken: tags.NextToken})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" || tags.NextToken != nil {
		t.Fatalf("second page of tags: %+v, %v", tags, err)
	}
	if _, err := c.RemoveTagsFromResource(ctx, &directoryservice.RemoveTagsFromResourceInput{ResourceId: id, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, err = c.ListTagsForResource(ctx, &directoryservice.ListTagsForResourceInput{ResourceId: id})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "env" {
		t.Fatalf("tags after the removal: %+v, %v", tags, err)
	}
	_, err = c.AddTagsToResource(ctx, &directoryservice.AddTagsToResourceInput{ResourceId: id, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidParameterException")
	_, err = c.ListTagsForResource(ctx, &directoryservice.ListTagsForResourceInput{ResourceId: aws.String("d-0000000000")})
	wantCode(t, err, "EntityDoesNotExistException")

	dcs, err := c.DescribeDomainControllers(ctx, &directoryservice.DescribeDomainControllersInput{DirectoryId: id})
	if err != nil || len(dcs.DomainControllers) != 2 {
		t.Fatalf("domain controllers: %+v, %v", dcs, err)
	}
	for i, dc := range dcs.DomainControllers {
		if dc.Status != types.DomainControllerStatusActive || aws.ToString(dc.VpcId) != aws.ToString(d.VpcSettings.VpcId) || aws.ToString(dc.DnsIpAddr) == "" {
			t.Errorf("domain controller %d: %+v", i, dc)
		}
	}
	one, err := c.DescribeDomainControllers(ctx, &directoryservice.DescribeDomainControllersInput{DirectoryId: id, DomainControllerIds: []string{*dcs.DomainControllers[1].DomainControllerId}})
	if err != nil || len(one.DomainControllers) != 1 {
		t.Fatalf("one domain controller: %+v, %v", one, err)
	}
	_, err = c.DescribeDomainControllers(ctx, &directoryservice.DescribeDomainControllersInput{DirectoryId: id, DomainControllerIds: []string{"dc-0000000000"}})
	wantCode(t, err, "EntityDoesNotExistException")
}
