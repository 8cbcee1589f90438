// Network rules and parsers judged on recorded facts: ports, reachability,
// firewall (real `nft -j` and `iptables -S` output), proxy, registry, time, DNS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext, Judgement } from '../../../../../src/preflight/types.ts';
import type { Site } from '../../../../../src/schema/site.ts';
import { parseProcNet, parseSs, parseFdScan } from '../../../../../src/preflight/net/listeners.ts';
import { portsFree } from '../../../../../src/preflight/checks/network/ports.ts';
import { requiredPorts } from '../../../../../src/preflight/checks/network/required-ports.ts';
import { networkTargets, storageNfs } from '../../../../../src/preflight/checks/network/targets.ts';
import { chainsFromIptables, chainsFromNftJson, evaluatePort } from '../../../../../src/preflight/net/firewall-rules.ts';
import { firewallRules, firewallStatus, openPortCommands, type FirewallFacts } from '../../../../../src/preflight/checks/network/firewall.ts';
import { noProxyCovers, noProxyMatch, cidrContains } from '../../../../../src/preflight/net/no-proxy.ts';
import { parseProxyUrl, routeFor } from '../../../../../src/preflight/net/proxy.ts';
import { proxyContainerd, proxyEnv, proxyNoProxy, proxyReach, parseUnitEnvironment } from '../../../../../src/preflight/checks/network/proxy.ts';
import { parseCaBundle } from '../../../../../src/preflight/net/ca.ts';
import { parseChallenge, challengeProblem } from '../../../../../src/preflight/net/www-authenticate.ts';
import { parseRegistryUrl } from '../../../../../src/preflight/checks/network/registry-target.ts';
import { registryApi, registryAuth, registryDns, registryTcp, registryTls } from '../../../../../src/preflight/checks/network/registry.ts';
import { parseChronyTracking, parseNtpq, parseTimesyncStatus, timeSync } from '../../../../../src/preflight/checks/network/time.ts';
import { dnsNodes, dnsResolvers, parseDig, parseNslookup, parseResolvConf } from '../../../../../src/preflight/checks/network/dns.ts';
import { classifyConnectError, parseHostPort } from '../../../../../src/preflight/net/tcp.ts';

const profile = loadProfile();
const site: Site = {
  apiVersion: 'astrago.io/v1',
  kind: 'Site',
  metadata: { name: 'lab' },
  nodes: [
    { name: 'master-1', address: '192.0.2.11', roles: ['control-plane'] },
    { name: 'worker-1', address: 'worker-1.acme.local', roles: ['worker'] },
  ],
  network: { proxy: { http: 'http://proxy.acme:3128', https: 'http://proxy.acme:3128', noProxy: ['.acme.local', 'localhost'] }, podCidr: '198.18.64.0/18', serviceCidr: '198.18.0.0/18' },
  registry: { url: 'https://harbor.acme.local', username: 'robot$astrago', passwordEnv: 'HARBOR_PASSWORD' },
};
const ctx: JudgeContext = { node: { name: 'master-1', address: '192.0.2.11', roles: ['control-plane'] }, profile, site, isRoot: true, lang: 'en' };
const one = (j: Judgement | Judgement[]): Judgement => (Array.isArray(j) ? j[0]! : j);

// ---------------------------------------------------------------- ports

test('listeners: /proc/net/tcp LISTEN rows, tcp6 addresses, ss owners, fd scan', () => {
  const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0016 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0`;
  assert.deepEqual(parseProcNet(tcp, 'tcp'), [{ protocol: 'tcp', address: '0.0.0.0', port: 6443, inode: '4242' }]);
  const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2800 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0`;
  assert.deepEqual(parseProcNet(tcp6, 'tcp'), [{ protocol: 'tcp', address: '::1', port: 10240, inode: '77' }]);
  const ss = parseSs('tcp LISTEN 0 4096 0.0.0.0:6443 0.0.0.0:* users:(("haproxy",pid=812,fd=7))\nudp UNCONN 0 0 [::]:4789 [::]:*');
  assert.deepEqual(ss.get('tcp:6443'), { name: 'haproxy', pid: 812 });
  assert.equal(parseFdScan('/proc/812/fd socket:[4242]\n/proc/9/fd socket:[1]').get('4242'), 812);
});

test('required ports follow the roles and the profile CNI', () => {
  const cp = requiredPorts(profile, ['control-plane']).map((p) => p.label);
  assert.ok(cp.includes('6443/tcp') && cp.includes('2379-2380/tcp') && cp.includes('179/tcp') && cp.includes('4789/udp'));
  const flannel = requiredPorts({ ...profile, cni: 'flannel' }, ['control-plane']).map((p) => p.label);
  assert.ok(!flannel.includes('179/tcp'), 'calico BGP is not needed with another CNI');
  assert.ok(requiredPorts(profile, ['worker']).some((p) => p.label === '30000-32767/tcp'));
});

