import { PromptError } from '../errors.ts';
import type { Vec3 } from '../geometry/volume.ts';
import type { ModelManifest } from './manifest.ts';

/**
 * Prompts as VISTA3D (and the NIM's JSON) take them. `points` maps a label (name or index, as a string key) to
 * voxel indices [i, j, k] of the **original** image; `pointLabels` (our backward-compatible extension) gives,
 * per point, 1 = positive (the default) or 0 = negative.
 */
export interface Prompts {
  classes?: (string | number)[];
  points?: Record<string, number[][]>;
  pointLabels?: Record<string, number[]>;
}

export interface PointPrompt {
  labelId: number;
  /** Original voxel indices (i, j, k). */
  points: Vec3[];
  /** Point labels as the model takes them: 0/1, or 2/3 (negative/positive) for the special classes. */
  labels: number[];
}

export interface ResolvedPrompts {
  /** Class-head labels, subclasses expanded, without duplicates, in request order. */
  classIds: number[];
  point: PointPrompt | null;
  /** True when the request had no prompts and the model's "everything" set was used. */
  everything: boolean;
}

/** Index ↔ name lookups of a manifest, with the rules of its label set. */
export class LabelSet {
  readonly names = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  private readonly supported: Set<number>;
  constructor(private readonly manifest: ModelManifest) {
    for (const [k, v] of Object.entries(manifest.labels)) {
      this.names.set(Number(k), v);
      this.byName.set(normalizeName(v), Number(k));
    }
    this.supported = new Set(manifest.supportedLabels ?? this.names.keys());
  }

  isSupported(id: number): boolean {
    return this.supported.has(id);
  }

  get supportedIds(): number[] {
    return [...this.supported].sort((a, b) => a - b);
  }

  describe(id: number): string {
    const name = this.names.get(id);
    return name ? `${id} (${name})` : String(id);
  }

  /**
   * A label given by index or by name (case-insensitive; numeric strings are indices) → its index.
   * `what` names the prompt field in messages.
   */
  resolve(value: unknown, what: string): number {
    if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+\s*$/.test(value))) {
      const id = Number(value);
      if (!Number.isInteger(id) || id < 1 || id > 254)
        throw new PromptError(`${what}: label index ${JSON.stringify(value)} is out of range (1…254)`);
      return id;
    }
    if (typeof value !== 'string' || !value.trim()) throw new PromptError(`${what}: ${JSON.stringify(value)} is not a label name or index`);
    const id = this.byName.get(normalizeName(value));
    if (id !== undefined) return id;
    const close = closeMatches(value, [...this.byName.keys()].map((n) => this.names.get(this.byName.get(n)!)!));
    throw new PromptError(
      `${what}: unknown class ${JSON.stringify(value)}` + (close.length ? `; did you mean ${close.map((c) => JSON.stringify(c)).join(', ')}?` : ''),
    );
  }
}

