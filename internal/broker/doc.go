// Package broker is deskplane's partner control plane ("deskplane broker"):
// the connection broker and orchestrator the WorkSpaces Core partner guide
// asks partners to build. It talks to WorkSpaces, EC2, Directory Service and
// the Directory Service Data API only through aws-sdk-go-v2 (plus its own
// SigV4-signed ds-data client, package dsdata), so the same binary runs
// against deskplane or the real service.
//
// # Commands
//
//	deskplane broker onboard   --config FILE [--cidr R] [--ami ami-…|name] [--directory d-…|name]
//	                           [--image-name N] [--bundle-name N] [--ingestion-process P] [--no-prompt]
//	deskplane broker serve     --config FILE [--listen ADDR] [--tls auto | --tls-cert F --tls-key F]
//	deskplane broker reconcile --config FILE
//	deskplane broker cost      --config FILE [--from T] [--to T] [--json]
//	deskplane broker gateway   --config FILE   (package gateway: a gateway process)
//
// onboard is the guide's infrastructure setup as one idempotent, resumable
// command: (1) DescribeAccountModifications; unless BYOL is configured,
// ListAvailableManagementCidrRanges, the operator's choice (--cidr or a
// prompt), ModifyAccount and a wait for COMPLETED; (2) unless a WorkSpaces
// image of that name exists, the account's own AMIs (ec2 DescribeImages,
// Owners=self, image-type machine, state available, virtualization-type hvm,
// unencrypted) shown with the guide's fields, the operator's choice (--ami or
// a prompt), ImportWorkspaceImage (BYOL_REGULAR_BYOP by default) and its
// progress until AVAILABLE; (3) DescribeWorkspaceDirectories and, unless
// REGISTERED, RegisterWorkspaceDirectory with tenancy DEDICATED (BYOL); (4)
// unless a bundle of that name exists, CreateWorkspaceBundle; (5) the
// security group for the protocol plans' ports in the directory's VPC
// (ec2 DescribeSecurityGroups / CreateSecurityGroup /
// AuthorizeSecurityGroupIngress) set as the directory's custom security
// group (ModifyWorkspaceCreationProperties). A step found
// done is reported as skipped, so a second run skips every step. A choice
// that is neither configured nor given as a flag is asked for only when
// standard input is a terminal; with --no-prompt, or from a script, onboard
// fails instead and lists the options.
//
// # Configuration (JSON)
//
// See testdata/example.json, and examples/broker-default.json for the
// default server (its PartnerRole, ExternalId Customer-1234). Members:
//
//   - endpoint: WorkSpaces-compatible endpoint (deskplane); empty for AWS.
//   - region: default us-east-1.
//   - role_arn, external_id: the customer's role, assumed with sts:AssumeRole
//     (stscreds.AssumeRoleProvider behind an aws.CredentialsCache that
//     refreshes 5 minutes before expiry; an ExpiredToken answer also drops
//     the cache). The preferred access of the guide.
//   - access_key_id, secret_access_key: the partner's keys that call
//     AssumeRole, or, without role_arn, keys used directly (self-managed);
//     empty: the SDK's default credential chain.
//   - data_dir: the broker's SQLite store (default ./broker-data).
//   - listen, api_tokens: the session API address and bearer tokens.
//   - tls ("auto": a certificate generated into data_dir/tls), tls_cert,
//     tls_key: serve the session API over HTTPS (the serve flags override).
//   - allowed_hosts: host names the session API answers to besides IP
//     addresses, localhost and the listen host (DNS rebinding protection).
//   - reconcile_interval: serve's loop period (default 30s).
//   - max_attempts, max_backoff: the SDK retryer (default 8, 20s; jittered
//     exponential backoff, no client-side retry quota).
//   - onboarding: cidr, ami (id or name), directory, security_group_name,
//     ingress_cidr, image_name (default
//     deskplane-byol-image), image_description, ingestion_process (default
//     BYOL_REGULAR_BYOP), tenancy (default DEDICATED), subnet_ids,
//     bundle_name (default deskplane-bundle), bundle_description,
//     compute_type (default STANDARD), root_volume_gib (80), user_volume_gib (50).
//   - pools: name (lower-case letters and digits), directory (id or DNS
//     name), bundle (id or name), running_mode (MANUAL default, or
//     ALWAYS_ON), min, max, warm.
//   - protocol_plans: name → {protocol, port}. Built in: rdp (RDP 3389),
//     dcv (DCV 8443), vnc (VNC 5900). The portal opens a VNC plan's desktop
//     (protocol VNC or port 5900) in noVNC, any other in its terminal view.
//   - power_plans: name → {on_disconnect, on_logout}, each {action:
//     stop_after (with minutes) | stop_now | keep_running}. Built in:
//     stop-after-30 (both events), stop-now (disconnect: after 30 minutes;
//     logout: now), keep-running.
//   - release_plans: name → {on_logout: keep | release}. Built in: keep,
//     release. "release" unassigns the desktop at logout and rebuilds it
//     (RebuildWorkspaces) before anyone else gets it.
//   - policies: [{name, groups, users, pool, protocol_plan (default rdp),
//     power_plan (default stop-after-30), release_plan (default keep)}];
//     the first policy naming the user or one of the user's directory
//     groups wins.
//   - gateway_secret: authenticates gateway processes (POST /v1/gateway/…);
//     empty: only the in-process gateway.
//   - gateway: disabled (no in-process gateway), listen_tcp (its native
//     listener; default the API host, a free port), address_map (auto,
//     the default: see "Reachable addresses"; loopback; direct),
//     ticket_ttl (default 60s).
//   - deskplane_admin_token: deskplane's admin token, with which the broker
//     asks a deskplane endpoint where desktops and directories answer.
//   - portal: ldap (directory id or name → ldap:// or ldaps:// URL; default
//     the directory's first DNS address as reachable: against deskplane
//     LDAPS on the listed port when the listed CA or ldaps_ca_file can be
//     read, else LDAP on the listed port; else port 389), bind_format
//     (default "{user}@{domain}"), ldaps_insecure_skip_verify,
//     ldaps_ca_file, novnc_dir
//     (default /usr/share/novnc: noVNC, served at /portal/novnc/ for VNC
//     desktops; top level only).
//   - console: admin_group (a directory group whose members, nested ones
//     included, sign in to the console with their directory password for
//     this tenant: an LDAP bind as the user over the portal's path, then a
//     memberOf search; default none, api tokens only).
//   - prices (USD, illustrative defaults, not AWS list prices): hourly
//     (0.30 per AVAILABLE hour of a MANUAL desktop), hourly_monthly_fee (0,
//     fixed monthly fee of a MANUAL desktop), monthly (40.00, ALWAYS_ON),
//     hours_per_month (730, to prorate monthly prices).
//
// # Reachable addresses
//
// The gateway (the broker resolves the address when a ticket is redeemed
// and hands it over) and the portal's LDAP sign-in dial through one rule
// (reach.go): with address_map auto, against a deskplane endpoint (one that
// answers GET /_deskplane/health) the address GET /_deskplane/runtime (a
// desktop) or GET /_deskplane/ldap (a directory) lists, asked with
// deskplane_admin_token — the runtime moves a desktop off its preferred
// loopback address on a collision — else, without a token or a listing,
// the preferred loopback address (internal/loopback); against AWS (no
// endpoint) or another endpoint, the IpAddress (DnsIpAddrs) itself, which
// a gateway in the desktops' VPC reaches. address_map loopback or direct
// forces one of the two. A listing is cached for 5 seconds and fetched
// again when a lookup misses (a desktop started since).
//
// # Tags and pool membership
//
// Everything the broker creates (desktops, and in onboarding the image,
// directory registration and bundle) carries PartnerManaged=true, and only
// that key: the guide's policy (ForAllValues:StringEquals aws:TagKeys
// PartnerManaged) refuses any other key at creation, and the broker never
// tags, untags or modifies tags. Pool membership is therefore derived from
// the WorkspaceName: desktops are user-decoupled (UserName "[UNDEFINED]")
// and named <pool>-<n>, where pool names contain no "-" and n is a
// per-pool sequence kept in the store. A desktop counts as the pool's when
// its name parses to a configured pool, it is in that pool's directory, and
// it carries PartnerManaged=true (checked once with DescribeTags for a
// desktop the broker did not record creating, then remembered either way).
// Desktops the customer created are never touched.
//
// # Session API
//
// JSON over HTTP with "Authorization: Bearer <api token>":
//
//	POST /v1/sessions {"user":"alice"}   200 {session_id, user, pool, policy, state:"active", workspace_id, ip, port, protocol}
//	                                     202 + Retry-After {state:"starting"|"waiting", reason, ...}
//	                                     404 unknown user, 403 no policy
//	GET  /v1/sessions/{id}
//	POST /v1/sessions/{id}/disconnect    power plan on_disconnect
//	POST /v1/sessions/{id}/logout        release plan, then power plan on_logout
//	GET  /v1/pools · POST /v1/reconcile · GET /v1/cost?from=&to= · GET /v1/health · GET /metrics (Prometheus)
//
// An active session's answer also carries ticket, ticket_expires, gateway,
// gateway_url and gateway_tcp when a gateway is live (gateways.go). More
// endpoints: GET /v1/gateways, GET /v1/desktops, POST
// /v1/desktops/{id}/{start|stop|reboot|rebuild|release}, GET /v1/sessions,
// GET /v1/events, GET /v1/cost/daily (actions.go); the console at
// /console/ (console.go) and the portal at /portal/ (portal.go).
//
// A session request resolves the user's groups (ds-data ListGroupsForMember
// in the pools' directories, cached five minutes), matches a policy, reuses
// the user's assigned desktop in the policy's pool or assigns a free one
// (AVAILABLE first, then starting, then STOPPED), starts it if STOPPED, and
// answers with the protocol plan's protocol and port once it is AVAILABLE.
// Calling POST again is how a gateway polls.
//
// # Reconciliation
//
// Each pass (serve runs one every reconcile_interval and soon after a
// session waits) observes the pools' desktops (DescribeWorkspaces, all
// pages, per directory), records state transitions (opening and closing
// AVAILABLE intervals for cost, noticing stops the broker did not ask for —
// the 48-hour stop, maintenance — and marking such sessions interrupted),
// then applies Decide, a pure function from the observed pool to actions:
// replace ERROR/UNHEALTHY desktops, grow to max(min, assigned + releasing +
// warm + waiting) within max counting every desktop that is not terminated
// and every unmatched create, start free desktops for the warm buffer, stop
// surplus free ones and assigned ones past their power-plan deadline, and
// rebuild released ones. Calls go in batches of at most 25 (rebuild: 1).
//
// Crash safety: state is in SQLite (WAL, synchronous=FULL). Before
// CreateWorkspaces the broker records an intent per desktop name in the same
// transaction that advances the pool's name sequence; the next pass matches
// observed desktops to intents by WorkspaceName, and re-sends (same name)
// only intents unmatched for a minute. A kill -9 between the call and its
// record therefore never doubles desktops. Stops are marked as requested
// before the call, so the broker's own stops are never mistaken for the
// service's.
//
// # Tenants
//
// A partner serves several customers from one broker by declaring tenants
// (Config.Tenants, see Tenant): each is a customer account with its own
// role, ExternalId (required, and unique across tenants), region,
// directories, pools, plans, policies and api tokens, and its own store
// under data_dir/tenants/<name>. Each tenant has its own clients, credential
// cache, group cache and reconcile loop; nothing of one tenant is reachable
// with another's token. The top level's api_tokens are the administrators':
// they reach every tenant at /v1/tenants/{tenant}/…, list the tenants at
// GET /v1/tenants and read every tenant's metrics, labelled tenant="…", at
// GET /metrics. A tenant's own token reaches the session API at /v1/… and
// its own metrics. onboard, reconcile and cost take --tenant; reconcile and
// cost without it act on every tenant. A configuration without tenants is
// one tenant, "default", with its store in data_dir as before.
//
// # Several brokers on PostgreSQL
//
// With store set to a postgres:// URL (or serve --store), several broker
// processes share one state (each tenant in a schema of its own,
// broker_<tenant>). All of them serve the session API; one at a time
// reconciles: the holder of a lease row in the database, which it renews
// every LeaseRenew (2 s) for LeaseTTL (10 s) on the database's clock, so a
// dead leader's lease is taken over within 12 s. A follower answers POST
// /v1/reconcile with 409 NotLeader; GET /v1/health lists the tenants the
// process reconciles. Session grants are exactly-once across brokers: the
// store holds at most one live session per user (a unique index), and a
// desktop is assigned by a conditional update, so two brokers asked at once
// give the same session and desktop. Connection tickets and gateway
// registrations are in the database too: a gateway heartbeats to any one
// broker, every broker spreads its sessions over the gateways the database
// lists as live (gateways_store.go), and any broker redeems a ticket once
// (tickets_store.go). Statements are written once in the
// common subset of SQLite and PostgreSQL (dialect.go). On the embedded
// store, one broker per data dir (broker.lock).
//
// # Regions
//
// A pool may name a standby region (Pool.Standby, see StandbyPool); all
// pools of a tenant that do name the same one. The standby region has a
// broker of its own (its clients, its store in data_dir/standby-<region>,
// its reconcile loop) that keeps the standby's baseline (min and warm,
// default 0) while the primary is healthy. The primary is failing after
// FailoverPasses (3) consecutive failed passes — its calls erroring or
// throttled beyond the SDK's retries — or after one pass in which at least
// FailoverBadShare (half) of the desktops of those pools are UNHEALTHY or
// ERROR. Then new sessions come from the standby, whose pools take the
// primary's min and warm so it grows to cover demand; sessions granted
// before stay where they are and are still served. After RecoverPasses (3)
// consecutive healthy passes the primary is active again: new sessions
// return to it, and the standby returns to its baseline (its free desktops
// stop; those assigned stay with their users until they log out). Each
// transition is logged, recorded as an event, counted in the metrics and
// shown by GET /v1/regions. The state is the broker's memory: after a
// restart it is found again within three passes. onboard --standby sets up
// the standby region (BYOL, image, directory, bundle).
//
// A pool's standby may keep standby WorkSpaces (StandbyPool.Workspaces,
// "standby_workspaces"; standby_ws.go): each pass of a healthy primary
// records the standby each primary desktop shows (DescribeWorkspaces'
// StandbyWorkspacesProperties) in the store's standby_ws table, asks the
// standby region for the missing ones (CreateStandbyWorkspaces with the
// primary's id, the standby pool's directory, the configured
// data_replication and volume_encryption_key; failures are the pool's
// errors, never a failed pass of the primary), and terminates the standbys
// of primaries that are gone. During a failover the standby region's broker
// serves a user whose primary desktop has a standby that standby (started
// if stopped; one in ERROR, UNHEALTHY or gone leaves the user to the
// standby pool); on recovery those sessions end and the standbys are
// stopped, so the users' next sessions are on their primary desktops.
// Standby WorkSpaces have no PartnerManaged tag (the standby pool never
// adopts them) and carry their primaries' names, so that standby pool
// numbers its own desktops from StandbyNameBase+1.
//
// # Cost
//
// The report (per pool, per user, per desktop) sums the AVAILABLE hours the
// broker observed, stamped by its injected Clock, and prices them: MANUAL
// desktops pay hourly × AVAILABLE hours + the prorated hourly_monthly_fee;
// ALWAYS_ON desktops the prorated monthly price. "always_on_cost" is what
// ALWAYS_ON would have cost over the time each desktop existed (for a user:
// held an assignment); "saving" is the difference. Hours are observed, so
// their precision is the reconcile interval.
package broker