test('ports.free: free passes; a port held by another process fails naming it; Kubernetes holding its own port passes', () => {
  assert.equal(one(portsFree.judge({ taken: [], ownerSource: 'none', tablesRead: ['tcp'] }, ctx)).status, 'pass');
  const f = one(portsFree.judge({ taken: [{ protocol: 'tcp', address: '0.0.0.0', port: 6443, inode: '1', owner: { pid: 812, name: 'haproxy' } }], ownerSource: 'proc', tablesRead: ['tcp'] }, ctx));
  assert.equal(f.status, 'fail');
  assert.match(f.message, /6443\/tcp \(Kubernetes API server\) is held by haproxy \(pid 812\)/);
  assert.match(f.remediation!, /systemctl disable --now/);
  const nonRoot = one(portsFree.judge({ taken: [{ protocol: 'tcp', address: '::', port: 10250, inode: '1' }], ownerSource: 'none', tablesRead: ['tcp'] }, { ...ctx, isRoot: false }));
  assert.match(nonRoot.message, /run as root to name it/);
  const own = one(portsFree.judge({ taken: [{ protocol: 'tcp', address: '0.0.0.0', port: 6443, inode: '1', owner: { pid: 5, name: 'kube-apiserver' } }], ownerSource: 'proc', tablesRead: ['tcp'] }, ctx));
  assert.equal(own.status, 'pass');
  assert.equal(one(portsFree.judge({ taken: [], ownerSource: 'none', tablesRead: [] }, ctx)).status, 'error');
});

// ---------------------------------------------------------------- reachability

test('network.targets: open passes; refused, filtered and DNS failure fail with their own words', () => {
  const r = networkTargets.judge(
    {
      targets: [
        { host: 'git.acme.local', port: 443, state: 'open', ms: 3, via: 'local' },
        { host: '203.0.113.5', port: 22, state: 'refused', ms: 1, via: 'local', error: 'ECONNREFUSED' },
        { host: '203.0.113.6', port: 22, state: 'filtered', ms: 3000, via: 'local' },
        { host: 'nope.invalid', port: 80, state: 'dns', ms: 2, via: 'local', error: 'getaddrinfo ENOTFOUND' },
        { target: 'garbage', state: 'invalid' },
      ],
    },
    ctx,
  ) as Judgement[];
  assert.deepEqual(r.map((j) => [j.id, j.status]), [
    ['network.targets[git.acme.local:443]', 'pass'],
    ['network.targets[203.0.113.5:22]', 'fail'],
    ['network.targets[203.0.113.6:22]', 'fail'],
    ['network.targets[nope.invalid:80]', 'fail'],
    ['network.targets[garbage]', 'fail'],
  ]);
  assert.match(r[1]!.message, /refused/);
  assert.match(r[2]!.message, /filtered/);
  assert.match(r[3]!.message, /does not resolve/);
  assert.equal(one(networkTargets.judge({ targets: [] }, ctx)).status, 'skip');
  assert.deepEqual(parseHostPort('[fd00::1]:443'), { host: 'fd00::1', port: 443 });
  assert.equal(parseHostPort('host:99999'), undefined);
  assert.equal(classifyConnectError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'refused');
  assert.equal(classifyConnectError(new Error('(SSH) Channel open failure: Connection refused')), 'refused');
});

test('storage.nfs: open with the export passes; missing export fails; closed fails; no server skips', () => {
  const reach = { host: '192.0.2.5', port: 2049, state: 'open' as const, ms: 2, via: 'local' as const };
  assert.equal(one(storageNfs.judge({ server: '192.0.2.5', path: '/export/astrago', reach, exports: ['/export/astrago'] }, ctx)).status, 'pass');
  const missing = one(storageNfs.judge({ server: '192.0.2.5', path: '/export/astrago', reach, exports: ['/other'] }, ctx));
  assert.equal(missing.status, 'fail');
  assert.match(missing.remediation!, /exportfs -ra/);
  assert.equal(one(storageNfs.judge({ server: '192.0.2.5', path: '/x', reach: { ...reach, state: 'filtered' }, exports: null }, ctx)).status, 'fail');
  assert.match(one(storageNfs.judge({ server: '192.0.2.5', path: '/x', reach, exports: null }, ctx)).message, /showmount/);
  assert.equal(one(storageNfs.judge({ exports: null }, ctx)).status, 'skip');
});

// ---------------------------------------------------------------- firewall

