import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { COMMANDS } from '../commands/names.ts';
import { modelInfo, type RunTarget, type Store, type Vista3dState } from '../state/store.ts';
import { PROMPT_TOOL_BINDINGS, PROMPT_TOOL_NAME } from '../tools/Vista3dPromptTool.ts';
import { GROUP_TITLES, PRESETS, groupLabels, groupOf, labelEntries, matchesQuery, pointTargets, type GroupName, type LabelEntry } from './labels.ts';
import { PANEL_CSS } from './styles.ts';

export interface Vista3dPanelProps {
  store: Store;
  /** Runs an OHIF command (commandsManager.runCommand). The panel holds no logic beyond its own view state. */
  run(commandName: string, options?: Record<string, unknown>): unknown;
}

/** The VISTA3D side panel: renders the store, runs commands. */
export function Vista3dPanel({ store, run }: Vista3dPanelProps) {
  const state = useSyncExternalStore(
    (fn) => {
      const off = store.subscribe(fn);
      return () => void off();
    },
    store.get,
    store.get,
  );
  const info = modelInfo(state);
  const labels = useMemo(() => (info ? labelEntries(info) : []), [info]);
  const busy = state.job?.state === 'queued' || state.job?.state === 'running';
  // prompts can run: on the server when it is ready; in this browser once it knows the model (loads it on demand)
  const ready = state.runTarget === 'server' ? state.server.status === 'ready' : Boolean(info);

  return (
    <div className="vista3d-panel" data-testid="vista3d-panel" data-cy="vista3d-panel">
      <style>{PANEL_CSS}</style>
      <ServerStatus state={state} onRetry={() => run(COMMANDS.refreshServer)} />
      <RunWhere state={state} run={run} />
      {state.error && (
        <div className="v3d-error" role="alert" data-testid="vista3d-error">
          {state.error}
        </div>
      )}
      {state.notice && !state.error && (
        <div className="v3d-notice" role="status" data-testid="vista3d-notice">
          {state.notice}
        </div>
      )}
      <JobProgress state={state} onCancel={() => run(COMMANDS.cancel)} />
      {info && (
        <>
          <ClassPrompts labels={labels} state={state} disabled={!ready || busy} run={run} />
          <PointPrompts labels={labels} state={state} disabled={!ready} run={run} />
        </>
      )}
      <section className="v3d-section" data-testid="vista3d-results">
        <h3>Results</h3>
        <div className="v3d-row">
          <button type="button" data-testid="vista3d-save" data-cy="vista3d-save" disabled={!state.segmentationId || busy} onClick={() => run(COMMANDS.saveSegmentation)}>
            Save to PACS
          </button>
          <button type="button" data-testid="vista3d-download" data-cy="vista3d-download" disabled={!state.segmentationId || busy} onClick={() => run(COMMANDS.downloadSegmentation)}>
            Download DICOM SEG
          </button>
        </div>
      </section>
    </div>
  );
}

function ServerStatus({ state, onRetry }: { state: Vista3dState; onRetry(): void }) {
  const { status, info, error } = state.server;
  const text =
    status === 'ready' && info
      ? `Ready: ${info.model.name} ${info.model.version} on ${info.device}`
      : status === 'ready'
        ? 'Ready'
        : status === 'loading'
          ? 'The model is still loading on the server…'
          : status === 'unreachable'
            ? 'The VISTA3D server cannot be reached.'
            : 'Checking the VISTA3D server…';
  return (
    <section className="v3d-section v3d-status" data-testid="vista3d-status" data-status={status}>
      <span className={`v3d-dot v3d-dot-${status}`} aria-hidden="true" />
      <span data-testid="vista3d-status-text">{text}</span>
      {status !== 'ready' && (
        <button type="button" className="v3d-link" data-testid="vista3d-retry" onClick={onRetry}>
          Retry
        </button>
      )}
      {status !== 'ready' && error && <div className="v3d-muted" data-testid="vista3d-status-error">{error}</div>}
      {status === 'ready' && info?.model.description && <div className="v3d-muted">{info.model.description}</div>}
    </section>
  );
}

const TARGET_LABELS: Record<RunTarget, string> = { server: 'Server', browser: 'This browser', auto: 'Auto' };
const DEVICE_LABELS: Record<string, string> = { wasm: 'WebAssembly', webgpu: 'WebGPU' };

