/**
 * The model's labels as the panel lists them: grouped by kind (from their names), filtered by a search, and the
 * presets. Pure functions of the server's /v1/vista3d/info answer (`labels`: name → VISTA3D index).
 */
import type { ServerInfo } from '../state/store.ts';

export interface LabelEntry {
  id: number;
  name: string;
}

export const GROUPS = ['organs', 'vessels', 'bones', 'muscles', 'lungs', 'lesions', 'other'] as const;
export type GroupName = (typeof GROUPS)[number];

export const GROUP_TITLES: Record<GroupName, string> = {
  organs: 'Organs',
  vessels: 'Vessels',
  bones: 'Bones',
  muscles: 'Muscles',
  lungs: 'Lungs & airway',
  lesions: 'Lesions',
  other: 'Other',
};

// First match wins: "lung tumor" is a lesion, "hepatic vessel" a vessel, "left lung upper lobe" a lung part.
const RULES: [GroupName, RegExp][] = [
  ['lesions', /\b(tumou?rs?|lesions?|cysts?|nodules?|mass|cancer|primaries|metasta\w*)\b/],
  ['vessels', /\b(arter(y|ies)|veins?|vena|aorta|trunk|vessels?|carotid|subclavian|atrial appendage)\b/],
  ['lungs', /\b(lungs?|lobe|trachea|airway|bronch\w*)\b/],
  ['bones', /\b(bones?|vertebrae?|ribs?|sternum|skull|femur|hip|sacrum|humerus|scapula|clavicula|costal cartilages?)\b/],
  ['muscles', /\b(muscles?|gluteus|iliopsoas|autochthon)\b/],
  [
    'organs',
    /\b(liver|spleen|kidneys?|stomach|pancreas|gallbladder|bladder|esophagus|duodenum|colon|rectum|bowel|heart|brain|thyroid|adrenal|prostate|uterus|spinal cord)\b/,
  ],
];

export function groupOf(name: string): GroupName {
  const n = name.toLowerCase();
  for (const [group, re] of RULES) if (re.test(n)) return group;
  return 'other';
}

/** The labels the server supports, sorted by index. */
export function labelEntries(info: Pick<ServerInfo, 'labels'>): LabelEntry[] {
  return Object.entries(info.labels)
    .map(([name, id]) => ({ id: Number(id), name }))
    .filter((l) => Number.isInteger(l.id))
    .sort((a, b) => a.id - b.id);
}

/** Case-insensitive; every word of the query must occur in the name (or the query is the index). */
export function matchesQuery(label: LabelEntry, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  if (words.length === 1 && /^\d+$/.test(words[0])) return String(label.id) === words[0];
  const name = label.name.toLowerCase();
  return words.every((w) => name.includes(w));
}

/** Labels by group, in GROUPS order, empty groups left out. */
export function groupLabels(labels: readonly LabelEntry[]): { group: GroupName; labels: LabelEntry[] }[] {
  const by = new Map<GroupName, LabelEntry[]>(GROUPS.map((g) => [g, []]));
  for (const l of labels) by.get(groupOf(l.name))!.push(l);
  return GROUPS.map((group) => ({ group, labels: by.get(group)! })).filter((g) => g.labels.length);
}

export interface Preset {
  id: string;
  title: string;
  /** The preset's labels among those the server supports. */
  pick(labels: readonly LabelEntry[], info: Pick<ServerInfo, 'everything' | 'subclasses'>): number[];
}

const byNames =
  (...names: (string | RegExp)[]) =>
  (labels: readonly LabelEntry[]): number[] =>
    labels.filter((l) => names.some((n) => (typeof n === 'string' ? l.name.toLowerCase() === n : n.test(l.name.toLowerCase())))).map((l) => l.id);

/** Lung lobes when the model has them, else "lung". */
const lungs = (labels: readonly LabelEntry[]) => {
  const lobes = byNames(/\blung\b.*\blobe\b/)(labels);
  return lobes.length ? lobes : byNames('lung', 'left lung', 'right lung')(labels);
};

export const PRESETS: Preset[] = [
  {
    id: 'abdomen',
    title: 'Abdomen',
    pick: (labels) =>
      [...byNames('liver', 'spleen', 'left kidney', 'right kidney', 'stomach', 'pancreas', 'gallbladder', 'aorta', 'inferior vena cava')(labels)].sort((a, b) => a - b),
  },
  { id: 'chest', title: 'Chest', pick: (labels) => [...lungs(labels), ...byNames('heart', 'aorta', 'trachea')(labels)].sort((a, b) => a - b) },
  { id: 'spine', title: 'Spine', pick: (labels) => byNames(/^vertebrae\b/, 'sacrum', 'spinal cord')(labels) },
  {
    id: 'everything',
    title: 'Everything',
    pick: (labels, info) => {
      const have = new Set(labels.map((l) => l.id));
      return info.everything.filter((id) => have.has(id));
    },
  },
];

/** Labels a click can target: every supported label except those that take no point prompts (new structures apart). */
export function pointTargets(labels: readonly LabelEntry[], info: Pick<ServerInfo, 'no_point_prompts' | 'zero_shot_from'>): LabelEntry[] {
  const no = new Set(info.no_point_prompts);
  return labels.filter((l) => !no.has(l.id) && l.id < info.zero_shot_from);
}
