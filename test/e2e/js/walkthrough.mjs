// The partner guide's journey with the AWS SDK for JavaScript v3, as
// examples/partner-walkthrough.sh does it with the aws CLI: BYOL + management
// CIDR, image import (BYOL_REGULAR_BYOP), directory registration (DEDICATED),
// a security group, a bundle, user-decoupled MANUAL desktops, start/stop, a
// custom image and the bundle update, then termination.
//
// The endpoint comes from $DESKPLANE_ENDPOINT (default http://127.0.0.1:4599);
// nothing else differs from talking to AWS. Exits non-zero on anything
// unexpected. Every wait is a bounded poll.
import * as WS from "@aws-sdk/client-workspaces";
import * as EC2 from "@aws-sdk/client-ec2";
import * as DS from "@aws-sdk/client-directory-service";
import * as KMS from "@aws-sdk/client-kms";
import * as STS from "@aws-sdk/client-sts";
import { isDeepStrictEqual } from "node:util";

const env = process.env;
const config = {
  endpoint: env.DESKPLANE_ENDPOINT || "http://127.0.0.1:4599",
  region: env.AWS_DEFAULT_REGION || "us-east-1",
  credentials: {
    accessKeyId: env.AWS_ACCESS_KEY_ID || "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  },
};
const POLL_TRIES = Number(env.POLL_TRIES || 120);
const POLL_SLEEP_MS = 1000 * Number(env.POLL_SLEEP || 0.5);
const IMAGE_NAME = env.EC2_IMAGE_NAME || "win10-ent-22h2-byol";
const DIRECTORY_NAME = env.DIRECTORY_NAME || "corp.example.com";
const NDESKTOPS = 2;
const TAG = [{ Key: "PartnerManaged", Value: "true" }];

const ws = new WS.WorkSpacesClient(config);
const ec2 = new EC2.EC2Client(config);
const ds = new DS.DirectoryServiceClient(config);
const kms = new KMS.KMSClient(config);
const sts = new STS.STSClient(config);

const say = (m) => console.log(`\n==> ${m}`);
const die = (m) => { console.error(`FAIL: ${m}`); process.exit(1); };
const show = (v) => JSON.stringify(v);
function expect(what, got, want) {
  if (!isDeepStrictEqual(got, want)) die(`${what}: got ${show(got)}, want ${show(want)}`);
  console.log(`    ok: ${what} = ${show(got)}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function poll(what, want, fn) {
  let got;
  for (let i = 0; i < POLL_TRIES; i++) {
    got = await fn();
    if (isDeepStrictEqual(got, want)) { console.log(`    ok: ${what} = ${show(got)}`); return; }
    await sleep(POLL_SLEEP_MS);
  }
  die(`${what}: still ${show(got)} after ${POLL_TRIES} polls, want ${show(want)}`);
}
const wsc = (Cmd, input = {}) => ws.send(new WS[`${Cmd}Command`](input));
async function states(ids) {
  const out = await wsc("DescribeWorkspaces", { WorkspaceIds: ids });
  return [...new Set(out.Workspaces.map((w) => w.State))].sort();
}
async function errorName(p) {
  try { await p; } catch (e) { return e.name; }
  return null;
}

try {
  say(`endpoint ${config.endpoint}; caller`);
  const acct = (await sts.send(new STS.GetCallerIdentityCommand({}))).Account;
  expect("caller account", acct, "111122223333");
  try {
    const keys = await kms.send(new KMS.ListKeysCommand({}));
    if (!Array.isArray(keys.Keys)) die(`KMS ListKeys: ${show(keys)}`);
    console.log(`    KMS keys in the account: ${keys.Keys.length}`);
  } catch (e) {
    // Tolerated only while a server build does not route KMS at all.
    if (e.name !== "UnknownOperationException" || !/TrentService/.test(e.message)) throw e;
    console.log(`    SKIP: this endpoint does not serve KMS (${e.message})`);
  }

  // --- Enable the account for BYOL and configure the BYOL CIDR block --------
  say("DescribeAccountModifications: has the customer configured the CIDR block already?");
  expect("account modifications on a fresh account", (await wsc("DescribeAccountModifications")).AccountModifications, []);
  say("ListAvailableManagementCidrRanges (192.168.0.0/16)");
  const cidr = (await wsc("ListAvailableManagementCidrRanges", { ManagementCidrRangeConstraint: "192.168.0.0/16" })).ManagementCidrRanges[0];
  expect("first available management CIDR range", cidr, "192.168.0.0/16");
  say(`ModifyAccount: enable BYOL with ${cidr}`);
  await wsc("ModifyAccount", { DedicatedTenancySupport: "ENABLED", DedicatedTenancyManagementCidrRange: cidr });
  await poll("account modification state", "COMPLETED",
    async () => (await wsc("DescribeAccountModifications")).AccountModifications[0]?.ModificationState);
  const a = await wsc("DescribeAccount");
  expect("DescribeAccount", [a.DedicatedTenancySupport, a.DedicatedTenancyManagementCidrRange], ["ENABLED", cidr]);

  // --- Import the Windows client OS image (BYOL-BYOP) -----------------------
  say("DescribeImages: the AMIs to show the customer admin (the guide's fields and filters)");
  const images = (await ec2.send(new EC2.DescribeImagesCommand({
    Owners: ["self"],
    Filters: [
      { Name: "image-type", Values: ["machine"] },
      { Name: "state", Values: ["available"] },
      { Name: "virtualization-type", Values: ["hvm"] },
    ],
  }))).Images;
  for (const im of images) {
    const ebs = im.BlockDeviceMappings[0].Ebs;
    console.log(`    ${im.ImageId}  ${im.Name.padEnd(40)} ${im.PlatformDetails.padEnd(14)} ${im.VirtualizationType} ena=${im.EnaSupport} ${im.Hypervisor} ${im.State} ${ebs.VolumeType} ${ebs.VolumeSize}GiB owner=${im.OwnerId} ${im.ImageType} - ${im.Description}`);
  }
  const match = images.filter((im) => im.Name === IMAGE_NAME);
  if (match.length !== 1) die(`EC2 image ${IMAGE_NAME} listed ${match.length} times`);
  const im = match[0];
  expect("image VirtualizationType", im.VirtualizationType, "hvm");
  expect("image PlatformDetails", im.PlatformDetails, "Windows BYOL");
  expect("image EnaSupport", im.EnaSupport, true);
  expect("image State/ImageType", [im.State, im.ImageType], ["available", "machine"]);
  expect("image OwnerId", im.OwnerId, acct);
  const ebs = im.BlockDeviceMappings[0].Ebs;
  if (!im.Hypervisor || !ebs.VolumeType || !(ebs.VolumeSize >= 80) || !im.Description) die(`image display fields missing: ${show(im)}`);

  say("ImportWorkspaceImage (BYOL_REGULAR_BYOP)");
  const img = (await wsc("ImportWorkspaceImage", {
    Ec2ImageId: im.ImageId, IngestionProcess: "BYOL_REGULAR_BYOP",
    ImageName: "win10-ent-img01", ImageDescription: "Windows 10 Enterprise",
  })).ImageId;
  if (!img?.startsWith("wsi-")) die(`ImportWorkspaceImage returned ${img}`);
  const imageState = async (id) => (await wsc("DescribeWorkspaceImages", { ImageIds: [id] })).Images[0]?.State;
  await poll(`image ${img} state`, "AVAILABLE", () => imageState(img));
  const d = (await wsc("DescribeWorkspaceImages", { ImageIds: [img] })).Images[0];
  expect("imported image", [d.Name, d.Description, d.RequiredTenancy], ["win10-ent-img01", "Windows 10 Enterprise", "DEDICATED"]);

  // --- Configure the directory ----------------------------------------------
  say("DescribeWorkspaceDirectories: the directories the customer can choose");
  const dirs = (await wsc("DescribeWorkspaceDirectories")).Directories;
  for (const x of dirs) console.log(`    ${x.DirectoryId} ${x.DirectoryName} ${x.DirectoryType} ${x.State}`);
  const dirMatch = dirs.filter((x) => x.DirectoryName === DIRECTORY_NAME);
  if (dirMatch.length !== 1) die(`directory ${DIRECTORY_NAME} not found`);
  const dir = dirMatch[0].DirectoryId;
  const dirInfo = async () => (await wsc("DescribeWorkspaceDirectories", { DirectoryIds: [dir] })).Directories[0];
  say(`RegisterWorkspaceDirectory ${dir} (DEDICATED: BYOL requires it)`);
  await wsc("RegisterWorkspaceDirectory", { DirectoryId: dir, Tenancy: "DEDICATED" });
  await poll(`directory ${dir} state`, "REGISTERED", async () => (await dirInfo()).State);
  expect("directory tenancy", (await dirInfo()).Tenancy, "DEDICATED");

  // --- Add a security group to the WorkSpaces directory ---------------------
  say("Security group for the streaming protocol (tcp/8443 from the VPC)");
  const vpc = (await ds.send(new DS.DescribeDirectoriesCommand({ DirectoryIds: [dir] }))).DirectoryDescriptions[0].VpcSettings.VpcId;
  const vpcCidr = (await ec2.send(new EC2.DescribeVpcsCommand({ VpcIds: [vpc] }))).Vpcs[0].CidrBlock;
  const sg = (await ec2.send(new EC2.CreateSecurityGroupCommand({
    GroupName: `byop-protocol-${process.pid}`, Description: "BYOP protocol access", VpcId: vpc,
  }))).GroupId;
  const auth = await ec2.send(new EC2.AuthorizeSecurityGroupIngressCommand({
    GroupId: sg, IpPermissions: [{ IpProtocol: "tcp", FromPort: 8443, ToPort: 8443, IpRanges: [{ CidrIp: vpcCidr }] }],
  }));
  expect("AuthorizeSecurityGroupIngress", auth.Return, true);
  const perm = (await ec2.send(new EC2.DescribeSecurityGroupsCommand({ GroupIds: [sg] }))).SecurityGroups[0].IpPermissions[0];
  expect("ingress rule", [perm.IpProtocol, perm.FromPort, perm.ToPort, perm.IpRanges[0].CidrIp], ["tcp", 8443, 8443, vpcCidr]);
  await wsc("ModifyWorkspaceCreationProperties", { ResourceId: dir, WorkspaceCreationProperties: { CustomSecurityGroupId: sg } });
  expect("directory CustomSecurityGroupId", (await dirInfo()).WorkspaceCreationProperties.CustomSecurityGroupId, sg);

  // --- Deploy Amazon WorkSpaces Core desktops -------------------------------
  say(`CreateWorkspaceBundle from ${img}`);
  const bundle = (await wsc("CreateWorkspaceBundle", {
    BundleName: "byop-standard", BundleDescription: "BYOP standard", ComputeType: { Name: "STANDARD" }, ImageId: img,
    RootStorage: { Capacity: "80" }, UserStorage: { Capacity: "50" }, Tags: TAG,
  })).WorkspaceBundle.BundleId;
  const bundleInfo = async () => (await wsc("DescribeWorkspaceBundles", { BundleIds: [bundle] })).Bundles;
  const b = (await bundleInfo())[0];
  expect(`bundle ${bundle}`, [b.ImageId, b.ComputeType.Name, b.RootStorage.Capacity, b.UserStorage.Capacity], [img, "STANDARD", "80", "50"]);

  say(`CreateWorkspaces: ${NDESKTOPS} user-decoupled MANUAL desktops`);
  const ids = [];
  for (let n = 1; n <= NDESKTOPS; n++) {
    const out = await wsc("CreateWorkspaces", { Workspaces: [{
      DirectoryId: dir, UserName: "[UNDEFINED]", WorkspaceName: `desktop${n}`, BundleId: bundle,
      WorkspaceProperties: { RunningMode: "MANUAL" }, Tags: TAG,
    }] });
    expect(`desktop${n} FailedRequests`, out.FailedRequests, []);
    const p = out.PendingRequests[0];
    expect(`desktop${n} state/user`, [p.State, p.UserName], ["PENDING", "[UNDEFINED]"]);
    ids.push(p.WorkspaceId);
  }
  console.log(`    desktops ${ids.join(" ")}`);
  await poll("desktops state", ["AVAILABLE"], () => states(ids));
  const w = (await wsc("DescribeWorkspaces", { WorkspaceIds: ids.slice(0, 1) })).Workspaces[0];
  expect("desktop properties", [w.WorkspaceProperties.RunningMode, w.BundleId, w.DirectoryId], ["MANUAL", bundle, dir]);
  expect("desktop tags", (await wsc("DescribeTags", { ResourceId: ids[0] })).TagList, TAG);

  say("StopWorkspaces / StartWorkspaces (MANUAL power management)");
  const reqs = ids.map((id) => ({ WorkspaceId: id }));
  expect("StopWorkspaces FailedRequests", (await wsc("StopWorkspaces", { StopWorkspaceRequests: reqs })).FailedRequests, []);
  await poll("desktops state", ["STOPPED"], () => states(ids));
  expect("StartWorkspaces FailedRequests", (await wsc("StartWorkspaces", { StartWorkspaceRequests: reqs })).FailedRequests, []);
  await poll("desktops state", ["AVAILABLE"], () => states(ids));

  // --- Custom images --------------------------------------------------------
  say(`CreateWorkspaceImage from ${ids[0]} (golden image)`);
  const golden = (await wsc("CreateWorkspaceImage", {
    Name: "golden-01", Description: "Golden image with the partner agent", WorkspaceId: ids[0], Tags: TAG,
  })).ImageId;
  await poll(`image ${golden} state`, "AVAILABLE", () => imageState(golden));
  await poll(`desktop ${ids[0]} state after imaging`, ["AVAILABLE"], () => states(ids.slice(0, 1)));
  say(`UpdateWorkspaceBundle ${bundle} -> ${golden}`);
  await wsc("UpdateWorkspaceBundle", { BundleId: bundle, ImageId: golden });
  expect("bundle image", (await bundleInfo())[0].ImageId, golden);

  // --- Termination (desktops first: bundle, image and directory are in use) -
  say("DeleteTags");
  await wsc("DeleteTags", { ResourceId: bundle, TagKeys: ["PartnerManaged"] });
  expect("bundle tags after DeleteTags", (await wsc("DescribeTags", { ResourceId: bundle })).TagList, []);
  say("A bundle in use cannot be deleted yet");
  expect("DeleteWorkspaceBundle in use", await errorName(wsc("DeleteWorkspaceBundle", { BundleId: bundle })), "ResourceAssociatedException");
  say("TerminateWorkspaces");
  expect("TerminateWorkspaces FailedRequests", (await wsc("TerminateWorkspaces", { TerminateWorkspaceRequests: reqs })).FailedRequests, []);
  await poll("desktops state", ["TERMINATED"], () => states(ids));
  say(`DeleteWorkspaceBundle ${bundle}`);
  await wsc("DeleteWorkspaceBundle", { BundleId: bundle });
  expect("bundles left", await bundleInfo(), []);
  say(`DeleteWorkspaceImage ${golden} ${img}`);
  await wsc("DeleteWorkspaceImage", { ImageId: golden });
  await wsc("DeleteWorkspaceImage", { ImageId: img });
  expect("images left", (await wsc("DescribeWorkspaceImages", { ImageIds: [golden, img] })).Images, []);
  say(`DeregisterWorkspaceDirectory ${dir}`);
  await wsc("DeregisterWorkspaceDirectory", { DirectoryId: dir });
  await poll(`directory ${dir} state`, "DEREGISTERED", async () => (await dirInfo()).State);

  console.log(`\nwalkthrough passed (JavaScript SDK v3): image ${img}, bundle ${bundle}, desktops ${ids.join(" ")}, golden ${golden}`);
} catch (e) {
  die(`${e.name}: ${e.message}${e.$metadata ? ` (HTTP ${e.$metadata.httpStatusCode})` : ""}`);
}