function normalizeName(s: string): string {
  return s.trim().toLowerCase().replace(/[\s_]+/g, ' ');
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** Up to three names close to `query` (edit distance or substring), best first. */
export function closeMatches(query: string, names: string[]): string[] {
  const q = normalizeName(query);
  return names
    .map((n) => {
      const m = normalizeName(n);
      const d = m.includes(q) || q.includes(m) ? Math.abs(m.length - q.length) / 10 : levenshtein(q, m);
      return { n, d };
    })
    .filter(({ n, d }) => d <= Math.max(2, Math.floor(normalizeName(n).length / 3)))
    .sort((x, y) => x.d - y.d || x.n.localeCompare(y.n))
    .slice(0, 3)
    .map(({ n }) => n);
}

/**
 * Applies VISTA3D's prompt rules to a request's prompts and the original image's dims.
 * Each violation is a PromptError naming the offending value.
 */
export function resolvePrompts(prompts: Prompts | undefined, manifest: ModelManifest, labels: LabelSet, dims: readonly number[]): ResolvedPrompts {
  const p = prompts ?? {};
  const model = `model "${manifest.name}"`;
  const classIds: number[] = [];
  const addClass = (id: number, asked: number) => {
    if (id >= manifest.zeroShotFrom) return; // a new structure without points: nothing to segment
    if (!labels.isSupported(id)) {
      throw new PromptError(
        `${model} cannot segment ${labels.describe(id)}` + (id !== asked ? ` (part of ${labels.describe(asked)})` : '') +
          `; it supports: ${labels.supportedIds.map((i) => labels.describe(i)).join(', ')}`,
      );
    }
    if (!classIds.includes(id)) classIds.push(id);
  };
  if (p.classes !== undefined && !Array.isArray(p.classes)) throw new PromptError('classes must be a list of label names or indices');
  for (const c of p.classes ?? []) {
    const id = labels.resolve(c, 'classes');
    const members = manifest.subclasses[String(id)];
    for (const m of members ?? [id]) addClass(m, id);
  }

  let point: PointPrompt | null = null;
  const entries = Object.entries(p.points ?? {});
  if (entries.length > 1) {
    throw new PromptError(`points may target one object per request; got ${entries.length}: ${entries.map(([k]) => JSON.stringify(k)).join(', ')}`);
  }
  const pointLabelKeys = Object.keys(p.pointLabels ?? {});
  for (const k of pointLabelKeys) if (!(k in (p.points ?? {}))) throw new PromptError(`point_labels given for ${JSON.stringify(k)}, which has no points`);
  if (entries.length === 1) {
    const [key, pts] = entries[0];
    const labelId = labels.resolve(key, 'points');
    if (manifest.noPointPrompts.includes(labelId)) {
      throw new PromptError(`points cannot target ${labels.describe(labelId)}: it is a group of classes; click on one of its members instead`);
    }
    if (labelId < manifest.zeroShotFrom && !labels.isSupported(labelId)) {
      throw new PromptError(`${model} cannot segment ${labels.describe(labelId)}; it supports: ${labels.supportedIds.map((i) => labels.describe(i)).join(', ')}`);
    }
    if (!Array.isArray(pts) || pts.length === 0) throw new PromptError(`points for ${JSON.stringify(key)} must be a non-empty list of [x, y, z] voxel indices`);
    const points = pts.map((q, n) => {
      if (!Array.isArray(q) || q.length !== 3 || !q.every((v) => Number.isInteger(v))) {
        throw new PromptError(`point ${n} for ${JSON.stringify(key)} is ${JSON.stringify(q)}; expected [x, y, z] integer voxel indices`);
      }
      if (!q.every((v, a) => v >= 0 && v < dims[a])) {
        throw new PromptError(`point ${JSON.stringify(q)} for ${JSON.stringify(key)} lies outside the image (dims ${dims.join('×')}, indices from 0)`);
      }
      return [q[0], q[1], q[2]] as Vec3;
    });
    const given = p.pointLabels?.[key];
    if (given !== undefined && (!Array.isArray(given) || given.length !== points.length)) {
      throw new PromptError(`point_labels for ${JSON.stringify(key)} must list one label per point (${points.length}); got ${JSON.stringify(given)}`);
    }
    const special = manifest.specialClasses.includes(labelId);
    const modelLabels = (given ?? points.map(() => 1)).map((l, n) => {
      if (l !== 0 && l !== 1) throw new PromptError(`point_labels[${n}] for ${JSON.stringify(key)} is ${JSON.stringify(l)}; use 1 (positive) or 0 (negative)`);
      return special ? l + 2 : l;
    });
    if (!modelLabels.some((l) => l === 1 || l === 3)) throw new PromptError(`points for ${JSON.stringify(key)} need at least one positive point`);
    point = { labelId, points, labels: modelLabels };
    const i = classIds.indexOf(labelId);
    if (i >= 0) classIds.splice(i, 1); // the point head segments it, guided by the class too
  }

  const everything = p.classes === undefined && !point;
  if (everything) for (const id of manifest.everything) if (labels.isSupported(id)) classIds.push(id);
  return { classIds, point, everything };
}
