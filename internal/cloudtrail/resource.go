package cloudtrail

// ResourcesKey is the gateway.Call.SetAudit key under which a handler that
// authorizes itself lists the resources a call touched ([]Resource). The
// auditor turns them into the record's resources and leaves them out of
// additionalEventData.
const ResourcesKey = "cloudtrail:resources"

// Resource is a resource a handler reports for the audit record.
type Resource struct {
	ARN     string
	Account string
}
