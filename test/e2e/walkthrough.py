#!/usr/bin/env python3
"""The partner guide's journey with boto3, as examples/partner-walkthrough.sh
does it with the aws CLI: BYOL + management CIDR, image import
(BYOL_REGULAR_BYOP), directory registration (DEDICATED), a security group,
a bundle, user-decoupled MANUAL desktops, start/stop, a custom image and the
bundle update, then termination.

The endpoint comes from $DESKPLANE_ENDPOINT (default http://127.0.0.1:4599);
nothing else differs from talking to AWS. Exits non-zero on anything
unexpected. Every wait is a bounded poll."""

import os
import sys
import time

import boto3
import botocore.exceptions

ENDPOINT = os.environ.get("DESKPLANE_ENDPOINT", "http://127.0.0.1:4599")
KEY = os.environ.get("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
SECRET = os.environ.get("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
POLL_TRIES = int(os.environ.get("POLL_TRIES", "120"))
POLL_SLEEP = float(os.environ.get("POLL_SLEEP", "0.5"))
IMAGE_NAME = os.environ.get("EC2_IMAGE_NAME", "win10-ent-22h2-byol")
DIRECTORY_NAME = os.environ.get("DIRECTORY_NAME", "corp.example.com")
NDESKTOPS = 2
TAG = [{"Key": "PartnerManaged", "Value": "true"}]

session = boto3.session.Session(aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION)


def client(name):
    return session.client(name, endpoint_url=ENDPOINT)


ws, ec2, ds, sts, kms = (client(n) for n in ("workspaces", "ec2", "ds", "sts", "kms"))


def say(msg):
    print(f"\n==> {msg}", flush=True)


def die(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def expect(what, got, want):
    if got != want:
        die(f"{what}: got {got!r}, want {want!r}")
    print(f"    ok: {what} = {got!r}", flush=True)


def poll(what, want, fn):
    got = None
    for _ in range(POLL_TRIES):
        got = fn()
        if got == want:
            print(f"    ok: {what} = {got!r}", flush=True)
            return
        time.sleep(POLL_SLEEP)
    die(f"{what}: still {got!r} after {POLL_TRIES} polls, want {want!r}")


def states(ids):
    return sorted({w["State"] for w in ws.describe_workspaces(WorkspaceIds=ids)["Workspaces"]})


def error_code(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


say(f"endpoint {ENDPOINT}; caller")
acct = sts.get_caller_identity()["Account"]
expect("caller account", acct, "111122223333")

# --- Enable the account for BYOL and configure the BYOL CIDR block ----------
say("DescribeAccountModifications: has the customer configured the CIDR block already?")
expect("account modifications on a fresh account", ws.describe_account_modifications()["AccountModifications"], [])
say("ListAvailableManagementCidrRanges (192.168.0.0/16)")
cidr = ws.list_available_management_cidr_ranges(ManagementCidrRangeConstraint="192.168.0.0/16")["ManagementCidrRanges"][0]
expect("first available management CIDR range", cidr, "192.168.0.0/16")
say(f"ModifyAccount: enable BYOL with {cidr}")
ws.modify_account(DedicatedTenancySupport="ENABLED", DedicatedTenancyManagementCidrRange=cidr)
poll("account modification state", "COMPLETED",
     lambda: ws.describe_account_modifications()["AccountModifications"][0]["ModificationState"])
a = ws.describe_account()
expect("DescribeAccount", (a["DedicatedTenancySupport"], a.get("DedicatedTenancyManagementCidrRange")), ("ENABLED", cidr))

# --- Import the Windows client OS image (BYOL-BYOP) -------------------------
say("DescribeImages: the AMIs to show the customer admin (the guide's fields and filters)")
images = ec2.describe_images(Owners=["self"], Filters=[
    {"Name": "image-type", "Values": ["machine"]},
    {"Name": "state", "Values": ["available"]},
    {"Name": "virtualization-type", "Values": ["hvm"]},
])["Images"]
for im in images:
    ebs = im["BlockDeviceMappings"][0]["Ebs"]
    print(f"    {im['ImageId']}  {im['Name']:<40} {im['PlatformDetails']:<14} {im['VirtualizationType']} "
          f"ena={im['EnaSupport']} {im['Hypervisor']} {im['State']} {ebs['VolumeType']} {ebs['VolumeSize']}GiB "
          f"owner={im['OwnerId']} {im['ImageType']} - {im['Description']}")
match = [im for im in images if im["Name"] == IMAGE_NAME]
if len(match) != 1:
    die(f"EC2 image {IMAGE_NAME} listed {len(match)} times")
im = match[0]
ami = im["ImageId"]
expect("image VirtualizationType", im["VirtualizationType"], "hvm")
expect("image PlatformDetails", im["PlatformDetails"], "Windows BYOL")
expect("image EnaSupport", im["EnaSupport"], True)
expect("image State/ImageType", (im["State"], im["ImageType"]), ("available", "machine"))
expect("image OwnerId", im["OwnerId"], acct)
ebs = im["BlockDeviceMappings"][0]["Ebs"]
if not im.get("Hypervisor") or not ebs.get("VolumeType") or ebs.get("VolumeSize", 0) < 80 or not im.get("Description"):
    die(f"image display fields missing: {im}")

say("ImportWorkspaceImage (BYOL_REGULAR_BYOP)")
img = ws.import_workspace_image(Ec2ImageId=ami, IngestionProcess="BYOL_REGULAR_BYOP",
                                ImageName="win10-ent-img01", ImageDescription="Windows 10 Enterprise")["ImageId"]
if not img.startswith("wsi-"):
    die(f"ImportWorkspaceImage returned {img!r}")
poll(f"image {img} state", "AVAILABLE", lambda: ws.describe_workspace_images(ImageIds=[img])["Images"][0]["State"])
d = ws.describe_workspace_images(ImageIds=[img])["Images"][0]
expect("imported image", (d["Name"], d["Description"], d["RequiredTenancy"]), ("win10-ent-img01", "Windows 10 Enterprise", "DEDICATED"))

# --- Configure the directory ------------------------------------------------
say("DescribeWorkspaceDirectories: the directories the customer can choose")
dirs = ws.describe_workspace_directories()["Directories"]
for x in dirs:
    print(f"    {x['DirectoryId']} {x.get('DirectoryName')} {x.get('DirectoryType')} {x['State']}")
dir_ids = [x["DirectoryId"] for x in dirs if x.get("DirectoryName") == DIRECTORY_NAME]
if len(dir_ids) != 1:
    die(f"directory {DIRECTORY_NAME} not found")
dir_id = dir_ids[0]
say(f"RegisterWorkspaceDirectory {dir_id} (DEDICATED: BYOL requires it)")
ws.register_workspace_directory(DirectoryId=dir_id, Tenancy="DEDICATED")
poll(f"directory {dir_id} state", "REGISTERED",
     lambda: ws.describe_workspace_directories(DirectoryIds=[dir_id])["Directories"][0]["State"])
expect("directory tenancy", ws.describe_workspace_directories(DirectoryIds=[dir_id])["Directories"][0].get("Tenancy"), "DEDICATED")

# --- Add a security group to the WorkSpaces directory -----------------------
say("Security group for the streaming protocol (tcp/8443 from the VPC)")
vpc = ds.describe_directories(DirectoryIds=[dir_id])["DirectoryDescriptions"][0]["VpcSettings"]["VpcId"]
vpc_cidr = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"]
sg = ec2.create_security_group(GroupName=f"byop-protocol-{os.getpid()}", Description="BYOP protocol access", VpcId=vpc)["GroupId"]
r = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "IpRanges": [{"CidrIp": vpc_cidr}]}])
expect("AuthorizeSecurityGroupIngress", r.get("Return"), True)
perm = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"][0]
expect("ingress rule", (perm["IpProtocol"], perm["FromPort"], perm["ToPort"], perm["IpRanges"][0]["CidrIp"]), ("tcp", 8443, 8443, vpc_cidr))
ws.modify_workspace_creation_properties(ResourceId=dir_id, WorkspaceCreationProperties={"CustomSecurityGroupId": sg})
got = ws.describe_workspace_directories(DirectoryIds=[dir_id])["Directories"][0]["WorkspaceCreationProperties"].get("CustomSecurityGroupId")
expect("directory CustomSecurityGroupId", got, sg)

# --- Deploy Amazon WorkSpaces Core desktops ---------------------------------
say(f"CreateWorkspaceBundle from {img}")
bundle = ws.create_workspace_bundle(BundleName="byop-standard", BundleDescription="BYOP standard",
                                    ComputeType={"Name": "STANDARD"}, ImageId=img,
                                    RootStorage={"Capacity": "80"}, UserStorage={"Capacity": "50"},
                                    Tags=TAG)["WorkspaceBundle"]["BundleId"]
b = ws.describe_workspace_bundles(BundleIds=[bundle])["Bundles"][0]
expect(f"bundle {bundle}", (b["ImageId"], b["ComputeType"]["Name"], b["RootStorage"]["Capacity"], b["UserStorage"]["Capacity"]),
       (img, "STANDARD", "80", "50"))

say(f"CreateWorkspaces: {NDESKTOPS} user-decoupled MANUAL desktops")
ids = []
for n in range(1, NDESKTOPS + 1):
    out = ws.create_workspaces(Workspaces=[{
        "DirectoryId": dir_id, "UserName": "[UNDEFINED]", "WorkspaceName": f"desktop{n}", "BundleId": bundle,
        "WorkspaceProperties": {"RunningMode": "MANUAL"}, "Tags": TAG}])
    expect(f"desktop{n} FailedRequests", out["FailedRequests"], [])
    p = out["PendingRequests"][0]
    expect(f"desktop{n} state/user", (p["State"], p["UserName"]), ("PENDING", "[UNDEFINED]"))
    ids.append(p["WorkspaceId"])
print(f"    desktops {ids}")
poll("desktops state", ["AVAILABLE"], lambda: states(ids))
w = ws.describe_workspaces(WorkspaceIds=ids[:1])["Workspaces"][0]
expect("desktop properties", (w["WorkspaceProperties"]["RunningMode"], w["BundleId"], w["DirectoryId"]), ("MANUAL", bundle, dir_id))
expect("desktop tags", ws.describe_tags(ResourceId=ids[0])["TagList"], TAG)

say("StopWorkspaces / StartWorkspaces (MANUAL power management)")
reqs = [{"WorkspaceId": i} for i in ids]
expect("StopWorkspaces FailedRequests", ws.stop_workspaces(StopWorkspaceRequests=reqs)["FailedRequests"], [])
poll("desktops state", ["STOPPED"], lambda: states(ids))
expect("StartWorkspaces FailedRequests", ws.start_workspaces(StartWorkspaceRequests=reqs)["FailedRequests"], [])
poll("desktops state", ["AVAILABLE"], lambda: states(ids))

# --- Custom images ----------------------------------------------------------
say(f"CreateWorkspaceImage from {ids[0]} (golden image)")
golden = ws.create_workspace_image(Name="golden-01", Description="Golden image with the partner agent",
                                   WorkspaceId=ids[0], Tags=TAG)["ImageId"]
poll(f"image {golden} state", "AVAILABLE", lambda: ws.describe_workspace_images(ImageIds=[golden])["Images"][0]["State"])
poll(f"desktop {ids[0]} state after imaging", ["AVAILABLE"], lambda: states(ids[:1]))
say(f"UpdateWorkspaceBundle {bundle} -> {golden}")
ws.update_workspace_bundle(BundleId=bundle, ImageId=golden)
expect("bundle image", ws.describe_workspace_bundles(BundleIds=[bundle])["Bundles"][0]["ImageId"], golden)

# --- Termination (desktops first: bundle, image and directory are in use) ---
say("DeleteTags")
ws.delete_tags(ResourceId=bundle, TagKeys=["PartnerManaged"])
expect("bundle tags after DeleteTags", ws.describe_tags(ResourceId=bundle)["TagList"], [])
say("A bundle in use cannot be deleted yet")
expect("DeleteWorkspaceBundle in use", error_code(ws.delete_workspace_bundle, BundleId=bundle), "ResourceAssociatedException")
say("TerminateWorkspaces")
expect("TerminateWorkspaces FailedRequests",
       ws.terminate_workspaces(TerminateWorkspaceRequests=[{"WorkspaceId": i} for i in ids])["FailedRequests"], [])
poll("desktops state", ["TERMINATED"], lambda: states(ids))
say(f"DeleteWorkspaceBundle {bundle}")
ws.delete_workspace_bundle(BundleId=bundle)
expect("bundles left", ws.describe_workspace_bundles(BundleIds=[bundle])["Bundles"], [])
say(f"DeleteWorkspaceImage {golden} {img}")
ws.delete_workspace_image(ImageId=golden)
ws.delete_workspace_image(ImageId=img)
expect("images left", ws.describe_workspace_images(ImageIds=[golden, img])["Images"], [])
say(f"DeregisterWorkspaceDirectory {dir_id}")
ws.deregister_workspace_directory(DirectoryId=dir_id)
poll(f"directory {dir_id} state", "DEREGISTERED",
     lambda: ws.describe_workspace_directories(DirectoryIds=[dir_id])["Directories"][0]["State"])

print(f"\nwalkthrough passed (boto3): image {img}, bundle {bundle}, desktops {ids}, golden {golden}")