/** Where prompts run (Server, This browser, Auto), the browser model's state, and where the last result ran. */
function RunWhere({ state, run }: { state: Vista3dState; run: Vista3dPanelProps['run'] }) {
  const m = state.browserModel;
  const last = state.lastRun;
  return (
    <section className="v3d-section" data-testid="vista3d-run-where">
      <div className="v3d-row" role="radiogroup" aria-label="Run VISTA3D on">
        <span>Run on:</span>
        {(Object.keys(TARGET_LABELS) as RunTarget[]).map((t) => (
          <label key={t}>
            <input type="radio" name="vista3d-run-target" data-testid={`vista3d-run-${t}`} checked={state.runTarget === t} onChange={() => run(COMMANDS.setRunTarget, { target: t })} /> {TARGET_LABELS[t]}
          </label>
        ))}
      </div>
      {state.runTarget !== 'server' && (
        <div className="v3d-muted" data-testid="vista3d-browser-model" data-status={m.status}>
          {m.status === 'ready' && m.info ? `In this browser: ${m.info.model.name} ${m.info.model.version}, ${m.note ?? ''}` : m.status === 'loading' ? 'Loading the model into this browser…' : m.status === 'failed' ? '' : 'The model loads into this browser at the first prompt.'}
        </div>
      )}
      {m.status === 'failed' && m.error && state.runTarget !== 'server' && (
        <div className="v3d-error" data-testid="vista3d-browser-model-error">
          {m.error}
        </div>
      )}
      {last && (
        <div className="v3d-muted" data-testid="vista3d-last-run" data-where={last.where} data-device={last.device} data-ms={Math.round(last.ms)}>
          Last {last.kind === 'classes' ? 'class prompt' : 'point prompt'}: {last.where === 'server' ? 'on the server' : 'in this browser'} ({DEVICE_LABELS[last.device] ?? last.device}), {(last.ms / 1000).toFixed(2)} s
        </div>
      )}
    </section>
  );
}

