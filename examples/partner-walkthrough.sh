#!/usr/bin/env bash
# The Amazon WorkSpaces Core partner guide's whole journey, with the aws CLI
# only, against a deskplane server (or any WorkSpaces endpoint):
#
#   infrastructure setup  -> BYOL + management CIDR, image import (BYOL_REGULAR_BYOP),
#                            directory registration (DEDICATED), security group
#   deploy desktops       -> bundle, user-decoupled MANUAL desktops, start/stop
#   custom images         -> CreateWorkspaceImage, UpdateWorkspaceBundle
#   termination           -> DeleteTags, TerminateWorkspaces, DeleteWorkspaceBundle,
#                            DeleteWorkspaceImage, DeregisterWorkspaceDirectory
#
# Usage: DESKPLANE_ENDPOINT=http://127.0.0.1:4599 examples/partner-walkthrough.sh
#
# It expects deskplane's default environment (account 111122223333, directory
# corp.example.com, EC2 image win10-ent-22h2-byol) and the "fast" timing
# profile or quicker; every wait is a bounded poll. It checks each answer and
# exits non-zero on anything unexpected. It can run again on the same server
# (whose data persists): what cannot be undone (BYOL) or was set up by others
# (a registered directory) is detected and skipped, everything it creates it
# removes.
set -euo pipefail

ENDPOINT="${DESKPLANE_ENDPOINT:-http://127.0.0.1:4599}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIAIOSFODNN7EXAMPLE}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
unset AWS_PROFILE AWS_SESSION_TOKEN 2>/dev/null || true
# Keep a developer's own ~/.aws out of the run.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
# Poll budget: POLL_TRIES x POLL_SLEEP seconds per wait (fast timing needs ~3 s).
POLL_TRIES="${POLL_TRIES:-120}"
POLL_SLEEP="${POLL_SLEEP:-0.5}"
IMAGE_NAME="${EC2_IMAGE_NAME:-win10-ent-22h2-byol}"
DIRECTORY_NAME="${DIRECTORY_NAME:-corp.example.com}"
NDESKTOPS=2

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
aws_() { aws --endpoint-url "$ENDPOINT" "$@"; }
ws() { aws_ workspaces "$@"; }
ec2() { aws_ ec2 "$@"; }

# expect WHAT GOT WANT
expect() {
  if [ "$2" != "$3" ]; then die "$1: got '$2', want '$3'"; fi
  printf '    ok: %s = %s\n' "$1" "$2"
}

# poll WHAT WANT COMMAND...: re-runs COMMAND until its output equals WANT.
poll() {
  local what=$1 want=$2 got=""
  shift 2
  for _ in $(seq "$POLL_TRIES"); do
    got=$("$@")
    if [ "$got" = "$want" ]; then
      printf '    ok: %s = %s\n' "$what" "$got"
      return 0
    fi
    sleep "$POLL_SLEEP"
  done
  die "$what: still '$got' after $POLL_TRIES polls, want '$want'"
}

