// os.hostname: Kubernetes node names must be RFC 1123 subdomains: lowercase
// letters, digits and '-', labels of 1-63 characters that start and end with
// an alphanumeric, at most 253 characters in all.
import { defineCheck, type Judgement } from '../../types.ts';

export interface HostnameFacts {
  hostname: string;
}

export function hostnameProblems(name: string): string[] {
  const problems: string[] = [];
  if (name.length === 0) return ['it is empty'];
  if (name.length > 253) problems.push(`it is ${name.length} characters long (max 253)`);
  if (/[A-Z]/.test(name)) problems.push('it has uppercase letters');
  const labels = name.split('.');
  for (const label of labels) {
    if (label.length === 0) problems.push('it has an empty label (leading, trailing or double dot)');
    else if (label.length > 63) problems.push(`label '${label.slice(0, 20)}…' is ${label.length} characters long (max 63)`);
    if (/[^A-Za-z0-9.-]/.test(label)) problems.push(`label '${label}' has characters other than a-z, 0-9 and '-'`);
    else if (/^-|-$/.test(label)) problems.push(`label '${label}' starts or ends with '-'`);
  }
  return [...new Set(problems)];
}

/** A valid name close to the given one, for the remediation command. */
export function suggestHostname(name: string): string {
  const s = name
    .toLowerCase()
    .split('.')
    .map((l) => l.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63))
    .filter(Boolean)
    .join('.')
    .slice(0, 253);
  return s || 'node-1';
}

/**
 * `nodeName`: the node's name in the site file. The skeleton says a node's name is its
 * hostname; kubelet registers the node under the hostname, so a difference means the
 * cluster will not know the node by the name the site file (and this report) use.
 */
export function judgeHostname(f: HostnameFacts, nodeName?: string): Judgement {
  const problems = hostnameProblems(f.hostname);
  if (problems.length > 0) {
    return {
      status: 'fail',
      message: `hostname '${f.hostname}' is not a valid Kubernetes node name: ${problems.join('; ')}`,
      facts: { ...f, problems },
      remediation: `sudo hostnamectl set-hostname ${suggestHostname(f.hostname)}`,
    };
  }
  if (f.hostname === 'localhost' || f.hostname.startsWith('localhost.')) {
    return {
      status: 'warn',
      message: `hostname '${f.hostname}' is not unique across nodes`,
      facts: { ...f },
      remediation: 'sudo hostnamectl set-hostname <node-name-from-the-site-file>',
    };
  }
  if (nodeName !== undefined && nodeName !== f.hostname) {
    const valid = hostnameProblems(nodeName).length === 0;
    return {
      status: 'warn',
      message: `hostname '${f.hostname}' differs from the node name '${nodeName}' in the site file: Kubernetes will register this node as '${f.hostname}'`,
      facts: { ...f, nodeName },
      remediation: valid
        ? `sudo hostnamectl set-hostname ${nodeName} on the node, or name it '${f.hostname}' in the site file`
        : `name the node '${f.hostname}' in the site file`,
    };
  }
  return { status: 'pass', message: `hostname '${f.hostname}' is a valid node name${nodeName !== undefined ? ' and matches the site file' : ''}`, facts: { ...f } };
}

export const hostnameCheck = defineCheck<HostnameFacts>({
  id: 'os.hostname',
  category: 'network',
  title: 'Hostname is a valid node name',
  gather: () => ({ files: ['/proc/sys/kernel/hostname'] }),
  async probe({ host, signal }) {
    const fromProc = await host.readFile('/proc/sys/kernel/hostname', { signal });
    if (fromProc !== null) return { hostname: fromProc.trim() };
    const r = await host.exec(['hostname'], { signal });
    if (r.code !== 0) throw new Error(`cannot read the hostname: ${r.stderr.trim() || `hostname exited ${r.code}`}`);
    return { hostname: r.stdout.trim() };
  },
  // A node of the site file is held to its name there; this machine without a site entry is not.
  judge: (f, ctx) => judgeHostname(f, ctx.site?.nodes?.some((n) => n.name === ctx.node.name) ? ctx.node.name : undefined),
});