// Recorded from `nft -j list ruleset` (nftables 1.0.6) in a test namespace.
const NFT = JSON.parse(`{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "f", "handle": 1}},
{"chain": {"family": "inet", "table": "f", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
{"chain": {"family": "inet", "table": "f", "name": "vx", "handle": 8}},
{"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, {"range": [2379, 2380]}, 10250]}}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "198.18.0.0", "len": 15}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 6443}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 4789}}, {"jump": {"target": "vx"}}]}},
{"rule": {"family": "inet", "table": "f", "chain": "vx", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 4789}}, {"accept": null}]}}]}`);

// Recorded from `iptables -S` (iptables 1.8.9).
const IPT = `-P INPUT DROP
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m multiport --dports 179,10250 -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 6443 -m comment --comment "api server" -j REJECT --reject-with tcp-reset
-A INPUT -s 198.18.0.0/15 -p tcp -m tcp --dport 10257 -j ACCEPT`;

test('nftables model: sets, ranges, jumps, loopback and conntrack rules, conditional source matches, policy', () => {
  const chains = chainsFromNftJson(NFT);
  assert.equal(evaluatePort(chains, { protocol: 'tcp', port: 2380 }).verdict, 'accept');
  assert.equal(evaluatePort(chains, { protocol: 'udp', port: 4789 }).verdict, 'accept', 'accepted in the jumped-to chain');
  const api = evaluatePort(chains, { protocol: 'tcp', port: 6443 });
  assert.deepEqual([api.verdict, api.conditional], ['drop', true], 'only 10/8 may reach 6443: dropped for others');
  const free = evaluatePort(chains, { protocol: 'tcp', port: 179 });
  assert.equal(free.verdict, 'drop');
  assert.match(free.decidedBy, /policy drop/);
  assert.equal(evaluatePort(chainsFromNftJson({ nftables: [] }), { protocol: 'tcp', port: 1 }).verdict, 'accept');
});

test('iptables model: multiport, REJECT, policy DROP, source-conditional ACCEPT', () => {
  const chains = chainsFromIptables(IPT);
  assert.equal(evaluatePort(chains, { protocol: 'tcp', port: 10250 }).verdict, 'accept');
  assert.equal(evaluatePort(chains, { protocol: 'tcp', port: 6443 }).verdict, 'reject');
  const cond = evaluatePort(chains, { protocol: 'tcp', port: 10257 });
  assert.deepEqual([cond.verdict, cond.conditional], ['drop', true]);
});

const fwFacts = (over: Partial<FirewallFacts>): FirewallFacts => ({ isRoot: true, units: {}, firewalld: null, ufw: null, nft: null, iptables: null, ...over });

