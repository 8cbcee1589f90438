// Fills a checklist workbook the way a customer would, cell by cell (exceljs, as a
// spreadsheet program writes cells: strings, numbers, hyperlinks, rich text).
import { execFileSync } from 'node:child_process';
import ExcelJS from 'exceljs';

export type Fill = Record<string, Record<string, ExcelJS.CellValue>>;

/** Sets `cells` ({sheet: {A1: value}}) in the workbook `data` and returns the new file. */
export async function fillWorkbook(data: Buffer, cells: Fill, edit?: (wb: ExcelJS.Workbook) => void): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(data as unknown as ExcelJS.Buffer);
  for (const [sheet, values] of Object.entries(cells)) {
    const ws = wb.getWorksheet(sheet);
    if (!ws) throw new Error(`no sheet ${sheet}`);
    for (const [addr, v] of Object.entries(values)) ws.getCell(addr).value = v;
  }
  edit?.(wb);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** The row of a key on a key/value sheet (column A), e.g. rowOf(wb, 'Network', 'network.podCidr'). */
export async function keyRows(data: Buffer, sheet: string): Promise<Record<string, number>> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(data as unknown as ExcelJS.Buffer);
  const ws = wb.getWorksheet(sheet)!;
  const out: Record<string, number> = {};
  ws.eachRow((row, n) => {
    const v = row.getCell(1).value;
    if (typeof v === 'string' && /^[a-z]\w*\.\w/.test(v)) out[v] = n;
  });
  return out;
}

/** A form as a customer fills it: typed text, numbers, a hyperlink Excel made of a URL, rich text. */
export async function filledForm(form: Buffer, lang: 'en' | 'ko') {
  const net = await keyRows(form, 'Network');
  const reg = await keyRows(form, 'Registry');
  const res = await keyRows(form, 'Resources');
  const sto = await keyRows(form, 'Storage');
  return fillWorkbook(form, {
    Site: { B5: 'acme-lab' },
    Nodes: {
      A3: 'master-1', B3: '192.168.10.11', C3: 'control-plane', D3: 'astrago', E3: 22, F3: '~/.ssh/id_ed25519', J3: './known_hosts', K3: 'yes',
      A4: 'gpu-1', B4: '192.168.10.21', C4: 'worker, gpu-worker', D4: { richText: [{ text: 'astr' }, { text: 'ago', font: { bold: true } }] }, E4: '2222', H4: 'GPU1_SSH_PASSWORD', K4: 'no',
    },
    Network: {
      [`B${net['network.proxy.http']}`]: { text: 'http://proxy.acme.local:3128', hyperlink: 'http://proxy.acme.local:3128' },
      [`B${net['network.proxy.noProxy']}`]: 'localhost, 127.0.0.1,.svc ; .cluster.local\n.acme.local',
      [`B${net['network.podCidr']}`]: '10.233.64.0/18',
      [`B${net['network.dns']}`]: '192.168.10.2, 192.168.10.3',
      [`B${net['network.targets']}`]: 'git.acme.local:443',
    },
    Registry: {
      [`B${reg['registry.url']}`]: 'https://harbor.acme.local',
      [`B${reg['registry.username']}`]: 'robot$astrago',
      [`B${reg['registry.passwordEnv']}`]: 'HARBOR_PASSWORD',
      [`B${reg['registry.insecure']}`]: lang === 'ko' ? '아니오' : 'no',
    },
    Resources: { [`B${res['resources.gpusPerNode']}`]: 8, [`B${res['resources.gpuModel']}`]: 'NVIDIA A100 80GB' },
    Storage: { [`B${sto['storage.nfs.server']}`]: '192.168.10.5', [`B${sto['storage.nfs.path']}`]: '/export/astrago' },
  });
}

export const EXPECTED_SITE = {
  apiVersion: 'astrago.io/v1',
  kind: 'Site',
  metadata: { name: 'acme-lab' },
  network: {
    proxy: { http: 'http://proxy.acme.local:3128', noProxy: ['localhost', '127.0.0.1', '.svc', '.cluster.local', '.acme.local'] },
    podCidr: '10.233.64.0/18',
    dns: ['192.168.10.2', '192.168.10.3'],
    targets: ['git.acme.local:443'],
  },
  registry: { url: 'https://harbor.acme.local', username: 'robot$astrago', passwordEnv: 'HARBOR_PASSWORD', insecure: false },
  resources: { gpusPerNode: 8, gpuModel: 'NVIDIA A100 80GB' },
  storage: { nfs: { server: '192.168.10.5', path: '/export/astrago' } },
  nodes: [
    { name: 'master-1', address: '192.168.10.11', roles: ['control-plane'], ssh: { user: 'astrago', port: 22, keyFile: '~/.ssh/id_ed25519', knownHostsFile: './known_hosts', sudo: true } },
    { name: 'gpu-1', address: '192.168.10.21', roles: ['worker', 'gpu-worker'], ssh: { user: 'astrago', port: 2222, passwordEnv: 'GPU1_SSH_PASSWORD', sudo: false } },
  ],
};


/** The workbook's parts as stored, read by Python's zipfile and XML parser (not by exceljs). */
export function xlsxParts(data: Buffer): { sheets: { name: string; state: string; xml: string; validations: { type: string; sqref: string; formula: string }[] }[] } {
  const script = `
import sys, io, json, zipfile, xml.etree.ElementTree as ET
ns = {'m': 'http://schemas.openxmlformats.org/spreadsheetml/2006/main', 'r': 'http://schemas.openxmlformats.org/officeDocument/2006/relationships'}
z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))
wb = ET.fromstring(z.read('xl/workbook.xml'))
rels = {r.get('Id'): r.get('Target') for r in ET.fromstring(z.read('xl/_rels/workbook.xml.rels'))}
out = []
for s in wb.find('m:sheets', ns):
    target = rels[s.get('{%s}id' % ns['r'])].lstrip('/')
    xml = z.read(target if target.startswith('xl/') else 'xl/' + target).decode()
    ws = ET.fromstring(xml)
    vals = [{'type': v.get('type'), 'sqref': v.get('sqref'), 'formula': (v.findtext('m:formula1', '', ns))} for v in ws.iter('{%s}dataValidation' % ns['m'])]
    out.append({'name': s.get('name'), 'state': s.get('state') or 'visible', 'xml': xml, 'validations': vals})
print(json.dumps({'sheets': out}))`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: data, encoding: 'utf8', maxBuffer: 64 << 20 }));
}

