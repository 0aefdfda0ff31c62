package cloudtrail

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// LookupAttribute is the model's LookupAttribute.
type LookupAttribute struct {
	AttributeKey   *string `v:"required"`
	AttributeValue *string `v:"required"`
}

// LookupEventsInput is the LookupEvents request.
type LookupEventsInput struct {
	LookupAttributes []LookupAttribute
	StartTime        *awsproto.Time
	EndTime          *awsproto.Time
	EventCategory    *string `v:"enum=insight"`
	MaxResults       *int
	NextToken        *string
}

// LookupResource is the model's Resource.
type LookupResource struct {
	ResourceType string `json:",omitempty"`
	ResourceName string `json:",omitempty"`
}

// Event is the model's Event.
type Event struct {
	EventId         string
	EventName       string
	ReadOnly        string
	AccessKeyId     string `json:",omitempty"`
	EventTime       *awsproto.Time
	EventSource     string
	Username        string `json:",omitempty"`
	Resources       []LookupResource
	CloudTrailEvent string
}

// LookupEventsOutput is the LookupEvents response.
type LookupEventsOutput struct {
	Events    []Event
	NextToken *string `json:",omitempty"`
}

var lookupKeys = map[string]bool{"EventId": true, "EventName": true, "ReadOnly": true, "Username": true,
	"ResourceType": true, "ResourceName": true, "EventSource": true, "AccessKeyId": true}

// retention is how far back LookupEvents looks.
const retention = 90 * 24 * time.Hour

type pageToken struct {
	Seg   string `json:"s"` // the segment to resume in
	After string `json:"a"` // the last event returned from it (or the prefix: none)
	Hash  string `json:"h"`
}

