// GPU site checks: facts from every reached GPU node (through the same readers as the
// node checks, so what those read is reused), judged by gpu-site-rules.ts.
import { UnreachableHost } from '../../hosts/ssh/unreachable.ts';
import { nodeNeedsGpu } from '../../roles.ts';
import { defineSiteCheck, type Host, type ProbeContext, type SiteCheckContext } from '../../types.ts';
import { pciOf, rdmaOf } from '../gpu/checks.ts';
import { kernelRelease, readNodeOs, readNvidiaModule } from '../gpu/facts/node.ts';
import { pciId } from '../gpu/facts/pci.ts';
import { readSmi } from '../gpu/facts/smi.ts';
import { nvidiaGpus } from '../gpu/rules/devices.ts';
import { judgeSiteDriver, judgeSiteModel, judgeSiteOs, judgeSiteRdmaRate, type SiteSample } from './gpu-site-rules.ts';

/** One value per GPU node: `measure` on each reached one at once; unreachable ones say so. */
async function sampleGpuNodes(ctx: SiteCheckContext, measure: (p: ProbeContext) => Promise<Omit<SiteSample, 'node'>>): Promise<SiteSample[]> {
  const gpuNodes = ctx.nodes.filter((n) => nodeNeedsGpu(ctx.profile, n.info.roles));
  return Promise.all(
    gpuNodes.map(async ({ info, host }): Promise<SiteSample> => {
      if (!host || host instanceof UnreachableHost) return { node: info.name, error: 'node unreachable' };
      const p: ProbeContext = { host: host as Host, node: info, profile: ctx.profile, site: ctx.site, isRoot: false, lang: ctx.lang, signal: ctx.signal, timeoutMs: ctx.timeoutMs, env: process.env };
      try {
        return { node: info.name, ...(await measure(p)) };
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        return { node: info.name, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

export const siteGpuDriverCheck = defineSiteCheck<{ samples: SiteSample[] }>({
  id: 'gpu.site.driver',
  category: 'resources',
  title: 'One NVIDIA driver version on all GPU nodes',
  async probe(ctx) {
    return {
      samples: await sampleGpuNodes(ctx, async (p) => {
        const m = await readNvidiaModule(p);
        if (m.version) return { value: m.version };
        const smi = await readSmi(p);
        if (smi.state === 'ok' && smi.report.driverVersion) return { value: smi.report.driverVersion };
        return { error: m.loaded ? 'driver version unreadable' : 'no NVIDIA driver loaded' };
      }),
    };
  },
  judge: (f, ctx) => judgeSiteDriver(f.samples, ctx.profile),
});

export const siteGpuOsCheck = defineSiteCheck<{ samples: SiteSample[] }>({
  id: 'gpu.site.os',
  category: 'os',
  title: 'One OS release and kernel on all GPU nodes',
  async probe(ctx) {
    return {
      samples: await sampleGpuNodes(ctx, async (p) => {
        const [os, kernel] = await Promise.all([readNodeOs(p), kernelRelease(p)]);
        if (!os.id || !kernel) return { error: !kernel ? 'kernel release unreadable' : 'no /etc/os-release' };
        return { value: `${os.id} ${os.versionId ?? ''}`.trim() + `, kernel ${kernel}` };
      }),
    };
  },
  judge: (f) => judgeSiteOs(f.samples),
});

/** Per node: what nvidia-smi names, or (before a driver) the PCI ids. */
export interface ModelSample {
  node: string;
  smi?: string;
  pci?: string;
  error?: string;
}

/** nvidia-smi's names where every node has them; PCI ids otherwise, so like is compared with like. */
export function modelSamples(raw: ModelSample[]): SiteSample[] {
  const read = raw.filter((r) => !r.error);
  const useSmi = read.length > 0 && read.every((r) => r.smi);
  return raw.map((r) => (r.error ? { node: r.node, error: r.error } : { node: r.node, value: useSmi ? r.smi : r.pci }));
}

export const siteGpuModelCheck = defineSiteCheck<{ samples: SiteSample[]; raw: ModelSample[] }>({
  id: 'gpu.site.model',
  category: 'resources',
  title: 'One GPU model and count on all GPU nodes',
  async probe(ctx) {
    const raw = (await sampleGpuNodes(ctx, async (p) => {
      const [smi, pci] = await Promise.all([readSmi(p), pciOf(p)]);
      const gpus = nvidiaGpus(pci);
      const ids = [...new Set(gpus.map(pciId))].join(' + ');
      const names = smi.state === 'ok' ? [...new Set(smi.report.gpus.map((g) => g.name))].join(' + ') : '';
      return {
        smi: smi.state === 'ok' ? `${smi.report.gpus.length} × ${names || 'no GPU'}` : undefined,
        pci: pci.readable ? `${gpus.length} × PCI ${ids || 'no GPU'}` : undefined,
        error: !pci.readable && smi.state !== 'ok' ? 'neither nvidia-smi nor /sys/bus/pci readable' : undefined,
      } as Omit<SiteSample, 'node'>;
    })) as ModelSample[];
    return { raw, samples: modelSamples(raw) };
  },
  judge: (f) => judgeSiteModel(f.samples),
});

export const siteRdmaRateCheck = defineSiteCheck<{ samples: SiteSample[] }>({
  id: 'rdma.site.rate',
  category: 'network',
  title: 'One RDMA port rate on all GPU nodes',
  async probe(ctx) {
    return {
      samples: await sampleGpuNodes(ctx, async (p) => {
        const r = await rdmaOf(p);
        const rates = [...new Set(r.ports.filter((x) => x.state === 'ACTIVE').map((x) => x.rate ?? '?'))].sort();
        return rates.length ? { value: rates.join(' + ') } : { error: r.hcas.length ? 'no ACTIVE port' : 'no HCA' };
      }),
    };
  },
  judge: (f, ctx) => judgeSiteRdmaRate(f.samples, ctx.profile),
});

export const gpuSiteCheckList = [siteGpuDriverCheck, siteGpuOsCheck, siteGpuModelCheck, siteRdmaRateCheck];
