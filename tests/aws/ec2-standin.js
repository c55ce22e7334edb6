#!/usr/bin/env node
// tests/aws/ec2-standin.js - a loopback STAND-IN for the EC2 Query API and
// the instance metadata service (IMDSv2), for drover's tests. It is not
// EC2: it implements only what tests/aws/run.sh needs, in EC2's wire format
// (form-encoded POST, API version 2016-11-15, XML answers and both error
// shapes), and it checks SigV4 signatures so the credential tests mean
// something. See doc/aws.md ("The EC2 stand-in").
//
// What it has: RunInstances (ClientToken, TagSpecifications, a root
// volume), DescribeInstances (InstanceId.N, Filter.N tag:K / tag-key /
// instance-state-name, MaxResults + NextToken), Start/Stop/Terminate with
// timed transitions (pending -> running, stopping -> stopped,
// shutting-down -> terminated, each after --transition-ms), ModifyInstance-
// Attribute (InstanceType only while stopped, GroupId.N), CreateTags,
// DeleteTags, DescribeVolumes (tag and attachment filters), DescribeImages;
// CreateVolume (ClientToken; SnapshotId: the size defaults to the
// snapshot's and the volume carries its snapshotId), Attach/Detach/
// Modify/DeleteVolume,
// CreateSnapshot (no token, like EC2), CreateSnapshots (every volume of an
// instance), DescribeSnapshots (tag, tag-key and volume-id filters,
// paging), DeleteSnapshot, each snapshot pending -> completed after
// --transition-ms (or the snapshot_ms config); Create/Describe/Delete-
// PlacementGroup (what a backup.policy record is, doc/aws.md);
// IMDSv2 (PUT /latest/api/token, then GETs with the token).
//
// Test controls (unsigned, loopback only): POST /_standin/fault
// {"action": "RunInstances"|"*", "status": 503, "code":
// "RequestLimitExceeded", "count": 3, "after": false} makes the next count
// calls fail (after: the call takes effect and then the answer is the error,
// as a lost response); POST /_standin/config {"transition_ms": N,
// "snapshot_ms": N} (snapshot_ms: how long new snapshots stay pending),
// {"bad_snapshot": "snap-..."} (a volume created from it goes from
// creating to error, as an EBS restore that fails), {"slow":
// {"DetachVolume": N}} (that action's transition takes N ms);
// GET /_standin/stats (calls per action, and per action the number of
// InstanceId.N, or of instance-id filter values ("<Action>:instance-id"),
// of each call that named some, to check batching).
//
// Usage: node ec2-standin.js --port-file F [--port N] [--key AKID:SECRET[:TOKEN]]...
//        [--role-key AKID:SECRET:TOKEN] [--transition-ms N]
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const args = process.argv.slice(2);
const opt = { port: 0, portFile: null, keys: {}, roleKey: null, transitionMs: 300 };
for (let i = 0; i < args.length; i++) {
  const a = args[i], v = args[i + 1];
  if (a === '--port') { opt.port = +v; i++; }
  else if (a === '--port-file') { opt.portFile = v; i++; }
  else if (a === '--key' || a === '--role-key') {
    const [id, secret, token] = v.split(':');
    opt.keys[id] = { secret, token: token || null };
    if (a === '--role-key') opt.roleKey = id;
    i++;
  }
  else if (a === '--transition-ms') { opt.transitionMs = +v; i++; }
  else { console.error('ec2-standin: unknown argument ' + a); process.exit(2); }
}

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const images = { 'ami-0abcdef1234567890': '/dev/xvda', 'ami-0fedcba0987654321': '/dev/sda1' };
const instances = new Map();   // id -> instance
const volumes = new Map();     // id -> volume
const snapshots = new Map();   // id -> snapshot
const groups = new Map();      // placement group name -> group
const tokens = new Map();      // ClientToken -> instance or volume id
const pages = new Map();       // NextToken -> remaining ids
const imdsTokens = new Set();
const stats = { calls: {}, ids: {}, faults: 0, rejected: 0, imds: { token: 0, role: 0, creds: 0 } };
let faults = [];
let seq = 0;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;');
const hex = (n) => (seq++ * 7919 + n).toString(16).padStart(17, '0').slice(-17);
const reqId = () => crypto.randomUUID();

function errorXml(code, message) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>' + esc(code) +
    '</Code><Message>' + esc(message) + '</Message></Error></Errors><RequestID>' + reqId() +
    '</RequestID></Response>';
}
// The query protocol's other error shape (some endpoints, e.g. for an
// unknown action, answer in it).
function errorResponseXml(code, message) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>' +
    esc(code) + '</Code><Message>' + esc(message) + '</Message></Error><RequestId>' + reqId() +
    '</RequestId></ErrorResponse>';
}