test('firewall.rules: blocked ports fail with commands for the firewall in use; all open passes; non-root skips', () => {
  const f = one(firewallRules.judge(fwFacts({ nft: { json: NFT } }), ctx));
  assert.equal(f.status, 'fail');
  assert.match(f.message, /6443\/tcp \(Kubernetes API server: drop/);
  assert.match(f.remediation!, /nft insert rule inet f input tcp dport \{ .*6443.* \} accept/);
  assert.match(f.remediation!, /nftables\.conf/);
  const open = fwFacts({ nft: { json: { nftables: [{ chain: { family: 'inet', table: 't', name: 'in', type: 'filter', hook: 'input', policy: 'accept' } }] } } });
  assert.equal(one(firewallRules.judge(open, ctx)).status, 'pass');
  const skip = one(firewallRules.judge(fwFacts({ isRoot: false, units: { firewalld: 'active' }, firewalld: 'running' }), { ...ctx, isRoot: false }));
  assert.equal(skip.status, 'skip');
  assert.match(skip.message, /firewalld service active/);
  assert.match(skip.remediation!, /sudo astrago-check --only firewall\.rules/);
  const ipt = one(firewallRules.judge(fwFacts({ iptables: { rules: IPT, backend: 'legacy' } }), ctx));
  assert.equal(ipt.status, 'fail');
  assert.match(ipt.remediation!, /iptables -I INPUT -p tcp -m tcp --dport 6443 -j ACCEPT[\s\S]*iptables-save/);
});

test('firewall commands per firewall: firewalld, ufw, iptables (ranges written the way each tool wants)', () => {
  const needs = requiredPorts(profile, ['control-plane']).filter((n) => ['6443/tcp', '2379-2380/tcp'].includes(n.label));
  assert.match(openPortCommands('firewalld', needs, fwFacts({})), /firewall-cmd --permanent --add-port=2379-2380\/tcp --add-port=6443\/tcp\nfirewall-cmd --reload/);
  assert.match(openPortCommands('ufw', needs, fwFacts({})), /ufw allow 2379:2380\/tcp\nufw allow 6443\/tcp/);
  assert.match(openPortCommands('iptables', needs, fwFacts({})), /--dport 2379:2380 -j ACCEPT/);
});

test('firewall.status: names the active firewall; nothing active passes; non-root skips with what is known', () => {
  const s = one(firewallStatus.judge(fwFacts({ firewalld: 'running', units: { firewalld: 'active' }, nft: { json: NFT } }), ctx));
  assert.equal(s.status, 'pass');
  assert.match(s.message, /active: firewalld, nftables/);
  assert.match(one(firewallStatus.judge(fwFacts({ nft: { json: { nftables: [] } } }), ctx)).message, /no host firewall/);
  const nr = one(firewallStatus.judge(fwFacts({ isRoot: false, ufw: 'ENABLED=yes (/etc/ufw/ufw.conf)' }), { ...ctx, isRoot: false }));
  assert.equal(nr.status, 'skip');
  assert.match(nr.message, /ufw ENABLED=yes/);
});

// ---------------------------------------------------------------- proxy

test('NO_PROXY matching follows Go: suffixes, bare domains, CIDRs, ports, loopback', () => {
  const np = ['.acme.local', 'example.com', '198.18.0.0/15', 'reg.x:5000'];
  assert.equal(noProxyMatch(np, 'harbor.acme.local'), '.acme.local');
  assert.equal(noProxyMatch(np, 'acme.local'), undefined, 'a leading dot matches subdomains only');
  assert.equal(noProxyMatch(np, 'a.example.com'), 'example.com');
  assert.equal(noProxyMatch(np, '198.19.3.4'), '198.18.0.0/15');
  assert.equal(noProxyMatch(np, 'reg.x', 5000), 'reg.x:5000');
  assert.equal(noProxyMatch(np, 'reg.x', 443), undefined);
  assert.ok(cidrContains('198.18.0.0/16', '198.18.64.0/18'));
  assert.equal(noProxyCovers(['.cluster.local'], '.svc.cluster.local'), '.cluster.local');
  assert.equal(noProxyCovers(['198.18.0.0/16'], '198.18.64.0/18'), '198.18.0.0/16');
  const settings = { http: 'http://p:3128', https: 'http://p:3128', noProxy: ['.acme.local'], source: 'site' as const };
  assert.equal(routeFor(new URL('https://harbor.acme.local'), settings).kind, 'direct');
  assert.equal(routeFor(new URL('https://127.0.0.1:5000'), settings).kind, 'direct');
  const viaProxy = routeFor(new URL('https://quay.io'), settings);
  assert.equal(viaProxy.kind, 'proxy');
});

test('proxy URLs: credentials go to the header only; malformed ones give a clear error', () => {
  const p = parseProxyUrl('http://alice@proxy:3128', 's3cret');
  assert.equal(p.authorization, 'Basic ' + Buffer.from('alice:s3cret').toString('base64'));
  assert.ok(!p.display.includes('s3cret'));
  assert.ok(!parseProxyUrl('http://bob:pw123456@proxy:3128').display.includes('pw123456'));
  assert.throws(() => parseProxyUrl('http://'), /not a valid URL/);
  assert.throws(() => parseProxyUrl('socks5://proxy:1080'), /only http:\/\//);
});

test('proxy.env: agreement passes; missing, extra or different settings warn', () => {
  const s = { http: 'http://proxy.acme:3128', https: 'http://proxy.acme:3128', noProxy: ['.acme.local'] };
  assert.equal(one(proxyEnv.judge({ site: s, env: { ...s, noProxy: ['.acme.local'] }, envSource: 'env' }, ctx)).status, 'pass');
  assert.equal(one(proxyEnv.judge({ env: {} }, ctx)).status, 'pass');
  const missing = one(proxyEnv.judge({ site: s, env: {}, envSource: 'env' }, ctx));
  assert.equal(missing.status, 'warn');
  assert.match(missing.remediation!, /\/etc\/environment[\s\S]*HTTPS_PROXY=http:\/\/proxy\.acme:3128/);
  const diff = one(proxyEnv.judge({ site: s, env: { ...s, https: 'http://other:8080' }, envSource: 'env' }, ctx));
  assert.match(diff.message, /HTTPS_PROXY http:\/\/other:8080 vs site/);
  assert.equal(one(proxyEnv.judge({ env: { http: 'http://p:1' }, envSource: 'env' }, ctx)).status, 'warn');
});

test('proxy.noproxy: lists what is missing and the corrected value', () => {
  const j = one(proxyNoProxy.judge({ proxy: 'http://proxy.acme:3128', noProxy: ['.acme.local', 'localhost'], source: 'site' }, ctx));
  assert.equal(j.status, 'fail');
  for (const m of ['127.0.0.1', '.svc', '.cluster.local', '192.0.2.11', 'master-1', '198.18.64.0/18', '198.18.0.0/18']) assert.ok(j.message.includes(m), m);
  assert.ok(!/worker-1\.acme\.local \(/.test(j.message), 'covered by .acme.local');
  assert.ok(!j.message.includes('harbor.acme.local'), 'registry covered by .acme.local');
  assert.match(j.remediation!, /^\.acme\.local,localhost,127\.0\.0\.1,/m);
  const full = ['.acme.local', 'localhost', '127.0.0.1', '.svc', '.cluster.local', '192.0.2.0/24', 'master-1', 'worker-1', '198.18.0.0/16'];
  assert.equal(one(proxyNoProxy.judge({ proxy: 'http://p:1', noProxy: full, source: 'site' }, ctx)).status, 'pass');
  assert.equal(one(proxyNoProxy.judge({ proxy: null, noProxy: [], source: 'none' }, ctx)).status, 'pass');
});

test('proxy.reach: answers + CONNECT passes; closed proxy or refused CONNECT fails; no proxy skips', () => {
  const tcp = { host: 'proxy.acme', port: 3128, state: 'open' as const, ms: 1, via: 'local' as const };
  assert.equal(one(proxyReach.judge({ proxy: 'http://proxy.acme:3128', tcp, registry: 'harbor:443', connect: { ok: true } }, ctx)).status, 'pass');
  const bad = one(proxyReach.judge({ proxy: 'http://proxy.acme:3128', tcp, registry: 'harbor:443', connect: { ok: false, status: 403, error: '403 Forbidden' } }, ctx));
  assert.equal(bad.status, 'fail');
  assert.match(bad.remediation!, /allow CONNECT/);
  assert.equal(one(proxyReach.judge({ proxy: 'http://proxy.acme:3128', tcp: { ...tcp, state: 'refused' } }, ctx)).status, 'fail');
  assert.match(one(proxyReach.judge({ proxy: 'http://p:1', tcp, registry: 'h', direct: "NO_PROXY entry '.acme.local' covers h" }, ctx)).message, /reached directly/);
  assert.equal(one(proxyReach.judge({ proxy: null }, ctx)).status, 'skip');
});

test('proxy.containerd: drop-in agreeing passes, absent warns, different fails; Environment= parsing', () => {
  const env = parseUnitEnvironment('[Service]\nEnvironment="HTTP_PROXY=http://proxy.acme:3128" "HTTPS_PROXY=http://proxy.acme:3128"\nEnvironment=NO_PROXY=.acme.local,localhost\n');
  assert.deepEqual(env, { HTTP_PROXY: 'http://proxy.acme:3128', HTTPS_PROXY: 'http://proxy.acme:3128', NO_PROXY: '.acme.local,localhost' });
  const s = { http: 'http://proxy.acme:3128', https: 'http://proxy.acme:3128', noProxy: ['.acme.local', 'localhost'] };
  assert.equal(one(proxyContainerd.judge({ site: s, dropIns: [{ file: 'x.conf', vars: s }], dirExists: true }, ctx)).status, 'pass');
  const absent = one(proxyContainerd.judge({ site: s, dropIns: [], dirExists: false }, ctx));
  assert.equal(absent.status, 'warn');
  assert.match(absent.remediation!, /containerd\.service\.d\/http-proxy\.conf[\s\S]*Environment=HTTPS_PROXY=[\s\S]*systemctl restart containerd/);
  assert.equal(one(proxyContainerd.judge({ site: s, dropIns: [{ file: 'x.conf', vars: { ...s, http: 'http://old:1' } }], dirExists: true }, ctx)).status, 'fail');
  assert.equal(one(proxyContainerd.judge({ dropIns: [], dirExists: false }, ctx)).status, 'pass');
});

// ---------------------------------------------------------------- registry

test('registry inputs: URL forms, CA files that are not PEM, challenges', () => {
  assert.equal((parseRegistryUrl('harbor.acme.local') as { url: URL }).url.href, 'https://harbor.acme.local/');
  assert.equal((parseRegistryUrl('reg:5000', true) as { url: URL }).url.protocol, 'http:');
  assert.match((parseRegistryUrl('https://') as { error: string }).error, /not a valid address/);
  assert.match((parseRegistryUrl('ftp://x') as { error: string }).error, /not http or https/);
  const notPem = parseCaBundle('hello, I am not a certificate', 'ca.pem');
  assert.equal(notPem.ok, false);
  assert.match((notPem as { error: string }).error, /ca\.pem holds no PEM certificate/);
  assert.match((parseCaBundle('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----', 'k.pem') as { error: string }).error, /a private key/);
  assert.match((parseCaBundle('-----BEGIN CERTIFICATE-----\nnotbase64!!\n-----END CERTIFICATE-----', 'c.pem') as { error: string }).error, /certificate 1 is not valid PEM/);
  const c = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:x:pull"');
  assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:x:pull' } });
  assert.equal(challengeProblem(parseChallenge('Basic realm="x"')), undefined);
  assert.match(challengeProblem(parseChallenge('Bearer service="x"'))!, /without a realm/);
  assert.match(challengeProblem(undefined)!, /no WWW-Authenticate/);
});

test('registry.dns/tcp: resolved or IP passes, unresolved fails, via proxy skips; refused/proxy errors fail', () => {
  const base = { registry: 'harbor.acme.local', route: 'direct (no proxy configured)' };
  assert.equal(one(registryDns.judge({ ...base, resolution: { name: 'harbor.acme.local', addresses: ['203.0.113.9'], method: 'getent' } }, ctx)).status, 'pass');
  const nx = one(registryDns.judge({ ...base, resolution: { name: 'harbor.acme.local', addresses: [], error: 'not found', method: 'getent' } }, ctx));
  assert.equal(nx.status, 'fail');
  assert.match(nx.remediation!, /\/etc\/hosts/);
  assert.equal(one(registryDns.judge({ ...base, viaProxy: true, resolution: { name: 'h', addresses: [], error: 'x', method: 'getent' } }, ctx)).status, 'skip');
  assert.equal(one(registryDns.judge({}, ctx)).status, 'skip');
  assert.equal(one(registryDns.judge({ error: "registry.url 'x' is not a valid address" }, ctx)).status, 'fail');
  assert.equal(one(registryTcp.judge({ ...base, ok: true }, ctx)).status, 'pass');
  const refused = one(registryTcp.judge({ ...base, ok: false, failure: { stage: 'tcp', message: 'ECONNREFUSED', tcpState: 'refused' } }, ctx));
  assert.match(refused.message, /refused/);
  const p407 = one(registryTcp.judge({ ...base, ok: false, failure: { stage: 'proxy', message: 'answered 407', proxyStatus: 407 } }, ctx));
  assert.match(p407.remediation!, /passwordEnv/);
});

test('registry.tls: trust, name and expiry are three results; a non-PEM CA is a clear fail', () => {
  const tls = { trusted: true, nameMatches: true, issuer: 'CN=ca', altNames: 'DNS:harbor.acme.local', validTo: '2030-01-01T00:00:00.000Z', expiresInDays: 400 };
  const base = { registry: 'harbor.acme.local', route: 'direct', scheme: 'https' };
  const ok = registryTls.judge({ ...base, tls }, ctx) as Judgement[];
  assert.deepEqual(ok.map((j) => [j.id, j.status]), [['registry.tls[trust]', 'pass'], ['registry.tls[name]', 'pass'], ['registry.tls[expiry]', 'pass']]);
  const bad = registryTls.judge({ ...base, caFile: '/x/ca.pem', tls: { ...tls, trusted: false, trustError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', nameMatches: false, nameError: "Host: harbor.acme.local. is not in the cert's altnames: DNS:other", expiresInDays: 5 } }, ctx) as Judgement[];
  assert.deepEqual(bad.map((j) => j.status), ['fail', 'fail', 'warn']);
  assert.match(bad[0]!.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  assert.match(bad[1]!.message, /does not name harbor\.acme\.local/);
  assert.match(bad[2]!.message, /expires in 5 days/);
  const expired = registryTls.judge({ ...base, tls: { ...tls, trusted: false, trustError: 'CERT_HAS_EXPIRED', expiresInDays: -3 } }, ctx) as Judgement[];
  assert.deepEqual(expired.map((j) => j.status), ['pass', 'pass', 'fail'], 'expiry reported apart from trust');
  const notPem = one(registryTls.judge({ ...base, caError: 'CA file ca.pem holds no PEM certificate' }, ctx));
  assert.equal(notPem.status, 'fail');
  assert.match(notPem.message, /no PEM certificate/);
  assert.equal(one(registryTls.judge({ ...base, registry: 'reg.acme:5000', scheme: 'http' }, ctx)).status, 'warn');
});

test('registry.api: 200 or 401 with a usable challenge passes; 401 without one or 404 fails', () => {
  const base = { registry: 'harbor.acme.local', route: 'direct' };
  assert.equal(one(registryApi.judge({ ...base, status: 200 }, ctx)).status, 'pass');
  assert.equal(one(registryApi.judge({ ...base, status: 401, challenge: { scheme: 'basic', realm: 'r' } }, ctx)).status, 'pass');
  assert.equal(one(registryApi.judge({ ...base, status: 401, challengeProblem: 'no WWW-Authenticate header' }, ctx)).status, 'fail');
  assert.match(one(registryApi.judge({ ...base, status: 404 }, ctx)).message, /not a Docker\/OCI registry API/);
  assert.match(one(registryApi.judge({ ...base, failure: { stage: 'tls', message: 'self signed' } }, ctx)).remediation!, /registry\.tls/);
});

test('registry.auth: login ok passes; rejected, missing password or token refusal fails', () => {
  const base = { registry: 'harbor.acme.local', route: 'direct', username: 'robot$astrago', passwordSource: 'environment variable HARBOR_PASSWORD' };
  assert.equal(one(registryAuth.judge({ ...base, anonymousStatus: 401, scheme: 'basic', loginStatus: 200 }, ctx)).status, 'pass');
  assert.equal(one(registryAuth.judge({ ...base, anonymousStatus: 401, scheme: 'bearer', tokenStatus: 200, loginStatus: 200 }, ctx)).status, 'pass');
  assert.equal(one(registryAuth.judge({ ...base, anonymousStatus: 401, scheme: 'basic', loginStatus: 401 }, ctx)).status, 'fail');
  assert.match(one(registryAuth.judge({ ...base, anonymousStatus: 401, scheme: 'bearer', tokenStatus: 401 }, ctx)).message, /token request .* refused/);
  assert.match(one(registryAuth.judge({ ...base, credentialError: 'environment variable HARBOR_PASSWORD (registry.passwordEnv) is not set', anonymousStatus: 401 }, ctx)).message, /HARBOR_PASSWORD.*not set/);
  assert.equal(one(registryAuth.judge({ registry: 'h', route: 'direct', anonymousStatus: 401 }, ctx)).status, 'fail');
  assert.equal(one(registryAuth.judge({ registry: 'h', route: 'direct', anonymousStatus: 200 }, ctx)).status, 'pass');
});

// ---------------------------------------------------------------- time

test('time.sync: parsers of chronyc, timedatectl, ntpq', () => {
  assert.equal(parseChronyTracking('Reference ID    : C0A80A02\nSystem time     : 0.000123000 seconds slow of NTP time\n'), -0.123);
  assert.equal(parseTimesyncStatus('       Server: 192.0.2.2\n       Offset: +1.234ms\n'), 1.234);
  assert.equal(parseTimesyncStatus('Offset: -250us'), -0.25);
  assert.equal(parseNtpq('     remote           refid      st t when poll reach   delay   offset  jitter\n==========\n*192.0.2.2    .GPS.   1 u   33   64  377    0.321   -2.150   0.100\n'), -2.15);
});

test('time.sync: a running service with a small offset passes; none fails; large offset fails; unsynchronised warns', () => {
  const f = { units: { chronyd: 'active' }, processes: ['chronyd'], synchronized: true, offsetMs: 0.2, offsetSource: 'chronyc tracking' };
  assert.equal(one(timeSync.judge(f, ctx)).status, 'pass');
  const none = one(timeSync.judge({ units: {}, processes: [], synchronized: null, offsetMs: null }, { ...ctx, site: { ...site, network: { ntp: ['ntp.acme.local'] } } }));
  assert.equal(none.status, 'fail');
  assert.match(none.remediation!, /chrony[\s\S]*ntp\.acme\.local/);
  assert.equal(one(timeSync.judge({ ...f, offsetMs: 1500 }, ctx)).status, 'fail');
  assert.equal(one(timeSync.judge({ ...f, synchronized: false, offsetMs: null }, ctx)).status, 'warn');
});

// ---------------------------------------------------------------- DNS

test('dns parsers: resolv.conf, dig, nslookup', () => {
  assert.deepEqual(parseResolvConf('# x\nnameserver 203.0.113.2\nsearch a\nnameserver fd00::53\n'), ['203.0.113.2', 'fd00::53']);
  assert.deepEqual(parseDig(';; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1'), { state: 'answered', rcode: 'NXDOMAIN' });
  assert.equal(parseDig(';; connection timed out; no servers could be reached').state, 'silent');
  // dig 9.18 / nslookup when the datagram cannot leave: the kernel's reason, not a generic line.
  const unreachable = ';; UDP setup with 10.204.9.9#53(10.204.9.9) for x.test failed: network unreachable.\n;; no servers could be reached\n';
  assert.deepEqual(parseDig(unreachable), { state: 'silent', detail: 'network unreachable' });
  assert.deepEqual(parseNslookup(unreachable, 1), { state: 'silent', detail: 'network unreachable' });
  assert.equal(parseNslookup(';; connection timed out; no servers could be reached', 1).state, 'silent');
  assert.deepEqual(parseNslookup("** server can't find x: NXDOMAIN", 1), { state: 'answered', rcode: 'NXDOMAIN' });
});

test('dns.resolvers: all answering passes; a silent server fails; site DNS not configured warns; no tool skips', () => {
  const ans = (server: string, state: 'answered' | 'silent', from: ('resolv.conf' | 'site')[] = ['resolv.conf']) => ({ server, state, rcode: state === 'answered' ? 'NOERROR' : undefined, from });
  assert.equal(one(dnsResolvers.judge({ query: 'x', resolvConf: ['203.0.113.2'], answers: [ans('203.0.113.2', 'answered')], method: 'node:dns' }, ctx)).status, 'pass');
  const silent = one(dnsResolvers.judge({ query: 'x', resolvConf: ['203.0.113.2'], answers: [ans('203.0.113.2', 'silent')], method: 'node:dns' }, ctx));
  assert.equal(silent.status, 'fail');
  assert.match(silent.remediation!, /53/);
  assert.equal(one(dnsResolvers.judge({ query: 'x', resolvConf: ['203.0.113.2'], answers: [ans('203.0.113.2', 'answered'), ans('203.0.113.3', 'answered', ['site'])], method: 'dig' }, ctx)).status, 'warn');
  assert.equal(one(dnsResolvers.judge({ query: 'x', resolvConf: [], answers: [], method: 'node:dns' }, ctx)).status, 'fail');
  assert.equal(one(dnsResolvers.judge({ query: 'x', resolvConf: ['1.1.1.1'], answers: [{ server: '1.1.1.1', state: 'unknown', from: ['resolv.conf'] }], method: 'none' }, ctx)).status, 'skip');
});

test('dns.nodes: names resolving pass; an unresolvable address fails; a name resolving elsewhere warns', () => {
  const l = (name: string, kind: 'address' | 'name', addresses: string[], expected?: string) => ({ name, node: name, kind, addresses, expected, method: 'getent' as const });
  assert.equal(one(dnsNodes.judge({ lookups: [l('worker-1.acme.local', 'address', ['203.0.113.3']), l('master-1', 'name', ['192.0.2.11'], '192.0.2.11')] }, ctx)).status, 'pass');
  assert.equal(one(dnsNodes.judge({ lookups: [l('worker-1.acme.local', 'address', [])] }, ctx)).status, 'fail');
  const w = one(dnsNodes.judge({ lookups: [l('master-1', 'name', ['127.0.1.1'], '192.0.2.11')] }, ctx));
  assert.equal(w.status, 'warn');
  assert.match(w.remediation!, /192\.0\.2\.11 master-1/);
  assert.equal(one(dnsNodes.judge({ lookups: [] }, { ...ctx, site: { ...site, nodes: [] } })).status, 'skip');
});

test('iptables model: ufw-style chains (jumps, rate-limited logging, conditional RETURN) decide like the kernel', () => {
  const ufw = `-P INPUT DROP
-N ufw-before-input
-N ufw-user-input
-N ufw-not-local
-N ufw-logging-deny
-A INPUT -j ufw-before-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
-A ufw-before-input -j ufw-not-local
-A ufw-before-input -j ufw-user-input
-A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN
-A ufw-not-local -m limit --limit 3/min --limit-burst 10 -j ufw-logging-deny
-A ufw-not-local -j DROP
-A ufw-logging-deny -m limit --limit 3/min -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-user-input -p tcp -m tcp --dport 6443 -j ACCEPT
-A ufw-user-input -s 198.18.0.0/15 -j ufw-logging-deny`;
  const chains = chainsFromIptables(ufw);
  const api = evaluatePort(chains, { protocol: 'tcp', port: 6443 });
  assert.deepEqual([api.verdict, api.conditional], ['accept', false]);
  assert.equal(evaluatePort(chains, { protocol: 'tcp', port: 10250 }).verdict, 'drop');
});

test('SSH node whose sshd forbids forwarding: TLS, API, login and CONNECT say skip and why, not fail', () => {
  const f = { registry: 'harbor.acme.local', route: 'direct', scheme: 'https', failure: { stage: 'forwarding', message: 'n1: sshd refuses TCP forwarding (administratively prohibited)' } };
  for (const j of [registryTls.judge(f, ctx), registryApi.judge(f, ctx), registryAuth.judge(f, ctx)].map(one)) {
    assert.equal(j.status, 'skip');
    assert.match(j.message, /AllowTcpForwarding no/);
  }
  const tcp = { host: 'p', port: 1, state: 'open' as const, ms: 1, via: 'ssh-shell' as const };
  assert.equal(one(proxyReach.judge({ proxy: 'http://p:1', tcp, registry: 'h', connect: { ok: false, forwardingDenied: true } }, ctx)).status, 'skip');
});

test('ports.free: a UDP port held by no process (kernel VXLAN socket) is named as such', () => {
  const j = one(portsFree.judge({ taken: [{ protocol: 'udp', address: '0.0.0.0', port: 4789, inode: '0' }], ownerSource: 'proc', tablesRead: ['udp'] }, ctx));
  assert.equal(j.status, 'fail');
  assert.match(j.message, /4789\/udp \(Calico VXLAN\) is held by the kernel, no process/);
});