# states IDS...: the sorted distinct states of the given desktops.
states() {
  ws describe-workspaces --workspace-ids "$@" --query 'Workspaces[].State' --output text | tr '\t' '\n' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
count_desktops() {
  ws describe-workspaces --workspace-ids "$@" --query 'length(Workspaces)' --output text
}

say "endpoint $ENDPOINT; caller"
acct=$(aws_ sts get-caller-identity --query Account --output text)
expect "caller account" "$acct" "111122223333"

# --- Enable the account for BYOL and configure the BYOL CIDR block ----------
say "DescribeAccount / DescribeAccountModifications: has the customer configured the CIDR block already?"
# BYOL is configured once per account and region and cannot be undone, so a
# second run (the server keeps its data dir) finds it done and skips it, as
# `deskplane broker onboard` does.
support=$(ws describe-account --query DedicatedTenancySupport --output text)
pending=$(ws describe-account-modifications --query "length(AccountModifications[?ModificationState=='PENDING'])" --output text)
if [ "$support" = "ENABLED" ]; then
  cidr=$(ws describe-account --query DedicatedTenancyManagementCidrRange --output text)
  echo "    BYOL is already enabled with the management CIDR range $cidr: skipped"
else
  if [ "$pending" = "0" ]; then
    mods=$(ws describe-account-modifications --query "length(AccountModifications[?ModificationState=='COMPLETED'])" --output text)
    expect "completed account modifications before BYOL" "$mods" "0"

    say "ListAvailableManagementCidrRanges (192.168.0.0/16)"
    cidr=$(ws list-available-management-cidr-ranges --management-cidr-range-constraint 192.168.0.0/16 \
      --query 'ManagementCidrRanges[0]' --output text)
    [[ "$cidr" == 192.168.* ]] || die "no management CIDR range available in 192.168.0.0/16 ('$cidr')"
    echo "    first available: $cidr"

    say "ModifyAccount: enable BYOL with $cidr"
    ws modify-account --dedicated-tenancy-support ENABLED --dedicated-tenancy-management-cidr-range "$cidr" >/dev/null
  else
    echo "    an account modification is in progress: waiting for it"
  fi
  poll "account modification state" "COMPLETED" \
    ws describe-account-modifications --query "AccountModifications[?ModificationState!='FAILED'] | [0].ModificationState" --output text
  cidr=$(ws describe-account --query DedicatedTenancyManagementCidrRange --output text)
fi
acct_state=$(ws describe-account --query '[DedicatedTenancySupport,DedicatedTenancyManagementCidrRange]' --output text)
expect "DescribeAccount" "$acct_state" "ENABLED	$cidr"
taken=$(ws list-available-management-cidr-ranges --management-cidr-range-constraint "$cidr" --query "length(ManagementCidrRanges[?@=='$cidr'])" --output text)
expect "the account's own range listed as available" "$taken" "0"

# --- Import the Windows client OS image (BYOL-BYOP) -------------------------
say "DescribeImages: the AMIs to show the customer admin (the guide's fields and filters)"
ec2 describe-images --owners self \
  --filters Name=image-type,Values=machine Name=state,Values=available Name=virtualization-type,Values=hvm \
  --query 'Images[].{Name:Name,ImageId:ImageId,Description:Description,PlatformDetails:PlatformDetails,EnaSupport:EnaSupport,Hypervisor:Hypervisor,State:State,VirtualizationType:VirtualizationType,VolumeType:BlockDeviceMappings[0].Ebs.VolumeType,VolumeSize:BlockDeviceMappings[0].Ebs.VolumeSize,OwnerId:OwnerId,ImageType:ImageType}' \
  --output table
row=$(ec2 describe-images --owners self \
  --filters Name=image-type,Values=machine Name=state,Values=available Name=virtualization-type,Values=hvm \
  --query "Images[?Name=='$IMAGE_NAME'].[ImageId,VirtualizationType,PlatformDetails,EnaSupport,Hypervisor,State,BlockDeviceMappings[0].Ebs.VolumeType,BlockDeviceMappings[0].Ebs.VolumeSize,OwnerId,ImageType]" \
  --output text)
[ -n "$row" ] || die "EC2 image $IMAGE_NAME not listed"
IFS=$'\t' read -r ami virt platform ena hyper state voltype volsize owner itype <<<"$row"
expect "image VirtualizationType" "$virt" "hvm"
expect "image PlatformDetails" "$platform" "Windows BYOL"
expect "image EnaSupport" "$ena" "True"
expect "image State/ImageType" "$state/$itype" "available/machine"
expect "image OwnerId" "$owner" "$acct"
[ -n "$hyper" ] && [ -n "$voltype" ] && [ "$volsize" -ge 80 ] || die "image display fields missing: $row"
echo "    selected $ami ($IMAGE_NAME): $hyper, $voltype ${volsize} GiB"

say "ImportWorkspaceImage (BYOL_REGULAR_BYOP), the guide's command line"
img=$(ws import-workspace-image --ec2-image-id "$ami" --ingestion-process BYOL_REGULAR_BYOP --image-name win10-ent-img01 --image-description "Windows 10 Enterprise" \
  --query ImageId --output text)
[[ "$img" == wsi-* ]] || die "ImportWorkspaceImage returned '$img'"
echo "    image $img"
poll "image $img state" "AVAILABLE" ws describe-workspace-images --image-ids "$img" --query 'Images[0].State' --output text
got=$(ws describe-workspace-images --image-ids "$img" --query 'Images[0].[Name,Description,RequiredTenancy]' --output text)
expect "imported image" "$got" "win10-ent-img01	Windows 10 Enterprise	DEDICATED"

# --- Configure the directory ------------------------------------------------
say "DescribeWorkspaceDirectories: the directories the customer can choose"
ws describe-workspace-directories --query 'Directories[].[DirectoryId,DirectoryName,DirectoryType,State]' --output table
dir=$(ws describe-workspace-directories --query "Directories[?DirectoryName=='$DIRECTORY_NAME'].DirectoryId | [0]" --output text)
[[ "$dir" == d-* ]] || die "directory $DIRECTORY_NAME not found ('$dir')"

registered_here=0
if [ "$(ws describe-workspace-directories --directory-ids "$dir" --query 'Directories[0].State' --output text)" = "REGISTERED" ]; then
  # Registered by an earlier step (the README's steps, `broker onboard`):
  # used as it is, and left registered at the end.
  echo "    $dir is already REGISTERED: skipped"
else
  say "RegisterWorkspaceDirectory $dir (DEDICATED: BYOL requires it)"
  ws register-workspace-directory --directory-id "$dir" --tenancy DEDICATED >/dev/null
  registered_here=1
fi
poll "directory $dir state" "REGISTERED" \
  ws describe-workspace-directories --directory-ids "$dir" --query 'Directories[0].State' --output text
got=$(ws describe-workspace-directories --directory-ids "$dir" --query 'Directories[0].Tenancy' --output text)
expect "directory tenancy" "$got" "DEDICATED"

# --- Add a security group to the WorkSpaces directory -----------------------
say "Security group for the streaming protocol (tcp/8443 from the VPC)"
vpc=$(aws_ ds describe-directories --directory-ids "$dir" --query 'DirectoryDescriptions[0].VpcSettings.VpcId' --output text)
[[ "$vpc" == vpc-* ]] || die "directory VPC: '$vpc'"
vpccidr=$(ec2 describe-vpcs --vpc-ids "$vpc" --query 'Vpcs[0].CidrBlock' --output text)
sg=$(ec2 create-security-group --group-name "byop-protocol-$$" --description "BYOP protocol access" --vpc-id "$vpc" --query GroupId --output text)
[[ "$sg" == sg-* ]] || die "CreateSecurityGroup returned '$sg'"
ok=$(ec2 authorize-security-group-ingress --group-id "$sg" --protocol tcp --port 8443 --cidr "$vpccidr" --query Return --output text)
expect "AuthorizeSecurityGroupIngress" "$ok" "True"
got=$(ec2 describe-security-groups --group-ids "$sg" --query 'SecurityGroups[0].IpPermissions[0].[IpProtocol,FromPort,ToPort,IpRanges[0].CidrIp]' --output text)
expect "ingress rule" "$got" "tcp	8443	8443	$vpccidr"
ws modify-workspace-creation-properties --resource-id "$dir" --workspace-creation-properties "CustomSecurityGroupId=$sg" >/dev/null
got=$(ws describe-workspace-directories --directory-ids "$dir" --query 'Directories[0].WorkspaceCreationProperties.CustomSecurityGroupId' --output text)
expect "directory CustomSecurityGroupId" "$got" "$sg"

# --- Deploy Amazon WorkSpaces Core desktops ---------------------------------
say "CreateWorkspaceBundle from $img"
bundle=$(ws create-workspace-bundle --bundle-name "byop-standard" --bundle-description "BYOP standard" \
  --compute-type Name=STANDARD --image-id "$img" --root-storage Capacity=80 --user-storage Capacity=50 \
  --tags Key=PartnerManaged,Value=true --query WorkspaceBundle.BundleId --output text)
[[ "$bundle" == wsb-* ]] || die "CreateWorkspaceBundle returned '$bundle'"
got=$(ws describe-workspace-bundles --bundle-ids "$bundle" --query 'Bundles[0].[ImageId,ComputeType.Name,RootStorage.Capacity,UserStorage.Capacity]' --output text)
expect "bundle $bundle" "$got" "$img	STANDARD	80	50"

say "CreateWorkspaces: $NDESKTOPS user-decoupled MANUAL desktops (the guide's command line + RunningMode and tag)"
ids=()
for n in $(seq "$NDESKTOPS"); do
  out=$(ws create-workspaces --workspaces DirectoryId="$dir",UserName='"[UNDEFINED]"',WorkspaceName=desktop$n,BundleId="$bundle",'WorkspaceProperties={RunningMode=MANUAL},Tags=[{Key=PartnerManaged,Value=true}]' \
    --query '[length(FailedRequests), PendingRequests[0].WorkspaceId, PendingRequests[0].State, PendingRequests[0].UserName]' --output text)
  IFS=$'\t' read -r failed id st user <<<"$out"
  expect "desktop$n FailedRequests" "$failed" "0"
  expect "desktop$n state/user" "$st/$user" "PENDING/[UNDEFINED]"
  ids+=("$id")
done
echo "    desktops ${ids[*]}"
poll "desktops state" "AVAILABLE" states "${ids[@]}"
got=$(ws describe-workspaces --workspace-ids "${ids[0]}" --query 'Workspaces[0].[WorkspaceProperties.RunningMode,BundleId,DirectoryId]' --output text)
expect "desktop properties" "$got" "MANUAL	$bundle	$dir"
got=$(ws describe-tags --resource-id "${ids[0]}" --query "TagList[?Key=='PartnerManaged'].Value | [0]" --output text)
expect "desktop tag PartnerManaged" "$got" "true"

say "StopWorkspaces / StartWorkspaces (MANUAL power management)"
stops=(); for id in "${ids[@]}"; do stops+=("WorkspaceId=$id"); done
got=$(ws stop-workspaces --stop-workspace-requests "${stops[@]}" --query 'length(FailedRequests)' --output text)
expect "StopWorkspaces FailedRequests" "$got" "0"
poll "desktops state" "STOPPED" states "${ids[@]}"
got=$(ws start-workspaces --start-workspace-requests "${stops[@]}" --query 'length(FailedRequests)' --output text)
expect "StartWorkspaces FailedRequests" "$got" "0"
poll "desktops state" "AVAILABLE" states "${ids[@]}"

# --- Custom images ----------------------------------------------------------
say "CreateWorkspaceImage from ${ids[0]} (golden image)"
golden=$(ws create-workspace-image --name golden-01 --description "Golden image with the partner agent" --workspace-id "${ids[0]}" \
  --tags Key=PartnerManaged,Value=true --query ImageId --output text)
[[ "$golden" == wsi-* ]] || die "CreateWorkspaceImage returned '$golden'"
poll "image $golden state" "AVAILABLE" ws describe-workspace-images --image-ids "$golden" --query 'Images[0].State' --output text
poll "desktop ${ids[0]} state after imaging" "AVAILABLE" states "${ids[0]}"

say "UpdateWorkspaceBundle $bundle -> $golden"
ws update-workspace-bundle --bundle-id "$bundle" --image-id "$golden" >/dev/null
got=$(ws describe-workspace-bundles --bundle-ids "$bundle" --query 'Bundles[0].ImageId' --output text)
expect "bundle image" "$got" "$golden"

# --- Termination ------------------------------------------------------------
# The guide lists DeleteTags, DeleteWorkspaceBundle, DeleteWorkspaceImage,
# DeregisterWorkspaceDirectory, TerminateWorkspaces. A bundle, its image and
# the directory cannot go while desktops use them, so the desktops are
# terminated first (right after DeleteTags).
say "DeleteTags"
ws delete-tags --resource-id "$bundle" --tag-keys PartnerManaged >/dev/null
got=$(ws describe-tags --resource-id "$bundle" --query 'length(TagList)' --output text)
expect "bundle tags after DeleteTags" "$got" "0"

say "A bundle in use cannot be deleted yet"
if ws delete-workspace-bundle --bundle-id "$bundle" >/dev/null 2>/tmp/walkthrough.err.$$; then
  die "DeleteWorkspaceBundle of a bundle in use succeeded"
fi
grep -q ResourceAssociatedException /tmp/walkthrough.err.$$ || die "unexpected error: $(cat /tmp/walkthrough.err.$$)"
rm -f /tmp/walkthrough.err.$$
echo "    ok: ResourceAssociatedException"

say "TerminateWorkspaces"
got=$(ws terminate-workspaces --terminate-workspace-requests "${ids[@]}" --query 'length(FailedRequests)' --output text)
expect "TerminateWorkspaces FailedRequests" "$got" "0"
poll "desktops state" "TERMINATED" states "${ids[@]}"

say "DeleteWorkspaceBundle $bundle"
ws delete-workspace-bundle --bundle-id "$bundle" >/dev/null
got=$(ws describe-workspace-bundles --bundle-ids "$bundle" --query 'length(Bundles)' --output text)
expect "bundles left" "$got" "0"

say "DeleteWorkspaceImage $golden $img"
ws delete-workspace-image --image-id "$golden" >/dev/null
ws delete-workspace-image --image-id "$img" >/dev/null
got=$(ws describe-workspace-images --image-ids "$golden" "$img" --query 'length(Images)' --output text)
expect "images left" "$got" "0"

if [ "$registered_here" = 1 ]; then
  say "DeregisterWorkspaceDirectory $dir"
  ws deregister-workspace-directory --directory-id "$dir" >/dev/null
  poll "directory $dir state" "DEREGISTERED" \
    ws describe-workspace-directories --directory-ids "$dir" --query 'Directories[0].State' --output text
fi

say "DeleteSecurityGroup $sg"
got=$(ec2 delete-security-group --group-id "$sg" --query Return --output text)
expect "DeleteSecurityGroup return" "$got" "True"

printf '\nwalkthrough passed: image %s, bundle %s, desktops %s, golden %s\n' "$img" "$bundle" "${ids[*]}" "$golden"
