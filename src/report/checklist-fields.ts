// The answers a customer gives, field by field: where each goes in the site
// file, what kind of value it takes, and a line of help in each language.
// The workbook form and its import read this one catalogue.
import type { Category } from '../schema/common.ts';

export type T = { en: string; ko: string };

/** How a cell's text becomes a site-file value. */
export type FieldKind = 'text' | 'int' | 'port' | 'bool' | 'roles' | 'list';

export interface Field {
  /** Dotted path: relative to a node for node fields, to the site for the others. */
  key: string;
  kind: FieldKind;
  help: T;
  example: string;
  /** The value names where a secret is kept (a variable or file name), never the secret. */
  secretRef?: boolean;
  required?: boolean;
}

/** Columns of the Nodes sheet, one node a row. */
export const NODE_FIELDS: readonly Field[] = [
  { key: 'name', kind: 'text', required: true, example: 'master-1', help: { en: 'node name: its hostname, lowercase (RFC 1123)', ko: '노드 이름: 호스트 이름, 소문자 (RFC 1123)' } },
  { key: 'address', kind: 'text', required: true, example: '192.168.10.11', help: { en: 'IP address or DNS name the tool connects to', ko: '접속할 IP 주소 또는 DNS 이름' } },
  { key: 'roles', kind: 'roles', required: true, example: 'worker, gpu-worker', help: { en: 'control-plane | worker | gpu-worker (one or more, from the list)', ko: 'control-plane | worker | gpu-worker (하나 이상, 목록에서 선택)' } },
  { key: 'ssh.user', kind: 'text', example: 'astrago', help: { en: 'SSH user (default: the user running the tool)', ko: 'SSH 사용자 (기본값: 도구를 실행한 사용자)' } },
  { key: 'ssh.port', kind: 'port', example: '22', help: { en: 'SSH port (default 22)', ko: 'SSH 포트 (기본값 22)' } },
  { key: 'ssh.keyFile', kind: 'text', example: '~/.ssh/id_ed25519', help: { en: 'private key file (a path, never the key itself)', ko: '개인 키 파일 (경로만, 키 내용은 넣지 않음)' } },
  { key: 'ssh.passphraseEnv', kind: 'text', secretRef: true, example: 'SSH_KEY_PASSPHRASE', help: { en: 'name of the environment variable holding the key passphrase', ko: '키 암호를 담은 환경 변수 이름' } },
  { key: 'ssh.passwordEnv', kind: 'text', secretRef: true, example: 'SSH_PASSWORD', help: { en: 'password login: name of the environment variable holding the password', ko: '비밀번호 로그인: 비밀번호를 담은 환경 변수 이름' } },
  { key: 'ssh.passwordFile', kind: 'text', secretRef: true, example: './ssh-password.txt', help: { en: '... or the file holding it (one of the two)', ko: '... 또는 비밀번호 파일 (둘 중 하나)' } },
  { key: 'ssh.knownHostsFile', kind: 'text', example: './known_hosts', help: { en: 'known_hosts file (default ~/.ssh/known_hosts)', ko: 'known_hosts 파일 (기본값 ~/.ssh/known_hosts)' } },
  { key: 'ssh.sudo', kind: 'bool', example: 'yes', help: { en: 'run root-only checks with sudo -n (passwordless sudo)', ko: 'root 권한 점검을 sudo -n 으로 실행 (비밀번호 없는 sudo)' } },
  { key: 'ssh.proxyJump', kind: 'list', example: 'astrago@bastion.acme.local:22', help: { en: 'jump hosts to reach the node through, in order, [user@]host[:port] (comma-separated; as OpenSSH ProxyJump)', ko: '노드에 접속할 때 거치는 점프 호스트, 순서대로 [user@]host[:port] (쉼표로 구분; OpenSSH ProxyJump)' } },
];

export interface FormSheet {
  /** Sheet name, the same in every language (import finds sheets by it). */
  name: string;
  /** Checklist category whose items the sheet lists; none for the Site sheet. */
  category?: Category;
  title: T;
  fields: readonly Field[];
  /** Where the items without a field of their own are answered. */
  note?: T;
}