class ApiError extends Error {
  constructor(status, code, message, shape) { super(message); this.status = status; this.code = code; this.shape = shape; }
}

// ---- time -------------------------------------------------------------------
function advance() {
  const now = Date.now();
  for (const i of instances.values()) {
    if (i.until && now >= i.until) {
      i.state = { pending: 'running', stopping: 'stopped', 'shutting-down': 'terminated' }[i.state] || i.state;
      i.until = 0;
      if (i.state === 'terminated') for (const v of volumes.values())
        if (v.instance === i.id) { if (v.root) volumes.delete(v.id); else { v.instance = ''; v.status = 'available'; } }
    }
  }
  for (const v of volumes.values()) {
    if (v.until && now >= v.until) {
      if (v.status === 'creating') v.status = v.snapshot && v.snapshot === opt.badSnapshot ? 'error' : 'available';
      if (v.attach === 'attaching') { v.attach = 'attached'; v.status = 'in-use'; }
      if (v.attach === 'detaching') { v.attach = ''; v.instance = ''; v.device = ''; v.status = 'available'; }
      v.until = 0;
    }
  }
  for (const sn of snapshots.values())
    if (sn.until && now >= sn.until) { sn.status = 'completed'; sn.until = 0; }
}
const stateCode = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

// ---- SigV4 check -------------------------------------------------------------
function hmac(key, s) { return crypto.createHmac('sha256', key).update(s, 'utf8').digest(); }
function sha(s) { return crypto.createHash('sha256').update(s).digest('hex'); }

function checkSig(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new ApiError(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  const [, akid, date, region, service, signed, sig] = m;
  const key = opt.keys[akid];
  if (!key) throw new ApiError(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  if (service !== 'ec2') throw new ApiError(401, 'AuthFailure', 'Credential should be scoped to correct service: ec2');
  if (key.token && req.headers['x-amz-security-token'] !== key.token)
    throw new ApiError(401, 'AuthFailure', 'The security token included in the request is invalid');
  const amzDate = req.headers['x-amz-date'] || '';
  const names = signed.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date'))
    throw new ApiError(401, 'AuthFailure', 'host and x-amz-date must be signed');
  const canonHeaders = names.map((n) => n + ':' + String(req.headers[n] || '').trim().replace(/\s+/g, ' ') + '\n').join('');
  const url = new URL(req.url, 'http://x');
  const q = [...url.searchParams].map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1)
    .map(([k, v]) => k + '=' + v).join('&');
  const canon = [req.method, url.pathname, q, canonHeaders, signed, sha(body)].join('\n');
  const scope = [date, region, service, 'aws4_request'].join('/');
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canon)].join('\n');
  let k = hmac('AWS4' + key.secret, date);
  k = hmac(k, region); k = hmac(k, service); k = hmac(k, 'aws4_request');
  const want = crypto.createHmac('sha256', k).update(sts, 'utf8').digest('hex');
  if (want !== sig) throw new ApiError(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
}
function enc(s) { return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()); }

// ---- params --------------------------------------------------------------------
function list(p, prefix) {      // Prefix.1, Prefix.2, ...
  const out = [];
  for (let n = 1; p.has(prefix + '.' + n); n++) out.push(p.get(prefix + '.' + n));
  return out;
}
function tagList(p, prefix) {   // Prefix.Tag.N.Key / .Value
  const out = [];
  for (let n = 1; p.has(prefix + 'Tag.' + n + '.Key'); n++)
    out.push([p.get(prefix + 'Tag.' + n + '.Key'), p.get(prefix + 'Tag.' + n + '.Value') || '']);
  return out;
}
function filters(p) {
  const out = [];
  for (let n = 1; p.has('Filter.' + n + '.Name'); n++)
    out.push({ name: p.get('Filter.' + n + '.Name'), values: list(p, 'Filter.' + n + '.Value') });
  return out;
}
function matches(obj, fs, kind) {
  return fs.every((f) => {
    if (f.name.startsWith('tag:')) return f.values.includes(obj.tags.get(f.name.slice(4)));
    if (f.name === 'tag-key') return f.values.some((v) => obj.tags.has(v));
    if (f.name === 'instance-state-name' && kind === 'instance') return f.values.includes(obj.state);
    if (f.name === 'instance-id' && kind === 'instance') return f.values.includes(obj.id);
    if (f.name === 'attachment.instance-id' && kind === 'volume') return f.values.includes(obj.instance);
    if (f.name === 'volume-id' && kind === 'snapshot') return f.values.includes(obj.volume);
    if (f.name === 'strategy' && kind === 'group') return f.values.includes(obj.strategy);
    throw new ApiError(400, 'InvalidParameterValue', 'The filter \'' + f.name + '\' is invalid');
  });
}
function page(p, all) {           // MaxResults + NextToken over a list
  let items = all;
  if (p.has('NextToken')) {
    const rest = pages.get(p.get('NextToken'));
    if (!rest) throw new ApiError(400, 'InvalidParameterValue', 'The token is invalid');
    pages.delete(p.get('NextToken'));
    items = rest.filter((x) => all.includes(x));
  }
  const max = p.has('MaxResults') ? +p.get('MaxResults') : 0;
  if (max && (max < 5 || max > 1000)) throw new ApiError(400, 'InvalidParameterValue', 'MaxResults must be 5..1000');
  let next = '';
  if (max && items.length > max) {
    next = crypto.randomBytes(12).toString('base64url');
    pages.set(next, items.slice(max));
    items = items.slice(0, max);
  }
  return [items, next];
}

