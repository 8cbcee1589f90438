// Which entries of an image index bundle create keeps: platform strings, variants, attestations, 'all'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { platformMatches, selectPlatforms } from '../../../../src/bundle/create/platforms.ts';

test('platform matching: variants, attestations, all', () => {
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64'));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, 'linux/arm/v7'));
  assert.ok(!platformMatches({ os: 'unknown', architecture: 'unknown' }, 'linux/amd64'));
  const entries = [{ platform: { os: 'linux', architecture: 'amd64' } }, { platform: { os: 'linux', architecture: 'arm64' } }, { platform: { os: 'unknown', architecture: 'unknown' } }];
  assert.equal(selectPlatforms(entries, ['linux/amd64']).length, 1);
  assert.equal(selectPlatforms(entries, ['linux/amd64', 'linux/arm64']).length, 2);
  assert.equal(selectPlatforms(entries, ['all']).length, 3);
  assert.equal(selectPlatforms(entries, ['linux/s390x']).length, 0);
});
