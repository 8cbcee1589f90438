// The blank customer checklist: a commented site.yaml skeleton whose example
// values validate as they stand, or a Markdown form asking for the values field by
// field (the catalogue the workbook form reads too) with an empty answer column.
import type { Category, Lang } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import { CATEGORY_SHEETS, NODE_FIELDS, SITE_SHEET, type Field } from './checklist-fields.ts';
import { CATEGORY_ORDER, labels } from './i18n.ts';

type T = { en: string; ko: string };
/** One line of the skeleton: YAML text (indented) and an optional comment. */
type Line = [yaml: string, comment?: T] | { comment: T } | { blank: true } | { items: Category[] };

const SECTIONS: Line[] = [
  ['apiVersion: astrago.io/v1'],
  ['kind: Site'],
  ['metadata:'],
  ['  name: acme-lab', { en: 'short site name, shown in every report', ko: '사이트 이름 (모든 보고서에 표시)' }],
  { blank: true },
  { comment: { en: '--- Nodes: one entry per server of the cluster', ko: '--- 노드: 클러스터의 서버마다 하나씩' } },
  { items: ['accounts', 'security', 'os'] },
  { comment: { en: 'An empty list (nodes: []) checks only the machine the tool runs on.', ko: '빈 목록(nodes: [])이면 도구를 실행한 이 서버만 점검합니다.' } },
  ['nodes:'],
  ['  - name: master-1', { en: 'node name: its hostname, lowercase (RFC 1123)', ko: '노드 이름: 호스트 이름, 소문자 (RFC 1123)' }],
  ['    address: 192.168.10.11', { en: 'IP address or DNS name the tool connects to', ko: '접속할 IP 주소 또는 DNS 이름' }],
  ['    roles: [control-plane]', { en: 'control-plane | worker | gpu-worker (one or more)', ko: 'control-plane | worker | gpu-worker (하나 이상)' }],
  ['    ssh:'],
  ['      user: astrago', { en: 'SSH user (default: the current user)', ko: 'SSH 사용자 (기본값: 현재 사용자)' }],
  ['      port: 22', { en: 'SSH port', ko: 'SSH 포트' }],
  ['      keyFile: ~/.ssh/id_ed25519', { en: 'private key file', ko: '개인 키 파일' }],
  ['      passphraseEnv: SSH_KEY_PASSPHRASE', { en: 'environment variable holding the key passphrase (if it has one)', ko: '키 암호를 담은 환경 변수 (암호가 있을 때)' }],
  ['      passwordEnv: SSH_PASSWORD', { en: 'or password login: environment variable holding the password', ko: '또는 비밀번호 로그인: 비밀번호를 담은 환경 변수' }],
  ['      passwordFile: ./ssh-password.txt', { en: '... or a file holding it (keep one of the two)', ko: '... 또는 비밀번호 파일 (둘 중 하나만 남기십시오)' }],
  ['      knownHostsFile: ./known_hosts', { en: 'known_hosts file (default ~/.ssh/known_hosts)', ko: 'known_hosts 파일 (기본값 ~/.ssh/known_hosts)' }],
  ['      sudo: true', { en: 'run root-only checks with sudo -n (passwordless sudo)', ko: 'root 권한 점검을 sudo -n 으로 실행 (비밀번호 없는 sudo)' }],
  ['      proxyJump: [astrago@bastion.acme.local:22]', { en: 'jump hosts to reach this node through, in order (as OpenSSH ProxyJump; delete if none)', ko: '이 노드에 접속할 때 거치는 점프 호스트, 순서대로 (OpenSSH ProxyJump; 없으면 삭제)' }],
  ['  - name: gpu-1'],
  ['    address: 192.168.10.21'],
  ['    roles: [worker, gpu-worker]'],
  ['    ssh: {user: astrago, keyFile: ~/.ssh/id_ed25519}'],
  ['ssh:', { en: 'SSH settings for every node (a node\'s own ssh settings win)', ko: '모든 노드의 SSH 설정 (노드의 ssh 설정이 우선)' }],
  ['  proxyJump: [astrago@bastion.acme.local:22]', { en: 'jump hosts for every node, in order (delete if none)', ko: '모든 노드의 점프 호스트, 순서대로 (없으면 삭제)' }],
  { blank: true },
  { comment: { en: '--- Network', ko: '--- 네트워크' } },
  { items: ['network'] },
  ['network:'],
  ['  proxy:', { en: 'delete the whole proxy block when there is no proxy', ko: '프록시가 없으면 proxy 블록 전체를 삭제' }],
  ['    http: http://proxy.acme.local:3128', { en: 'HTTP proxy URL; a user goes in the URL (http://USER@host:port), never the password', ko: 'HTTP 프록시 URL; 사용자는 URL에 (http://USER@host:port), 비밀번호는 넣지 않음' }],
  ['    https: http://proxy.acme.local:3128', { en: 'HTTPS proxy URL', ko: 'HTTPS 프록시 URL' }],
  ['    noProxy: [localhost, 127.0.0.1, .svc, .cluster.local, .acme.local]', { en: 'hosts and domains reached without the proxy', ko: '프록시를 거치지 않는 호스트와 도메인' }],
  ['    passwordEnv: PROXY_PASSWORD', { en: 'environment variable holding the proxy password', ko: '프록시 비밀번호를 담은 환경 변수' }],
  ['  podCidr: 10.233.64.0/18', { en: 'pod network; must not overlap the node or service networks', ko: '파드 네트워크; 노드/서비스 네트워크와 겹치면 안 됨' }],
  ['  serviceCidr: 10.233.0.0/18', { en: 'service network', ko: '서비스 네트워크' }],
  ['  dns: [192.168.10.2]', { en: 'DNS servers the nodes use', ko: '노드가 사용하는 DNS 서버' }],
  ['  ntp: [ntp.acme.local]', { en: 'NTP servers', ko: 'NTP 서버' }],
  ['  targets: ["git.acme.local:443"]', { en: 'other host:port endpoints the nodes must reach', ko: '노드가 연결할 수 있어야 하는 기타 host:port' }],
  { blank: true },
  { comment: { en: '--- Container registry (e.g. Harbor) inside the site', ko: '--- 사이트 내부 컨테이너 레지스트리 (예: Harbor)' } },
  { items: ['registry'] },
  ['registry:'],
  ['  url: https://harbor.acme.local', { en: 'registry URL', ko: '레지스트리 URL' }],
  ['  caFile: ./harbor-ca.pem', { en: 'CA certificate (PEM) that signed its TLS certificate', ko: 'TLS 인증서를 서명한 CA 인증서 (PEM)' }],
  ['  username: robot$astrago', { en: 'user or robot account', ko: '사용자 또는 로봇 계정' }],
  ['  passwordEnv: HARBOR_PASSWORD', { en: 'environment variable holding the password', ko: '비밀번호를 담은 환경 변수' }],
  ['  passwordFile: ./harbor-password.txt', { en: '... or a file holding it (keep one of the two)', ko: '... 또는 비밀번호 파일 (둘 중 하나만 남기십시오)' }],
  ['  insecure: false', { en: 'true only for a registry without TLS', ko: 'TLS 없는 레지스트리일 때만 true' }],
  ['  mirrors: [docker.io, quay.io, nvcr.io, registry.k8s.io]', { en: 'registries the nodes pull from this one (containerd hosts.toml)', ko: '노드가 이 레지스트리를 통해 받는 원본 레지스트리 (containerd hosts.toml)' }],
  { blank: true },
  { comment: { en: '--- Storage', ko: '--- 스토리지' } },
  { items: ['storage'] },
  ['storage:'],
  ['  nfs: {server: 192.168.10.5, path: /export/astrago}', { en: 'NFS export for persistent volumes', ko: '영구 볼륨용 NFS 익스포트' }],
  { blank: true },
  { comment: { en: '--- Resources', ko: '--- 자원' } },
  { items: ['resources'] },
  ['resources:'],
  ['  gpusPerNode: 8', { en: 'GPUs in each GPU node', ko: 'GPU 노드당 GPU 수' }],
  ['  gpuModel: NVIDIA A100 80GB', { en: 'GPU model', ko: 'GPU 모델' }],
];