// ---- XML -------------------------------------------------------------------------
function tagSet(tags) {
  return '<tagSet>' + [...tags].map(([k, v]) => '<item><key>' + esc(k) + '</key><value>' + esc(v) + '</value></item>').join('') + '</tagSet>';
}
function instanceXml(i) {
  return '<item><instanceId>' + i.id + '</instanceId><imageId>' + esc(i.image) + '</imageId>' +
    '<instanceState><code>' + stateCode[i.state] + '</code><name>' + i.state + '</name></instanceState>' +
    '<privateDnsName>ip-' + i.ip.replace(/\./g, '-') + '.ec2.internal</privateDnsName>' +
    (i.key ? '<keyName>' + esc(i.key) + '</keyName>' : '') +
    '<amiLaunchIndex>0</amiLaunchIndex><instanceType>' + esc(i.type) + '</instanceType>' +
    '<launchTime>' + i.launched + '</launchTime><placement><availabilityZone>us-east-1a</availabilityZone>' +
    '<tenancy>default</tenancy></placement><monitoring><state>disabled</state></monitoring>' +
    '<subnetId>' + esc(i.subnet) + '</subnetId><vpcId>vpc-0standin</vpcId>' +
    '<privateIpAddress>' + i.ip + '</privateIpAddress>' +
    (i.state === 'running' ? '<ipAddress>127.0.0.1</ipAddress>' : '') +
    '<groupSet>' + i.groups.map((g) => '<item><groupId>' + esc(g) + '</groupId><groupName>' + esc(g) + '</groupName></item>').join('') + '</groupSet>' +
    '<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>' + i.root + '</rootDeviceName>' +
    '<blockDeviceMapping>' + (i.volume ? '<item><deviceName>' + i.root + '</deviceName><ebs><volumeId>' + i.volume +
      '</volumeId><status>attached</status><deleteOnTermination>true</deleteOnTermination></ebs></item>' : '') + '</blockDeviceMapping>' +
    (i.token ? '<clientToken>' + esc(i.token) + '</clientToken>' : '') +
    tagSet(i.tags) + '</item>';
}
function volumeXml(v) {
  return '<volumeId>' + v.id + '</volumeId><size>' + v.size + '</size>' +
    (v.snapshot ? '<snapshotId>' + v.snapshot + '</snapshotId>' : '<snapshotId/>') + '<availabilityZone>' + esc(v.zone) +
    '</availabilityZone><status>' + v.status + '</status><createTime>2026-01-01T00:00:00.000Z</createTime>' +
    '<attachmentSet>' + (v.instance ? '<item><volumeId>' + v.id + '</volumeId><instanceId>' + v.instance + '</instanceId><device>' +
      esc(v.device) + '</device><status>' + v.attach + '</status><deleteOnTermination>' + !!v.root + '</deleteOnTermination></item>' : '') +
    '</attachmentSet><volumeType>' + esc(v.type) + '</volumeType>' + tagSet(v.tags);
}
function snapshotXml(x) {
  return '<snapshotId>' + x.id + '</snapshotId><volumeId>' + x.volume + '</volumeId><status>' + x.status + '</status><startTime>' +
    x.start + '</startTime><progress>' + (x.status === 'completed' ? '100%' : '50%') + '</progress><ownerId>123456789012</ownerId>' +
    '<volumeSize>' + x.size + '</volumeSize><description>' + esc(x.description) + '</description>' + tagSet(x.tags);
}
function groupXml(g) {
  return '<item><groupName>' + esc(g.name) + '</groupName><strategy>' + g.strategy + '</strategy><state>available</state>' +
    '<groupId>' + g.id + '</groupId><groupArn>arn:aws:ec2:us-east-1:123456789012:placement-group/' + esc(g.name) + '</groupArn>' +
    tagSet(g.tags) + '</item>';
}
// Anything CreateTags and DeleteTags may name.
function tagged(id) {
  const o = instances.get(id) || volumes.get(id) || snapshots.get(id) || [...groups.values()].find((g) => g.id === id);
  if (!o) throw new ApiError(400, 'InvalidID', "The ID '" + id + "' is not valid");
  return o;
}
function newSnapshot(v, p) {
  const id = 'snap-' + hex(4), tags = new Map();
  if (p.get('TagSpecification.1.ResourceType') === 'snapshot') for (const [k, x] of tagList(p, 'TagSpecification.1.')) tags.set(k, x);
  const sn = { id, volume: v.id, size: v.size, description: p.get('Description') || '', status: 'pending',
    until: Date.now() + (opt.snapshotMs !== undefined ? opt.snapshotMs : opt.transitionMs), start: new Date().toISOString(), tags };
  snapshots.set(id, sn);
  return sn;
}
function vol(id) {
  if (!volumes.has(id)) throw new ApiError(400, 'InvalidVolume.NotFound', "The volume '" + id + "' does not exist.");
  return volumes.get(id);
}
function respond(action, inner) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<' + action + 'Response xmlns="' + NS + '"><requestId>' + reqId() +
    '</requestId>' + inner + '</' + action + 'Response>';
}
function stateChange(ids, fn) {
  return '<instancesSet>' + ids.map((id) => {
    const i = instances.get(id), prev = i.state;
    fn(i);
    return '<item><instanceId>' + id + '</instanceId><currentState><code>' + stateCode[i.state] + '</code><name>' + i.state +
      '</name></currentState><previousState><code>' + stateCode[prev] + '</code><name>' + prev + '</name></previousState></item>';
  }).join('') + '</instancesSet>';
}
function idsOf(p, required) {
  const ids = list(p, 'InstanceId');
  if (required && !ids.length) throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of ids)
    if (!instances.has(id)) throw new ApiError(400, 'InvalidInstanceID.NotFound', "The instance ID '" + id + "' does not exist");
  return ids;
}
// When a transition the named action started ends: --transition-ms, or
// the action's own time from the "slow" config.
const later = (action) => Date.now() + (opt.slow && opt.slow[action] !== undefined ? opt.slow[action] : opt.transitionMs);

