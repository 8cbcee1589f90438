// Report labels in English and Korean. Checklist titles come from the profile
// (title.en / title.ko); check messages and remediations stay English, because
// they quote commands, paths and values that support engineers search for.
import type { Category, Lang, Status } from '../schema/common.ts';

export interface Labels {
  reportTitle: string;
  tool: string;
  time: string;
  host: string;
  site: string;
  profile: string;
  duration: string;
  node: string;
  nodes: string;
  roles: string;
  check: string;
  checklistItem: string;
  status: string;
  message: string;
  remediation: string;
  summary: string;
  total: string;
  unmapped: string;
  status_: Record<Status, string>;
  category: Record<Category, string>;
  result: { ok: string; failed: string; warnings: string; strictWarnings: string };
  /** Checklist form (markdown checklist). */
  answer: string;
  checklistTitle: string;
  checklistIntro: string;
  verifiedBy: string;
  /** Node × checklist-item matrix and grouped findings (html, markdown). */
  matrix: string;
  notChecked: string;
  legend: string;
  findings: string;
  noFindings: string;
  /** "on 3 nodes" */
  onNodes: (n: number) => string;
  /** tty and markdown past DETAIL_NODES nodes: where the per-node results are. */
  detailsElsewhere: (nodes: number) => string;
  nodeDetails: string;
  facts: string;
  /** "37 checks not run" (a node not reached or not logged into) */
  notCheckedCount: (n: number) => string;
  notCheckedTitle: string;
  reason: string;
}

const en: Labels = {
  reportTitle: 'Astrago preflight report',
  tool: 'Tool',
  time: 'Time',
  host: 'Host',
  site: 'Site',
  profile: 'Profile',
  duration: 'Duration',
  node: 'Node',
  nodes: 'Nodes',
  roles: 'Roles',
  check: 'Check',
  checklistItem: 'Checklist item',
  status: 'Status',
  message: 'Message',
  remediation: 'Remediation',
  summary: 'Summary',
  total: 'total',
  unmapped: 'Other checks',
  status_: { pass: 'pass', warn: 'warn', fail: 'fail', skip: 'skip', error: 'error' },
  category: {
    network: 'Network',
    accounts: 'Accounts',
    security: 'Security',
    registry: 'Registry',
    resources: 'Resources',
    storage: 'Storage',
    os: 'Operating system',
  },
  result: { ok: 'Ready: no check failed.', failed: 'Not ready: some checks failed.', warnings: 'Ready with warnings.', strictWarnings: 'Not ready: warnings fail with --strict.' },
  answer: 'Answer',
  checklistTitle: 'Astrago customer information checklist',
  checklistIntro: 'Please fill in the answer column and return this form: the values become the site file (`astrago-check checklist > site.yaml`). Secrets: name where they are kept (an environment variable or a file), never the value. The checklist items below each table are what the preflight then verifies.',
  verifiedBy: 'verified by',
  notCheckedCount: (n) => `${n} ${n === 1 ? 'check' : 'checks'} not run`,
  notCheckedTitle: 'Nodes not checked',
  reason: 'Reason',
  matrix: 'Nodes × checklist items',
  notChecked: 'not checked',
  legend: 'Legend',
  findings: 'Findings',
  noFindings: 'Every check passed.',
  onNodes: (n) => (n === 1 ? 'on 1 node' : `on ${n} nodes`),
  detailsElsewhere: (n) => `Results of each of the ${n} nodes: --format json, yaml or html.`,
  nodeDetails: 'Results per node',
  facts: 'facts',
};

const ko: Labels = {
  reportTitle: 'Astrago 사전 점검 보고서',
  tool: '도구',
  time: '시각',
  host: '호스트',
  site: '사이트',
  profile: '프로파일',
  duration: '소요 시간',
  node: '노드',
  nodes: '노드 목록',
  roles: '역할',
  check: '점검',
  checklistItem: '체크리스트 항목',
  status: '상태',
  message: '메시지',
  remediation: '조치 방법',
  summary: '요약',
  total: '전체',
  unmapped: '기타 점검',
  status_: { pass: '통과', warn: '경고', fail: '실패', skip: '건너뜀', error: '오류' },
  category: {
    network: '네트워크',
    accounts: '계정',
    security: '보안',
    registry: '레지스트리',
    resources: '자원',
    storage: '스토리지',
    os: '운영체제',
  },
  result: { ok: '준비 완료: 실패한 점검이 없습니다.', failed: '준비 안 됨: 실패한 점검이 있습니다.', warnings: '준비 완료 (경고 있음).', strictWarnings: '준비 안 됨: --strict 에서는 경고도 실패로 처리됩니다.' },
  answer: '답변',
  checklistTitle: 'Astrago 고객 정보 체크리스트',
  checklistIntro: '답변 열을 채워 회신해 주십시오. 답변은 사이트 파일(`astrago-check checklist > site.yaml`)의 값이 됩니다. 비밀번호 등 비밀 값은 값이 아니라 보관 위치(환경 변수 또는 파일)만 적어 주십시오. 각 표 아래의 체크리스트 항목은 사전 점검이 확인하는 내용입니다.',
  verifiedBy: '점검 항목',
  notCheckedCount: (n) => `${n}개 점검 실행 안 됨`,
  notCheckedTitle: '점검하지 못한 노드',
  reason: '사유',
  matrix: '노드 × 체크리스트 항목',
  notChecked: '점검 안 함',
  legend: '범례',
  findings: '발견 사항',
  noFindings: '모든 점검을 통과했습니다.',
  onNodes: (n) => `노드 ${n}대`,
  detailsElsewhere: (n) => `노드 ${n}대 각각의 결과: --format json, yaml 또는 html.`,
  nodeDetails: '노드별 결과',
  facts: '수집 정보',
};

export const LABELS: Record<Lang, Labels> = { en, ko };

export function labels(lang: Lang): Labels {
  return LABELS[lang];
}

/** Category order used by every grouped output. */
export const CATEGORY_ORDER: readonly Category[] = ['network', 'accounts', 'security', 'registry', 'resources', 'storage', 'os'];