const HEADER: T[] = [
  { en: 'Astrago customer information checklist: the site file (kind Site).', ko: 'Astrago 고객 정보 체크리스트: 사이트 파일 (kind Site).' },
  { en: 'Replace every example value, delete what does not apply, then run:', ko: '예시 값을 모두 실제 값으로 바꾸고, 해당 없는 항목은 삭제한 뒤 실행하십시오:' },
  { en: '  astrago-check --site site.yaml', ko: '  astrago-check --site site.yaml' },
  { en: 'Secrets never go in this file: name the environment variable (passwordEnv,', ko: '비밀번호 등 비밀 값은 이 파일에 쓰지 않습니다: 값을 담은 환경 변수' },
  { en: 'passphraseEnv) or the file (passwordFile, keyFile) that holds them.', ko: '(passwordEnv, passphraseEnv) 또는 파일(passwordFile, keyFile)을 지정하십시오.' },
  { en: 'Schema for editors: astrago-check schema site', ko: '편집기용 스키마: astrago-check schema site' },
];

function itemComments(profile: Profile, categories: Category[], lang: Lang): string[] {
  const L = labels(lang);
  return profile.checklist
    .filter((c) => categories.includes(c.category))
    .map((c) => `#   ${c.id}  ${c.title[lang]}${c.checks.length ? `  (${L.verifiedBy}: ${c.checks.join(', ')})` : ''}`);
}

