// The push protocol (src/oci/registry/push.ts) against a real distribution
// registry: chunked PATCH uploads, a mount that the registry declines (202:
// the upload goes on in the session it opened), a mount it accepts (201),
// manifests PUT byte for byte, and relative upload Locations.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { openPushSession } from '../../src/bundle/install/session.ts';
import { blobExists, manifestDigest, mountBlob, putManifest, uploadBlob, uploadUrl, type BlobSource } from '../../src/oci/registry/push.ts';

let reg: TestRegistry;
let session: Awaited<ReturnType<typeof openPushSession>>;

before(async () => {
  reg = await startRegistry();
  session = await openPushSession({ target: { host: reg.host, prefix: '' }, env: { HOME: '/nonexistent' } });
});
after(async () => {
  await session.close();
  await reg.stop();
});

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
function source(b: Buffer): BlobSource & { opened: Array<[number, number]> } {
  const opened: Array<[number, number]> = [];
  return { size: b.length, opened, open: (start, end) => (opened.push([start, end]), Readable.from([b.subarray(start, end)])) };
}

async function fetchBlob(repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

test('a large blob goes up in PATCH chunks streamed range by range, then one PUT', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 123);
  const d = digestOf(data);
  const src = source(data);
  assert.equal(await blobExists(session, 'p/chunked', d), false);
  await uploadBlob(session, 'p/chunked', d, src, undefined, 1024 * 1024);
  assert.deepEqual(src.opened, [[0, 1048576], [1048576, 2097152], [2097152, 3145728], [3145728, 3145851]]);
  assert.equal(await blobExists(session, 'p/chunked', d), true);
  assert.deepEqual(await fetchBlob('p/chunked', d), data);
});

test('a small blob is one POST and one PUT; a wrong digest is refused by the registry', async () => {
  const data = randomBytes(5000);
  const src = source(data);
  await uploadBlob(session, 'p/small', digestOf(data), src);
  assert.deepEqual(src.opened, [[0, 5000]]);
  await assert.rejects(uploadBlob(session, 'p/small', digestOf(Buffer.from('other')), source(data)), /HTTP 400.*DIGEST_INVALID/);
});

test('mount: 201 links a blob from another repository; 202 (declined) opens an upload that completes it', async () => {
  const data = randomBytes(10_000);
  const d = digestOf(data);
  await uploadBlob(session, 'p/origin', d, source(data));
  assert.deepEqual(await mountBlob(session, 'p/mounted', d, 'p/origin'), { mounted: true });
  assert.equal(await blobExists(session, 'p/mounted', d), true);

  const other = randomBytes(10_000);
  const od = digestOf(other);
  const declined = await mountBlob(session, 'p/fallback', od, 'p/nowhere');
  assert.equal(declined.mounted, false);
  if (declined.mounted) return;
  await uploadBlob(session, 'p/fallback', od, source(other), declined.location);
  assert.deepEqual(await fetchBlob('p/fallback', od), other);
});

test('manifests are pushed byte for byte: the tag and the digest both resolve', async () => {
  const cfg = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await uploadBlob(session, 'p/img', digestOf(cfg), source(cfg));
  // Deliberately unusual formatting: a re-serialising client would change the digest.
  const manifest = Buffer.from(`{ "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${digestOf(cfg)}","size":${cfg.length}}, "layers": [] }\n`);
  const md = digestOf(manifest);
  assert.equal(await manifestDigest(session, 'p/img', '1.0'), undefined);
  await putManifest(session, 'p/img', '1.0', 'application/vnd.oci.image.manifest.v1+json', manifest, md);
  assert.equal(await manifestDigest(session, 'p/img', '1.0'), md);
  assert.equal(await manifestDigest(session, 'p/img', md), md);
  const res = await fetch(`${reg.url}/v2/p/img/manifests/${md}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), manifest);
});

test('upload Locations may be absolute or relative', () => {
  assert.equal(uploadUrl('https://r.example:5000', '/v2/a/blobs/uploads/u1?_state=x', 'sha256:ab'), 'https://r.example:5000/v2/a/blobs/uploads/u1?_state=x&digest=sha256%3Aab');
  assert.equal(uploadUrl('https://r.example:5000', 'https://r.example:5000/v2/a/blobs/uploads/u2'), 'https://r.example:5000/v2/a/blobs/uploads/u2');
});