func (t *Trail) lookupEvents(ctx context.Context, c *gateway.Call, in *LookupEventsInput) (*LookupEventsOutput, error) {
	if len(in.LookupAttributes) > 1 {
		return nil, awsproto.Errorf("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
	}
	var attrKey, attrVal string
	if len(in.LookupAttributes) == 1 {
		attrKey, attrVal = *in.LookupAttributes[0].AttributeKey, *in.LookupAttributes[0].AttributeValue
		if !lookupKeys[attrKey] {
			return nil, awsproto.Errorf("InvalidLookupAttributesException", "The attribute key %s is not valid.", attrKey)
		}
		if attrVal == "" || len(attrVal) > 2000 {
			return nil, awsproto.Errorf("InvalidLookupAttributesException", "The attribute value must be 1 to 2000 characters.")
		}
	}
	max := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, awsproto.Errorf("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		max = *in.MaxResults
	}
	end := c.Now
	if in.EndTime != nil {
		end = in.EndTime.Time
	}
	start := c.Now.Add(-retention)
	if in.StartTime != nil {
		start = in.StartTime.Time
	}
	if start.After(end) {
		return nil, awsproto.Errorf("InvalidTimeRangeException", "Start time must be before end time.")
	}
	if in.EventCategory != nil {
		return &LookupEventsOutput{Events: []Event{}}, nil // no Insights events are produced
	}
	hash := paramsHash(attrKey, attrVal, in.StartTime, in.EndTime, max)
	prefix := c.Account + "/" + c.Region + "/"
	// Segments are keyed by their newest event; one may hold events older
	// than its key by the time a request took, so start a little later.
	after := prefix + invTime(end.Add(segmentSlack))
	resumeSeg, resumeAfter := "", ""
	if in.NextToken != nil {
		var tok pageToken
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.Hash != hash || !strings.HasPrefix(tok.After, prefix) || !strings.HasPrefix(tok.Seg, prefix) {
			return nil, awsproto.Errorf("InvalidNextTokenException", "Invalid NextToken: it must come from a call with the same parameters.")
		}
		resumeSeg, resumeAfter = tok.Seg, tok.After
	} else if err := t.Flush(ctx); err != nil {
		return nil, err
	}
	out := &LookupEventsOutput{Events: []Event{}}
	// visit handles one segment's events (newest first); it returns ErrStop
	// once the page is full or the time range is passed.
	visit := func(seg string, evs []*stored, skipThrough string) error {
		for i, s := range evs {
			if skipThrough != "" && s.Key <= skipThrough {
				continue
			}
			if s.Time.Before(start) {
				if i == 0 {
					return store.ErrStop // the whole segment (and all after it) is older
				}
				continue
			}
			if s.Time.After(end) || !matches(s, attrKey, attrVal) {
				continue
			}
			if len(out.Events) == max {
				// Resume in this segment after the event before this one
				// (or at its start when the page ended on its boundary).
				through := prefix
				if i > 0 {
					through = evs[i-1].Key
				}
				b, _ := json.Marshal(pageToken{Seg: seg, After: through, Hash: hash})
				out.NextToken = ptr.To(base64.RawURLEncoding.EncodeToString(b))
				return store.ErrStop
			}
			out.Events = append(out.Events, s.event())
		}
		return nil
	}
	err := t.store.View(ctx, func(tx store.Tx) error {
		if resumeSeg != "" {
			b, err := tx.Get(ctx, tEvents, resumeSeg)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil {
				evs, err := decodeSegment(b)
				if err != nil {
					return fmt.Errorf("cloudtrail: decode segment %s: %w", resumeSeg, err)
				}
				if err := visit(resumeSeg, evs, resumeAfter); err != nil {
					if errors.Is(err, store.ErrStop) {
						return nil
					}
					return err
				}
			}
			after = resumeSeg
		}
		return tx.Scan(ctx, tEvents, prefix, after, 0, func(key string, b []byte) error {
			evs, err := decodeSegment(b)
			if err != nil {
				return fmt.Errorf("cloudtrail: decode segment %s: %w", key, err)
			}
			return visit(key, evs, "")
		})
	})
	return out, err
}

// segmentSlack bounds how much older than its newest event a segment's
// oldest event can be: the writer cuts a batch into segments that span no
// more (a batch gathers events for a few milliseconds of real time, which
// a virtual clock may stretch to hours).
const segmentSlack = 10 * time.Minute

func paramsHash(k, v string, s, e *awsproto.Time, max int) string {
	h := sha256.New()
	h.Write([]byte(k + "\x00" + v + "\x00" + strconv.Itoa(max)))
	for _, t := range []*awsproto.Time{s, e} {
		if t != nil {
			h.Write([]byte("\x00" + strconv.FormatInt(t.UnixNano(), 10)))
		} else {
			h.Write([]byte("\x00-"))
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func matches(s *stored, k, v string) bool {
	switch k {
	case "":
		return true
	case "EventId":
		return s.EventID == v
	case "EventName":
		return s.EventName == v
	case "ReadOnly":
		return strconv.FormatBool(s.ReadOnly) == v
	case "Username":
		return s.Username == v
	case "EventSource":
		return s.EventSource == v
	case "AccessKeyId":
		return s.AccessKeyID == v
	case "ResourceType":
		for _, r := range s.Resources {
			if r.Type == v {
				return true
			}
		}
	case "ResourceName":
		for _, r := range s.Resources {
			if r.ARN == v || resourceName(r.ARN) == v {
				return true
			}
		}
	}
	return false
}

// resourceName is the short name of a resource: the part after the last
// "/" (or ":") of its ARN.
func resourceName(arn string) string {
	if i := strings.LastIndexAny(arn, "/:"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// recordJSON is the event record as a JSON text.
func (s *stored) recordJSON() string {
	if len(s.Record) > 0 && s.Record[0] == '"' { // a segment of the string era
		var r string
		if json.Unmarshal(s.Record, &r) == nil {
			return r
		}
	}
	return string(s.Record)
}

func (s *stored) event() Event {
	ev := Event{EventId: s.EventID, EventName: s.EventName, ReadOnly: strconv.FormatBool(s.ReadOnly), AccessKeyId: s.AccessKeyID,
		EventTime: awsproto.NewTime(s.Time.Truncate(time.Second)), EventSource: s.EventSource, Username: s.Username,
		Resources: []LookupResource{}, CloudTrailEvent: s.recordJSON()}
	for _, r := range s.Resources {
		ev.Resources = append(ev.Resources, LookupResource{ResourceType: r.Type, ResourceName: r.ARN})
	}
	return ev
}
