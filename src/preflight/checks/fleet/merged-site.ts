// Site checks judged again from per-node reports (report merge: each node checked by
// itself, e.g. by Ansible, pdsh or a DaemonSet): those whose facts the node results carry
// are recomputed with the same rules as a live site run (hostnames unique; OS release and
// kernel, NVIDIA driver the same on GPU nodes); those that need live probes between the
// nodes (port matrix, clock skew) are `skip` with the reason; the others `skip` as not
// derivable. Pure: node results in, judgements out.
import type { Profile } from '../../../schema/profile.ts';
import type { CheckResult } from '../../../schema/report.ts';
import { nodeNeedsGpu } from '../../roles.ts';
import type { Judgement, NodeInfo, SiteCheckDef } from '../../types.ts';
import { judgeSiteDriver, judgeSiteOs, type SiteSample } from './gpu-site-rules.ts';
import { judgeHostnames } from './rules.ts';

/** Checks that measure between nodes at run time: no per-node report can stand in. */
const LIVE_ONLY = new Set(['site.port-matrix', 'site.clock-skew']);

export interface MergedSiteResult {
  check: SiteCheckDef;
  judgements: Judgement[];
}

type Facts = Record<string, unknown>;

function factsOf(results: CheckResult[], id: string): Map<string, { status: string; facts: Facts }> {
  return new Map(results.filter((r) => r.id === id).map((r) => [r.node, { status: r.status, facts: r.facts }]));
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** Per GPU node: "<os id> <version>, kernel <release>", from os.release and kernel.version. */
function osSamples(results: CheckResult[], gpuNodes: NodeInfo[]): SiteSample[] {
  const os = factsOf(results, 'os.release');
  const kernel = factsOf(results, 'kernel.version');
  return gpuNodes.map((n) => {
    const o = os.get(n.name)?.facts;
    const release = str(kernel.get(n.name)?.facts.release);
    if (!o || !str(o.id)) return { node: n.name, error: 'no os.release result in its report' };
    if (!release) return { node: n.name, error: 'no kernel.version result in its report' };
    return { node: n.name, value: `${str(o.id)} ${str(o.versionId) ?? ''}`.trim() + `, kernel ${release}` };
  });
}

/** Per GPU node: the loaded driver's version, from gpu.driver. */
function driverSamples(results: CheckResult[], gpuNodes: NodeInfo[]): SiteSample[] {
  const driver = factsOf(results, 'gpu.driver');
  return gpuNodes.map((n) => {
    const f = driver.get(n.name)?.facts;
    if (!f) return { node: n.name, error: 'no gpu.driver result in its report' };
    const module = (f.module ?? {}) as Facts;
    const version = str(module.version) ?? str(((f.smi ?? {}) as Facts).driverVersion);
    return version ? { node: n.name, value: version } : { node: n.name, error: module.loaded ? 'driver version unreadable' : 'no NVIDIA driver loaded' };
  });
}

export function judgeMergedSite(siteChecks: SiteCheckDef[], results: CheckResult[], nodes: NodeInfo[], profile: Profile): MergedSiteResult[] {
  const gpuNodes = nodes.filter((n) => nodeNeedsGpu(profile, n.roles));
  return siteChecks.map((check): MergedSiteResult => {
    switch (check.id) {
      case 'site.hostnames': {
        const hn = factsOf(results, 'os.hostname');
        const samples = nodes.map((n) => {
          const h = str(hn.get(n.name)?.facts.hostname);
          return h ? { node: n.name, hostname: h } : { node: n.name, error: 'no os.hostname result in its report' };
        });
        return { check, judgements: judgeHostnames(samples) };
      }
      case 'gpu.site.os':
        return { check, judgements: judgeSiteOs(osSamples(results, gpuNodes)) };
      case 'gpu.site.driver':
        return { check, judgements: judgeSiteDriver(driverSamples(results, gpuNodes), profile) };
      default: {
        const message = LIVE_ONLY.has(check.id)
          ? 'not checked: it probes between the nodes at run time, which per-node reports cannot tell; run astrago-check --site site.yaml from one machine for it'
          : 'not checked: the per-node reports do not carry the facts it compares';
        return { check, judgements: [{ status: 'skip', message, facts: { merged: true } }] };
      }
    }
  });
}
