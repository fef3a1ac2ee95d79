import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS } from '../commands/names.ts';
import { initialState, type PromptPoint, type Vista3dState } from '../state/store.ts';
import type { CornerstoneToolsLike, CsViewport } from '../ohif.ts';
import { NEGATIVE_COLOR, POSITIVE_FALLBACK_COLOR, PROMPT_TOOL_NAME, createPromptToolClass, isPositiveClick, pointsOnPlane } from './Vista3dPromptTool.ts';

describe('isPositiveClick', () => {
  const table: [Parameters<typeof isPositiveClick>[0], boolean][] = [
    [{}, true],
    [undefined, true],
    [{ shiftKey: true }, false],
    [{ ctrlKey: true }, false],
    [{ metaKey: true }, false],
    [{ shiftKey: false, ctrlKey: false }, true],
  ];
  for (const [e, want] of table) it(`${JSON.stringify(e)} → ${want}`, () => assert.equal(isPositiveClick(e), want));
});

describe('pointsOnPlane (LPS mm)', () => {
  const p = (world: [number, number, number]): PromptPoint => ({ world, positive: true });
  const points = [p([0, 0, 10]), p([5, -3, 11.4]), p([0, 0, 12]), p([100, 100, 8.6])];
  it('keeps the points within the tolerance of an axial plane, with their indices', () => {
    const got = pointsOnPlane(points, { focalPoint: [1, 2, 10], viewPlaneNormal: [0, 0, 1] }, 1.5);
    assert.deepEqual(got.map((g) => g.index), [0, 1, 3]);
  });
  it('works for any plane orientation (sagittal, oblique)', () => {
    assert.deepEqual(pointsOnPlane(points, { focalPoint: [0, 50, 50], viewPlaneNormal: [1, 0, 0] }, 0.5).map((g) => g.index), [0, 2]);
    const s = Math.SQRT1_2;
    assert.deepEqual(pointsOnPlane([p([1, 1, 0]), p([1, -1, 0])], { focalPoint: [0, 0, 0], viewPlaneNormal: [s, -s, 0] }, 0.01).map((g) => g.index), [0]);
  });
  it('is empty for no points', () => assert.deepEqual(pointsOnPlane([], { focalPoint: [0, 0, 0], viewPlaneNormal: [0, 0, 1] }, 1), []));
});

/** A stand-in for window.cornerstoneTools: records what the tool draws. */
function fakeCornerstoneTools() {
  const drawn: { kind: string; id: string; at: number[]; options?: Record<string, unknown> }[] = [];
  const added: unknown[] = [];
  const cst: CornerstoneToolsLike = {
    BaseTool: class {
      configuration: Record<string, unknown>;
      constructor(toolProps: Record<string, unknown>, defaults: Record<string, unknown>) {
        this.configuration = { ...((defaults.configuration as object) ?? {}), ...((toolProps.configuration as object) ?? {}) };
      }
    },
    addTool: (t) => void added.push(t),
    drawing: {
      drawCircle: (_h, _a, id, center, _r, options) => void drawn.push({ kind: 'circle', id, at: center, options }),
      drawLine: (_h, _a, id, start, _e, options) => void drawn.push({ kind: 'line', id, at: start, options }),
    },
    utilities: { triggerAnnotationRenderForViewportIds: () => {} },
  };
  return { cst, drawn, added };
}

const axialViewport = (z: number): CsViewport => ({
  id: 'viewport-0',
  worldToCanvas: ([x, y]) => [x * 2, y * 2],
  getCamera: () => ({ focalPoint: [0, 0, z], viewPlaneNormal: [0, 0, 1] }),
  getImageData: () => ({ spacing: [0.8, 0.8, 3] }),
});

describe('the prompt tool', () => {
  const setup = (state: Partial<Vista3dState> = {}, color?: string) => {
    const { cst, drawn } = fakeCornerstoneTools();
    const runs: [string, Record<string, unknown>][] = [];
    const Tool = createPromptToolClass(cst, { getState: () => ({ ...initialState(), ...state }), runCommand: (n, o) => void runs.push([n, o]), labelColor: () => color });
    return { tool: new Tool() as InstanceType<typeof Tool> & Record<string, any>, Tool, drawn, runs };
  };
  const click = (world: number[] | undefined, event: Partial<MouseEvent> = { button: 0 }) => ({ detail: { currentPoints: world && { world }, event: event as MouseEvent } });

  it('is named Vista3dPrompt', () => assert.equal(setup().Tool.toolName, PROMPT_TOOL_NAME));

  it('without a target structure, a click selects the segment under it', () => {
    const { tool, runs } = setup();
    tool.mouseClickCallback(click([1, 2, 3], { button: 0, shiftKey: true }));
    assert.deepEqual(runs, [[COMMANDS.selectSegmentAt, { world: [1, 2, 3] }]]);
  });

  it('a click adds a positive point, Shift/Ctrl+click a negative one (world = LPS mm)', () => {
    const { tool, runs } = setup({ pointTarget: 1 });
    tool.mouseClickCallback(click([1.5, -2, 30]));
    tool.mouseClickCallback(click([4, 5, 6], { button: 0, shiftKey: true }));
    tool.mouseClickCallback(click([7, 8, 9], { button: 0, ctrlKey: true }));
    assert.deepEqual(runs, [
      [COMMANDS.addPoint, { world: [1.5, -2, 30], positive: true }],
      [COMMANDS.addPoint, { world: [4, 5, 6], positive: false }],
      [COMMANDS.addPoint, { world: [7, 8, 9], positive: false }],
    ]);
  });

  it('ignores other buttons and clicks without a world position', () => {
    const { tool, runs } = setup({ pointTarget: 1 });
    tool.mouseClickCallback(click([1, 2, 3], { button: 2 }));
    tool.mouseClickCallback(click(undefined));
    tool.mouseClickCallback(click([1, Number.NaN, 3]));
    assert.deepEqual(runs, []);
  });

  it('draws the points of the current slice only: positive in the label colour, negative as a red crossed ring', () => {
    const points: PromptPoint[] = [
      { world: [10, 20, 30], positive: true },
      { world: [11, 21, 31], positive: false },
      { world: [12, 22, 40], positive: true }, // another slice
    ];
    const { tool, drawn } = setup({ points, pointTarget: 1 }, 'rgb(1, 2, 3)');
    const rendered = tool.renderAnnotation({ viewport: axialViewport(30) }, {});
    assert.equal(rendered, true);
    const circles = drawn.filter((d) => d.kind === 'circle');
    assert.deepEqual(circles.map((c) => [c.id, c.at]), [
      ['point-0', [20, 40]],
      ['point-1', [22, 42]],
    ]);
    assert.equal(circles[0].options?.fill, 'rgb(1, 2, 3)');
    assert.equal(circles[1].options?.color, NEGATIVE_COLOR);
    assert.equal(drawn.filter((d) => d.kind === 'line').length, 2);
  });

  it('falls back to green without a label colour, draws nothing without points', () => {
    const a = setup({ points: [{ world: [0, 0, 0], positive: true }], pointTarget: 2 });
    a.tool.renderAnnotation({ viewport: axialViewport(0) }, {});
    assert.equal(a.drawn[0].options?.fill, POSITIVE_FALLBACK_COLOR);
    const b = setup();
    assert.equal(b.tool.renderAnnotation({ viewport: axialViewport(0) }, {}), false);
    assert.deepEqual(b.drawn, []);
  });
});