export const SITE_SHEET: FormSheet = {
  name: 'Site',
  title: { en: 'Astrago customer information checklist', ko: 'Astrago 고객 정보 체크리스트' },
  fields: [
    { key: 'metadata.name', kind: 'text', required: true, example: 'acme-lab', help: { en: 'short site name, shown in every report', ko: '사이트 이름 (모든 보고서에 표시)' } },
    { key: 'ssh.proxyJump', kind: 'list', example: 'astrago@bastion.acme.local:22', help: { en: 'jump hosts for every node, in order, [user@]host[:port] (comma-separated; a node\'s own ssh.proxyJump wins)', ko: '모든 노드의 점프 호스트, 순서대로 [user@]host[:port] (쉼표로 구분; 노드의 ssh.proxyJump가 우선)' } },
  ],
};

export const CATEGORY_SHEETS: readonly FormSheet[] = [
  {
    name: 'Network',
    category: 'network',
    title: { en: 'Network', ko: '네트워크' },
    fields: [
      { key: 'network.proxy.http', kind: 'text', example: 'http://proxy.acme.local:3128', help: { en: 'HTTP proxy URL (empty: no proxy); a user goes in the URL, never the password', ko: 'HTTP 프록시 URL (비우면 프록시 없음); 사용자는 URL에, 비밀번호는 넣지 않음' } },
      { key: 'network.proxy.https', kind: 'text', example: 'http://proxy.acme.local:3128', help: { en: 'HTTPS proxy URL', ko: 'HTTPS 프록시 URL' } },
      { key: 'network.proxy.noProxy', kind: 'list', example: 'localhost, 127.0.0.1, .svc, .cluster.local, .acme.local', help: { en: 'hosts and domains reached without the proxy (comma-separated)', ko: '프록시를 거치지 않는 호스트와 도메인 (쉼표로 구분)' } },
      { key: 'network.proxy.passwordEnv', kind: 'text', secretRef: true, example: 'PROXY_PASSWORD', help: { en: 'name of the environment variable holding the proxy password', ko: '프록시 비밀번호를 담은 환경 변수 이름' } },
      { key: 'network.podCidr', kind: 'text', example: '10.233.64.0/18', help: { en: 'pod network; must not overlap the node or service networks', ko: '파드 네트워크; 노드/서비스 네트워크와 겹치면 안 됨' } },
      { key: 'network.serviceCidr', kind: 'text', example: '10.233.0.0/18', help: { en: 'service network', ko: '서비스 네트워크' } },
      { key: 'network.dns', kind: 'list', example: '192.168.10.2', help: { en: 'DNS servers the nodes use (comma-separated)', ko: '노드가 사용하는 DNS 서버 (쉼표로 구분)' } },
      { key: 'network.ntp', kind: 'list', example: 'ntp.acme.local', help: { en: 'NTP servers (comma-separated)', ko: 'NTP 서버 (쉼표로 구분)' } },
      { key: 'network.targets', kind: 'list', example: 'git.acme.local:443', help: { en: 'other host:port endpoints the nodes must reach (comma-separated)', ko: '노드가 연결할 수 있어야 하는 기타 host:port (쉼표로 구분)' } },
    ],
  },
  {
    name: 'Accounts',
    category: 'accounts',
    title: { en: 'Accounts', ko: '계정' },
    fields: [],
    note: { en: 'Answered per node in the Nodes sheet: ssh.user, ssh.keyFile, ssh.passwordEnv / ssh.passwordFile, ssh.sudo.', ko: '노드 시트에서 노드마다 답합니다: ssh.user, ssh.keyFile, ssh.passwordEnv / ssh.passwordFile, ssh.sudo.' },
  },
  {
    name: 'Security',
    category: 'security',
    title: { en: 'Security', ko: '보안' },
    fields: [],
    note: { en: 'Answered per node in the Nodes sheet (ssh.knownHostsFile); firewall and SELinux/AppArmor are checked on the nodes.', ko: '노드 시트에서 노드마다 답합니다 (ssh.knownHostsFile); 방화벽과 SELinux/AppArmor는 노드에서 점검합니다.' },
  },
  {
    name: 'Registry',
    category: 'registry',
    title: { en: 'Container registry (e.g. Harbor) inside the site', ko: '사이트 내부 컨테이너 레지스트리 (예: Harbor)' },
    fields: [
      { key: 'registry.url', kind: 'text', example: 'https://harbor.acme.local', help: { en: 'registry URL', ko: '레지스트리 URL' } },
      { key: 'registry.caFile', kind: 'text', example: './harbor-ca.pem', help: { en: 'CA certificate (PEM file) that signed its TLS certificate', ko: 'TLS 인증서를 서명한 CA 인증서 (PEM 파일)' } },
      { key: 'registry.username', kind: 'text', example: 'robot$astrago', help: { en: 'user or robot account', ko: '사용자 또는 로봇 계정' } },
      { key: 'registry.passwordEnv', kind: 'text', secretRef: true, example: 'HARBOR_PASSWORD', help: { en: 'name of the environment variable holding the password', ko: '비밀번호를 담은 환경 변수 이름' } },
      { key: 'registry.passwordFile', kind: 'text', secretRef: true, example: './harbor-password.txt', help: { en: '... or the file holding it (one of the two)', ko: '... 또는 비밀번호 파일 (둘 중 하나)' } },
      { key: 'registry.insecure', kind: 'bool', example: 'no', help: { en: 'yes only for a registry without TLS', ko: 'TLS 없는 레지스트리일 때만 yes' } },
      { key: 'registry.mirrors', kind: 'list', example: 'docker.io, quay.io, nvcr.io, registry.k8s.io', help: { en: 'registries the nodes pull from this one (containerd hosts.toml; comma-separated)', ko: '노드가 이 레지스트리를 통해 받는 원본 레지스트리 (containerd hosts.toml; 쉼표로 구분)' } },
    ],
  },
  {
    name: 'Resources',
    category: 'resources',
    title: { en: 'Resources', ko: '자원' },
    fields: [
      { key: 'resources.gpusPerNode', kind: 'int', example: '8', help: { en: 'GPUs in each GPU node', ko: 'GPU 노드당 GPU 수' } },
      { key: 'resources.gpuModel', kind: 'text', example: 'NVIDIA A100 80GB', help: { en: 'GPU model', ko: 'GPU 모델' } },
    ],
    note: { en: 'Node roles (Nodes sheet) decide the CPU, memory and GPU checked on each node.', ko: '노드 역할(노드 시트)에 따라 노드마다 점검할 CPU, 메모리, GPU가 정해집니다.' },
  },
  {
    name: 'Storage',
    category: 'storage',
    title: { en: 'Storage', ko: '스토리지' },
    fields: [
      { key: 'storage.nfs.server', kind: 'text', example: '192.168.10.5', help: { en: 'NFS server for persistent volumes', ko: '영구 볼륨용 NFS 서버' } },
      { key: 'storage.nfs.path', kind: 'text', example: '/export/astrago', help: { en: 'its export path', ko: 'NFS 익스포트 경로' } },
    ],
  },
  {
    name: 'OS',
    category: 'os',
    title: { en: 'Operating system', ko: '운영체제' },
    fields: [],
    note: { en: 'Checked on each node of the Nodes sheet: nothing to fill in here.', ko: '노드 시트의 각 노드에서 점검합니다: 여기에 적을 것은 없습니다.' },
  },
];

export const ALL_SHEETS: readonly FormSheet[] = [SITE_SHEET, ...CATEGORY_SHEETS];

/** Cell words for yes/no answers (the form lists yes and no; import also takes these). */
export const YES = ['yes', 'y', 'true', '1', '예', '네'];
export const NO = ['no', 'n', 'false', '0', '아니오', '아니요'];
