"""The KMS guide's flow with boto3: a customer managed key, an encrypted
desktop, its grants (with their encryption-context constraints), the
GenerateDataKey/Decrypt events carrying both context keys in LookupEvents,
and the grants retired on terminate. Usage: kms_guide.py ENDPOINT"""
import json
import sys
import time

import boto3
from botocore.config import Config

URL = sys.argv[1]
ADMIN = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
CFG = Config(retries={"max_attempts": 1})


def client(svc):
    return boto3.client(svc, endpoint_url=URL, region_name="us-east-1", aws_access_key_id=ADMIN[0],
                        aws_secret_access_key=ADMIN[1], config=CFG)


def wait(what, cond):
    for _ in range(600):  # bounded poll of asynchronous steps
        if cond():
            return
        time.sleep(0.05)
    raise SystemExit(what + " never happened")


ws, kms, ct = client("workspaces"), client("kms"), client("cloudtrail")
key = kms.create_key(Description="WorkSpaces volumes")["KeyMetadata"]["Arn"]
d = ws.describe_workspace_directories()["Directories"][0]["DirectoryId"]
ws.register_workspace_directory(DirectoryId=d, Tenancy="SHARED")
wait("directory REGISTERED", lambda: ws.describe_workspace_directories(DirectoryIds=[d])["Directories"][0]["State"] == "REGISTERED")
bundle = None
for page in ws.get_paginator("describe_workspace_bundles").paginate(Owner="AMAZON"):
    for b in page["Bundles"]:
        if b["Name"].startswith("Standard with Windows 10"):
            bundle = b["BundleId"]
assert bundle, "no public Standard Windows 10 bundle"
out = ws.create_workspaces(Workspaces=[{"DirectoryId": d, "UserName": "alice", "BundleId": bundle,
                                        "VolumeEncryptionKey": key, "RootVolumeEncryptionEnabled": True,
                                        "UserVolumeEncryptionEnabled": True}])
assert not out["FailedRequests"], out["FailedRequests"]
wid = out["PendingRequests"][0]["WorkspaceId"]
wait("desktop AVAILABLE", lambda: ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]["State"] == "AVAILABLE")

grants = kms.list_grants(KeyId=key)["Grants"]
assert len(grants) == 3, grants  # one for WorkSpaces, one per volume for EBS
for g in grants:
    sub = g["Constraints"]["EncryptionContextSubset"]
    assert sub["aws:workspaces:sid-directoryid"].endswith("]@[" + d + "]"), sub

for name in ("GenerateDataKeyWithoutPlaintext", "Decrypt"):
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
    assert len(events) >= 2, (name, events)
    rec = json.loads(events[0]["CloudTrailEvent"])
    ec = rec["requestParameters"]["encryptionContext"]
    assert ec["aws:workspaces:sid-directoryid"].startswith("[S-1-5-21-") and ec["aws:ebs:id"].startswith("vol-"), ec

ws.terminate_workspaces(TerminateWorkspaceRequests=[{"WorkspaceId": wid}])
wait("desktop TERMINATED", lambda: ws.describe_workspaces(WorkspaceIds=[wid])["Workspaces"][0]["State"] == "TERMINATED")
assert kms.list_grants(KeyId=key)["Grants"] == [], "grants left after terminate"
print("boto3 KMS guide flow OK")