/** The commented site.yaml skeleton. Its example values validate against the Site schema. */
export function checklistYaml(profile: Profile, lang: Lang): string {
  const out: string[] = HEADER.map((h) => `# ${h[lang]}`);
  out.push('');
  SECTIONS.forEach((line, i) => {
    if (Array.isArray(line)) {
      const [code, comment] = line;
      out.push(comment ? `${code.padEnd(Math.max(commentColumn(i), code.length + 2))}# ${comment[lang]}` : code);
    } else if ('blank' in line) out.push('');
    else if ('comment' in line) out.push(`# ${line.comment[lang]}`);
    else out.push(...itemComments(profile, line.items, lang));
  });
  return out.join('\n') + '\n';
}

/** Comments line up within a block of YAML lines; very long lines do not push the whole block right. */
function commentColumn(index: number): number {
  let start = index;
  while (start > 0 && Array.isArray(SECTIONS[start - 1])) start--;
  let end = index;
  while (end + 1 < SECTIONS.length && Array.isArray(SECTIONS[end + 1])) end++;
  const lengths = (SECTIONS.slice(start, end + 1) as [string][]).map(([code]) => code.length).filter((n) => n <= 40);
  return Math.max(0, ...lengths) + 2;
}

const esc = (s: string) => s.replace(/\|/g, '\\|');

/** A table of the values a part of the site file needs (the fields of the workbook form), with an empty answer column. */
function valuesTable(fields: readonly Field[], lang: Lang): string[] {
  const L = labels(lang);
  const head = lang === 'ko' ? ['사이트 파일 항목', '질문', '예시'] : ['Site file field', 'Question', 'Example'];
  const out = [`| ${head.join(' | ')} | ${L.answer} |`, '|---|---|---|---|'];
  for (const f of fields) out.push(`| \`${f.key}\` | ${esc(f.help[lang])} | \`${esc(f.example)}\` | |`);
  return [...out, ''];
}

/**
 * The Markdown form: the site name, a node inventory, then per category the values to give
 * (the same fields as the workbook form: registry URL, its CA, proxy, CIDRs, NFS export, ...)
 * and the checklist items the preflight verifies with them.
 */
export function checklistMarkdown(profile: Profile, lang: Lang): string {
  const L = labels(lang);
  const out: string[] = [`# ${L.checklistTitle}`, '', L.checklistIntro, '', ...valuesTable(SITE_SHEET.fields, lang)];
  out.push(`## ${L.nodes}`, '');
  const cols = lang === 'ko' ? ['이름 (호스트 이름)', '주소', '역할', 'SSH 사용자', 'SSH 포트', '키 파일 / 비밀번호 변수', 'sudo'] : ['Name (its hostname)', 'Address', 'Roles', 'SSH user', 'SSH port', 'Key file / password variable', 'sudo'];
  out.push(`| ${cols.join(' | ')} |`, `|${'---|'.repeat(cols.length)}`);
  for (let i = 0; i < 3; i++) out.push(`|${' |'.repeat(cols.length)}`);
  out.push('', ...NODE_FIELDS.map((f) => `- \`nodes[].${f.key}\`: ${f.help[lang]} (${lang === 'ko' ? '예' : 'e.g.'} \`${f.example}\`)`), '');
  for (const category of CATEGORY_ORDER) {
    const items = profile.checklist.filter((c) => c.category === category);
    const sheet = CATEGORY_SHEETS.find((s) => s.category === category);
    if (!items.length && !sheet?.fields.length) continue;
    out.push(`## ${L.category[category]}`, '');
    if (sheet?.fields.length) out.push(...valuesTable(sheet.fields, lang));
    if (sheet?.note) out.push(sheet.note[lang], '');
    if (items.length) {
      out.push(`| ID | ${L.checklistItem} | ${lang === 'ko' ? '점검' : 'Verified by'} |`, '|---|---|---|');
      for (const item of items) out.push(`| ${item.id} | ${esc(item.title[lang])} | ${item.checks.map((c) => `\`${c}\``).join(', ')} |`);
      out.push('');
    }
  }
  return out.join('\n');
}
