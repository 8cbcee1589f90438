// `nvidia-smi -q -x`: NVIDIA's XML report (root nvidia_smi_log, DTD nvsmi_device_vNN.dtd),
// reduced to the fields the GPU rules judge. Pure. A document that is not well-formed
// XML (cut short by a timeout, a full disk, a crash) or is not nvidia-smi's throws
// SmiXmlError: a rule must never pass on a half-read report.
// fast-xml-parser loads on first use: only GPU nodes with a driver need it, and every
// other command of the binary would pay its start-up cost.
type Fxp = typeof import('fast-xml-parser');
let fxp: Promise<{ lib: Fxp; parser: InstanceType<Fxp['XMLParser']> }> | undefined;
const loadParser = () =>
  (fxp ??= import('fast-xml-parser').then((lib) => ({
    lib,
    parser: new lib.XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@',
      parseTagValue: false, // "0000" and "550.90.07" stay strings
      trimValues: true,
      processEntities: true,
      isArray: (_name, path) => path === 'nvidia_smi_log.gpu',
    }),
  })));

export class SmiXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmiXmlError';
  }
}

export interface SmiGpu {
  /** e.g. 00000000:18:00.0 */
  busId: string;
  name: string;
  uuid?: string;
  architecture?: string;
  /** Enabled | Disabled | N/A, as nvidia-smi prints it. */
  persistenceMode?: string;
  mig: { current?: string; pending?: string };
  ecc: { current?: string; pending?: string };
  /** Page retirement (before Ampere); numbers, or undefined where N/A. */
  retiredPages: { singleBit?: number; doubleBit?: number; pendingBlacklist?: string; pendingRetirement?: string };
  /** Row remapping (Ampere and later). */
  remappedRows: { correctable?: number; uncorrectable?: number; pending?: string; failure?: string };
  resetRequired?: string;
  /** NVLink fabric registration (NVSwitch systems, R525 and later). */
  fabric?: { state?: string; status?: string };
}

export interface SmiReport {
  driverVersion?: string;
  cudaVersion?: string;
  attachedGpus?: number;
  gpus: SmiGpu[];
}

type Node = Record<string, unknown>;

/** A field's text, or undefined when absent or not applicable. */
function text(n: unknown, ...path: string[]): string | undefined {
  let cur: unknown = n;
  for (const p of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Node)[p];
  }
  if (typeof cur !== 'string') return undefined;
  const v = cur.trim();
  return v === '' || /^\[?N\/A\]?$/i.test(v) || /^Not Supported$/i.test(v) ? undefined : v;
}

function count(n: unknown, ...path: string[]): number | undefined {
  const v = text(n, ...path);
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

function gpuOf(g: Node, i: number): SmiGpu {
  const busId = (typeof g['@id'] === 'string' ? g['@id'] : undefined) ?? text(g, 'pci', 'pci_bus_id');
  const name = text(g, 'product_name');
  if (!busId || !name) throw new SmiXmlError(`gpu #${i + 1} has no ${busId ? 'product_name' : 'id or pci_bus_id'}`);
  const fabricState = text(g, 'fabric', 'state');
  return {
    busId,
    name,
    uuid: text(g, 'uuid'),
    architecture: text(g, 'product_architecture'),
    persistenceMode: text(g, 'persistence_mode'),
    mig: { current: text(g, 'mig_mode', 'current_mig'), pending: text(g, 'mig_mode', 'pending_mig') },
    ecc: { current: text(g, 'ecc_mode', 'current_ecc'), pending: text(g, 'ecc_mode', 'pending_ecc') },
    retiredPages: {
      singleBit: count(g, 'retired_pages', 'multiple_single_bit_retirement', 'retired_count'),
      doubleBit: count(g, 'retired_pages', 'double_bit_retirement', 'retired_count'),
      pendingBlacklist: text(g, 'retired_pages', 'pending_blacklist'),
      pendingRetirement: text(g, 'retired_pages', 'pending_retirement'),
    },
    remappedRows: {
      correctable: count(g, 'remapped_rows', 'remapped_row_corr'),
      uncorrectable: count(g, 'remapped_rows', 'remapped_row_unc'),
      pending: text(g, 'remapped_rows', 'remapped_row_pending'),
      failure: text(g, 'remapped_rows', 'remapped_row_failure'),
    },
    resetRequired: text(g, 'gpu_reset_status', 'reset_required'),
    fabric: fabricState ? { state: fabricState, status: text(g, 'fabric', 'status') } : undefined,
  };
}

export async function parseSmiXml(xml: string): Promise<SmiReport> {
  if (!xml.trim()) throw new SmiXmlError('empty output');
  const { lib, parser } = await loadParser();
  const valid = lib.XMLValidator.validate(xml);
  if (valid !== true) throw new SmiXmlError(`not well-formed XML (line ${valid.err.line}, column ${valid.err.col}): ${valid.err.msg}`);
  const doc = parser.parse(xml) as Node;
  const log = doc['nvidia_smi_log'];
  if (!log || typeof log !== 'object') throw new SmiXmlError('no <nvidia_smi_log> element: not the output of nvidia-smi -q -x');
  const gpus = ((log as Node)['gpu'] as Node[] | undefined) ?? [];
  const attached = count(log, 'attached_gpus');
  if (attached !== undefined && attached !== gpus.length) {
    throw new SmiXmlError(`attached_gpus says ${attached} but the document describes ${gpus.length}`);
  }
  return {
    driverVersion: text(log, 'driver_version'),
    cudaVersion: text(log, 'cuda_version'),
    attachedGpus: attached,
    gpus: gpus.map((g, i) => gpuOf(typeof g === 'object' && g ? g : {}, i)),
  };
}
