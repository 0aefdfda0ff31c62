#!/usr/bin/env python3
"""The partner guide's tag-based authorization flow with boto3.

Usage: partner_guide.py ENDPOINT. Run by TestPartnerGuideBoto3 against a
fresh deskplane server; exits non-zero on the first unexpected result.
"""
import json
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EP = sys.argv[1]
CFG = Config(retries={"max_attempts": 1})
ADMIN = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
PARTNER = ("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
         "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "Customer-1234"}}}]}
COND_REQ = {"StringEquals": {"aws:RequestTag/PartnerManaged": "true"}, "ForAllValues:StringEquals": {"aws:TagKeys": "PartnerManaged"}}
COND_RES = {"StringEquals": {"aws:ResourceTag/PartnerManaged": "true"}, "ForAllValues:StringEquals": {"aws:TagKeys": "PartnerManaged"}}
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["workspaces:CreateWorkspaces"], "Resource": "*", "Condition": COND_REQ},
    {"Effect": "Allow", "Action": ["workspaces:ModifyWorkspaceProperties"], "Resource": "*", "Condition": COND_RES},
    {"Effect": "Allow", "Action": ["workspaces:TerminateWorkspaces"], "Resource": "*", "Condition": COND_RES}]}


def client(svc, keys, token=None):
    return boto3.client(svc, endpoint_url=EP, region_name="us-east-1", config=CFG,
                        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], aws_session_token=token)


def expect_error(code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return
    raise AssertionError(f"expected {code}, call succeeded")


iam = client("iam", ADMIN)
role = iam.create_role(RoleName="GuideRole", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
iam.put_role_policy(RoleName="GuideRole", PolicyName="guide", PolicyDocument=json.dumps(POLICY))
sim = iam.simulate_principal_policy(PolicySourceArn=role["Arn"], ActionNames=["workspaces:CreateWorkspaces"], ContextEntries=[
    {"ContextKeyName": "aws:RequestTag/PartnerManaged", "ContextKeyValues": ["true"], "ContextKeyType": "string"},
    {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["PartnerManaged"], "ContextKeyType": "stringList"}])
assert sim["EvaluationResults"][0]["EvalDecision"] == "allowed", sim

sts = client("sts", PARTNER)
expect_error("AccessDenied", sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="wrong-id")
expect_error("AccessDenied", sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s1")
cr = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="broker", ExternalId="Customer-1234")["Credentials"]
sess = (cr["AccessKeyId"], cr["SecretAccessKey"])
who = client("sts", sess, cr["SessionToken"]).get_caller_identity()
assert who["Arn"] == "arn:aws:sts::111122223333:assumed-role/GuideRole/broker", who

# The customer's WorkSpaces setup (guide: BYOL, BYOP image, DEDICATED directory, bundle).
wsa = client("workspaces", ADMIN)
ec2 = client("ec2", ADMIN)
cidr = wsa.list_available_management_cidr_ranges(ManagementCidrRangeConstraint="192.168.0.0/16")["ManagementCidrRanges"][0]
def wait(what, cond):
    for _ in range(600):  # bounded poll for asynchronous steps
        if cond():
            return
        time.sleep(0.05)
    raise SystemExit(what + " never happened")


wsa.modify_account(DedicatedTenancySupport="ENABLED", DedicatedTenancyManagementCidrRange=cidr)
wait("BYOL enabled", lambda: wsa.describe_account()["DedicatedTenancySupport"] == "ENABLED")
ami = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["win10-*"]}])["Images"][0]["ImageId"]
img = wsa.import_workspace_image(Ec2ImageId=ami, IngestionProcess="BYOL_REGULAR_BYOP", ImageName="win10-ent-img01",
                                 ImageDescription="Windows 10 Enterprise")["ImageId"]
wait("image AVAILABLE", lambda: wsa.describe_workspace_images(ImageIds=[img])["Images"][0]["State"] == "AVAILABLE")
d = wsa.describe_workspace_directories()["Directories"][0]["DirectoryId"]
wsa.register_workspace_directory(DirectoryId=d, Tenancy="DEDICATED")
wait("directory REGISTERED", lambda: wsa.describe_workspace_directories(DirectoryIds=[d])["Directories"][0]["State"] == "REGISTERED")
bundle = wsa.create_workspace_bundle(BundleName="byop", BundleDescription="BYOP", ImageId=img, ComputeType={"Name": "STANDARD"},
                                     RootStorage={"Capacity": "80"}, UserStorage={"Capacity": "50"})["WorkspaceBundle"]["BundleId"]

ws = client("workspaces", sess, cr["SessionToken"])


def create(name, tags):
    req = {"DirectoryId": d, "UserName": "[UNDEFINED]", "BundleId": bundle, "WorkspaceName": name,
           "WorkspaceProperties": {"RunningMode": "MANUAL"}, "Tags": tags}
    try:
        return ws.create_workspaces(Workspaces=[req])
    except ClientError as e:
        return {"Error": e.response["Error"]["Code"], "PendingRequests": []}


GUARD = {"Key": "PartnerManaged", "Value": "true"}
assert not create("untagged", [])["PendingRequests"], "untagged create allowed"
assert not create("extra", [GUARD, {"Key": "CostCenter", "Value": "1"}])["PendingRequests"], "extra tag key allowed"
out = create("tagged", [GUARD])
assert not out.get("Error") and out["PendingRequests"], "tagged create refused: %r" % (out,)
mine = out["PendingRequests"][0]["WorkspaceId"]
for _ in range(600):  # bounded poll: the desktop becomes AVAILABLE asynchronously
    if wsa.describe_workspaces(WorkspaceIds=[mine])["Workspaces"][0]["State"] == "AVAILABLE":
        break
    time.sleep(0.05)
else:
    raise SystemExit("desktop never AVAILABLE")
ws.modify_workspace_properties(WorkspaceId=mine, WorkspaceProperties={"RunningMode": "ALWAYS_ON"})
expect_error("AccessDeniedException", ws.delete_tags, ResourceId=mine, TagKeys=["PartnerManaged"])
res = ws.terminate_workspaces(TerminateWorkspaceRequests=[{"WorkspaceId": mine}])
assert not res["FailedRequests"], res
print("boto3 partner guide flow OK")