// ---- actions -----------------------------------------------------------------------
const actions = {
  RunInstances(p) {
    const token = p.get('ClientToken');
    if (token && tokens.has(token)) {
      const i = instances.get(tokens.get(token));
      return respond('RunInstances', '<reservationId>r-' + i.id.slice(2) + '</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>' + instanceXml(i) + '</instancesSet>');
    }
    const image = p.get('ImageId');
    if (!image) throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter ImageId');
    if (!images[image]) throw new ApiError(400, 'InvalidAMIID.NotFound', "The image id '[" + image + "]' does not exist");
    if (p.get('MinCount') !== '1' || p.get('MaxCount') !== '1') throw new ApiError(400, 'InvalidParameterValue', 'the stand-in launches one instance per call');
    const id = 'i-' + hex(1);
    const itags = new Map(), vtags = new Map();
    for (let n = 1; p.has('TagSpecification.' + n + '.ResourceType'); n++) {
      const t = p.get('TagSpecification.' + n + '.ResourceType');
      const dst = t === 'instance' ? itags : t === 'volume' ? vtags : null;
      if (!dst) throw new ApiError(400, 'InvalidParameterValue', 'bad ResourceType ' + t);
      for (const [k, v] of tagList(p, 'TagSpecification.' + n + '.')) dst.set(k, v);
    }
    const root = images[image];
    const vol = 'vol-' + hex(2);
    let size = 8;
    if (p.has('BlockDeviceMapping.1.DeviceName')) {
      if (p.get('BlockDeviceMapping.1.DeviceName') !== root) throw new ApiError(400, 'InvalidBlockDeviceMapping', 'not the root device');
      size = +p.get('BlockDeviceMapping.1.Ebs.VolumeSize') || 8;
    }
    volumes.set(vol, { id: vol, size, instance: id, device: root, tags: vtags, root: true, status: 'in-use',
      attach: 'attached', type: 'gp3', zone: 'us-east-1a' });
    const i = {
      id, image, type: p.get('InstanceType') || 'm1.small', key: p.get('KeyName') || '', subnet: p.get('SubnetId') || 'subnet-0default',
      groups: list(p, 'SecurityGroupId').length ? list(p, 'SecurityGroupId') : ['sg-0default'], tags: itags, state: 'pending',
      until: later(), root, volume: vol, token: token || '', launched: new Date().toISOString(),
      ip: '10.0.' + (seq % 250) + '.' + (1 + (seq * 13) % 250), userData: p.get('UserData') || '',
    };
    instances.set(id, i);
    if (token) tokens.set(token, id);
    return respond('RunInstances', '<reservationId>r-' + id.slice(2) + '</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>' + instanceXml(i) + '</instancesSet>');
  },
  DescribeInstances(p) {
    const ids = idsOf(p, false);
    if (ids.length && p.has('MaxResults')) throw new ApiError(400, 'InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    const fs = filters(p);
    const all = [...instances.values()].filter((i) => (!ids.length || ids.includes(i.id)) && matches(i, fs, 'instance')).map((i) => i.id);
    const [items, next] = page(p, all);
    // One reservation per instance, as separate RunInstances calls make.
    return respond('DescribeInstances', '<reservationSet>' + items.map((id) => '<item><reservationId>r-' + id.slice(2) +
      '</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>' + instanceXml(instances.get(id)) + '</instancesSet></item>').join('') +
      '</reservationSet>' + (next ? '<nextToken>' + next + '</nextToken>' : ''));
  },
  StartInstances(p) {
    return respond('StartInstances', stateChange(idsOf(p, true), (i) => {
      if (i.state === 'stopped') { i.state = 'pending'; i.until = later(); }
      else if (i.state !== 'running' && i.state !== 'pending')
        throw new ApiError(400, 'IncorrectInstanceState', "The instance '" + i.id + "' is not in a state from which it can be started.");
    }));
  },
  StopInstances(p) {
    return respond('StopInstances', stateChange(idsOf(p, true), (i) => {
      if (i.state === 'running') { i.state = 'stopping'; i.until = later(); }
      else if (i.state !== 'stopped' && i.state !== 'stopping')
        throw new ApiError(400, 'IncorrectInstanceState', "The instance '" + i.id + "' is not in a state from which it can be stopped.");
    }));
  },
  TerminateInstances(p) {
    return respond('TerminateInstances', stateChange(idsOf(p, true), (i) => {
      if (i.state !== 'terminated' && i.state !== 'shutting-down') { i.state = 'shutting-down'; i.until = later(); }
    }));
  },
  ModifyInstanceAttribute(p) {
    const id = p.get('InstanceId');
    if (!instances.has(id)) throw new ApiError(400, 'InvalidInstanceID.NotFound', "The instance ID '" + id + "' does not exist");
    const i = instances.get(id);
    if (p.has('InstanceType.Value')) {
      if (i.state !== 'stopped') throw new ApiError(400, 'IncorrectInstanceState', "The instance '" + id + "' is not in the 'stopped' state.");
      i.type = p.get('InstanceType.Value');
    }
    if (p.has('GroupId.1')) i.groups = list(p, 'GroupId');
    return respond('ModifyInstanceAttribute', '<return>true</return>');
  },
  CreateTags(p) {
    const ids = list(p, 'ResourceId');
    for (const id of ids) {
      const o = tagged(id);
      for (const [k, v] of tagList(p, '')) o.tags.set(k, v);
    }
    return respond('CreateTags', '<return>true</return>');
  },
  DeleteTags(p) {
    for (const id of list(p, 'ResourceId')) {
      const o = tagged(id);
      for (let n = 1; p.has('Tag.' + n + '.Key'); n++) o.tags.delete(p.get('Tag.' + n + '.Key'));
    }
    return respond('DeleteTags', '<return>true</return>');
  },
  DescribeVolumes(p) {
    const ids = list(p, 'VolumeId');
    for (const id of ids) if (!volumes.has(id)) throw new ApiError(400, 'InvalidVolume.NotFound', "The volume '" + id + "' does not exist.");
    const fs = filters(p);
    const all = [...volumes.values()].filter((v) => (!ids.length || ids.includes(v.id)) && matches(v, fs, 'volume')).map((v) => v.id);
    const [items, next] = page(p, all);
    return respond('DescribeVolumes', '<volumeSet>' + items.map((id) => '<item>' + volumeXml(volumes.get(id)) + '</item>').join('') +
      '</volumeSet>' + (next ? '<nextToken>' + next + '</nextToken>' : ''));
  },
  CreateVolume(p) {
    const token = p.get('ClientToken');
    if (token && tokens.has(token)) return respond('CreateVolume', volumeXml(volumes.get(tokens.get(token))));
    if (!p.get('AvailabilityZone')) throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter AvailabilityZone');
    const id = 'vol-' + hex(3), tags = new Map();
    if (p.get('TagSpecification.1.ResourceType') === 'volume') for (const [k, v] of tagList(p, 'TagSpecification.1.')) tags.set(k, v);
    let size = +p.get('Size') || 8;
    const from = p.get('SnapshotId') || '';
    if (from) {
      const sn = snapshots.get(from);
      if (!sn) throw new ApiError(400, 'InvalidSnapshot.NotFound', "The snapshot '" + from + "' does not exist.");
      if (sn.status !== 'completed') throw new ApiError(400, 'IncorrectState', "Snapshot '" + from + "' is not 'completed'.");
      if (!p.has('Size')) size = sn.size;
      else if (size < sn.size) throw new ApiError(400, 'InvalidParameterValue', 'Volume of ' + size + 'GiB is too small; minimum is ' + sn.size + 'GiB.');
    }
    const v = { id, size, type: p.get('VolumeType') || 'gp2', zone: p.get('AvailabilityZone'), instance: '',
      device: '', attach: '', status: 'creating', until: later(), tags, snapshot: from };
    volumes.set(id, v);
    if (token) tokens.set(token, id);
    return respond('CreateVolume', volumeXml(v));
  },
  AttachVolume(p) {
    const v = vol(p.get('VolumeId')), i = instances.get(p.get('InstanceId'));
    if (!i) throw new ApiError(400, 'InvalidInstanceID.NotFound', "The instance ID '" + p.get('InstanceId') + "' does not exist");
    if (v.status !== 'available') throw new ApiError(400, 'IncorrectState', "vol '" + v.id + "' is not 'available'.");
    if (!p.get('Device')) throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter device');
    Object.assign(v, { instance: i.id, device: p.get('Device'), attach: 'attaching', until: later() });
    return respond('AttachVolume', '<volumeId>' + v.id + '</volumeId><instanceId>' + i.id + '</instanceId><device>' + esc(v.device) + '</device><status>attaching</status>');
  },
  DetachVolume(p) {
    const v = vol(p.get('VolumeId'));
    if (!v.instance) throw new ApiError(400, 'IncorrectState', "Volume '" + v.id + "' is in the 'available' state.");
    Object.assign(v, { attach: 'detaching', until: later('DetachVolume') });
    return respond('DetachVolume', '<volumeId>' + v.id + '</volumeId><status>detaching</status>');
  },
  ModifyVolume(p) {
    const v = vol(p.get('VolumeId'));
    if (p.has('Size')) {
      if (+p.get('Size') < v.size) throw new ApiError(400, 'InvalidParameterValue', 'New size cannot be smaller than existing size');
      v.size = +p.get('Size');
    }
    if (p.has('VolumeType')) v.type = p.get('VolumeType');
    return respond('ModifyVolume', '<volumeModification><volumeId>' + v.id + '</volumeId><modificationState>modifying</modificationState></volumeModification>');
  },
  DeleteVolume(p) {
    const v = vol(p.get('VolumeId'));
    if (v.instance) throw new ApiError(400, 'VolumeInUse', 'Volume ' + v.id + ' is currently attached');
    if (v.status !== 'available' && v.status !== 'error') throw new ApiError(400, 'IncorrectState', "The volume '" + v.id + "' is '" + v.status + "'.");
    volumes.delete(v.id);
    return respond('DeleteVolume', '<return>true</return>');
  },
  CreateSnapshot(p) {
    return respond('CreateSnapshot', snapshotXml(newSnapshot(vol(p.get('VolumeId')), p)));
  },
  CreateSnapshots(p) {
    const id = p.get('InstanceSpecification.InstanceId');
    if (!id) throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter InstanceSpecification.InstanceId');
    if (!instances.has(id) || instances.get(id).state === 'terminated')
      throw new ApiError(400, 'InvalidInstanceID.NotFound', "The instance ID '" + id + "' does not exist");
    const made = [...volumes.values()].filter((v) => v.instance === id).map((v) => newSnapshot(v, p));
    return respond('CreateSnapshots', '<snapshotSet>' + made.map((x) => '<item>' + snapshotXml(x) + '</item>').join('') + '</snapshotSet>');
  },
  DescribeSnapshots(p) {
    const ids = list(p, 'SnapshotId');
    for (const id of ids) if (!snapshots.has(id)) throw new ApiError(400, 'InvalidSnapshot.NotFound', "The snapshot '" + id + "' does not exist.");
    const fs = filters(p);
    const all = [...snapshots.values()].filter((x) => (!ids.length || ids.includes(x.id)) && matches(x, fs, 'snapshot')).map((x) => x.id);
    const [items, next] = page(p, all);
    return respond('DescribeSnapshots', '<snapshotSet>' + items.map((id) => '<item>' + snapshotXml(snapshots.get(id)) + '</item>').join('') +
      '</snapshotSet>' + (next ? '<nextToken>' + next + '</nextToken>' : ''));
  },
  DeleteSnapshot(p) {
    const id = p.get('SnapshotId');
    if (!snapshots.has(id)) throw new ApiError(400, 'InvalidSnapshot.NotFound', "The snapshot '" + id + "' does not exist.");
    snapshots.delete(id);
    return respond('DeleteSnapshot', '<return>true</return>');
  },
  CreatePlacementGroup(p) {
    const name = p.get('GroupName');
    if (!name) throw new ApiError(400, 'MissingParameter', 'The request must contain the parameter GroupName');
    if (groups.has(name)) throw new ApiError(400, 'InvalidPlacementGroup.Duplicate', "The Placement Group '" + name + "' already exists.");
    const tags = new Map();
    if (p.get('TagSpecification.1.ResourceType') === 'placement-group') for (const [k, x] of tagList(p, 'TagSpecification.1.')) {
      if (x.length > 256) throw new ApiError(400, 'InvalidParameterValue', 'Tag value exceeds the maximum length of 256 characters');
      tags.set(k, x);
    }
    if (tags.size > 50) throw new ApiError(400, 'TagLimitExceeded', 'more than 50 tags');
    const g = { id: 'pg-' + hex(5), name, strategy: p.get('Strategy') || 'cluster', tags };
    groups.set(name, g);
    return respond('CreatePlacementGroup', groupXml(g).replace(/^<item>/, '<placementGroup>').replace(/<\/item>$/, '</placementGroup>'));
  },
  DescribePlacementGroups(p) {   // no paging, as in EC2
    const names = list(p, 'GroupName');
    for (const n of names) if (!groups.has(n)) throw new ApiError(400, 'InvalidPlacementGroup.Unknown', "The Placement Group '" + n + "' is unknown.");
    const fs = filters(p);
    const all = [...groups.values()].filter((g) => (!names.length || names.includes(g.name)) && matches(g, fs, 'group'));
    return respond('DescribePlacementGroups', '<placementGroupSet>' + all.map(groupXml).join('') + '</placementGroupSet>');
  },
  DeletePlacementGroup(p) {
    const name = p.get('GroupName');
    if (!groups.has(name)) throw new ApiError(400, 'InvalidPlacementGroup.Unknown', "The Placement Group '" + name + "' is unknown.");
    groups.delete(name);
    return respond('DeletePlacementGroup', '<return>true</return>');
  },
  DescribeImages(p) {
    const ids = list(p, 'ImageId');
    for (const id of ids) if (!images[id]) throw new ApiError(400, 'InvalidAMIID.NotFound', "The image id '[" + id + "]' does not exist");
    return respond('DescribeImages', '<imagesSet>' + ids.map((id) => '<item><imageId>' + id + '</imageId><imageState>available</imageState>' +
      '<rootDeviceType>ebs</rootDeviceType><rootDeviceName>' + images[id] + '</rootDeviceName></item>').join('') + '</imagesSet>');
  },
};

// ---- IMDSv2 ---------------------------------------------------------------------------
function imds(req, res) {
  const send = (status, body, type) => { res.writeHead(status, { 'content-type': type || 'text/plain' }); res.end(body); };
  if (req.method === 'PUT' && req.url === '/latest/api/token') {
    const ttl = +req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
    if (!(ttl >= 1 && ttl <= 21600)) return send(400, 'bad ttl');
    stats.imds.token++;
    const t = crypto.randomBytes(24).toString('base64');
    imdsTokens.add(t);
    return send(200, t);
  }
  if (req.method !== 'GET') return send(405, '');
  if (!imdsTokens.has(req.headers['x-aws-ec2-metadata-token'])) return send(401, '');
  if (!opt.roleKey) return send(404, '');
  if (req.url === '/latest/meta-data/iam/security-credentials/') { stats.imds.role++; return send(200, 'drover-role'); }
  if (req.url === '/latest/meta-data/iam/security-credentials/drover-role') {
    stats.imds.creds++;
    const k = opt.keys[opt.roleKey];
    return send(200, JSON.stringify({ Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC',
      AccessKeyId: opt.roleKey, SecretAccessKey: k.secret, Token: k.token,
      Expiration: new Date(Date.now() + 3600e3).toISOString().replace(/\.\d+Z$/, 'Z') }), 'application/json');
  }
  return send(404, '');
}

// ---- server -------------------------------------------------------------------------
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    advance();
    if (req.url.startsWith('/latest/')) return imds(req, res);
    if (req.url.startsWith('/_standin/')) {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/_standin/stats') {
        return res.end(JSON.stringify({ ...stats, instances: [...instances.values()].map((i) => ({
          id: i.id, state: i.state, type: i.type, image: i.image, token: i.token, groups: i.groups, user_data: i.userData,
          tags: Object.fromEntries(i.tags), root_size: (volumes.get(i.volume) || {}).size })),
          volumes: [...volumes.values()].filter((v) => !v.root).map((v) => ({ id: v.id, size: v.size, type: v.type, zone: v.zone,
            status: v.status, instance: v.instance, device: v.device, attach: v.attach, snapshot: v.snapshot || '', tags: Object.fromEntries(v.tags) })),
          snapshots: [...snapshots.values()].map((x) => ({ id: x.id, volume: x.volume, status: x.status, description: x.description,
            tags: Object.fromEntries(x.tags) })),
          placement_groups: [...groups.values()].map((g) => ({ id: g.id, name: g.name, tags: Object.fromEntries(g.tags) })) }));
      }
      const j = body ? JSON.parse(body) : {};
      if (req.url === '/_standin/fault') faults.push({ action: '*', status: 503, code: 'RequestLimitExceeded', count: 1, after: false, ...j });
      else if (req.url === '/_standin/config' && j.snapshot_ms !== undefined) {
        opt.snapshotMs = j.snapshot_ms;
        for (const x of snapshots.values()) if (x.until) x.until = Math.min(x.until, Date.now() + j.snapshot_ms);
      }
      else if (req.url === '/_standin/config' && j.transition_ms !== undefined) {
        // Transitions under way end no later than the new setting says.
        opt.transitionMs = j.transition_ms;
        for (const i of [...instances.values(), ...volumes.values()]) if (i.until) i.until = Math.min(i.until, later());
      }
      else if (req.url === '/_standin/config' && j.bad_snapshot !== undefined) opt.badSnapshot = j.bad_snapshot;
      else if (req.url === '/_standin/config' && j.slow !== undefined) {
        // Per action; transitions under way end no later than the new setting says.
        opt.slow = j.slow;
        for (const v of volumes.values()) if (v.until) v.until = Math.min(v.until, later());
      }
      else if (req.url === '/_standin/clear-faults') faults = [];
      return res.end('{}');
    }
    let action = '?';
    try {
      if (req.method !== 'POST' || req.url !== '/') throw new ApiError(400, 'InvalidRequest', 'POST / only', 'ErrorResponse');
      if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || ''))
        throw new ApiError(400, 'InvalidRequest', 'form-encoded bodies only');
      const p = new URLSearchParams(body);
      action = p.get('Action') || '?';
      stats.calls[action] = (stats.calls[action] || 0) + 1;
      // How many InstanceId.N each call named, in order (batching checks).
      const nIds = list(p, 'InstanceId').length;
      if (nIds) (stats.ids[action] = stats.ids[action] || []).push(nIds);
      // ... and how many instance-id filter values (shared waits).
      const byId = filters(p).find((x) => x.name === 'instance-id');
      if (byId) (stats.ids[action + ':instance-id'] = stats.ids[action + ':instance-id'] || []).push(byId.values.length);
      try { checkSig(req, body); } catch (e) { stats.rejected++; throw e; }
      if (p.get('Version') !== '2016-11-15') throw new ApiError(400, 'InvalidParameterValue', 'Version must be 2016-11-15');
      if (!actions[action]) throw new ApiError(400, 'InvalidAction', 'The action ' + action + ' is not valid for this web service.', 'ErrorResponse');
      const f = faults.find((x) => x.count > 0 && (x.action === '*' || x.action === action));
      if (f && !f.after) { f.count--; stats.faults++; throw new ApiError(f.status, f.code, 'injected by the stand-in'); }
      const out = actions[action](p);
      if (f && f.after) { f.count--; stats.faults++; throw new ApiError(f.status, f.code, 'injected by the stand-in after the call took effect'); }
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(out);
    } catch (e) {
      if (!(e instanceof ApiError)) { console.error(e); e = new ApiError(500, 'InternalError', 'stand-in bug: ' + e.message); }
      res.writeHead(e.status, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(e.shape === 'ErrorResponse' ? errorResponseXml(e.code, e.message) : errorXml(e.code, e.message));
    }
  });
});
server.listen(opt.port, '127.0.0.1', () => {
  const port = server.address().port;
  if (opt.portFile) fs.writeFileSync(opt.portFile + '.tmp', String(port)), fs.renameSync(opt.portFile + '.tmp', opt.portFile);
  console.log('ec2-standin: listening on 127.0.0.1:' + port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