function JobProgress({ state, onCancel }: { state: Vista3dState; onCancel(): void }) {
  const job = state.job;
  if (!job) return null;
  const active = job.state === 'queued' || job.state === 'running';
  const pct = job.total > 0 ? Math.round((100 * Math.min(job.done, job.total)) / job.total) : 0;
  const what = job.kind === 'classes' ? 'Segmenting' : 'Point prompt';
  const waiting = job.queuePosition === 1 ? 'next in the queue' : job.queuePosition ? `waiting: ${job.queuePosition - 1} ahead in the queue` : 'waiting for the server';
  const stateText = job.state === 'queued' ? waiting : job.state === 'running' ? job.stage || 'running' : job.state;
  return (
    <section className="v3d-section" data-testid="vista3d-job" data-state={job.state}>
      <div className="v3d-row v3d-between">
        <span data-testid="vista3d-progress-stage">
          {what}: {stateText}
          {active && job.total > 0 ? ` (${job.done}/${job.total})` : ''}
        </span>
        {active && (
          <button type="button" data-testid="vista3d-cancel" data-cy="vista3d-cancel" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      {active && <progress data-testid="vista3d-progress" max={Math.max(job.total, 1)} value={job.total > 0 ? job.done : undefined} aria-label={`${pct}%`} />}
      {job.state === 'failed' && job.error && <div className="v3d-error" data-testid="vista3d-job-error">{job.error}</div>}
    </section>
  );
}

function ClassPrompts({ labels, state, disabled, run }: { labels: LabelEntry[]; state: Vista3dState; disabled: boolean; run: Vista3dPanelProps['run'] }) {
  const info = modelInfo(state)!;
  const [checked, setChecked] = useState<Set<number>>(() => new Set());
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState<Set<GroupName>>(() => new Set());
  const selectedRef = useRef<HTMLLIElement | null>(null);

  const groups = useMemo(() => groupLabels(labels.filter((l) => matchesQuery(l, query))), [labels, query]);
  const selectedName = state.selectedLabel !== null ? info.label_dictionary[String(state.selectedLabel)] : undefined;

  // The segment picked in the viewer: open its group and bring its row into view.
  useEffect(() => {
    if (!selectedName) return;
    setOpen((o) => (o.has(groupOf(selectedName)) ? o : new Set(o).add(groupOf(selectedName))));
    const t = setTimeout(() => selectedRef.current?.scrollIntoView({ block: 'nearest' }), 0);
    return () => clearTimeout(t);
  }, [state.selectedLabel, selectedName]);

  const toggle = (ids: number[], on: boolean) =>
    setChecked((c) => {
      const next = new Set(c);
      for (const id of ids) (on ? next.add(id) : next.delete(id));
      return next;
    });
  const selection = [...checked].sort((a, b) => a - b);

  return (
    <section className="v3d-section" data-testid="vista3d-classes">
      <h3>Segment structures</h3>
      <div className="v3d-row v3d-wrap">
        {PRESETS.map((p) => (
          <button type="button" key={p.id} className="v3d-chip" data-testid={`vista3d-preset-${p.id}`} onClick={() => setChecked(new Set(p.pick(labels, info)))}>
            {p.title}
          </button>
        ))}
        <button type="button" className="v3d-chip" data-testid="vista3d-preset-none" onClick={() => setChecked(new Set())}>
          None
        </button>
      </div>
      <input
        type="search"
        className="v3d-search"
        placeholder="Search structures (e.g. kidney)"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        data-testid="vista3d-label-search"
        aria-label="Search structures"
      />
      <div className="v3d-list" data-testid="vista3d-label-list">
        {groups.map(({ group, labels: ls }) => {
          const nOn = ls.filter((l) => checked.has(l.id)).length;
          const isOpen = query.trim() !== '' || open.has(group);
          return (
            <div key={group} className="v3d-group" data-testid={`vista3d-group-${group}`}>
              <div className="v3d-group-head">
                <input
                  type="checkbox"
                  data-testid={`vista3d-group-toggle-${group}`}
                  aria-label={`All ${GROUP_TITLES[group]}`}
                  checked={nOn === ls.length}
                  ref={(el) => {
                    if (el) el.indeterminate = nOn > 0 && nOn < ls.length;
                  }}
                  onChange={(e) => toggle(ls.map((l) => l.id), e.target.checked)}
                />
                <button
                  type="button"
                  className="v3d-group-title"
                  data-testid={`vista3d-group-open-${group}`}
                  aria-expanded={isOpen}
                  onClick={() => setOpen((o) => {
                    const next = new Set(o);
                    if (next.has(group)) next.delete(group);
                    else next.add(group);
                    return next;
                  })}
                >
                  {isOpen ? '▾' : '▸'} {GROUP_TITLES[group]} <span className="v3d-muted">({nOn}/{ls.length})</span>
                </button>
              </div>
              {isOpen && (
                <ul>
                  {ls.map((l) => {
                    const selected = l.id === state.selectedLabel;
                    return (
                      <li key={l.id} ref={selected ? selectedRef : undefined} className={selected ? 'v3d-selected' : undefined} data-testid={`vista3d-label-${l.id}`} data-selected={selected || undefined}>
                        <label>
                          <input type="checkbox" data-testid={`vista3d-label-checkbox-${l.id}`} checked={checked.has(l.id)} onChange={(e) => toggle([l.id], e.target.checked)} />
                          <span>{l.name}</span>
                          <span className="v3d-muted v3d-index">{l.id}</span>
                        </label>
                      </li>
                    );
                  })}
                </ul>
              )}
            </div>
          );
        })}
        {!groups.length && <div className="v3d-muted" data-testid="vista3d-no-match">No structure matches “{query}”.</div>}
      </div>
      <button
        type="button"
        className="v3d-primary"
        data-testid="vista3d-segment"
        data-cy="vista3d-segment"
        disabled={disabled || !selection.length}
        onClick={() => run(COMMANDS.segmentClasses, { classes: selection })}
      >
        {selection.length ? `Segment ${selection.length} structure${selection.length > 1 ? 's' : ''}` : 'Segment'}
      </button>
    </section>
  );
}

function PointPrompts({ labels, state, disabled, run }: { labels: LabelEntry[]; state: Vista3dState; disabled: boolean; run: Vista3dPanelProps['run'] }) {
  const info = modelInfo(state)!;
  const targets = useMemo(() => groupLabels(pointTargets(labels, info)), [labels, info]);
  const target = state.pointTarget;
  // the model's first new-structure index (zero-shot; VISTA3D's 133), from /info
  const firstNew = info.zero_shot_from;
  const nextNew = target !== null && target >= firstNew ? target + 1 : firstNew;
  const choose = (value: string) => {
    if (value === '') return;
    run(COMMANDS.setPointTarget, { label: Number(value) });
    run('setToolActiveToolbar', { toolName: PROMPT_TOOL_NAME, bindings: PROMPT_TOOL_BINDINGS });
  };
  const nPos = state.points.filter((p) => p.positive).length;
  return (
    <section className="v3d-section" data-testid="vista3d-points">
      <h3>Click prompts</h3>
      <label className="v3d-field">
        <span>Structure to edit</span>
        <select data-testid="vista3d-point-target" data-cy="vista3d-point-target" disabled={disabled} value={target === null ? '' : String(target)} onChange={(e) => choose(e.target.value)}>
          <option value="">Choose…</option>
          {target !== null && target >= firstNew && <option value={String(target)}>New structure {target}</option>}
          <option value={String(nextNew)}>{target !== null && target >= firstNew ? 'Another new structure' : 'New structure'} ({nextNew})</option>
          {targets.map(({ group, labels: ls }) => (
            <optgroup key={group} label={GROUP_TITLES[group]}>
              {ls.map((l) => (
                <option key={l.id} value={String(l.id)}>
                  {l.name}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </label>
      <p className="v3d-muted" data-testid="vista3d-point-help">
        Click in the image to add a point inside the structure; Shift+click (or Ctrl+click) marks a point outside it. Each click re-runs VISTA3D for that
        structure.
      </p>
      <div data-testid="vista3d-point-count" className="v3d-count">
        {state.points.length ? `${nPos} inside, ${state.points.length - nPos} outside` : 'No points yet'}
      </div>
      <div className="v3d-row">
        <span className="v3d-row">
          <button type="button" data-testid="vista3d-activate-tool" disabled={disabled || target === null} onClick={() => run('setToolActiveToolbar', { toolName: PROMPT_TOOL_NAME, bindings: PROMPT_TOOL_BINDINGS })}>
            Use click tool
          </button>
          <button type="button" data-testid="vista3d-undo-point" disabled={!state.points.length} onClick={() => run(COMMANDS.undoPoint)}>
            Undo
          </button>
          <button type="button" data-testid="vista3d-clear-points" disabled={!state.points.length} onClick={() => run(COMMANDS.clearPoints)}>
            Clear
          </button>
        </span>
      </div>
    </section>
  );
}
